// Inbound Domain Security end to end (issue: seed procedure 4): a real edge
// process on a loopback address, a test PKI made with the OpenSSL command
// line (common root; Contoso, Woodgrove and Fabrikam issuing CAs; CRLs over
// loopback HTTP), real TLS, and exact replies, stored mail and counters.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { AdminApi } from "../../src/admin/api.js";
import { EdgeProcess } from "../../src/server/edge.js";
import { metrics } from "../../src/metrics/counters.js";

let work: string;
let dataDir: string;
let root: OpenSslCa;
let contoso: OpenSslCa;
let woodgrove: OpenSslCa;
let fabrikam: OpenSslCa;
let crlServer: http.Server;
let crlBase: string;
let edge: EdgeProcess;
let host: string;
const PORT = 2525;

let wg: IssuedCert;
let fab: IssuedCert;

async function counter(c: { get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>> }> }> }, labels: Record<string, string> = {}): Promise<number> {
  const v = await c.get();
  return v.values.filter((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val)).reduce((a, x) => a + x.value, 0);
}

function maildir(local: string): string[] {
  const dir = path.join(dataDir, "maildir", "contoso.com", local, "new");
  return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(path.join(dir, f), "utf8")) : [];
}

async function waitFor<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function withWoodgrove(cert: IssuedCert | undefined, chain: string[] = []) {
  const { client, greeting } = await TestSmtpClient.connect(host, PORT);
  assert.match(greeting.text, /^220 mail1\.contoso\.com /);
  await client.cmd("EHLO mail.woodgrovebank.com");
  await client.startTls({ servername: "mail1.contoso.com", ...(cert ? { key: cert.keyPem as string, cert: cert.certPem + chain.join("") } : {}) });
  await client.cmd("EHLO mail.woodgrovebank.com");
  return client;
}

/**
 * Waits until the edge's own watch has applied the configuration as committed now (its snapshot's
 * version is the store's), instead of sleeping for longer than the watch interval.
 */
