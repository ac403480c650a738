// The client's certificate read from the DER SSL_SESSION (starttls.ts
// sessionPeer): found only where OpenSSL puts it ("peer [3] EXPLICIT
// Certificate"), never guessed from a malformed or truncated session.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sessionPeer } from "../../../src/smtp/receive/starttls.js";

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const len = body.length;
  const head = len < 0x80 ? Buffer.from([tag, len]) : len < 0x100 ? Buffer.from([tag, 0x81, len]) : Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  return Buffer.concat([head, body]);
}

const int = (n: number) => tlv(0x02, Buffer.from([n]));
const oct = (n: number) => tlv(0x04, Buffer.alloc(n, 0x41));
// A stand-in certificate: a SEQUENCE long enough to need a two-octet length.
const cert = tlv(0x30, tlv(0x30, oct(300)), tlv(0x30, int(1)), tlv(0x03, Buffer.from([0, 1, 2])));

function session(...extra: Buffer[]): Buffer {
  return tlv(0x30, int(1), tlv(0x02, Buffer.from([0x03, 0x04])), oct(2), oct(32), oct(48), tlv(0xa1, int(5)), tlv(0xa2, int(7)), ...extra);
}

test("the certificate in peer [3] is returned byte for byte", () => {
  const got = sessionPeer(session(tlv(0xa3, cert), tlv(0xa4, oct(20))));
  assert.ok(got);
  assert.ok(got.equals(cert));
});

test("no peer field: undefined (no client certificate)", () => {
  assert.equal(sessionPeer(session(tlv(0xa4, oct(20)))), undefined);
});

test("malformed sessions give undefined, never a wrong certificate", () => {
  const good = session(tlv(0xa3, cert));
  assert.equal(sessionPeer(good.subarray(0, good.length - 5)), undefined, "truncated");
  assert.equal(sessionPeer(Buffer.concat([Buffer.from([0x31]), good.subarray(1)])), undefined, "not a SEQUENCE");
  assert.equal(sessionPeer(session(tlv(0xa3, cert, int(1)))), undefined, "[3] holds more than one certificate");
  assert.equal(sessionPeer(session(tlv(0xa3, oct(10)))), undefined, "[3] holds no SEQUENCE");
  assert.equal(sessionPeer(Buffer.alloc(0)), undefined, "empty");
});
