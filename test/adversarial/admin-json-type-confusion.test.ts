// Attack: JSON that the shell's grammar could never produce — prototype
// keys, objects and arrays where text is expected, numbers for Booleans,
// huge or odd cmdlet names — sent to InvokeCommand to confuse the binder or
// pollute prototypes. Each is a 4xx with a clear code, and nothing changes.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { doorRequest, startDoor, type InProcessDoor } from "../helpers/door.js";

let d: InProcessDoor;
let headers: Record<string, string>;

before(async () => {
  d = await startDoor();
  headers = { authorization: `Bearer ${readFileSync(d.door.tokenFile, "utf8").trim()}`, origin: `http://${d.door.address}`, "content-type": "application/json" };
});
after(() => d.close());

const invokeRaw = (raw: string) => doorRequest(d.door.address, "/adminapi/v1/InvokeCommand", { raw, headers });

test("prototype keys and odd shapes are refused; no prototype is polluted; nothing changes", async () => {
  const cases: Array<[string, number]> = [
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig","Parameters":{"__proto__":{"TLSReceiveDomainSecureList":["evil.example"]}}}}', 400],
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig","Parameters":{"constructor":{"prototype":{"polluted":true}}}}}', 400],
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig","Parameters":{"TLSReceiveDomainSecureList":{"Add":["a.example"],"__proto__":["b.example"]}}}}', 400],
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig","Parameters":{"TLSReceiveDomainSecureList":{"Add":[{"x":1}]}}}}', 400],
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig","Parameters":{"TLSReceiveDomainSecureList":[["nested.example"]]}}}', 400],
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig","Parameters":{"UseSystemTrustStore":2}}}', 400],
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig","Parameters":{"MaxMessageSize":{"toString":"x"}}}}', 400],
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig","Parameters":{"TLSReceiveDomainSecureList":["a.example"],"tlsreceivedomainsecurelist":["b.example"]}}}', 400],
    ['{"CmdletInput":{"CmdletName":["Set-TransportConfig"]}}', 400],
    [`{"CmdletInput":{"CmdletName":"${"A".repeat(5000)}"}}`, 400],
    ['{"CmdletInput":{"CmdletName":"Set-TransportConfig"},"Force":"yes"}', 400],
    ['{"CmdletInput":{"CmdletName":"__proto__"}}', 404],
    ['{"CmdletInput":{"CmdletName":"toString"}}', 404],
  ];
  for (const [raw, status] of cases) {
    const r = await invokeRaw(raw);
    assert.equal(r.status, status, `${raw.slice(0, 120)} -> ${r.status} ${r.text.slice(0, 200)}`);
    assert.equal(typeof r.json().error.code, "string");
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).TLSReceiveDomainSecureList, undefined);
  assert.deepEqual((await d.api.transport.getConfig()).TLSReceiveDomainSecureList, []);
});