async function applied(): Promise<void> {
  const committed = String(await edge.ctx.org.version());
  const end = Date.now() + 5000;
  while (edge.snapshot().version !== committed) {
    if (Date.now() > end) throw new Error(`the edge did not apply configuration version ${committed} (it has ${edge.snapshot().version})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const MSG = (id: string, extra = "") => `${extra}From: a@woodgrovebank.com\r\nTo: alice@contoso.com\r\nSubject: ${id}\r\nMessage-ID: <${id}@woodgrovebank.com>\r\n\r\nHello ${id}\r\n`;

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-inbound-"));
  crlServer = http.createServer((req, res) => {
    const ca = { "/root.crl": root, "/woodgrove.crl": woodgrove, "/contoso.crl": contoso, "/fabrikam.crl": fabrikam }[(req.url ?? "").replace(/\?.*$/, "")];
    if (!ca) return void res.writeHead(404).end();
    res.end(ca.crl({ der: true }));
  });
  await new Promise<void>((r) => crlServer.listen(0, "127.0.0.1", r));
  crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
  const inter = (name: string) => root.createIntermediate({ name, keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
  contoso = await inter("O=Contoso,CN=Contoso Issuing CA");
  woodgrove = await inter("O=Woodgrove Bank,CN=Woodgrove Issuing CA");
  fabrikam = await inter("O=Fabrikam,CN=Fabrikam Issuing CA");
  wg = woodgrove.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com", "mail.woodgrovebank.com"], crlUrl: `${crlBase}/woodgrove.crl`, keyType: "ec-p256" });
  fab = fabrikam.issueLeaf({ subject: "CN=fabrikam.com", dnsNames: ["fabrikam.com"], crlUrl: `${crlBase}/fabrikam.crl`, keyType: "ec-p256" });
  const server = contoso.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com", "mail.contoso.com"], crlUrl: `${crlBase}/contoso.crl`, keyType: "ec-p256" });

  host = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  dataDir = path.join(work, "mail1");
  const api = await AdminApi.openWithDefaults(dataDir);
  await api.setServerName("mail1.contoso.com");
  await api.trust.add("root", Buffer.from(root.certPem));
  await api.trust.add("intermediate", Buffer.from(woodgrove.certPem));
  await api.trust.setSettings({ useSystemTrustStore: false });
  // The CRLs are served from loopback: allowed explicitly (the outbound fetch policy refuses it by default).
  api.transportServer.set({ outboundFetchAllowedRanges: { replace: ["127.0.0.1"] }, outboundFetchAllowedPorts: { replace: [new URL(crlBase).port] } });
  const pfx = path.join(work, "server.pfx");
  writeFileSync(pfx, contoso.pfx(server, "pw", { withChain: true }));
  const view = await api.certificates.importCertificate({ data: readFileSync(pfx), password: "pw" });
  await api.certificates.enableCertificate(view.Thumbprint, "SMTP");
  await api.transport.newAcceptedDomain({ domainName: "contoso.com" });
  await api.transport.newMailbox({ primarySmtpAddress: "alice@contoso.com" });
  await api.transport.setConfig({ tlsReceiveDomainSecureList: { replace: ["woodgrovebank.com"] } });
  await api.connectors.set("Inet", { bindings: [`${host}:${PORT}`], domainSecureEnabled: true, authMechanism: ["Tls"], protocolLoggingLevel: "Verbose", maxRecipientsPerMessage: 5, maxMessageSize: "64KB", connectionInactivityTimeout: 2, maxInboundConnectionPerSource: 20 });
  await api.connectors.create("Internal", { usage: "Internal", bindings: [`${host}:2526`], remoteIPRanges: ["127.0.0.0/8"] });
  await api.close();
  edge = new EdgeProcess({ dataDir, watchIntervalMs: 100 });
  await edge.start();
});

after(async () => {
  await edge?.stop();
  crlServer.close();
  root.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("inbound Domain Security", () => {
  test("1. a valid Woodgrove certificate: accepted, marked, delivered, counted, logged", async () => {
    const before = await counter(metrics.domainSecuredReceived, { partner: "woodgrovebank.com" });
    const c = await withWoodgrove(wg, [woodgrove.certPem]);
    const r = await c.send("a@woodgrovebank.com", ["alice@contoso.com"], MSG("valid-1"));
    assert.equal(r[0]?.text, "250 2.1.0 Sender OK");
    assert.equal(r[1]?.text, "250 2.1.5 Recipient OK");
    assert.match(r[3]?.text ?? "", /^250 2\.6\.0 <[0-9a-f]+@mail1\.contoso\.com> Queued mail for delivery$/);
    await c.quit();
    const msg = await waitFor(() => maildir("alice").find((m) => m.includes("Subject: valid-1")));
    assert.match(msg, new RegExp(`Authentication-Results: contoso\\.com; x-domain-secure=pass smtp\\.mailfrom=woodgrovebank\\.com x-domain-secure\\.cert=${wg.sha1}\\r\\n`));
    assert.match(msg, /Received: from mail\.woodgrovebank\.com \(\[127\.[\d.]+\]\)\r\n\tby mail1\.contoso\.com \(Sealpost\) with ESMTPS/);
    assert.match(msg, /client certificate subject "CN=mail\.woodgrovebank\.com", issuer "CN=Woodgrove Issuing CA, O=Woodgrove Bank", verified OK/);
    assert.equal(await counter(metrics.domainSecuredReceived, { partner: "woodgrovebank.com" }), before + 1);
    await edge.protocolLog.flush();
    const logDir = path.join(dataDir, "logs", "protocol", "SmtpReceive");
    const log = readdirSync(logDir).map((f) => readFileSync(path.join(logDir, f), "utf8")).join("");
    assert.match(log, /#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context/);
    assert.match(log, /,\+,,\r\n/);
    assert.match(log, /,\*,,Received certificate/);
    assert.match(log, /,\*,"?CN=mail\.woodgrovebank\.com"?,Certificate subject/);
    assert.match(log, new RegExp(`,\\*,${wg.sha1},Certificate thumbprint`));
    assert.match(log, /,\*,mail\.woodgrovebank\.com;woodgrovebank\.com,Certificate alternate names/);
  });

  test("1b. the same with only the leaf sent (the intermediate is known to the organization)", async () => {
    const c = await withWoodgrove(wg);
    const r = await c.send("b@woodgrovebank.com", ["alice@contoso.com"], MSG("leaf-only"));
    assert.match(r[3]?.text ?? "", /^250 2\.6\.0/);
    await c.quit();
    await waitFor(() => maildir("alice").find((m) => m.includes("Subject: leaf-only") && m.includes("x-domain-secure=pass")));
  });

  test("2. no STARTTLS: 451 4.7.3, nothing stored", async () => {
    const { client } = await TestSmtpClient.connect(host, PORT);
    await client.cmd("EHLO mail.woodgrovebank.com");
    const r = await client.cmd("MAIL FROM:<a@woodgrovebank.com>");
    assert.equal(r.text, "451 4.7.3 Must issue a STARTTLS command first");
    await client.quit();
  });

  test("3. STARTTLS without a client certificate: 451 4.7.5", async () => {
    const c = await withWoodgrove(undefined);
    const r = await c.cmd("MAIL FROM:<a@woodgrovebank.com>");
    assert.equal(r.text, "451 4.7.5 Domain security: no client certificate was presented");
    await c.quit();
  });

  test("4. untrusted CA, expired, not yet valid, revoked: each refused with its own reason", async () => {
    const rogue = await OpenSslCa.createRoot({ name: "CN=Rogue Root", keyType: "ec-p256" });
    try {
      const day = 86_400_000;
      const cases: Array<[string, IssuedCert, string[], RegExp]> = [
        ["untrusted", rogue.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"] }), [rogue.certPem], /^451 4\.7\.5 Domain security: No chain from CN=woodgrovebank\.com to a trusted root/],
        ["expired", woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], startDate: new Date(Date.now() - 10 * day), endDate: new Date(Date.now() - day) }), [], /^451 4\.7\.5 Domain security: The certificate CN=woodgrovebank\.com expired on/],
        ["future", woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], startDate: new Date(Date.now() + day), endDate: new Date(Date.now() + 10 * day) }), [], /^451 4\.7\.5 Domain security: The certificate CN=woodgrovebank\.com is not valid before/],
        ["no-revocation-info", woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"] }), [], /^451 4\.7\.5 Domain security: The revocation status of CN=woodgrovebank\.com is unknown/],
      ];
      // A distribution point this server has not cached yet, so the revocation is seen at once.
      const revoked = woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], crlUrl: `${crlBase}/woodgrove.crl?fresh` });
      woodgrove.revoke(revoked, "keyCompromise");
      cases.push(["revoked", revoked, [], /^451 4\.7\.5 Domain security: The certificate CN=woodgrovebank\.com \(serial [0-9A-F]+\) is revoked/]);
      for (const [name, cert, chain, expected] of cases) {
        const c = await withWoodgrove(cert, chain);
        const r = await c.cmd("MAIL FROM:<a@woodgrovebank.com>");
        assert.match(r.text, expected, name);
        await c.quit();
      }
    } finally {
      rogue.cleanup();
    }
  });

  test("4b. issuer not allowed: a pinned partner refuses certificates from other CAs", async () => {
    const api = AdminApi.open(dataDir);
    await api.partners.set("woodgrovebank.com", { allowedIssuers: { replace: [Buffer.from(fabrikam.certPem)] } });
    await api.close();
    await applied();
    const c = await withWoodgrove(wg, [woodgrove.certPem]);
    assert.match((await c.cmd("MAIL FROM:<a@woodgrovebank.com>")).text, /^451 4\.7\.5 Domain security: The certificate was issued by CN=Woodgrove Issuing CA, O=Woodgrove Bank \(key SHA-256 [0-9A-F]{64}\), which is not among the allowed issuers for woodgrovebank\.com \(CN=Fabrikam Issuing CA, O=Fabrikam; pinned by key\)/);
    await c.quit();
    const api2 = AdminApi.open(dataDir);
    await api2.partners.set("woodgrovebank.com", { allowedIssuers: { replace: [] } });
    await api2.close();
    await applied();
  });

  test("5. a valid Fabrikam certificate sending as woodgrovebank.com is refused; as fabrikam.com accepted unmarked", async () => {
    const c = await withWoodgrove(fab, [fabrikam.certPem]);
    assert.match((await c.cmd("MAIL FROM:<a@woodgrovebank.com>")).text, /^451 4\.7\.5 Domain security: The certificate names fabrikam\.com; none matches woodgrovebank\.com/);
    await c.cmd("RSET");
    const r = await c.send("a@fabrikam.com", ["alice@contoso.com"], MSG("fabrikam-own"));
    assert.match(r[3]?.text ?? "", /^250 2\.6\.0/);
    await c.quit();
    const msg = await waitFor(() => maildir("alice").find((m) => m.includes("Subject: fabrikam-own")));
    assert.doesNotMatch(msg, /x-domain-secure/);
  });

  test("6. the null reverse-path: marked from Woodgrove's certificate, not from an unauthenticated session", async () => {
    const c = await withWoodgrove(wg, [woodgrove.certPem]);
    assert.match((await c.send("", ["alice@contoso.com"], MSG("bounce-wg")))[3]?.text ?? "", /^250 2\.6\.0/);
    await c.quit();
    assert.match(await waitFor(() => maildir("alice").find((m) => m.includes("Subject: bounce-wg"))), /x-domain-secure=pass smtp\.mailfrom=woodgrovebank\.com/);
    const { client } = await TestSmtpClient.connect(host, PORT);
    await client.cmd("EHLO anonymous.example");
    assert.match((await client.send("", ["alice@contoso.com"], MSG("bounce-anon")))[3]?.text ?? "", /^250 2\.6\.0/);
    await client.quit();
    assert.doesNotMatch(await waitFor(() => maildir("alice").find((m) => m.includes("Subject: bounce-anon"))), /x-domain-secure/);
  });

  test("7. forged Authentication-Results and X-MS-Exchange-Organization-* headers are removed, on Inet and on Internal", async () => {
    const forged = "Authentication-Results: contoso.com; x-domain-secure=pass smtp.mailfrom=woodgrovebank.com\r\nX-MS-Exchange-Organization-AuthAs: Partner\r\n";
    for (const port of [PORT, 2526]) {
      const { client } = await TestSmtpClient.connect(host, port);
      await client.cmd("EHLO outsider.example");
      const r = await client.send("x@outsider.example", ["alice@contoso.com"], MSG(`forged-${port}`, forged));
      assert.match(r[3]?.text ?? "", /^250 2\.6\.0/);
      await client.quit();
      const msg = await waitFor(() => maildir("alice").find((m) => m.includes(`Subject: forged-${port}`)));
      assert.doesNotMatch(msg, /X-MS-Exchange-Organization/i);
      assert.doesNotMatch(msg, /Authentication-Results/);
    }
  });

  test("8. recipients, relay, size and protocol limits", async () => {
    const { client } = await TestSmtpClient.connect(host, PORT);
    await client.cmd("EHLO outsider.example");
    await client.cmd("MAIL FROM:<x@outsider.example>");
    assert.equal((await client.cmd("RCPT TO:<nobody@contoso.com>")).text, "550 5.1.1 <nobody@contoso.com>: Recipient not found");
    assert.equal((await client.cmd("RCPT TO:<someone@elsewhere.example>")).text, "554 5.7.1 <someone@elsewhere.example>: Relay access denied");
    assert.equal((await client.cmd('RCPT TO:<"../../x"@contoso.com>')).code, 550);
    await client.cmd("RSET");
    await client.cmd("MAIL FROM:<x@outsider.example>");
    for (let i = 0; i < 5; i++) assert.equal((await client.cmd("RCPT TO:<alice@contoso.com>")).code, 250);
    assert.match((await client.cmd("RCPT TO:<alice@contoso.com>")).text, /^452 4\.5\.3/);
    await client.cmd("RSET");
    assert.match((await client.cmd("MAIL FROM:<x@outsider.example> SIZE=999999")).text, /^552 5\.3\.4/);
    const big = await client.send("x@outsider.example", ["alice@contoso.com"], `Subject: big\r\n\r\n${"x".repeat(900).concat("\r\n").repeat(80)}`);
    assert.match(big[3]?.text ?? "", /^552 5\.3\.4/);
    await client.quit();
    assert.equal(maildir("alice").some((m) => m.includes("Subject: big")), false);
    // an idle client is timed out (ConnectionInactivityTimeout 2 s)
    const idle = (await TestSmtpClient.connect(host, PORT)).client;
    assert.match((await idle.read(5000)).text, /^421 4\.4\.2/);
    await idle.waitClosed();
  });

  test("8b. SMTP smuggling forms never end a message and never reach the mailbox; commands pipelined after STARTTLS are dropped", async () => {
    for (const [name, seq] of [["lf-dot-lf", "\n.\n"], ["crlf-dot-lf", "\r\n.\n"], ["lf-dot-crlf", "\n.\r\n"]] as const) {
      const { client } = await TestSmtpClient.connect(host, PORT);
      await client.cmd("EHLO outsider.example");
      await client.cmd("MAIL FROM:<x@outsider.example>");
      await client.cmd("RCPT TO:<alice@contoso.com>");
      assert.equal((await client.cmd("DATA")).code, 354);
      client.write(`Subject: smuggle-${name}\r\n\r\nbefore${seq}MAIL FROM:<evil@outsider.example>\r\nRCPT TO:<alice@contoso.com>\r\nDATA\r\nSubject: smuggled-${name}\r\n\r\nx\r\n.\r\n`);
      const r = await client.read();
      assert.match(r.text, /^550 5\.6\.11 /, name);
      await client.quit();
    }
    const { client } = await TestSmtpClient.connect(host, PORT);
    await client.cmd("EHLO outsider.example");
    client.write("STARTTLS\r\nMAIL FROM:<x@outsider.example>\r\n");
    assert.equal((await client.read()).code, 220);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(maildir("alice").some((m) => /smuggle/.test(m)), false);
    client.write("garbage that is not TLS");
    await client.waitClosed();
  });

  test("9. an independent client: openssl s_client -starttls smtp with Woodgrove's certificate", async () => {
    const certFile = path.join(work, "wg-chain.pem");
    const keyFile = path.join(work, "wg.key");
    writeFileSync(certFile, wg.certPem + woodgrove.certPem);
    writeFileSync(keyFile, wg.keyPem as string, { mode: 0o600 });
    const script = ["EHLO mail.woodgrovebank.com", "MAIL FROM:<s@woodgrovebank.com>", "RCPT TO:<alice@contoso.com>", "DATA", "Subject: via-s_client", "", "hello from openssl", ".", "QUIT", ""].join("\n");
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn("openssl", ["s_client", "-starttls", "smtp", "-connect", `${host}:${PORT}`, "-servername", "mail1.contoso.com", "-cert", certFile, "-key", keyFile, "-CAfile", root.certPath, "-crlf", "-quiet", "-verify_return_error"], { stdio: ["pipe", "pipe", "pipe"] });
      let text = "";
      child.stdout.on("data", (d: Buffer) => (text += d.toString()));
      child.stderr.on("data", (d: Buffer) => (text += d.toString()));
      child.on("error", reject);
      child.on("close", () => resolve(text));
      setTimeout(() => child.stdin.end(script), 500);
    });
    assert.match(out, /250 2\.6\.0 <[0-9a-f]+@mail1\.contoso\.com> Queued mail for delivery/, out);
    assert.match(await waitFor(() => maildir("alice").find((m) => m.includes("Subject: via-s_client"))), /x-domain-secure=pass smtp\.mailfrom=woodgrovebank\.com/);
  });

  test("ReportOnly: a failing partner is accepted unmarked and counted as would-refuse", async () => {
    const api = AdminApi.open(dataDir);
    await api.partners.set("woodgrovebank.com", { mode: "ReportOnly" });
    await api.close();
    await applied();
    const before = await counter(metrics.wouldRefuse, { partner: "woodgrovebank.com" });
    const { client } = await TestSmtpClient.connect(host, PORT);
    await client.cmd("EHLO mail.woodgrovebank.com");
    const r = await client.send("a@woodgrovebank.com", ["alice@contoso.com"], MSG("report-only"));
    assert.match(r[3]?.text ?? "", /^250 2\.6\.0/);
    await client.quit();
    assert.doesNotMatch(await waitFor(() => maildir("alice").find((m) => m.includes("Subject: report-only"))), /x-domain-secure/);
    assert.equal(await counter(metrics.wouldRefuse, { partner: "woodgrovebank.com" }), before + 1);
    const api2 = AdminApi.open(dataDir);
    await api2.partners.set("woodgrovebank.com", { mode: "Enforce" });
    await api2.close();
    await applied();
  });

  test("a configuration change applies to the next session without a restart", async () => {
    const api = AdminApi.open(dataDir);
    await api.transport.setConfig({ domainSecureRefusal: "Permanent" });
    await api.close();
    await applied();
    const { client } = await TestSmtpClient.connect(host, PORT);
    await client.cmd("EHLO mail.woodgrovebank.com");
    assert.equal((await client.cmd("MAIL FROM:<a@woodgrovebank.com>")).text, "530 5.7.0 Must issue a STARTTLS command first");
    await client.quit();
    const api2 = AdminApi.open(dataDir);
    await api2.transport.setConfig({ domainSecureRefusal: "Temporary" });
    await api2.close();
    await applied();
  });
});
