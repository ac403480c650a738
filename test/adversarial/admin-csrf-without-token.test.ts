// Attack: a page on another site makes the administrator's browser send a
// request to the admin door with the session cookie (CSRF). The cookie is
// SameSite=Strict, and besides: every cookie-authenticated request needs the
// session's X-CSRF-Token (which a foreign page cannot read), and every
// state-changing one the door's own Origin and Content-Type:
// application/json (which a cross-site form cannot send). Each refused
// request changes nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DoorClient, doorRequest, startDoor, type InProcessDoor } from "../helpers/door.js";

let d: InProcessDoor;
let alice: DoorClient;

before(async () => {
  d = await startDoor();
  await d.addUser("alice", "Organization Management", "alice-password-123");
  alice = new DoorClient(d.door.address);
  assert.equal((await alice.login("alice", "alice-password-123")).status, 200);
});
after(() => d.close());

const list = async () => (await d.api.transport.getConfig()).TLSReceiveDomainSecureList;
const edit = { TLSReceiveDomainSecureList: { Add: ["evil.example"] } };

test("the cookie without the X-CSRF-Token header: refused (403), for InvokeCommand, CmdletInfo, Token and logout alike", async () => {
  const before = await list();
  const r = await alice.invoke("Set-TransportConfig", edit, { omit: ["csrf"] });
  assert.equal(r.status, 403);
  assert.equal(r.json().error.code, "ADMIN_CSRF_REFUSED");
  const info = await doorRequest(d.door.address, "/adminapi/v1/CmdletInfo", { headers: { cookie: alice.cookie } });
  assert.equal(info.status, 403);
  const token = await doorRequest(d.door.address, "/adminapi/v1/Token", { body: {}, headers: { cookie: alice.cookie, origin: alice.origin, "content-type": "application/json" } });
  assert.equal(token.status, 403);
  assert.equal((await d.api.identity.listTokens()).length, 0);
  const logout = await doorRequest(d.door.address, "/adminapi/v1/Session", { method: "DELETE", body: {}, headers: { cookie: alice.cookie, origin: alice.origin, "content-type": "application/json" } });
  assert.equal(logout.status, 403);
  assert.equal((await alice.get("/adminapi/v1/Session")).status, 200, "the session survives the forged logout");
  assert.deepEqual(await list(), before);
});

test("a wrong token of the right length, another session's token: refused", async () => {
  const bob = new DoorClient(d.door.address);
  await bob.login("alice", "alice-password-123");
  assert.equal((await alice.invoke("Set-TransportConfig", edit, { headers: { "x-csrf-token": bob.csrf as string } })).status, 403);
  assert.equal((await alice.invoke("Set-TransportConfig", edit, { headers: { "x-csrf-token": "A".repeat(43) } })).status, 403);
  assert.deepEqual(await list(), []);
});

test("a cross-site form post (text/plain or form-encoded, foreign or no Origin) is refused even with the token", async () => {
  for (const [headers, status] of [
    [{ "content-type": "text/plain" }, 415],
    [{ "content-type": "application/x-www-form-urlencoded" }, 415],
    [{ "content-type": "multipart/form-data; boundary=x" }, 415],
    [{ origin: "http://evil.example" }, 403],
    [{ origin: "null" }, 403],
    [{ origin: `http://localhost:${d.door.port}` }, 403],
  ] as const) {
    const r = await alice.invoke("Set-TransportConfig", edit, { headers });
    assert.equal(r.status, status, JSON.stringify(headers));
  }
  assert.equal((await alice.invoke("Set-TransportConfig", edit, { omit: ["origin"] })).status, 403);
  assert.deepEqual(await list(), []);
});

test("the login itself needs the door's Origin (no login CSRF) and JSON", async () => {
  const r = await doorRequest(d.door.address, "/adminapi/v1/Session", { body: { Name: "alice", Password: "alice-password-123" }, headers: { origin: "http://evil.example", "content-type": "application/json" } });
  assert.equal(r.status, 403);
  assert.equal(r.headers["set-cookie"], undefined);
  const form = await doorRequest(d.door.address, "/adminapi/v1/Session", { raw: "Name=alice&Password=alice-password-123", headers: { origin: alice.origin, "content-type": "application/x-www-form-urlencoded" } });
  assert.equal(form.status, 415);
});

test("with the token, Origin and JSON the same change is made (the refusals above were the checks, not a broken door)", async () => {
  assert.equal((await alice.invoke("Set-TransportConfig", edit)).status, 200);
  assert.deepEqual(await list(), ["evil.example"]);
});
