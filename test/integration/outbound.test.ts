// Outbound Domain Security end to end (seed procedure 3): two Sealpost
// servers, Contoso (mail1.contoso.com, sending as mail.contoso.com) and
// Woodgrove (mail.woodgrovebank.com), each a real `sealpost serve` process
// configured with the seed's shell commands; a DNS server on loopback with
// their MX records; a test PKI made with the OpenSSL command line; and a
// deliberately small SMTP server that plays an attacker stripping STARTTLS
// or a partner with a bad certificate. Nothing may reach it but EHLO and
// STARTTLS.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, runOpenssl, type IssuedCert } from "../helpers/openssl-ca.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { FakeSmtpServer } from "../helpers/fake-smtp.js";
import { parseFormatList, runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { AdminApi } from "../../src/admin/api.js";
import { ZoneServer } from "../../src/dns/zone-server.js";

const PORT = 2525;
const SUBMIT = 2526;

let work: string;
let root: OpenSslCa;
let contosoCa: OpenSslCa;
let woodgroveCa: OpenSslCa;
let crlServer: http.Server;
let crlBase: string;
let dns: ZoneServer;
let fake: FakeSmtpServer;
const C = randomLoopback();
const W = randomLoopback();
const F = randomLoopback();
let contoso: RunningServer;
let woodgrove: RunningServer;
let cDir: string;
let wDir: string;
/** Revoked before either server starts: a CRL fetched earlier stays good until its next update, as it should. */
let revoked: IssuedCert;
/** Woodgrove's server (and client) certificate. */
let wLeaf: IssuedCert;

async function ok(dir: string, line: string): Promise<string> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function maildir(dir: string, domain: string, local: string): string[] {
  const d = path.join(dir, "maildir", domain, local, "new");
  return existsSync(d) ? readdirSync(d).sort().map((f) => readFileSync(path.join(d, f), "utf8")) : [];
}

function logText(dir: string, kind: "SmtpSend" | "SmtpReceive"): string {
  const d = path.join(dir, "logs", "protocol", kind);
  return existsSync(d) ? readdirSync(d).map((f) => readFileSync(path.join(d, f), "utf8")).join("") : "";
}

async function submit(host: string, from: string, to: string, subject: string, rcptParams = ""): Promise<void> {
  const { client } = await TestSmtpClient.connect(host, SUBMIT);
  await client.cmd("EHLO client.example");
  assert.match((await client.cmd(`MAIL FROM:<${from}>`)).text, /^250/);
  assert.match((await client.cmd(`RCPT TO:<${to}>${rcptParams}`)).text, /^250/);
  assert.match((await client.cmd("DATA")).text, /^354/);
  const r = await client.cmd(`From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@test>\r\n\r\nHello ${subject}\r\n.`);
  assert.match(r.text, /^250 /);
  await client.quit();
}

async function queue(dir: string, domain: string): Promise<Record<string, string> | undefined> {
  const r = await shellC(dir, `Get-Queue ${domain} | Format-List`);
  if (r.code !== 0) return undefined;
  return parseFormatList(r.stdout)[0];
}

async function configure(dir: string, name: string, leaf: IssuedCert, ca: OpenSslCa, host: string, domain: string, mailbox: string, partner: string): Promise<void> {
  assert.equal((await runSealpost(["--data", dir, "init", "--name", name])).code, 0);
  const api = AdminApi.open(dir);
  await api.trust.add("root", Buffer.from(root.certPem));
  await api.trust.setSettings({ useSystemTrustStore: false });
  const pfx = path.join(work, `${name}.pfx`);
  writeFileSync(pfx, ca.pfx(leaf, "pw", { withChain: true }));
  await api.close();
  for (const line of [
    `Import-ExchangeCertificate -Path ${pfx} -Password pw | Enable-ExchangeCertificate -Services SMTP`,
    `New-AcceptedDomain -DomainName ${domain}`,
    `New-Mailbox -PrimarySmtpAddress ${mailbox}`,
    `Set-ReceiveConnector Inet -Bindings ${host}:${PORT} -DomainSecureEnabled:$true -AuthMechanism TLS -ProtocolLoggingLevel Verbose`,
    `New-ReceiveConnector Internal -Usage Internal -Bindings ${host}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
    // The seed's procedure 3, as written there.
    `Set-TransportConfig -TLSSendDomainSecureList ${partner}`,
    `Set-TransportConfig -TLSReceiveDomainSecureList ${partner}`,
    "Set-SendConnector Internet -DomainSecureEnabled:$True",
    // Our servers listen on 2525 (no privileges needed); Verbose for the certificate lines.
    `Set-SendConnector Internet -Port ${PORT} -ProtocolLoggingLevel Verbose`,
    `Set-TransportServer ${name} -ExternalDNSServers ${dns.address}`,
    // The CRLs are served from loopback, which the outbound fetch policy refuses unless allowed.
    `Set-TransportServer ${name} -OutboundFetchAllowedRanges 127.0.0.1 -OutboundFetchAllowedPorts ${new URL(crlBase).port}`,
  ]) {
    await ok(dir, line);
  }
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-outbound-"));
  crlServer = http.createServer((req, res) => {
    const ca = { "/root.crl": root, "/woodgrove.crl": woodgroveCa, "/contoso.crl": contosoCa }[(req.url ?? "").replace(/\?.*$/, "")];
    if (!ca) return void res.writeHead(404).end();
    res.end(ca.crl({ der: true }));
  });
  await new Promise<void>((r) => crlServer.listen(0, "127.0.0.1", r));
  crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
  contosoCa = await root.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
  woodgroveCa = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
  const cLeaf = contosoCa.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com", "mail.contoso.com"], crlUrl: `${crlBase}/contoso.crl`, keyType: "ec-p256" });
  wLeaf = woodgroveCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com", "mail.woodgrovebank.com"], crlUrl: `${crlBase}/woodgrove.crl`, keyType: "ec-p256" });

  revoked = woodgroveCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256", crlUrl: `${crlBase}/woodgrove.crl` });
  woodgroveCa.revoke(revoked);

  dns = await ZoneServer.start({ host: "127.0.0.1", port: 0 });
  dns.set("woodgrovebank.com", "MX", [{ preference: 10, exchange: "mail.woodgrovebank.com" }]);
  dns.set("mail.woodgrovebank.com", "A", [W]);
  dns.set("mail.contoso.com", "MX", [{ preference: 10, exchange: "mail1.contoso.com" }]);
  dns.set("mail1.contoso.com", "A", [C]);
  dns.set("tailspintoys.com", "MX", [{ preference: 10, exchange: "mx.tailspintoys.com" }]);
  dns.set("mx.tailspintoys.com", "A", [F]);
  fake = await FakeSmtpServer.start({ host: F, port: PORT, name: "mx.attacker.example" });

  cDir = path.join(work, "contoso");
  wDir = path.join(work, "woodgrove");
  await configure(cDir, "mail1.contoso.com", cLeaf, contosoCa, C, "mail.contoso.com", "alice@mail.contoso.com", "woodgrovebank.com");
  await configure(wDir, "mail.woodgrovebank.com", wLeaf, woodgroveCa, W, "woodgrovebank.com", "bob@woodgrovebank.com", "mail.contoso.com");
  // A second partner of Contoso's, whose server is the stripped one from the start (tests 2 and 5).
  await ok(cDir, "Set-TransportConfig -TLSSendDomainSecureList @{Add='tailspintoys.com'}");
  [contoso, woodgrove] = await Promise.all([startServe(cDir), startServe(wDir)]);
});

after(async () => {
  await Promise.all([contoso?.stop(), woodgrove?.stop()]);
  await fake?.close();
  await dns?.close();
  crlServer?.close();
  root?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("outbound Domain Security between two Sealpost servers", () => {
  test("1. Contoso → Woodgrove and back: domain-secured on both sides, counted, logged with certificates", async () => {
    await submit(C, "alice@mail.contoso.com", "bob@woodgrovebank.com", "c2w-1");
    const got = await waitUntil("the message in bob's mailbox", () => maildir(wDir, "woodgrovebank.com", "bob").find((m) => m.includes("Subject: c2w-1")));
    assert.match(got, /Authentication-Results: woodgrovebank\.com; x-domain-secure=pass smtp\.mailfrom=mail\.contoso\.com x-domain-secure\.cert=[0-9A-F]{40}/);
    assert.equal(await contoso.metric("sealpost_domain_secured_messages_sent_total", { partner: "woodgrovebank.com" }), 1);
    assert.equal(await woodgrove.metric("sealpost_domain_secured_messages_received_total", { partner: "mail.contoso.com" }), 1);

    await submit(W, "bob@woodgrovebank.com", "alice@mail.contoso.com", "w2c-1");
    const back = await waitUntil("the reply in alice's mailbox", () => maildir(cDir, "mail.contoso.com", "alice").find((m) => m.includes("Subject: w2c-1")));
    assert.match(back, /x-domain-secure=pass smtp\.mailfrom=woodgrovebank\.com/);
    assert.equal(await woodgrove.metric("sealpost_domain_secured_messages_sent_total", { partner: "mail.contoso.com" }), 1);
    assert.equal(await contoso.metric("sealpost_domain_secured_messages_received_total", { partner: "woodgrovebank.com" }), 1);

    const send = await waitUntil("Contoso's send log", () => (/Received certificate/.test(logText(cDir, "SmtpSend")) ? logText(cDir, "SmtpSend") : undefined));
    assert.match(send, /#Log-type: SMTP Send Protocol Log/);
    assert.match(send, /,\*,"?CN=mail\.woodgrovebank\.com"?,Certificate subject/);
    assert.match(send, /,\*,mail\.woodgrovebank\.com;woodgrovebank\.com,Certificate alternate names/);
    assert.match(send, /,\*,"?CN=mail1\.contoso\.com"?,Certificate subject/); // our certificate sent
    assert.match(send, /TLS protocol TLSv1\.[23] cipher/);
    assert.match(send, /verified OK/);
    assert.match(send, /,>,MAIL FROM:<alice@mail\.contoso\.com>/);
    const recv = await waitUntil("Woodgrove's receive log", () => (/CN=mail1\.contoso\.com/.test(logText(wDir, "SmtpReceive")) ? logText(wDir, "SmtpReceive") : undefined));
    assert.match(recv, /,\*,,Received certificate/);
    // The message tracking log has the SEND event with the TLS facts.
    const tracking = readdirSync(path.join(cDir, "logs", "tracking")).map((f) => readFileSync(path.join(cDir, "logs", "tracking", f), "utf8")).join("");
    const sendEvent = tracking.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { eventId: string; recipients: string[]; tls?: { certSubject?: string }; domainSecure?: { verdict: string } }).find((e) => e.eventId === "SEND" && e.recipients.includes("bob@woodgrovebank.com"));
    assert.equal(sendEvent?.tls?.certSubject, "CN=mail.woodgrovebank.com");
    assert.equal(sendEvent?.domainSecure?.verdict, "domain-secured");
  });

  test("2. STARTTLS stripped: no MAIL command, failure counted, held in Retry; Retry-Queue delivers once fixed", async () => {
    const failuresBefore = await contoso.metric("sealpost_domain_secured_outbound_session_failures_total", { partner: "woodgrovebank.com" });
    dns.set("mail.woodgrovebank.com", "A", [F]);
    fake.opts = { host: F, port: PORT, name: "mx.attacker.example" };
    await submit(C, "alice@mail.contoso.com", "bob@woodgrovebank.com", "stripped-1");
    const q = await waitUntil("the queue in Retry", async () => {
      const v = await queue(cDir, "woodgrovebank.com");
      return v?.Status === "Retry" ? v : undefined;
    });
    assert.match(q.LastError ?? "", /STARTTLS/);
    assert.equal(fake.count("MAIL"), 0, "no MAIL command reached the stripped server");
    assert.ok(fake.count("EHLO") >= 1);
    assert.ok((await contoso.metric("sealpost_domain_secured_outbound_session_failures_total", { partner: "woodgrovebank.com" })) > failuresBefore);
    const msgs = parseFormatList((await ok(cDir, "Get-Message -Queue woodgrovebank.com | Format-List")));
    assert.equal(msgs.length, 1);
    assert.match(msgs[0]?.LastError ?? "", /STARTTLS/);

    dns.set("mail.woodgrovebank.com", "A", [W]);
    await ok(cDir, "Retry-Queue woodgrovebank.com");
    await waitUntil("delivery after Retry-Queue", () => maildir(wDir, "woodgrovebank.com", "bob").find((m) => m.includes("Subject: stripped-1")));
    assert.equal(fake.count("MAIL"), 0);
  });

  test("3. a bad partner certificate (other domain, self-signed, expired, revoked): nothing sent, each reason distinct", async () => {
    const other = woodgroveCa.issueLeaf({ subject: "CN=mail.fabrikam.com", dnsNames: ["mail.fabrikam.com", "fabrikam.com"], keyType: "ec-p256", crlUrl: `${crlBase}/woodgrove.crl` });
    const expired = woodgroveCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256", crlUrl: `${crlBase}/woodgrove.crl`, startDate: new Date(Date.now() - 20 * 86400_000), endDate: new Date(Date.now() - 10 * 86400_000) });
    const selfKey = path.join(work, "self.key");
    const selfCert = path.join(work, "self.crt");
    runOpenssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", selfKey, "-out", selfCert, "-subj", "/CN=mail.woodgrovebank.com", "-addext", "subjectAltName=DNS:woodgrovebank.com", "-days", "30"]);
    const cases: Array<[string, { key: string; cert: string }, RegExp]> = [
      ["another domain", { key: other.keyPem as string, cert: other.certPem + woodgroveCa.certPem }, /NAME_MISMATCH/],
      ["self-signed", { key: readFileSync(selfKey, "utf8"), cert: readFileSync(selfCert, "utf8") }, /CERT_SELF_SIGNED|CHAIN_UNTRUSTED/],
      ["expired", { key: expired.keyPem as string, cert: expired.certPem + woodgroveCa.certPem }, /CERT_EXPIRED/],
      ["revoked", { key: revoked.keyPem as string, cert: revoked.certPem + woodgroveCa.certPem }, /CERT_REVOKED/],
    ];
    dns.set("mail.woodgrovebank.com", "A", [F]);
    await submit(C, "alice@mail.contoso.com", "bob@woodgrovebank.com", "badcert-1");
    const seen = new Set<string>();
    for (const [what, cert, code] of cases) {
      fake.opts = { host: F, port: PORT, name: "mx.woodgrovebank.example", cert, starttls: true };
      const before = fake.count("STARTTLS");
      await ok(cDir, "Retry-Queue woodgrovebank.com");
      let last: Record<string, string> | undefined;
      const q = await waitUntil(`the ${what} certificate refused`, async () => {
        const v = (last = await queue(cDir, "woodgrovebank.com"));
        return fake.count("STARTTLS") > before && code.test(v?.LastError ?? "") ? v : undefined;
      }).catch((e: Error) => {
        throw new Error(`${e.message}; last queue state ${JSON.stringify(last)}; STARTTLS seen ${fake.count("STARTTLS") - before}`);
      });
      assert.equal(q.Status, "Retry", what);
      seen.add((q.LastError ?? "").replace(/.*failed (\w+).*/, "$1"));
      assert.equal(fake.count("MAIL"), 0, `${what}: no MAIL command`);
    }
    assert.equal(seen.size, 4, `four distinct reasons: ${[...seen].join(", ")}`);
    dns.set("mail.woodgrovebank.com", "A", [W]);
    await ok(cDir, "Retry-Queue woodgrovebank.com");
    await waitUntil("delivery once the real server is back", () => maildir(wDir, "woodgrovebank.com", "bob").find((m) => m.includes("Subject: badcert-1")));
  });

  test("4. a more specific send connector without Domain Security: the partner's mail is held, with an alert", async () => {
    const delivered = maildir(wDir, "woodgrovebank.com", "bob").length;
    // Without -Force this is refused (it turns Domain Security off for the partner); forced, it warns.
    const made = await shellC(cDir, `New-SendConnector Woodgrove -AddressSpaces "SMTP:woodgrovebank.com;1" -Port ${PORT} -Force`);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /^WARNING: .*outbound mail to woodgrovebank\.com/m);
    await submit(C, "alice@mail.contoso.com", "bob@woodgrovebank.com", "held-1");
    const q = await waitUntil("the queue held", async () => {
      const v = await queue(cDir, "woodgrovebank.com");
      return /held/.test(v?.LastError ?? "") ? v : undefined;
    });
    assert.equal(q.Status, "Retry");
    assert.match(q.LastError ?? "", /the send connector Woodgrove does not have DomainSecureEnabled/);
    // The server's log line may follow the queue's state by a moment: wait for it (a deadline, not a sleep).
    await waitUntil("the ALERT line in the server's log", () => (/ALERT outbound: mail for woodgrovebank\.com is held/.test(contoso.output()) ? true : undefined));
    assert.ok((await contoso.metric("sealpost_outbound_held_total", { partner: "woodgrovebank.com" })) >= 1);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(maildir(wDir, "woodgrovebank.com", "bob").length, delivered, "nothing was sent");
    // Fixing the configuration releases it without waiting for the retry interval.
    await ok(cDir, "Remove-SendConnector Woodgrove -Confirm:$false");
    await waitUntil("delivery once the configuration is fixed", () => maildir(wDir, "woodgrovebank.com", "bob").find((m) => m.includes("Subject: held-1"))).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(await queue(cDir, "woodgrovebank.com"))}\n${contoso.output().slice(-3000)}`);
    });
  });

  test("5. expiry: one non-delivery report naming the TLS reason; none with NOTIFY=NEVER", async () => {
    await ok(cDir, "Set-TransportServer -TransientFailureRetryInterval 00:00:01");
    fake.opts = { host: F, port: PORT, name: "mx.attacker.example" };
    await submit(C, "alice@mail.contoso.com", "carol@tailspintoys.com", "expire-1");
    await submit(C, "alice@mail.contoso.com", "dave@tailspintoys.com", "expire-never", " NOTIFY=NEVER");
    // Both tried and refused for the stripped STARTTLS first (seen in the queue, not assumed after a fixed
    // time), then made older than the expiration timeout: the next retry, a second later, gives them up.
    await waitUntil("both messages deferred with the STARTTLS reason", async () => {
      const msgs = parseFormatList((await ok(cDir, "Get-Message -Queue tailspintoys.com | Format-List")));
      return ["expire-1", "expire-never"].every((s) => msgs.some((m) => m.Subject === s && /STARTTLS/.test(m.LastError ?? ""))) ? true : undefined;
    });
    await ok(cDir, "Set-TransportServer -MessageExpirationTimeout 00:00:01");
    const ndr = await waitUntil("a non-delivery report", () => maildir(cDir, "mail.contoso.com", "alice").find((m) => m.includes("Subject: Undelivered") || m.includes("multipart/report")), 30_000);
    assert.match(ndr, /carol@tailspintoys\.com/);
    assert.match(ndr, /STARTTLS/);
    assert.match(ndr, /Action: failed/);
    await waitUntil("the queue empty", async () => ((await queue(cDir, "tailspintoys.com"))?.MessageCount === "0" || (await shellC(cDir, "Get-Queue tailspintoys.com")).code !== 0 ? true : undefined), 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const reports = maildir(cDir, "mail.contoso.com", "alice").filter((m) => m.includes("multipart/report"));
    assert.equal(reports.length, 1, "one report, for the message without NOTIFY=NEVER");
    assert.doesNotMatch(reports[0] ?? "", /dave@tailspintoys\.com/);
    assert.equal(fake.count("MAIL"), 0);
    await ok(cDir, "Set-TransportServer -MessageExpirationTimeout 2.00:00:00 -TransientFailureRetryInterval 00:10:00");
  });

  test("6. relay domain: mail for an InternalRelay accepted domain goes to the internal smart host", async () => {
    fake.opts = { host: F, port: PORT, name: "exchange.corp.contoso.com" };
    await ok(cDir, "New-AcceptedDomain -Name Corp -DomainName corp.contoso.com -DomainType InternalRelay");
    await ok(cDir, `New-SendConnector ToCorp -AddressSpaces "SMTP:corp.contoso.com;1" -DNSRoutingEnabled:$false -SmartHosts "[${F}]" -Port ${PORT}`);
    const { client } = await TestSmtpClient.connect(C, PORT);
    await client.cmd("EHLO mail.fabrikam.com");
    const r = await client.send("x@fabrikam.com", ["yvonne@corp.contoso.com"], "Subject: to-corp\r\n\r\nHello corp\r\n");
    assert.match(r[r.length - 1]?.text ?? "", /^250 /);
    await client.quit();
    await waitUntil("the smart host got it", () => fake.messages.find((m) => m.includes("Subject: to-corp")));
    assert.ok(fake.commands.includes("RCPT TO:<yvonne@corp.contoso.com>"));
  });

  test("7. Remove-Message -WithNDR returns a held message to its sender; Suspend-/Resume-Queue", async () => {
    fake.opts = { host: F, port: PORT, name: "mx.attacker.example" };
    const reportsBefore = maildir(cDir, "mail.contoso.com", "alice").filter((m) => m.includes("multipart/report")).length;
    await submit(C, "alice@mail.contoso.com", "erin@tailspintoys.com", "remove-1");
    const msg = await waitUntil("the message queued with its reason", async () => {
      const r = await shellC(cDir, "Get-Message -Queue tailspintoys.com | Format-List");
      const m = parseFormatList(r.stdout).find((x) => /STARTTLS/.test(x.LastError ?? ""));
      return m;
    });
    await ok(cDir, "Suspend-Queue tailspintoys.com");
    assert.equal((await queue(cDir, "tailspintoys.com"))?.Status, "Suspended");
    await ok(cDir, "Resume-Queue tailspintoys.com");
    const cli = await runSealpost(["--data", cDir, "queue", "messages", "tailspintoys.com", "--json"]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((JSON.parse(cli.stdout) as Array<{ Identity: string }>)[0]?.Identity, msg.Identity);
    await ok(cDir, `Remove-Message "${msg.Identity}" -WithNDR $true -Confirm:$false`);
    const ndr = await waitUntil("the report", () => {
      const all = maildir(cDir, "mail.contoso.com", "alice").filter((m) => m.includes("multipart/report"));
      return all.length > reportsBefore ? all[all.length - 1] : undefined;
    });
    assert.match(ndr, /erin@tailspintoys\.com/);
    assert.match(ndr, /removed from the queue by an administrator/);
    const bad = await shellC(cDir, "Remove-Message tailspintoys.com\\00000000000000000000000000");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /No queued message has the identity/);
  });

  test("8. kill -9 while messages are queued and being delivered: after restart every message arrives", async () => {
    const N = 30;
    const subjects = Array.from({ length: N }, (_, i) => `crash-${i}`);
    const arrived = () => new Set(maildir(wDir, "woodgrovebank.com", "bob").map((m) => /Subject: (crash-\d+)/.exec(m)?.[1]).filter(Boolean));
    let sent = 0;
    // The sender's last session ends with the kill, possibly before kill9() returns: its failure is expected and
    // handled at once, not left as an unhandled rejection while the kill is awaited.
    const sender = (async () => {
      for (const s of subjects) {
        await submit(C, "alice@mail.contoso.com", "bob@woodgrovebank.com", s);
        sent++;
      }
    })().catch(() => undefined);
    await waitUntil("some delivered", () => (arrived().size >= 3 ? true : undefined));
    await contoso.kill9();
    await sender;
    const acknowledged = subjects.slice(0, sent);
    contoso = await startServe(cDir);
    // Whatever was not acknowledged before the kill is sent now; a client whose session closed before a
    // 250 (the server still starting its listeners) tries again, as an SMTP client does.
    for (const s of subjects.slice(sent)) {
      for (let attempt = 1; ; attempt++) {
        try {
          await submit(C, "alice@mail.contoso.com", "bob@woodgrovebank.com", s);
          break;
        } catch (e) {
          if (attempt >= 5) throw e;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    await waitUntil("every message delivered", () => (subjects.every((s) => arrived().has(s)) ? true : undefined), 30_000);
    assert.ok(acknowledged.length >= 3);
    const copies = maildir(wDir, "woodgrovebank.com", "bob").filter((m) => /Subject: crash-/.test(m)).length;
    assert.ok(copies >= N && copies <= N + 20, `at least once, duplicates only within the window (${copies} copies of ${N})`);
  });

  test("9. Test-Mailflow to a good partner: delivered domain-secured, with the TLS facts, the certificate and each check", async () => {
    dns.set("mail.woodgrovebank.com", "A", [W]);
    const r = await runSealpost(["--data", cDir, "--json", "test-mailflow", "bob@woodgrovebank.com"]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const rep = JSON.parse(r.stdout) as { Result: string; DomainSecured: boolean; TlsVersion: string; Cipher: string; NextHop: string; ServerCertificateSubject: string; ServerCertificateThumbprint: string; ServerCertificateNames: string[]; Checks: Array<{ Check: string; Result: string }>; LatencyMs: number; SendConnector: string };
    assert.equal(rep.Result, "Success");
    assert.equal(rep.DomainSecured, true);
    assert.equal(rep.SendConnector, "Internet");
    assert.match(rep.TlsVersion, /^TLSv1\.[23]$/);
    assert.ok(rep.Cipher.length > 0);
    assert.match(rep.NextHop, new RegExp(`^mail\\.woodgrovebank\\.com \\[${W.replace(/\./g, "\\.")}\\]:${PORT}$`));
    assert.equal(rep.ServerCertificateSubject, "CN=mail.woodgrovebank.com");
    assert.match(rep.ServerCertificateThumbprint, /^[0-9A-F]{40}$/);
    assert.deepEqual(rep.ServerCertificateNames, ["mail.woodgrovebank.com", "woodgrovebank.com"]);
    assert.ok(rep.Checks.length >= 3 && rep.Checks.every((c) => c.Result !== "Fail"), JSON.stringify(rep.Checks));
    assert.ok(rep.LatencyMs >= 0);
    const probe = await waitUntil("the probe in bob's mailbox", () => maildir(wDir, "woodgrovebank.com", "bob").find((m) => m.includes("Test-Mailflow probe")));
    assert.match(probe, /x-domain-secure=pass smtp\.mailfrom=mail\.contoso\.com/);
    const text = await ok(cDir, "Test-Mailflow -TargetEmailAddress bob@woodgrovebank.com | Format-List Result,DomainSecured,TlsVersion");
    assert.match(text, /Result\s+: Success/);
    assert.match(text, /DomainSecured\s+: True/);
  });

  test("10. Test-Mailflow to a misconfigured partner: which check failed and what to fix; -Detailed gives the transcript", async () => {
    const other = woodgroveCa.issueLeaf({ subject: "CN=mx.fabrikam.com", dnsNames: ["mx.fabrikam.com"], keyType: "ec-p256", crlUrl: `${crlBase}/woodgrove.crl` });
    fake.opts = { host: F, port: PORT, name: "mx.tailspintoys.com", cert: { key: other.keyPem as string, cert: other.certPem + woodgroveCa.certPem }, starttls: true };
    const mailsBefore = fake.count("MAIL");
    const r = await runSealpost(["--data", cDir, "--json", "test-mailflow", "carol@tailspintoys.com", "--detailed"]);
    assert.equal(r.code, 2, "a failed probe exits 2");
    const rep = JSON.parse(r.stdout) as { Result: string; Message: string; Fix: string; DomainSecured: boolean; DomainSecurePartner: string; Checks: Array<{ Check: string; Result: string }>; Transcript: string[]; ServerCertificateSubject: string };
    assert.equal(rep.Result, "Failure");
    assert.equal(rep.DomainSecured, false);
    assert.equal(rep.DomainSecurePartner, "tailspintoys.com");
    assert.match(rep.Message, /NAME_MISMATCH/);
    assert.match(rep.Fix, /must name tailspintoys\.com.*Set-DomainSecurePartner tailspintoys\.com -NameMatch Subdomains/);
    assert.equal(rep.ServerCertificateSubject, "CN=mx.fabrikam.com");
    assert.ok(rep.Checks.some((c) => c.Result === "Fail"));
    assert.ok(rep.Transcript.some((l) => /STARTTLS/.test(l)));
    assert.ok(rep.Transcript.some((l) => /refused NAME_MISMATCH/.test(l)));
    assert.equal(fake.count("MAIL"), mailsBefore, "no MAIL command to the misconfigured partner");
    // The stripped server gives its own reason and fix.
    fake.opts = { host: F, port: PORT, name: "mx.attacker.example" };
    const s2 = JSON.parse((await runSealpost(["--data", cDir, "--json", "test-mailflow", "carol@tailspintoys.com"])).stdout) as { Message: string; Fix: string };
    assert.match(s2.Message, /STARTTLS/);
    assert.match(s2.Fix, /does not offer STARTTLS/);
  });

  test("11. a domain with a Null MX (RFC 7505): an immediate non-delivery report, no connection", async () => {
    dns.set("nomail.example", "MX", [{ preference: 0, exchange: "." }]);
    const before = maildir(cDir, "mail.contoso.com", "alice").filter((m) => m.includes("nomail.example")).length;
    await submit(C, "alice@mail.contoso.com", "x@nomail.example", "nullmx-1");
    const ndr = await waitUntil("the report", () => {
      const all = maildir(cDir, "mail.contoso.com", "alice").filter((m) => m.includes("x@nomail.example"));
      return all.length > before ? all[all.length - 1] : undefined;
    });
    assert.match(ndr, /Status: 5\.1\.10/);
    assert.match(ndr, /null MX/);
    // The CLI form of the send connector cmdlets, with Exchange's rule enforced.
    const bad = await runSealpost(["--data", cDir, "send-connector", "set", "Internet", "--smart-hosts", "[127.0.0.9]"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /DomainSecureEnabled needs DNS routing/);
    const show = await runSealpost(["--data", cDir, "--json", "send-connector", "show", "Internet"]);
    assert.equal((JSON.parse(show.stdout) as { DomainSecureEnabled: boolean; SmartHosts: string[] }).DomainSecureEnabled, true);
  });

  test("12. a non-partner whose TLS handshake fails: sent in clear (PlaintextFallback), or held when the setting forbids it", async () => {
    dns.set("oldtls.example", "MX", [{ preference: 10, exchange: "mx.oldtls.example" }]);
    dns.set("mx.oldtls.example", "A", [F]);
    const other = woodgroveCa.issueLeaf({ subject: "CN=mx.oldtls.example", dnsNames: ["mx.oldtls.example"], keyType: "ec-p256" });
    fake.opts = { host: F, port: PORT, name: "mx.oldtls.example", cert: { key: other.keyPem as string, cert: other.certPem }, starttls: true, tls: { maxVersion: "TLSv1.1" } };
    await submit(C, "alice@mail.contoso.com", "dora@oldtls.example", "fallback-1");
    await waitUntil("sent in clear after the failed handshake", () => fake.messages.find((m) => m.includes("Subject: fallback-1")));
    await ok(cDir, "Set-TransportServer -PlaintextFallback $false");
    const mails = fake.count("MAIL");
    await submit(C, "alice@mail.contoso.com", "dora@oldtls.example", "fallback-2");
    const q = await waitUntil("held with the TLS reason", async () => {
      const v = await queue(cDir, "oldtls.example");
      return /tls/i.test(v?.LastError ?? "") ? v : undefined;
    });
    assert.match(q.LastError ?? "", /TLS handshake failed/);
    assert.equal(fake.count("MAIL"), mails, "nothing sent in clear when the setting forbids it");
    await ok(cDir, "Set-TransportServer -PlaintextFallback $true");
  });

  test("13. an internal Exchange next hop over mutual TLS gets Exchange's Domain Secured marks when the connector asks for them", async () => {
    // The internal server (the fake) presents a certificate from a trusted CA, so the chain verifies.
    const internal = contosoCa.issueLeaf({ subject: "CN=exchange.corp.contoso.com", dnsNames: ["exchange.corp.contoso.com"], keyType: "ec-p256" });
    fake.opts = { host: F, port: PORT, name: "exchange.corp.contoso.com", cert: { key: internal.keyPem as string, cert: internal.certPem + contosoCa.certPem }, starttls: true };
    const send = async (subject: string, forged = "") => {
      const { client } = await TestSmtpClient.connect(C, PORT);
      await client.cmd("EHLO mail.woodgrovebank.com");
      await client.startTls({ key: wLeaf.keyPem as string, cert: wLeaf.certPem + woodgroveCa.certPem });
      await client.cmd("EHLO mail.woodgrovebank.com");
      const r = await client.send("x@woodgrovebank.com", ["yvonne@corp.contoso.com"], `${forged}Subject: ${subject}\r\n\r\nHi\r\n`);
      assert.match(r[r.length - 1]?.text ?? "", /^250 /);
      await client.quit();
      return waitUntil(`${subject} at the internal server`, () => fake.messages.find((m) => m.includes(`Subject: ${subject}`)));
    };
    const without = await send("marks-off", "X-MS-Exchange-Organization-AuthAs: Internal\r\n");
    assert.doesNotMatch(without, /X-MS-Exchange-Organization-/i, "forged marks are removed on receipt; none added without the option");
    await ok(cDir, "Set-SendConnector ToCorp -ExchangeOrganizationMarks $true");
    const marked = await send("marks-on");
    assert.match(marked, /^X-MS-Exchange-Organization-AuthAs: Partner\r\nX-MS-Exchange-Organization-AuthDomain: woodgrovebank\.com\r\n/);
    assert.match(marked, /x-domain-secure=pass smtp\.mailfrom=woodgrovebank\.com/);
  });
});
