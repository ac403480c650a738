// Attack: DNS rebinding. A page at http://evil.example:PORT whose name
// later resolves to 127.0.0.1 would be same-origin with itself and could
// read the door's answers. The door answers only requests whose Host header
// is its own address (or a name configured with --admin-host): anything
// else is 421, on every route, /health and the login included.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { doorRequest, startDoor, type InProcessDoor } from "../helpers/door.js";

let d: InProcessDoor;
let token: string;

before(async () => {
  d = await startDoor({ hostNames: ["admin.contoso.test"] });
  await d.addUser("alice", "Organization Management", "alice-password-123");
  const { readFileSync } = await import("node:fs");
  token = readFileSync(d.door.tokenFile, "utf8").trim();
});
after(() => d.close());

test("a foreign Host is refused on every route, even with a valid token", async () => {
  const port = d.door.port;
  for (const host of [`evil.example:${port}`, "evil.example", `localhost:${port}`, `127.0.0.1:${port + 1}`, `127.0.0.2:${port}`, `admin.contoso.test.evil.example:${port}`]) {
    for (const [p, method, body] of [
      ["/health", "GET", undefined],
      ["/", "GET", undefined],
      ["/adminapi/v1/CmdletInfo", "GET", undefined],
      ["/adminapi/v1/Session", "POST", { Name: "alice", Password: "alice-password-123" }],
      ["/adminapi/v1/InvokeCommand", "POST", { CmdletInput: { CmdletName: "Get-TransportConfig" } }],
    ] as const) {
      const r = await doorRequest(d.door.address, p, {
        method,
        ...(body ? { body } : {}),
        headers: { host, authorization: `Bearer ${token}`, origin: `http://${host}`, "content-type": "application/json" },
      });
      assert.equal(r.status, 421, `${method} ${p} Host: ${host} -> ${r.status}`);
      assert.equal(r.json().error.code, "ADMIN_HOST_REFUSED");
      assert.equal(r.headers["set-cookie"], undefined);
    }
  }
});

test("a request without a Host header (HTTP/1.0) is refused too", async () => {
  const net = await import("node:net");
  const answer = await new Promise<string>((resolve, reject) => {
    const s = net.connect(d.door.port, "127.0.0.1", () => s.write("GET /health HTTP/1.0\r\n\r\n"));
    let text = "";
    s.on("data", (b) => (text += b.toString()));
    s.on("end", () => resolve(text));
    s.on("error", reject);
  });
  assert.match(answer, /^HTTP\/1\.[01] 421 /);
});

test("the address itself and a configured name are served", async () => {
  assert.equal((await doorRequest(d.door.address, "/health")).status, 200);
  // The console's page, without authentication, with its CSP (no framing).
  const page = await doorRequest(d.door.address, "/");
  assert.equal(page.status, 200);
  assert.match(String(page.headers["content-type"]), /text\/html/);
  assert.match(String(page.headers["content-security-policy"]), /frame-ancestors 'none'/);
  assert.equal((await doorRequest(d.door.address, "/adminapi/v1/NoSuchRoute", { headers: { authorization: `Bearer ${token}` } })).status, 404);
  const named = `admin.contoso.test:${d.door.port}`;
  const r = await doorRequest(d.door.address, "/adminapi/v1/CmdletInfo", { headers: { host: named, authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  // Its origin is the console's own too.
  const login = await doorRequest(d.door.address, "/adminapi/v1/Session", { body: { Name: "alice", Password: "alice-password-123" }, headers: { host: named, origin: `http://${named}`, "content-type": "application/json" } });
  assert.equal(login.status, 200);
});
