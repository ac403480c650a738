// Defect: an open session kept an old configuration for up to 10 minutes: a
// sender connected before woodgrovebank.com was added to
// TLSReceiveDomainSecureList could still send as that domain in clear.
// Reproduced as found: a plain session opened first, the partner listed
// while it stays open, then the next MAIL FROM on that same session.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, type RunningServer } from "../helpers/serve.js";

const PORT = 2525;
const H = randomLoopback();
let work: string;
let dir: string;
let server: RunningServer;

async function ok(line: string): Promise<void> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-open-session-"));
  dir = path.join(work, "edge");
  assert.equal((await runSealpost(["--data", dir, "init", "--name", "mail1.contoso.com"])).code, 0);
  for (const line of [
    "New-AcceptedDomain -DomainName contoso.com",
    "New-Mailbox -PrimarySmtpAddress alice@contoso.com",
    `Set-ReceiveConnector Inet -Bindings ${H}:${PORT} -DomainSecureEnabled:$true -AuthMechanism TLS`,
  ]) {
    await ok(line);
  }
  server = await startServe(dir, { workers: 2 });
});

after(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("a partner listed while a clear session is open is refused at that session's next MAIL FROM", async () => {
  const { client } = await TestSmtpClient.connect(H, PORT);
  await client.cmd("EHLO attacker.example");
  assert.match((await client.cmd("MAIL FROM:<x@woodgrovebank.com>")).text, /^250/, "not a partner yet: ordinary mail");
  assert.match((await client.cmd("RSET")).text, /^250/);
  await ok("Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com");
  // No waiting: the change is committed when the command returns.
  assert.match((await client.cmd("MAIL FROM:<x@woodgrovebank.com>")).text, /^451 4\.7\.3/);
  await client.quit();
});

test("a connector's Domain Security switched on while a session is open applies to its next MAIL FROM", async () => {
  // Off while no partner is listed (no confirmation needed), then the partner listed again.
  await ok("Set-TransportConfig -TLSReceiveDomainSecureList $null");
  await ok("Set-ReceiveConnector Inet -DomainSecureEnabled:$false");
  await ok("Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com");
  const { client } = await TestSmtpClient.connect(H, PORT);
  await client.cmd("EHLO attacker.example");
  assert.match((await client.cmd("MAIL FROM:<x@woodgrovebank.com>")).text, /^250/, "the connector does not enforce now");
  assert.match((await client.cmd("RSET")).text, /^250/);
  await ok("Set-ReceiveConnector Inet -DomainSecureEnabled:$true");
  assert.match((await client.cmd("MAIL FROM:<x@woodgrovebank.com>")).text, /^451 4\.7\.3/);
  await client.quit();
});
