// The per-partner floor for weak cryptography (Set-DomainSecurePartner D
// -AllowWeakCrypto $true) on a real `sealpost serve`: a partner whose
// certificate has an RSA-1024 key is refused by default, inbound at MAIL FROM
// and outbound before any mail command; with the option it is accepted and
// the weakness is logged as a warning, in the protocol log of the session and
// in the server log (once, not once per message).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { FakeSmtpServer } from "../helpers/fake-smtp.js";
import { parseFormatList, runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { AdminApi } from "../../src/admin/api.js";
import { ZoneServer } from "../../src/dns/zone-server.js";

const PORT = 2525;
const SUBMIT = 2526;
const C = randomLoopback();
const F = randomLoopback();

let work: string;
let dir: string;
let root: OpenSslCa;
let contosoCa: OpenSslCa;
let woodgroveCa: OpenSslCa;
let weak: IssuedCert;
let dns: ZoneServer;
let fake: FakeSmtpServer;
let server: RunningServer;

async function ok(line: string): Promise<string> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function protocolLog(kind: "SmtpSend" | "SmtpReceive"): string {
  const d = path.join(dir, "logs", "protocol", kind);
  return existsSync(d) ? readdirSync(d).map((f) => readFileSync(path.join(d, f), "utf8")).join("") : "";
}

const count = (text: string, re: RegExp) => text.split("\n").filter((l) => re.test(l)).length;

/** A Woodgrove session over STARTTLS with the weak certificate: the reply to MAIL FROM. */
async function mailFrom(): Promise<string> {
  const { client } = await TestSmtpClient.connect(C, PORT);
  try {
    await client.cmd("EHLO mail.woodgrovebank.com");
    await client.startTls({ servername: "mail.contoso.com", key: weak.keyPem as string, cert: weak.certPem + woodgroveCa.certPem });
    await client.cmd("EHLO mail.woodgrovebank.com");
    return (await client.cmd("MAIL FROM:<a@woodgrovebank.com>")).text;
  } finally {
    await client.quit().catch(() => undefined);
  }
}

async function submit(subject: string): Promise<void> {
  const { client } = await TestSmtpClient.connect(C, SUBMIT);
  await client.cmd("EHLO client.example");
  assert.match((await client.cmd("MAIL FROM:<alice@contoso.com>")).text, /^250/);
  assert.match((await client.cmd("RCPT TO:<bob@woodgrovebank.com>")).text, /^250/);
  assert.match((await client.cmd("DATA")).text, /^354/);
  assert.match((await client.cmd(`From: <alice@contoso.com>\r\nTo: <bob@woodgrovebank.com>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@test>\r\n\r\nHello\r\n.`)).text, /^250 /);
  await client.quit();
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-weak-"));
  dir = path.join(work, "contoso");
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
  contosoCa = await root.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256" });
  woodgroveCa = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  const ours = contosoCa.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com", "mail.contoso.com"], keyType: "ec-p256" });
  // Woodgrove's certificate (client and server) with an RSA-1024 key: below the floor.
  const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  weak = woodgroveCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com", "mail.woodgrovebank.com"], keyPem: rsa1024 });

  dns = await ZoneServer.start({ host: "127.0.0.1", port: 0 });
  dns.set("woodgrovebank.com", "MX", [{ preference: 10, exchange: "mail.woodgrovebank.com" }]);
  dns.set("mail.woodgrovebank.com", "A", [F]);
  fake = await FakeSmtpServer.start({ host: F, port: PORT, name: "mail.woodgrovebank.com", cert: { key: weak.keyPem as string, cert: weak.certPem + woodgroveCa.certPem } });

  assert.equal((await runSealpost(["--data", dir, "init", "--name", "mail1.contoso.com"])).code, 0);
  const api = AdminApi.open(dir);
  await api.trust.add("root", Buffer.from(root.certPem));
  await api.trust.setSettings({ useSystemTrustStore: false });
  await api.close();
  const pfx = path.join(work, "contoso.pfx");
  writeFileSync(pfx, contosoCa.pfx(ours, "pw", { withChain: true }));
  for (const line of [
    `Import-ExchangeCertificate -Path ${pfx} -Password pw | Enable-ExchangeCertificate -Services SMTP`,
    "New-AcceptedDomain -DomainName contoso.com",
    "New-Mailbox -PrimarySmtpAddress alice@contoso.com",
    `Set-ReceiveConnector Inet -Bindings ${C}:${PORT} -Fqdn mail.contoso.com -DomainSecureEnabled:$true -AuthMechanism TLS -ProtocolLoggingLevel Verbose`,
    `New-ReceiveConnector Internal -Usage Internal -Bindings ${C}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
    "Set-TransportConfig -TLSSendDomainSecureList woodgrovebank.com -TLSReceiveDomainSecureList woodgrovebank.com",
    `Set-SendConnector Internet -DomainSecureEnabled:$true -Fqdn mail.contoso.com -Port ${PORT} -ProtocolLoggingLevel Verbose`,
    `Set-TransportServer mail1.contoso.com -ExternalDNSServers ${dns.address}`,
    // These CAs publish no CRL: revocation unknown is a warning, so that the weak key is what decides.
    "Set-DomainSecurePartner woodgrovebank.com -RevocationMode Soft",
  ]) {
    await ok(line);
  }
  server = await startServe(dir);
});

after(async () => {
  await server?.stop();
  await fake?.close();
  await dns?.close();
  root?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("-AllowWeakCrypto: the per-partner floor", () => {
  test("default (false): refused inbound at MAIL FROM and outbound before any mail command; Test-Certificate says why", async () => {
    const [view] = parseFormatList(await ok("Get-DomainSecurePartner woodgrovebank.com | Format-List"));
    assert.equal(view?.AllowWeakCrypto, "False");
    assert.match(await mailFrom(), /^451 4\.7\.5 Domain security: .*weak key/);
    await submit("weak-1");
    const q = await waitUntil("the queue in Retry", async () => {
      const v = parseFormatList((await shellC(dir, "Get-Queue woodgrovebank.com | Format-List")).stdout)[0];
      return v?.Status === "Retry" ? v : undefined;
    }, 30_000);
    assert.match(q.LastError ?? "", /weak key/);
    assert.equal(fake.count("MAIL"), 0, "no mail command reached the weak server");
    const file = path.join(work, "weak.pem");
    writeFileSync(file, weak.certPem + woodgroveCa.certPem);
    assert.match(await ok(`Test-Certificate -Path ${file} -Domain woodgrovebank.com`), /Verdict: FAIL WEAK_KEY/);
  });

  test("true: accepted both ways, the weakness logged as a warning in the protocol log and, once, in the server log", async () => {
    await ok("Set-DomainSecurePartner woodgrovebank.com -AllowWeakCrypto $true");
    const [view] = parseFormatList(await ok("Get-DomainSecurePartner woodgrovebank.com | Format-List"));
    assert.equal(view?.AllowWeakCrypto, "True");
    const file = path.join(work, "weak.pem");
    const report = await ok(`Test-Certificate -Path ${file} -Domain woodgrovebank.com`);
    assert.match(report, /Verdict: PASS OK/);
    assert.match(report, /\[WARN\] .*weak key/);

    // Inbound: the reload takes the option within a moment.
    await waitUntil("MAIL FROM accepted", async () => (/^250/.test(await mailFrom()) ? true : undefined), 30_000);
    assert.match(await mailFrom(), /^250/);
    // The protocol log is written behind the session: wait for the line.
    const weakLine = /warning: [^\n]*weak key[^\n]*Accepted: weak cryptography is allowed for this partner/;
    await waitUntil("the warning in the receive protocol log", () => (weakLine.test(protocolLog("SmtpReceive")) ? true : undefined), 30_000);
    const inboundLine = /warning: inbound: Domain Security partner woodgrovebank\.com: .*weak key/;
    await waitUntil("the inbound warning in the server log", () => (inboundLine.test(server.output()) ? true : undefined), 30_000);
    assert.equal(count(server.output(), inboundLine), 1, "logged once, not once per message");

    // Outbound: the held message goes out on the next attempt.
    await ok("Retry-Queue woodgrovebank.com");
    await waitUntil("delivery to the weak partner", () => (fake.count("MAIL") > 0 && fake.messages.some((m) => m.includes("Subject: weak-1")) ? true : undefined), 30_000);
    await waitUntil("the warning in the send protocol log", () => (weakLine.test(protocolLog("SmtpSend")) ? true : undefined), 30_000);
    assert.match(server.output(), /warning: outbound: Domain Security partner woodgrovebank\.com \(mail\.woodgrovebank\.com\[[\d.]+\]\): .*weak key/);
  });
});
