// The shell command each console dialog shows: the cmdlet and parameters it
// sends to InvokeCommand in the shell's syntax, a secret never as its value,
// and the command, run in the shell, does what the console did.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { WEB_ROOT } from "../../../src/console/static.js";
import { parseFormatList, shellC } from "../../helpers/cli.js";

interface ParamInfo {
  Name: string;
  Type: string;
  ClientFile?: string;
  FileDataParameter?: string;
}
interface ShellCommandModule {
  formatCommand(name: string, params?: Record<string, unknown>, info?: { Parameters: ParamInfo[] }, opts?: { files?: Record<string, string>; extra?: Record<string, boolean>; resultFile?: string }): string;
  quote(s: string): string;
}
const load = (): Promise<ShellCommandModule> => import(pathToFileURL(path.join(WEB_ROOT, "app", "shell-command.js")).href) as Promise<ShellCommandModule>;

const IMPORT_INFO = {
  Parameters: [
    { Name: "Path", Type: "string", ClientFile: "read", FileDataParameter: "FileData" },
    { Name: "FileData", Type: "string" },
    { Name: "Password", Type: "secret" },
    { Name: "PasswordFile", Type: "string", ClientFile: "secret", FileDataParameter: "Password" },
  ],
};

test("formatCommand: lists as @{Add=...; Remove=...}, booleans as $true/$false, switches bare, quoting only when needed", async () => {
  const { formatCommand, quote } = await load();
  assert.equal(formatCommand("Set-TransportConfig", { TLSSendDomainSecureList: { Add: ["woodgrovebank.com"] } }), 'Set-TransportConfig -TLSSendDomainSecureList @{Add="woodgrovebank.com"}');
  assert.equal(formatCommand("Set-TransportConfig", { TLSReceiveDomainSecureList: { Add: ["a.com", "b.com"], Remove: ["c.com"] } }), 'Set-TransportConfig -TLSReceiveDomainSecureList @{Add="a.com","b.com"; Remove="c.com"}');
  assert.equal(formatCommand("Set-SendConnector", { Identity: "Internet", DomainSecureEnabled: true }), "Set-SendConnector -Identity Internet -DomainSecureEnabled $true");
  assert.equal(formatCommand("Set-ReceiveConnector", { Identity: "Inet", AuthMechanism: ["Tls"], DomainSecureEnabled: false }), "Set-ReceiveConnector -Identity Inet -AuthMechanism Tls -DomainSecureEnabled $false");
  assert.equal(formatCommand("New-ExchangeCertificate", { GenerateRequest: true, SubjectName: "DC=com,DC=Contoso,CN=mail1.contoso.com", DomainName: ["mail.contoso.com"] }, { Parameters: [{ Name: "GenerateRequest", Type: "switch" }] }, { resultFile: "req.req" }), 'New-ExchangeCertificate -GenerateRequest -SubjectName "DC=com,DC=Contoso,CN=mail1.contoso.com" -DomainName mail.contoso.com -Path req.req');
  assert.equal(formatCommand("Remove-ExchangeCertificate", { Thumbprint: "AB12" }, undefined, { extra: { Confirm: false } }), "Remove-ExchangeCertificate -Thumbprint AB12 -Confirm:$false");
  assert.equal(quote('a "b" $c `d'), '"a `"b`" `$c ``d"');
  assert.equal(quote(""), '""');
  assert.equal(quote("x;y"), '"x;y"');
});

test("formatCommand never shows a secret or file contents: -Password (Read-Host -AsSecureString), -Path with the file's name", async () => {
  const { formatCommand } = await load();
  const cmd = formatCommand("Import-ExchangeCertificate", { FileData: "TUlJQ0FBQUE=", Password: "Pfx-Secret-Value-42" }, IMPORT_INFO, { files: { FileData: "partner.pfx" } });
  assert.equal(cmd, "Import-ExchangeCertificate -Path partner.pfx -Password (Read-Host -AsSecureString)");
  // Named like a secret without the table's type: still hidden.
  assert.equal(formatCommand("Set-AdminUser", { Identity: "bob", Password: "hunter2-hunter2" }), "Set-AdminUser -Identity bob -Password (Read-Host -AsSecureString)");
});

test("the commands the console shows run in the shell and do what the console does", async () => {
  const { formatCommand } = await load();
  const work = mkdtempSync(path.join(os.tmpdir(), "sealpost-console-cmd-"));
  const dir = path.join(work, "data");
  try {
    for (const line of [
      formatCommand("Set-TransportConfig", { TLSSendDomainSecureList: { Add: ["woodgrovebank.com", "fabrikam.com"] } }),
      formatCommand("Set-TransportConfig", { TLSSendDomainSecureList: { Remove: ["fabrikam.com"] }, TLSReceiveDomainSecureList: { Add: ["woodgrovebank.com"] } }),
      formatCommand("Set-SendConnector", { Identity: "Internet", DomainSecureEnabled: true }),
      formatCommand("Set-ReceiveConnector", { Identity: "Inet", AuthMechanism: ["Tls"], DomainSecureEnabled: true, ProtocolLoggingLevel: "Verbose" }),
    ]) {
      const r = await shellC(dir, line);
      assert.equal(r.code, 0, `${line}\n${r.stderr}`);
    }
    const [cfg] = parseFormatList((await shellC(dir, "Get-TransportConfig | Format-List")).stdout);
    assert.match(cfg?.TLSSendDomainSecureList ?? "", /^\{?woodgrovebank\.com\}?$/);
    assert.match(cfg?.TLSReceiveDomainSecureList ?? "", /^\{?woodgrovebank\.com\}?$/);
    const [send] = parseFormatList((await shellC(dir, "Get-SendConnector Internet | Format-List")).stdout);
    assert.equal(send?.DomainSecureEnabled, "True");
    const [recv] = parseFormatList((await shellC(dir, "Get-ReceiveConnector Inet | Format-List")).stdout);
    assert.equal(recv?.DomainSecureEnabled, "True");
    assert.equal(recv?.ProtocolLoggingLevel, "Verbose");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
