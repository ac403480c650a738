// Attack: an endless or huge request body to exhaust the server's memory.
// The door reads at most 1 MiB (413 beyond, by Content-Length or as it
// streams) and a FileData of at most 512 KiB.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BODY_CAP } from "../../src/adminapi/http.js";
import { doorRequest, startDoor, type InProcessDoor } from "../helpers/door.js";

let d: InProcessDoor;
let headers: Record<string, string>;

before(async () => {
  d = await startDoor();
  headers = { authorization: `Bearer ${readFileSync(d.door.tokenFile, "utf8").trim()}`, origin: `http://${d.door.address}`, "content-type": "application/json" };
});
after(() => d.close());

test("a body over 1 MiB is 413 and nothing runs", async () => {
  const big = JSON.stringify({ CmdletInput: { CmdletName: "Set-TransportConfig", Parameters: { TLSReceiveDomainSecureList: ["a.example"], Pad: "x".repeat(BODY_CAP) } } });
  const r = await doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { raw: big, headers }).catch((e: Error) => ({ status: -1, text: e.message }));
  assert.ok(r.status === 413 || r.status === -1, `${r.status}`);
  assert.deepEqual((await d.api.transport.getConfig()).TLSReceiveDomainSecureList, []);
});

test("a FileData over 512 KiB is refused with a clear error", async () => {
  const r = await doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { body: { CmdletInput: { CmdletName: "Test-Certificate", Parameters: { FileData: Buffer.alloc(600 * 1024).toString("base64") } } }, headers });
  assert.equal(r.status, 400);
  assert.match(r.json().error.message, /at most 524288/);
});

test("invalid JSON and a non-object body are 400", async () => {
  assert.equal((await doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { raw: "{not json", headers })).status, 400);
  assert.equal((await doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { raw: "[1,2]", headers })).status, 400);
  assert.equal((await doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { body: { CmdletInput: "Get-TransportConfig" }, headers })).status, 400);
});
