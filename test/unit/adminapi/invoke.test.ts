// invokeCommand on a real data folder: JSON parameters bound by the shell's
// rules, role refusals (403 naming the role), confirmation (409), WhatIf,
// client-side utilities and file parameters refused, failures without
// internal detail, and an audit record for every state-changing call.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../../../src/admin/api.js";
import type { AdminAuditRecord, Caller, RoleGroup } from "../../../src/adminapi/identity.js";
import { invokeCommand, type InvokeInput, type InvokeResult } from "../../../src/adminapi/invoke.js";
import { clientFileOf } from "../../../src/shell/binder.js";
import { allCmdlets } from "../../../src/shell/cmdlets/index.js";

let work: string;
let api: AdminApi;
const audit: AdminAuditRecord[] = [];
const table = allCmdlets();

function caller(roles: RoleGroup[], name = "alice"): Caller {
  return { name, roles, via: "http", from: "127.0.0.1", authenticatedBy: "password" };
}
const OM = caller(["Organization Management"]);
const VIEW = caller(["View-Only Organization Management"], "victor");

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-invoke-"));
  api = await AdminApi.openWithDefaults(path.join(work, "data"));
  // Observe what the door records (and let the identity store record it too).
  const original = api.identity.recordAudit.bind(api.identity);
  api.identity.recordAudit = async (r: AdminAuditRecord) => {
    audit.push(r);
    await original(r);
  };
});

after(async () => {
  await api.close();
  rmSync(work, { recursive: true, force: true });
});

const call = (c: Caller, input: InvokeInput): Promise<InvokeResult> => invokeCommand(table, api, c, input, { remote: true });
const ok = (r: InvokeResult): unknown[] => {
  if ("error" in r) assert.fail(`${r.status} ${r.error.code}: ${r.error.message}`);
  return r.value;
};
const err = (r: InvokeResult) => {
  assert.ok("error" in r, `expected an error, got ${JSON.stringify(r)}`);
  return r;
};

test("Set-TransportConfig with {Add:[...]} edits the list; names bind by unique prefix; Get returns Exchange's property names", async () => {
  ok(await call(OM, { CmdletName: "set-transportconfig", Parameters: { TLSReceiveDomainSecure: { Add: ["fabrikam.com", "contoso.com"] } } }));
  ok(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: { TLSReceiveDomainSecureList: { Remove: ["contoso.com"] } } }));
  const [cfg] = ok(await call(VIEW, { CmdletName: "Get-TransportConfig" })) as Array<{ TLSReceiveDomainSecureList: string[] }>;
  assert.deepEqual(cfg?.TLSReceiveDomainSecureList, ["fabrikam.com"]);
  const last = audit.at(-1);
  assert.equal(last?.cmdlet, "Set-TransportConfig");
  assert.equal(last?.result, "Succeeded");
  assert.equal(last?.user, "alice");
  assert.deepEqual(last?.parameters, { TLSReceiveDomainSecureList: { Remove: ["contoso.com"] } });
  assert.ok(!audit.some((a) => a.cmdlet === "Get-TransportConfig"), "reads are not audited");
});

test("a View-Only caller is refused with 403 naming the role, recorded as RefusedByRole, and nothing changes", async () => {
  const r = err(await call(VIEW, { CmdletName: "Set-TransportConfig", Parameters: { TLSReceiveDomainSecureList: { Add: ["woodgrovebank.com"] } } }));
  assert.equal(r.status, 403);
  assert.equal(r.error.code, "ROLE_REQUIRED");
  assert.match(r.error.message, /Organization Management/);
  assert.equal(audit.at(-1)?.result, "RefusedByRole");
  assert.equal(audit.at(-1)?.user, "victor");
  const [cfg] = ok(await call(VIEW, { CmdletName: "Get-TransportConfig" })) as Array<{ TLSReceiveDomainSecureList: string[] }>;
  assert.deepEqual(cfg?.TLSReceiveDomainSecureList, ["fabrikam.com"]);
});

