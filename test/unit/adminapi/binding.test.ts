// The admin endpoint's binding rule, case by case (no socket is opened:
// tests never bind off loopback).
import { test } from "node:test";
import assert from "node:assert/strict";
import { adminBinding, isLoopbackAddress, parseAdminAddress, type AdminAddress } from "../../../src/adminapi/binding.js";

const cases: Array<[string, boolean, "http" | "https" | "refused"]> = [
  ["127.0.0.1:8025", false, "http"],
  ["127.0.0.2:8443", false, "http"],
  ["127.255.255.254:1", false, "http"],
  ["[::1]:8025", false, "http"],
  ["[::ffff:127.0.0.1]:8025", false, "http"],
  ["127.0.0.2:8443", true, "https"],
  ["[::1]:8443", true, "https"],
  ["192.0.2.10:8443", true, "https"],
  ["[2001:db8::1]:8443", true, "https"],
  ["0.0.0.0:8443", true, "https"],
  ["192.0.2.10:8025", false, "refused"],
  ["10.0.0.1:8025", false, "refused"],
  ["0.0.0.0:8025", false, "refused"],
  ["[::]:8025", false, "refused"],
  ["[2001:db8::1]:8025", false, "refused"],
  ["[::ffff:192.0.2.1]:8025", false, "refused"],
  ["128.0.0.1:8025", false, "refused"],
];

for (const [text, certificate, want] of cases) {
  test(`${text}${certificate ? " with a certificate" : ""}: ${want}`, () => {
    const addr = parseAdminAddress(text);
    assert.ok(!("refused" in addr), JSON.stringify(addr));
    const d = adminBinding(addr as AdminAddress, { certificate });
    if (want === "refused") {
      assert.ok("refused" in d);
      assert.match(d.reason, /must listen on loopback/);
      assert.match(d.reason, /--admin-cert/);
    } else {
      assert.deepEqual(d, { scheme: want });
    }
  });
}

test("addresses that are not IP:PORT are refused with a reason", () => {
  for (const t of ["localhost:8025", "example.com:443", "127.0.0.1", "127.0.0.1:99999", "[::1]8025", "", "127.0.0.1:80:80"]) {
    const r = parseAdminAddress(t);
    assert.ok("refused" in r, t);
  }
  assert.ok("refused" in adminBinding({ host: "localhost", port: 1 }, { certificate: true }));
});

test("loopback is 127.0.0.0/8 and ::1 only", () => {
  assert.ok(isLoopbackAddress("127.1.2.3"));
  assert.ok(isLoopbackAddress("::1"));
  assert.ok(isLoopbackAddress("0:0:0:0:0:0:0:1"));
  assert.ok(!isLoopbackAddress("::2"));
  assert.ok(!isLoopbackAddress("1.127.0.0"));
  assert.ok(!isLoopbackAddress("::"));
});
