// The command line is a front end of the admin door: every state-changing
// `sealpost ...` subcommand runs its cmdlet through invokeCommand as the
// local operator, via "cli", so it appears in the admin audit log (who,
// which cmdlet, the parameters with the PFX password redacted, the result),
// and a refused value is recorded as Invalid and changes nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa } from "../helpers/openssl-ca.js";
import { parseFormatList, runSealpost } from "../helpers/cli.js";
import { defaultAdminName } from "../../src/org/store.js";

const PFX_PASSWORD = "pfx-secret-Zq7!horse-battery";

let work: string;
let dir: string;
let root: OpenSslCa;

interface AuditRow {
  Caller: string;
  CmdletName: string;
  CmdletParameters: Record<string, unknown>;
  Result: string;
  Via: string;
  ClientIP: string;
  Error?: string;
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-cli-audited-"));
  dir = path.join(work, "data");
  root = await OpenSslCa.createRoot({ name: "O=Audit Test,CN=Audit Test Root", keyType: "ec-p256" });
  const leaf = root.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com"], keyType: "ec-p256" });
  writeFileSync(path.join(work, "edge.pfx"), root.pfx(leaf, PFX_PASSWORD), { mode: 0o600 });
  writeFileSync(path.join(work, "pfx-password"), `${PFX_PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(path.join(work, "root.crt"), root.certPem);
});

after(() => {
  root.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const cli = (...args: string[]) => runSealpost(["--data", dir, ...args], { cwd: work });

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  assert.equal(r.code, 0, `sealpost ${args.join(" ")}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

async function audit(...filter: string[]): Promise<AuditRow[]> {
  return JSON.parse(await ok("--json", "org", "audit", "--limit", "100", ...filter)) as AuditRow[];
}

test("state-changing subcommands are audited as the local operator via cli, the PFX password redacted; a bad value is Invalid and changes nothing", async () => {
  await ok("init", "--name", "mail1.contoso.com");
  assert.deepEqual(await audit(), [], "init writes no audit record");

  // Each subcommand prints what it printed before the door.
  assert.match(await ok("server", "set", "--message-retry-interval", "00:20:00"), /MessageRetryInterval\s+: 00:20:00/);
  assert.match(await ok("partner", "set", "fabrikam.com", "--mode", "ReportOnly", "--certificate-names", "mx.fabrikam.com"), /Mode\s+: ReportOnly/);
  await ok("send-connector", "new", "Fabrikam", "--address-spaces", "SMTP:fabrikam.com;1");
  assert.match(await ok("send-connector", "set", "Internet", "--port", "2525"), /Port\s+: 2525/);
  const added = JSON.parse(await ok("--json", "trust", "add", "root.crt")) as Array<{ Thumbprint: string; Kind: string }>;
  assert.deepEqual(added.map((v) => [v.Thumbprint, v.Kind]), [[root.sha1, "Root"]]);
  const imported = JSON.parse(await ok("--json", "cert", "import", "edge.pfx", "--password-file", "pfx-password")) as { Thumbprint: string };
  assert.match(imported.Thumbprint, /^[0-9A-F]{40}$/);

  // A refused value: the door's validation, recorded as Invalid; the setting stays.
  const bad = await cli("server", "set", "--message-retry-interval", "99:99:99");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /MessageRetryInterval|message-retry-interval/i);
  assert.equal(bad.stdout, "");
  assert.equal(parseFormatList(await ok("server", "show"))[0]?.MessageRetryInterval, "00:20:00");

  // Reads are not audited.
  await ok("server", "show");
  await ok("partner", "list");
  await ok("cert", "list");

  const log = (await audit()).reverse();
  assert.deepEqual(
    log.map((r) => `${r.Via} ${r.Caller} ${r.CmdletName} ${r.Result}`),
    [
      "Set-TransportServer Succeeded",
      "Set-DomainSecurePartner Succeeded",
      "New-SendConnector Succeeded",
      "Set-SendConnector Succeeded",
      "Add-TrustedRootCertificate Succeeded",
      "Import-ExchangeCertificate Succeeded",
      "Set-TransportServer Invalid",
    ].map((l) => `cli ${defaultAdminName()} ${l}`),
  );
  for (const r of log) assert.equal(r.ClientIP, "local");
  const byCmdlet = (name: string, result = "Succeeded") => log.find((r) => r.CmdletName === name && r.Result === result)?.CmdletParameters;
  assert.deepEqual(byCmdlet("Set-TransportServer"), { MessageRetryInterval: "00:20:00" });
  assert.deepEqual(byCmdlet("Set-TransportServer", "Invalid"), { MessageRetryInterval: "99:99:99" });
  assert.deepEqual(byCmdlet("Set-DomainSecurePartner"), { Identity: "fabrikam.com", Mode: "ReportOnly", CertificateNames: ["mx.fabrikam.com"] });
  assert.deepEqual(byCmdlet("Set-SendConnector"), { Identity: "Internet", Port: "2525" });
  const pfxSize = readFileSync(path.join(work, "edge.pfx")).length;
  assert.deepEqual(byCmdlet("Import-ExchangeCertificate"), { FileData: `<${pfxSize} bytes>`, Password: "****" });
  assert.equal(byCmdlet("Add-TrustedRootCertificate")?.FileData, `<${Buffer.byteLength(root.certPem)} bytes>`);
  assert.match(log.at(-1)?.Error ?? "", /MessageRetryInterval|message-retry-interval/i);

  // The shell's Get-AdminAuditLog reads the same records.
  const viaShell = JSON.parse((await runSealpost(["--data", dir, "--json", "shell", "-c", "Get-AdminAuditLog -Cmdlets Import-ExchangeCertificate"])).stdout) as AuditRow[];
  assert.deepEqual(viaShell.map((r) => [r.Via, r.Caller, r.CmdletParameters.Password]), [["cli", defaultAdminName(), "****"]]);

  // The PFX password is nowhere: not in the audit log's output, not in the data folder's database.
  const everything = JSON.stringify(await audit()) + readdirSync(dir).filter((f) => f.startsWith("sealpost.db")).map((f) => readFileSync(path.join(dir, f)).toString("latin1")).join("");
  assert.ok(!everything.includes(PFX_PASSWORD), "the PFX password is not recorded");
});

test("a removal from the command line is confirmed by the command itself and audited", async () => {
  await ok("send-connector", "new", "Spare", "--address-spaces", "SMTP:spare.example;1");
  assert.match(await ok("send-connector", "remove", "Spare"), /Removed the send connector Spare\./);
  const rows = await audit("--cmdlet", "Remove-SendConnector");
  assert.deepEqual(rows.map((r) => [r.Via, r.Result, r.CmdletParameters.Identity]), [["cli", "Succeeded", "Spare"]]);
  const missing = await cli("send-connector", "remove", "Spare");
  assert.equal(missing.code, 1);
  assert.deepEqual((await audit("--cmdlet", "Remove-SendConnector")).map((r) => r.Result), ["Invalid", "Succeeded"]);
});
