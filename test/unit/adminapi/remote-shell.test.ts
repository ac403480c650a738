// The shell in front of a remote door (the door in remote mode, in this
// process, on a real data folder): files are read and written on the
// shell's side, a password the door cannot ask for is asked by the shell at
// its own terminal and sent in the body, Get-Command lists what the
// caller's role may run, and a refusal by role is the door's.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../../../src/admin/api.js";
import { describeCmdlets } from "../../../src/adminapi/cmdlet-info.js";
import type { Caller, RoleGroup } from "../../../src/adminapi/identity.js";
import { invokeCommand } from "../../../src/adminapi/invoke.js";
import { parsePfx } from "../../../src/pki/pfx.js";
import { allCmdlets } from "../../../src/shell/cmdlets/index.js";
import { Shell } from "../../../src/shell/shell.js";

let work: string;
let api: AdminApi;
const table = allCmdlets();
const asked: string[] = [];

function remoteShell(role: RoleGroup): Shell {
  const caller: Caller = { name: "alice", roles: [role], via: "cli", from: "127.0.0.1", authenticatedBy: "token" };
  return new Shell(
    {
      api: undefined as unknown as AdminApi,
      cwd: work,
      env: {},
      readSecret: async (prompt) => {
        asked.push(prompt);
        return "export-password-1";
      },
      readLine: async () => "",
      caller,
      invoke: (input) => invokeCommand(table, api, caller, input, { remote: true }),
      cmdletInfo: async () => describeCmdlets(table, caller.roles),
    },
    table,
  );
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-rshell-"));
  api = await AdminApi.openWithDefaults(path.join(work, "data"));
});
after(async () => {
  await api.close();
  rmSync(work, { recursive: true, force: true });
});

test("Export-ExchangeCertificate -Path: the shell asks for the password itself and writes the PFX here (0600)", async () => {
  const sh = remoteShell("Organization Management");
  const [cert] = (await sh.runObjects("New-ExchangeCertificate -KeySize P-256 -PrivateKeyExportable $true -Services None")) as Array<{ Thumbprint: string }>;
  assert.ok(cert);
  await sh.runLine(`Export-ExchangeCertificate ${cert.Thumbprint} -Path out.pfx`);
  assert.equal(asked.length, 1, "asked once, at the shell");
  const file = path.join(work, "out.pfx");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok((await parsePfx(readFileSync(file), "export-password-1")).keyPkcs8Der.length > 0);
  assert.ok(!existsSync(path.join(work, "data", "out.pfx")));
});

test("a request for a certificate comes back as FileData and is written where -Path says", async () => {
  const sh = remoteShell("Server Management");
  const out = await sh.runObjects('New-ExchangeCertificate -GenerateRequest -SubjectName "CN=edge.example.net" -DomainName edge.example.net -KeySize P-256 -Path edge.req');
  assert.ok(!JSON.stringify(out).includes("FileData"), "the FileData stays in the shell");
  assert.match(readFileSync(path.join(work, "edge.req"), "utf8"), /^-----BEGIN CERTIFICATE REQUEST-----/);
});

test("Get-Command lists what the role may run; a change outside it is refused by the door", async () => {
  const sh = remoteShell("View-Only Organization Management");
  const names = ((await sh.runObjects("Get-Command")) as Array<{ Name: string }>).map((c) => c.Name);
  assert.ok(names.includes("Get-TransportConfig") && !names.includes("Set-TransportConfig"));
  await assert.rejects(sh.runLine("Set-TransportConfig -TLSReceiveDomainSecureList x.example"), /needs the role group "Organization Management"/);
  await assert.rejects(sh.runLine("Get-Help Set-TransportConfig"), /not a cmdlet you may run/);
});
