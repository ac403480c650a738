// Defect: a Boolean parameter without a value was taken as $True.
//
// Found by running `sealpost shell -c "Set-TransportConfig -UseSystemTrustStore $false"`
// from a Unix shell: inside double quotes the shell replaces `$false` with
// nothing, the management shell received `-UseSystemTrustStore` alone and
// turned the setting ON — the opposite of what the administrator wrote.
// PowerShell refuses a Boolean parameter without a value (only switches go
// bare); so must Sealpost, for every Boolean of every cmdlet, and for
// `-Name:` with nothing after the colon (what `-Name:$false` becomes).
// Each line below is exactly what a Unix shell leaves. The seed's commands
// run through the real command line on a real data folder; the walk over
// every Boolean of the cmdlet table (some forty lines) runs them through the
// same shell in this process on that folder, to keep the test quick on a
// small machine. The stored settings must not change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runSealpost, shellC, type CliResult } from "../helpers/cli.js";
import { AdminApi } from "../../src/admin/api.js";
import { makeShellHost } from "../../src/cli/main.js";
import { allCmdlets } from "../../src/shell/cmdlets/index.js";
import { Shell } from "../../src/shell/shell.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-bare-bool-"));
const data = path.join(dir, "data");

test.after(() => rmSync(dir, { recursive: true, force: true }));

async function ok(line: string): Promise<string> {
  const r = await shellC(data, line);
  assert.equal(r.code, 0, `${line}: ${r.stderr}`);
  return r.stdout;
}