test("bad input: unknown cmdlet 404, unknown or ambiguous parameter, wrong type, missing mandatory: 400, audited as Invalid", async () => {
  assert.equal(err(await call(OM, { CmdletName: "Set-Nothing" })).status, 404);
  const unknown = err(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: { NoSuch: 1 } }));
  assert.equal(unknown.status, 400);
  assert.equal(unknown.error.code, "SHELL_UNKNOWN_PARAMETER");
  assert.equal(audit.at(-1)?.result, "Invalid");
  assert.equal(err(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: { TLS: ["x"] } })).error.code, "SHELL_UNKNOWN_PARAMETER");
  assert.equal(err(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: { UseSystemTrustStore: "perhaps" } })).error.code, "SHELL_BAD_VALUE");
  assert.equal(err(await call(OM, { CmdletName: "Set-AcceptedDomain", Parameters: {} })).error.code, "SHELL_MISSING_PARAMETER");
  assert.equal(err(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: [] as unknown as Record<string, unknown> })).status, 400);
  assert.equal(err(await call(OM, { CmdletName: 42 } as unknown as InvokeInput)).status, 400);
  assert.equal(err(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: { TLSReceiveDomainSecureList: { Add: ["not a domain!"] } } })).status, 400);
});

test("JSON true/false for Boolean parameters; a value that only looks Boolean is refused", async () => {
  ok(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: { UseSystemTrustStore: true } }));
  const [cfg] = ok(await call(OM, { CmdletName: "Get-TransportConfig" })) as Array<{ UseSystemTrustStore: boolean }>;
  assert.equal(cfg?.UseSystemTrustStore, true);
  ok(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: { UseSystemTrustStore: false } }));
  assert.equal(err(await call(OM, { CmdletName: "Set-TransportConfig", Parameters: { UseSystemTrustStore: null } })).status, 400);
});

test("removals answer 409 ConfirmationRequired unless Confirm:false or Force:true; WhatIf changes nothing", async () => {
  ok(await call(OM, { CmdletName: "New-AcceptedDomain", Parameters: { DomainName: "contoso.com" } }));
  const held = err(await call(OM, { CmdletName: "Remove-AcceptedDomain", Parameters: { Identity: "contoso.com" } }));
  assert.equal(held.status, 409);
  assert.equal(held.error.code, "ConfirmationRequired");
  assert.equal((ok(await call(OM, { CmdletName: "Get-AcceptedDomain" })) as unknown[]).length, 1);
  const [whatIf] = ok(await call(OM, { CmdletName: "Remove-AcceptedDomain", Parameters: { Identity: "contoso.com" }, WhatIf: true })) as Array<{ WhatIf: boolean; CmdletName: string }>;
  assert.equal(whatIf?.WhatIf, true);
  assert.equal(whatIf?.CmdletName, "Remove-AcceptedDomain");
  assert.equal((ok(await call(OM, { CmdletName: "Get-AcceptedDomain" })) as unknown[]).length, 1);
  ok(await call(OM, { CmdletName: "Remove-AcceptedDomain", Parameters: { Identity: "contoso.com" }, Confirm: false }));
  assert.equal((ok(await call(OM, { CmdletName: "Get-AcceptedDomain" })) as unknown[]).length, 0);
  const [newWhatIf] = ok(await call(OM, { CmdletName: "New-AcceptedDomain", Parameters: { DomainName: "fabrikam.com" }, WhatIf: true })) as Array<{ WhatIf: boolean }>;
  assert.equal(newWhatIf?.WhatIf, true);
  assert.equal((ok(await call(OM, { CmdletName: "Get-AcceptedDomain" })) as unknown[]).length, 0);
});

