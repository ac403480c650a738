// The non-delivery report for each kind of delivery failure: its Status and
// Diagnostic-Code come from the failure's kind and status, never from its
// text (a text that says "TLS" does not make a report about Domain Security,
// and one that does not still does when the kind says so).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildDsn } from "../../../src/dsn/report.js";
import { combineHostFailures } from "../../../src/outbound/delivery.js";
import { diagnosticFor, failureRecipients } from "../../../src/outbound/reports.js";
import { failure, readFailure, storeFailure, type DeliveryFailure, type DeliveryFailureKind } from "../../../src/queue/delivery-failure.js";
import type { QueuedRecipient } from "../../../src/queue/outbound-store.js";

const bob: QueuedRecipient = { address: "bob@woodgrovebank.com", attempts: 3, nextAttemptAt: new Date(0), lastFailure: undefined, delayNotified: false };

/** The report's delivery-status fields for bob, unfolded. */
function reportFor(why: DeliveryFailure, reply?: string): { status: string; diagnostic: string } {
  const dsn = buildDsn({
    kind: "failure",
    reportingMta: "edge1.contoso.com",
    originalSender: "alice@contoso.com",
    arrivalDate: new Date("2026-11-29T06:00:00Z"),
    now: new Date("2026-11-29T06:00:06Z"),
    recipients: failureRecipients([bob], why, "dns; mx.woodgrovebank.com", reply !== undefined ? [{ address: bob.address, response: reply }] : undefined),
    originalMessage: Buffer.from("Subject: hi\r\n\r\nhello\r\n"),
    messageIdDomain: "contoso.com",
  });
  assert.ok(dsn, "a report is made");
  const text = dsn.message.toString("utf8").replace(/\r\n(?=[ \t])/g, "");
  const status = /^Status: (.+)$/m.exec(text)?.[1] ?? "";
  const diagnostic = /^Diagnostic-Code: (.+)$/m.exec(text)?.[1] ?? "";
  return { status, diagnostic: diagnostic.replace(/\s+/g, " ") };
}

const cases: Array<[DeliveryFailureKind, string, string, "x-domain-security" | "x-sealpost"]> = [
  ["certificate", "4.7.5", "mx.woodgrovebank.com[192.0.2.1]: the server's certificate failed CERT_REVOKED: revoked", "x-domain-security"],
  ["domain-security", "4.7.10", "mx.woodgrovebank.com[192.0.2.1]: STARTTLS is not available: the server did not start TLS", "x-domain-security"],
  ["domain-security", "4.7.10", "mx.woodgrovebank.com[192.0.2.1]: the session is not encrypted", "x-domain-security"],
  ["tls-required", "4.7.10", "mx.example.org[192.0.2.9]: starttls: the server did not start TLS", "x-domain-security"],
  ["connection", "4.4.1", "mx.woodgrovebank.com[192.0.2.1]: connect: ECONNREFUSED", "x-sealpost"],
  ["dns", "4.4.3", "DNS lookup for woodgrovebank.com failed: SERVFAIL", "x-sealpost"],
  ["null-mx", "5.1.10", "woodgrovebank.com accepts no mail (null MX, RFC 7505)", "x-sealpost"],
  ["no-such-domain", "5.1.2", "the domain woodgrovebank.com does not exist (NXDOMAIN)", "x-sealpost"],
  ["invalid-domain", "5.1.2", "the recipient domain xn--.com is not a valid domain name", "x-sealpost"],
  ["no-route", "4.4.4", "no send connector has an address space covering woodgrovebank.com", "x-sealpost"],
  ["held", "4.3.5", "woodgrovebank.com is a Domain Security partner but the send connector Relay routes through a smart host, not DNS", "x-sealpost"],
  ["too-large", "5.3.4", "the message (20000000 bytes) is larger than the send connector Internet allows (10485760 bytes)", "x-sealpost"],
  ["admin-removed", "5.0.0", "the message was removed from the queue by an administrator", "x-sealpost"],
  ["session-broken", "4.4.2", "mx.woodgrovebank.com: TLS connection closed", "x-sealpost"],
  ["unclassified", "4.0.0", "an old reason that mentions a certificate and TLS", "x-sealpost"],
];

for (const [kind, status, text, type] of cases) {
  test(`${kind} (${text.slice(0, 50)}…): Status ${status}, ${type}`, () => {
    const r = reportFor(failure(kind, status, text));
    assert.equal(r.status, status);
    assert.equal(r.diagnostic, `${type}; ${text}`);
  });
}

test("expired: 5.4.7, and the diagnostic type of the failure it expired with", () => {
  const cert = failure("certificate", "4.7.5", "mx: the server's certificate failed CERT_EXPIRED: expired");
  const conn = failure("connection", "4.4.1", "mx: connect: ETIMEDOUT, no TLS attempted");
  const a = reportFor(failure("expired", "5.4.7", `expired after 1 minute(s); last error: ${cert.text}`, { last: cert }));
  assert.deepEqual([a.status, a.diagnostic.split(";")[0]], ["5.4.7", "x-domain-security"]);
  const b = reportFor(failure("expired", "5.4.7", `expired after 1 minute(s); last error: ${conn.text}`, { last: conn }));
  assert.deepEqual([b.status, b.diagnostic.split(";")[0]], ["5.4.7", "x-sealpost"]);
  const c = reportFor(failure("expired", "5.4.7", "expired after 1 minute(s); last error: the message could not be delivered before it expired"));
  assert.equal(c.diagnostic.split(";")[0], "x-sealpost");
});

test("refused by the peer: the peer's own reply is the diagnostic", () => {
  const r = reportFor(failure("refused-by-peer", "5.1.1", "mx answered: 550 5.1.1 no such user"), "550 5.1.1 no such user");
  assert.deepEqual(r, { status: "5.1.1", diagnostic: "smtp; 550 5.1.1 no such user" });
  assert.equal(diagnosticFor(failure("certificate", "4.7.5", "x"), "554 5.7.1 go away"), "smtp; 554 5.7.1 go away");
});

test("stored and read back unchanged, the last failure kept one level deep", () => {
  const inner = failure("certificate", "4.7.5", "mx: refused", { check: "CERT_REVOKED", host: "mx" });
  const outer = failure("expired", "5.4.7", "expired", { last: failure("expired", "5.4.7", "older", { last: inner }) });
  assert.deepEqual(readFailure(storeFailure(inner)), inner);
  const back = readFailure(storeFailure(outer));
  assert.equal(back?.last?.kind, "expired");
  assert.equal(back?.last?.last, undefined);
  assert.equal(readFailure(""), undefined);
  assert.deepEqual(readFailure('{"kind":"bogus","status":"4.0.0","text":"x"}'), { kind: "unclassified", status: "4.0.0", text: '{"kind":"bogus","status":"4.0.0","text":"x"}' });
});

test("every host failed: the most telling host's kind leads, every host's text is kept", () => {
  const conn = failure("connection", "4.4.1", "a[1]: connect: ECONNREFUSED", { check: "connect", host: "a" });
  const cert = failure("certificate", "4.7.5", "b[2]: the server's certificate failed CERT_UNTRUSTED: x", { check: "CERT_UNTRUSTED", host: "b" });
  const f = combineHostFailures([conn, cert], "woodgrovebank.com");
  assert.deepEqual(f, { kind: "certificate", status: "4.7.5", check: "CERT_UNTRUSTED", host: "b", text: `${conn.text}; ${cert.text}` });
  assert.deepEqual(combineHostFailures([], "woodgrovebank.com"), { kind: "connection", status: "4.4.1", text: "no host to connect to for woodgrovebank.com" });
});