async function json<T>(line: string): Promise<T> {
  const r = await runSealpost(["--data", data, "--json", "shell", "-c", line]);
  assert.equal(r.code, 0, `${line}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The same shell as `sealpost shell`, in this process, on the same data folder. */
async function withShell<T>(fn: (shell: Shell) => Promise<T>): Promise<T> {
  const api = await AdminApi.openWithDefaults(data);
  try {
    return await fn(new Shell(makeShellHost(api), allCmdlets()));
  } finally {
    await api.close();
  }
}

/** Everything a Boolean parameter could change, as stored. */
async function snapshot(): Promise<string> {
  return withShell(async (shell) => {
    const parts: unknown[] = [];
    for (const l of ["Get-TransportConfig", "Get-TransportServer", "Get-ReceiveConnector", "Get-SendConnector", "Get-ExchangeCertificate", "Get-AcceptedDomain"]) {
      parts.push(await shell.runObjects(l));
    }
    return JSON.stringify(parts, null, 1);
  });
}

function assertRefused(r: CliResult, line: string, param: string): void {
  assert.notEqual(r.code, 0, `${line} must be refused; it exited 0 with: ${r.stdout}`);
  assert.match(r.stderr, new RegExp(`-${param}\\b`), `${line}: the error names the parameter`);
  assert.match(r.stderr, /\$true/i, `${line}: the error says to give $true or $false`);
  assert.match(r.stderr, /\$false/i, `${line}: the error says to give $true or $false`);
  assert.match(r.stderr, /single quotes/, `${line}: the error names the Unix-shell quoting pitfall`);
}

/** Runs lines two at a time (two cores). */
async function eachLimited<T>(items: T[], fn: (x: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    [0, 1].map(async () => {
      for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
    }),
  );
}

test("setup: settings that differ from what a bare parameter would set", async () => {
  const init = await runSealpost(["--data", data, "init", "--name", "mail1.contoso.com"]);
  assert.equal(init.code, 0, init.stderr);
  // Quoted properly (single quotes): these are the administrator's real settings.
  await ok("Set-TransportConfig -UseSystemTrustStore $false");
  await ok("Set-TransportServer -PlaintextFallback $false");
  await ok("Set-ReceiveConnector Inet -DomainSecureEnabled $false");
  await ok("Set-SendConnector Internet -RequireTLS:$false -IgnoreSTARTTLS:$false");
  const cfg = (await json<Array<{ UseSystemTrustStore: boolean }>>("Get-TransportConfig"))[0];
  assert.equal(cfg?.UseSystemTrustStore, false);
});

test("the lines a Unix shell leaves of the seed's commands are refused and change nothing", async () => {
  const before = await snapshot();
  const lines: Array<[string, string]> = [
    ["Set-TransportConfig -UseSystemTrustStore", "UseSystemTrustStore"], // "... -UseSystemTrustStore $false"
    ["Set-TransportConfig -UseSystemTrustStore:", "UseSystemTrustStore"], // "... -UseSystemTrustStore:$false"
    ["Set-ReceiveConnector Inet -DomainSecureEnabled:", "DomainSecureEnabled"], // "... -DomainSecureEnabled:$false"
    ["Set-ReceiveConnector Inet -DomainSecureEnabled: -AuthMechanism Tls", "DomainSecureEnabled"],
    ["Set-ReceiveConnector Inet -DomainSecureEnabled -AuthMechanism Tls", "DomainSecureEnabled"],
    ["Set-TransportServer -PlaintextFallback", "PlaintextFallback"], // "... -PlaintextFallback $true"
    ["Set-TransportServer -PlaintextFallback -MaxOutboundConnections 10", "PlaintextFallback"],
    ["Set-SendConnector Internet -IgnoreSTARTTLS", "IgnoreSTARTTLS"], // "... -IgnoreSTARTTLS $false"
    ["Set-SendConnector Internet -RequireTLS -Port 25", "RequireTLS"],
    ["Get-SendConnector Internet | Set-SendConnector -IgnoreSTARTTLS", "IgnoreSTARTTLS"],
  ];
  await eachLimited(lines, async ([line, param]) => assertRefused(await shellC(data, line), line, param));
  assert.equal(await snapshot(), before, "nothing changed");
});

test("every Boolean parameter of every cmdlet without a value is refused and changes nothing", async () => {
  // Values for the mandatory positional parameters, so that only the Boolean is wrong.
  const identity: Record<string, string> = {
    "Set-ReceiveConnector": "Inet",
    "Set-SendConnector": "Internet",
    "Import-ExchangeCertificate": "cert.pem",
    "Remove-Message": "example.com\\1",
  };
  const cases: Array<{ line: string; param: string }> = [];
  for (const c of allCmdlets()) {
    const positional = c.params.filter((p) => p.mandatory && p.position !== undefined).map(() => identity[c.name] ?? "Probe");
    for (const p of c.params.filter((x) => x.type === "bool")) {
      const head = [c.name, ...positional].join(" ");
      cases.push({ line: `${head} -${p.name}`, param: p.name });
      cases.push({ line: `${head} -${p.name}:`, param: p.name });
    }
  }
  // The table must hold the Booleans Exchange documents (a regression would go bare again).
  const bools = new Set(cases.map((c) => c.param));
  for (const b of ["DomainSecureEnabled", "Enabled", "UseSystemTrustStore", "PlaintextFallback", "IgnoreSTARTTLS", "RequireTLS", "DNSRoutingEnabled", "PrivateKeyExportable", "WithNDR"]) {
    assert.ok(bools.has(b), `-${b} is a Boolean parameter`);
  }
  for (const sw of ["Force", "Confirm", "GenerateRequest", "BinaryEncoded", "Detailed", "AsSecureString"]) {
    assert.ok(!bools.has(sw), `-${sw} is a switch`);
  }
  const before = await snapshot();
  await withShell(async (shell) => {
    for (const { line, param } of cases) {
      const r = await shell.runLine(line).then(
        (stdout) => ({ code: 0, stdout, stderr: "" }),
        (e: unknown) => ({ code: 1, stdout: "", stderr: e instanceof Error ? e.message : String(e) }),
      );
      assertRefused(r, line, param);
    }
  });
  assert.equal(await snapshot(), before, "nothing changed");
});

test("the forms PowerShell accepts keep working; switches go bare", async () => {
  await ok("Set-ReceiveConnector Inet -DomainSecureEnabled:$True");
  assert.equal((await json<Array<{ DomainSecureEnabled: boolean }>>("Get-ReceiveConnector Inet"))[0]?.DomainSecureEnabled, true);
  await ok("Set-ReceiveConnector Inet -DomainSecureEnabled $false");
  assert.equal((await json<Array<{ DomainSecureEnabled: boolean }>>("Get-ReceiveConnector Inet"))[0]?.DomainSecureEnabled, false);
  await withShell(async (shell) => {
    for (const [v, want] of [["1", true], ["0", false], ["true", true], ["false", false], ["$TRUE", true], ["$False", false], ["$true", true]] as const) {
      await shell.runLine(`Set-TransportConfig -UseSystemTrustStore ${v}`);
      assert.equal(((await shell.runObjects("Get-TransportConfig"))[0] as { UseSystemTrustStore: boolean }).UseSystemTrustStore, want, v);
    }
  });
  await ok("Set-TransportConfig -UseSystemTrustStore:$false");
  assert.equal((await json<Array<{ UseSystemTrustStore: boolean }>>("Get-TransportConfig"))[0]?.UseSystemTrustStore, false);
  // A switch needs no value: the binder accepts it (the certificate simply does not exist).
  const sw = await shellC(data, "Remove-ExchangeCertificate 0000000000000000000000000000000000000000 -Confirm:$false");
  assert.notEqual(sw.code, 0);
  assert.match(sw.stderr, /No certificate or pending request/);
  const bare = await shellC(data, "Remove-ExchangeCertificate 0000000000000000000000000000000000000000 -Confirm");
  assert.match(bare.stderr, /No certificate or pending request/);
});