test("a change that turns Domain Security off answers 409 ConfirmationRequired; Force:true makes it with a warning", async () => {
  // fabrikam.com is on the receive list; Inet does Domain Security with this server's only SMTP certificate.
  const [cert] = ok(await call(OM, { CmdletName: "New-ExchangeCertificate", Parameters: { KeySize: "P-256", Services: ["SMTP"] } })) as Array<{ Thumbprint: string }>;
  assert.ok(cert);
  ok(await call(OM, { CmdletName: "Set-ReceiveConnector", Parameters: { Identity: "Inet", DomainSecureEnabled: true } }));
  const held = err(await call(OM, { CmdletName: "Enable-ExchangeCertificate", Parameters: { Thumbprint: cert.Thumbprint, Services: ["None"] } }));
  assert.equal(held.status, 409);
  assert.equal(held.error.code, "ConfirmationRequired");
  assert.match(held.error.message, /fabrikam\.com/);
  const r = await call(OM, { CmdletName: "Enable-ExchangeCertificate", Parameters: { Thumbprint: cert.Thumbprint, Services: ["None"] }, Force: true });
  ok(r);
  assert.ok("warnings" in r && r.warnings?.some((w) => /fabrikam\.com/.test(w)), JSON.stringify(r));
});

test("the shell's own utilities do not cross the door", async () => {
  for (const name of ["Format-List", "FT", "Read-Host", "Get-Content", "Get-Command", "Get-Help"]) {
    const r = err(await call(OM, { CmdletName: name, Parameters: {} }));
    assert.equal(r.status, 400, name);
    assert.equal(r.error.code, "ADMIN_NOT_INVOCABLE", name);
  }
});

test("no file parameter of any cmdlet is taken by the door: each is refused naming FileData, before anything runs", async () => {
  let tried = 0;
  for (const def of table) {
    if (def.clientSide) continue;
    for (const p of def.params) {
      const kind = clientFileOf(p);
      if (!kind || kind === "entries") continue;
      tried++;
      const r = err(await call(OM, { CmdletName: def.name, Parameters: { [p.name]: p.type === "listedit" ? ["/etc/passwd"] : "/etc/passwd" } }));
      assert.equal(r.status, 400, `${def.name} -${p.name}`);
      assert.equal(r.error.code, "ADMIN_SERVER_PATH", `${def.name} -${p.name}`);
      assert.match(r.error.message, /path on the server/);
    }
  }
  assert.ok(tried >= 8, `only ${tried} file parameters found`);
  // List entries are certificate text over the door: one that is neither a thumbprint, a subject nor PEM is refused, never opened.
  const r = err(await call(OM, { CmdletName: "Set-DomainSecurePartner", Parameters: { Identity: "fabrikam.com", AllowedIssuers: ["/etc/passwd"] } }));
  assert.equal(r.status, 400);
  assert.match(r.error.message, /neither a thumbprint/);
});

test("an unexpected failure is 500 INTERNAL without its detail", async () => {
  const broken = [{ name: "Set-Broken", synopsis: "", params: [], run: async () => Promise.reject(new Error("secret internal path /var/x")) }];
  const logged: string[] = [];
  const r = await invokeCommand(broken, api, OM, { CmdletName: "Set-Broken" }, { remote: true, log: (m) => logged.push(m) });
  const e = err(r);
  assert.equal(e.status, 500);
  assert.equal(e.error.code, "INTERNAL");
  assert.doesNotMatch(e.error.message, /var/);
  assert.match(logged.join("\n"), /secret internal path/);
  assert.equal(audit.at(-1)?.result, "Failed");
  // In process, the local operator sees what failed.
  const local = err(await invokeCommand(broken, api, OM, { CmdletName: "Set-Broken" }, { remote: false }));
  assert.equal(local.status, 500);
  assert.match(local.error.message, /secret internal path/);
});

test("secrets are redacted in the audit record", async () => {
  await call(OM, { CmdletName: "Import-ExchangeCertificate", Parameters: { FileData: Buffer.from("not a pfx").toString("base64"), Password: "hunter2-very-secret" } });
  const rec = audit.at(-1);
  assert.equal(rec?.cmdlet, "Import-ExchangeCertificate");
  assert.doesNotMatch(JSON.stringify(rec), /hunter2/);
  assert.equal(rec?.result, "Invalid");
});
