// Get-/Set-TransportServer through `sealpost shell -c` and `sealpost server
// show|set`, as an administrator runs them: the seed's lines work, the
// output is Exchange's, and a refused line exits non-zero with a clear
// message and changes nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseFormatList, runSealpost, shellC } from "../helpers/cli.js";
import { AdminApi } from "../../src/admin/api.js";
import { readTransportServerSettings, type TransportServerSettings } from "../../src/admin/transport-server.js";

let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-tsrv-cli-"));
  const r = await runSealpost(["--data", dir, "init", "--name", "mail1.contoso.com"]);
  assert.equal(r.code, 0, r.stderr);
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function ok(line: string): Promise<string> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

async function stored(): Promise<TransportServerSettings> {
  const api = AdminApi.open(dir);
  try {
    return readTransportServerSettings(api.ctx.db);
  } finally {
    await api.close();
  }
}

/** A shell line (string) or CLI arguments after `--data DIR` (array): refused, clearly, changing nothing. */
async function refused(cmd: string | string[], pattern: RegExp): Promise<void> {
  const before = await stored();
  const r = typeof cmd === "string" ? await shellC(dir, cmd) : await runSealpost(["--data", dir, ...cmd]);
  const what = typeof cmd === "string" ? cmd : `sealpost ${cmd.join(" ")}`;
  assert.notEqual(r.code, 0, `${what} should fail`);
  assert.match(r.stderr, pattern, what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
  assert.deepEqual(await stored(), before, `${what} changed the settings`);
}

test("Get-TransportServer shows Exchange's defaults as a list", async () => {
  const [v] = parseFormatList(await ok("Get-TransportServer"));
  assert.equal(v?.Identity, "mail1.contoso.com");
  assert.equal(v?.ExternalDNSServers, "{}");
  assert.equal(v?.TransientFailureRetryCount, "6");
  assert.equal(v?.TransientFailureRetryInterval, "00:10:00");
  assert.equal(v?.OutboundConnectionFailureRetryInterval, "00:30:00");
  assert.equal(v?.MessageRetryInterval, "00:15:00");
  assert.equal(v?.DelayNotificationTimeout, "04:00:00");
  assert.equal(v?.MessageExpirationTimeout, "2.00:00:00");
  assert.equal(v?.MaxOutboundConnections, "1000");
  assert.equal(v?.MaxPerDomainOutboundConnections, "20");
  assert.equal(v?.PlaintextFallback, "True");
});

test("the seed's lines: DNS servers with ports, a 30-second expiration", async () => {
  assert.equal(await ok("Set-TransportServer mail1.contoso.com -ExternalDNSServers 127.0.0.1:5353,127.0.0.2:53"), "");
  assert.equal(await ok("Set-TransportServer -MessageExpirationTimeout 00:00:30"), "");
  const s = await stored();
  assert.deepEqual(s.externalDNSServers, ["127.0.0.1:5353", "127.0.0.2:53"]);
  assert.equal(s.messageExpirationTimeout, 30);
  const [v] = parseFormatList(await ok("Get-TransportServer MAIL1.CONTOSO.COM | FL"));
  assert.equal(v?.ExternalDNSServers, "{127.0.0.1:5353, 127.0.0.2:53}");
  assert.equal(v?.MessageExpirationTimeout, "00:00:30");
});

test("list edits, the other settings, a pipeline, and --json", async () => {
  await ok('Set-TransportServer -ExternalDNSServers @{Add="[2001:DB8::1]:53";Remove="127.0.0.2:53"} -TransientFailureRetryCount 3 -MaxOutboundConnections Unlimited -PlaintextFallback $false');
  await ok("Get-TransportServer | Set-TransportServer -MessageRetryInterval 00:05:00 -DelayNotificationTimeout 1.00:00:00");
  const r = await runSealpost(["--data", dir, "--json", "shell", "-c", "Get-TransportServer"]);
  assert.equal(r.code, 0, r.stderr);
  const [v] = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(v?.ExternalDNSServers, ["127.0.0.1:5353", "[2001:db8::1]:53"]);
  assert.equal(v?.TransientFailureRetryCount, 3);
  assert.equal(v?.MaxOutboundConnections, "Unlimited");
  assert.equal(v?.PlaintextFallback, false);
  assert.equal(v?.MessageRetryInterval, "00:05:00");
  assert.equal(v?.DelayNotificationTimeout, "1.00:00:00");
  assert.match(await ok("Get-Command *-TransportServer"), /Get-TransportServer[\s\S]*Set-TransportServer/);
});

test("bad lines are refused before anything runs and change nothing", async () => {
  await refused("Set-TransportServer -ExternalDNSServers 127.0.0.1:0", /DNS server '127\.0\.0\.1:0' is not valid: the port must be 1-65535/);
  await refused("Set-TransportServer -ExternalDNSServers 127.0.0.1:70000", /port must be 1-65535/);
  await refused("Set-TransportServer -ExternalDNSServers mail.example.com", /by IP address, not by name/);
  await refused("Set-TransportServer -TransientFailureRetryCount -1", /TransientFailureRetryCount '-1' is not valid/);
  await refused("Set-TransportServer -MessageRetryInterval 15min", /MessageRetryInterval '15min' is not valid/);
  await refused("Set-TransportServer -MessageExpirationTimeout 00:00:00 -PlaintextFallback $true", /MessageExpirationTimeout '00:00:00'/);
  await refused("Set-TransportServer mail2.contoso.com -PlaintextFallback $true", /No transport server 'mail2\.contoso\.com' here: this data folder is the server mail1\.contoso\.com/);
  await refused("Get-TransportServer mail2", /No transport server 'mail2'/);
  await refused("Set-TransportServer -NoSuchSetting 1", /cannot be found that matches parameter name 'NoSuchSetting'/);
  // a bad value in the second command stops the first one too
  await refused("Set-TransportServer -PlaintextFallback $true | Set-TransportServer -MaxOutboundConnections 0", /MaxOutboundConnections '0'/);
});

test("sealpost server show|set", async () => {
  const show = await runSealpost(["--data", dir, "server", "show", "--json"]);
  assert.equal(show.code, 0, show.stderr);
  assert.equal((JSON.parse(show.stdout) as { Identity: string }).Identity, "mail1.contoso.com");
  const set = await runSealpost([
    "--data", dir, "--json", "server", "set",
    "--external-dns-servers", "127.0.0.1:53,::1",
    "--transient-failure-retry-count", "6",
    "--transient-failure-retry-interval", "00:10:00",
    "--outbound-connection-failure-retry-interval", "00:30:00",
    "--message-retry-interval", "00:15:00",
    "--delay-notification-timeout", "04:00:00",
    "--message-expiration-timeout", "2.00:00:00",
    "--max-outbound-connections", "500",
    "--max-per-domain-outbound-connections", "Unlimited",
    "--plaintext-fallback", "true",
  ]);
  assert.equal(set.code, 0, set.stderr);
  const v = JSON.parse(set.stdout) as Record<string, unknown>;
  assert.deepEqual(v.ExternalDNSServers, ["127.0.0.1:53", "::1"]);
  assert.equal(v.MessageExpirationTimeout, "2.00:00:00");
  assert.equal(v.MaxPerDomainOutboundConnections, "Unlimited");
  assert.equal((await stored()).maxOutboundConnections, 500);
  const add = await runSealpost(["--data", dir, "server", "set", "--add-external-dns-servers", "127.0.0.9", "--remove-external-dns-servers", "::1"]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /ExternalDNSServers\s+: \{127\.0\.0\.1:53, 127\.0\.0\.9\}/);
  await refused(["server", "set", "--message-expiration-timeout", "0"], /MessageExpirationTimeout '0'/);
  await refused(["server", "set", "--external-dns-servers", "1.2.3.4", "--add-external-dns-servers", "5.6.7.8"], /not both/);
  const bad = await runSealpost(["--data", dir, "--json", "server", "set", "--external-dns-servers", "dns.example.com"]);
  assert.equal(bad.code, 1);
  assert.equal((JSON.parse(bad.stdout) as { error: { code: string } }).error.code, "INVALID_ARGUMENT");
});
