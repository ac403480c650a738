// Attack: session fixation and stolen sessions that never end. A login
// always makes a new random session id (the one the request carried ends);
// a session ends after 30 minutes unused or 8 hours in all; a disabled
// account's session ends at its next request; logout ends it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { localOperator } from "../../src/adminapi/accounts.js";
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS } from "../../src/adminapi/http.js";
import { DoorClient, doorRequest, startDoor, type InProcessDoor } from "../helpers/door.js";

let d: InProcessDoor;

before(async () => {
  d = await startDoor();
  await d.addUser("alice", "Organization Management", "alice-password-123");
});
after(() => d.close());

test("a login with a planted cookie gets a new id; the planted one is dead", async () => {
  const victim = new DoorClient(d.door.address);
  await victim.login("alice", "alice-password-123");
  const planted = victim.cookie as string;
  const r = await doorRequest(d.door.address, "/adminapi/v1/Session", { body: { Name: "alice", Password: "alice-password-123" }, headers: { cookie: planted, origin: victim.origin, "content-type": "application/json" } });
  assert.equal(r.status, 200);
  const fresh = String(r.headers["set-cookie"]?.[0]).split(";")[0];
  assert.notEqual(fresh, planted);
  assert.equal((await doorRequest(d.door.address, "/adminapi/v1/Session", { headers: { cookie: planted } })).status, 401);
});

test("idle expiry after 30 minutes; a session in use ends after 8 hours in all", async () => {
  const c = new DoorClient(d.door.address);
  await c.login("alice", "alice-password-123");
  d.clock.now += SESSION_IDLE_MS - 1000;
  assert.equal((await c.get("/adminapi/v1/Session")).status, 200);
  d.clock.now += SESSION_IDLE_MS + 1000;
  assert.equal((await c.get("/adminapi/v1/Session")).status, 401, "idle");
  const busy = new DoorClient(d.door.address);
  await busy.login("alice", "alice-password-123");
  for (let t = 0; t < SESSION_ABSOLUTE_MS; t += SESSION_IDLE_MS / 2) {
    d.clock.now += SESSION_IDLE_MS / 2;
    await busy.get("/adminapi/v1/Session");
  }
  d.clock.now += 1000;
  assert.equal((await busy.get("/adminapi/v1/Session")).status, 401, "absolute");
});

test("a disabled account's session ends at once; changed roles apply at once", async () => {
  const c = new DoorClient(d.door.address);
  await c.login("alice", "alice-password-123");
  await d.api.identity.createUser({ name: "carol", roleGroups: ["Organization Management"], password: "carol-password-123" }, localOperator());
  const carol = new DoorClient(d.door.address);
  await carol.login("carol", "carol-password-123");
  await d.api.identity.setUser("carol", { roleGroups: ["View-Only Organization Management"] }, localOperator());
  assert.equal((await carol.invoke("Set-TransportConfig", { TLSReceiveDomainSecureList: ["x.example"] })).status, 403);
  await d.api.identity.setUser("carol", { enabled: false }, localOperator());
  assert.equal((await carol.get("/adminapi/v1/Session")).status, 401);
  assert.equal((await c.get("/adminapi/v1/Session")).status, 200);
});
