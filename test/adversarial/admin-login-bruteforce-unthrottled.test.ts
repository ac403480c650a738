// Attack: guessing a password by trying many. After five failed logins in
// five minutes from one address, or for one user name, the door answers 429
// with Retry-After — even for the right password — and every failure is in
// the audit log (without the password tried).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DoorClient, startDoor, type InProcessDoor } from "../helpers/door.js";

let d: InProcessDoor;

before(async () => {
  d = await startDoor();
  await d.addUser("alice", "Organization Management", "alice-password-123");
  await d.addUser("bob", "View-Only Organization Management", "bob-password-1234");
});
after(() => d.close());

test("five failures, then 429 with Retry-After even for the right password; other names from the same address too; open again after the window", async () => {
  const c = new DoorClient(d.door.address);
  for (let i = 0; i < 5; i++) {
    const r = await c.login("alice", `guess-number-${i}`);
    assert.equal(r.status, 401, `try ${i}`);
    assert.equal(r.json().error.code, "ADMIN_LOGIN_FAILED");
  }
  const right = await c.login("alice", "alice-password-123");
  assert.equal(right.status, 429);
  assert.equal(right.json().error.code, "ADMIN_LOGIN_THROTTLED");
  const wait = Number(right.headers["retry-after"]);
  assert.ok(wait > 0 && wait <= 300, String(wait));
  assert.equal(right.headers["set-cookie"], undefined);
  assert.equal((await c.login("bob", "bob-password-1234")).status, 429, "the address is throttled for every name");
  d.clock.now += 301_000;
  assert.equal((await c.login("alice", "alice-password-123")).status, 200);
});

test("an unknown user name answers as a wrong password does, and is throttled as well", async () => {
  const c = new DoorClient(d.door.address);
  d.clock.now += 600_000;
  const r = await c.login("nobody", "whatever-password");
  assert.equal(r.status, 401);
  assert.equal(r.json().error.message, "The user name or password is wrong, or the account is disabled.");
});

test("each failure is recorded as LoginFailed, without the password", async () => {
  const log = await d.api.identity.auditLog({});
  const failed = log.filter((a) => a.Result === "LoginFailed");
  assert.ok(failed.length >= 6, String(failed.length));
  assert.ok(failed.some((a) => a.Caller === "alice" && /THROTTLED/.test(a.Error ?? "")));
  assert.doesNotMatch(JSON.stringify(log), /guess-number|alice-password-123|bob-password/);
});
