// Defect: partners that resume TLS sessions were refused. A full handshake
// was accepted; the same session resumed after a configuration reload got
// "451 4.7.5 No chain ... to a trusted root": every reload dropped the
// verdict cache that resumption relies on (a resumed session carries the
// partner's leaf, not its chain), and a resumption that landed on the other
// worker failed the same way.
// Reproduced as found: `serve --workers 2`, a partner whose intermediate is
// known only from the chain it presents, a full handshake, a reload, then
// resumed sessions (which the cluster spreads over both workers).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, type RunningServer } from "../helpers/serve.js";
import { AdminApi } from "../../src/admin/api.js";

const PORT = 2525;
const H = randomLoopback();
let work: string;
let dir: string;
let root: OpenSslCa;
let partnerCa: OpenSslCa;
let partner: IssuedCert;
let server: RunningServer;

async function ok(line: string): Promise<void> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-resume-"));
  dir = path.join(work, "edge");
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
  const ownCa = await root.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256" });
  // Woodgrove's intermediate is in no store of ours: only the chain Woodgrove presents carries it.
  partnerCa = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  partner = partnerCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["mail.woodgrovebank.com", "woodgrovebank.com"], keyType: "ec-p256" });
  const own = ownCa.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com"], keyType: "ec-p256" });
  assert.equal((await runSealpost(["--data", dir, "init", "--name", "mail1.contoso.com"])).code, 0);
  const api = AdminApi.open(dir);
  await api.trust.add("root", Buffer.from(root.certPem));
  await api.trust.setSettings({ useSystemTrustStore: false });
  await api.close();
  const pfx = path.join(work, "contoso.pfx");
  writeFileSync(pfx, ownCa.pfx(own, "pw", { withChain: true }));
  for (const line of [
    `Import-ExchangeCertificate -Path ${pfx} -Password pw | Enable-ExchangeCertificate -Services SMTP`,
    "New-AcceptedDomain -DomainName contoso.com",
    "New-Mailbox -PrimarySmtpAddress alice@contoso.com",
    "Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com",
    // These test certificates name no CRL or OCSP address; revocation is not what this test is about.
    "Set-DomainSecurePartner woodgrovebank.com -RevocationMode Soft",
    `Set-ReceiveConnector Inet -Bindings ${H}:${PORT} -DomainSecureEnabled:$true -AuthMechanism TLS`,
  ]) {
    await ok(line);
  }
  server = await startServe(dir, { workers: 2 });
});

after(async () => {
  await server?.stop();
  root?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** One partner session: STARTTLS with Woodgrove's certificate and chain (or a session to resume), then MAIL FROM. */
async function partnerSession(session?: Buffer): Promise<{ reply: string; resumed: boolean; session?: Buffer }> {
  const { client } = await TestSmtpClient.connect(H, PORT);
  await client.cmd("EHLO mail.woodgrovebank.com");
  let latest: Buffer | undefined;
  const secure = await client.startTls({
    servername: "mail1.contoso.com",
    key: partner.keyPem as string,
    cert: partner.certPem + partnerCa.certPem,
    ...(session ? { session } : {}),
  });
  secure.on("session", (s: Buffer) => (latest = s));
  const resumed = secure.isSessionReused();
  await client.cmd("EHLO mail.woodgrovebank.com"); // TLS 1.3 tickets arrive with the first data
  const reply = (await client.cmd("MAIL FROM:<someone@woodgrovebank.com>")).text;
  await client.quit().catch(() => undefined);
  return { reply, resumed, ...(latest ? { session: latest } : {}) };
}

test("a resumed partner session is accepted after a configuration reload, on either worker", async () => {
  const first = await partnerSession();
  assert.match(first.reply, /^250/, "the full handshake is accepted");
  assert.ok(first.session, "the server issued a session ticket");
  // A change that does not touch trust: the configuration reloads everywhere.
  await ok("Set-TransportConfig -TLSReceiveDomainSecureList @{Add='fabrikam.com'}");
  let resumedCount = 0;
  for (let i = 0; i < 6; i++) {
    const r = await partnerSession(first.session);
    if (r.resumed) resumedCount++;
    assert.match(r.reply, /^250/, `resumed session ${i + 1} (resumed: ${r.resumed}) was refused: ${r.reply}`);
  }
  assert.ok(resumedCount >= 4, `the client resumed ${resumedCount} of 6 sessions: the test needs resumption to mean anything`);
});

test("a resumed session is still refused when trust changes so that the chain no longer verifies", async () => {
  const first = await partnerSession();
  assert.match(first.reply, /^250/);
  // Trust the partner no more: remove the root.
  await ok(`Remove-TrustedRootCertificate -Thumbprint ${root.sha1} -Confirm:$false`);
  const r = await partnerSession(first.session);
  assert.match(r.reply, /^4\d\d 4\.7\.5|^5\d\d 5\.7\.1/, `after the root was removed: ${r.reply}`);
});
