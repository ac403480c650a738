// /metrics and the application log of a real `sealpost serve --workers 2`,
// configured with the management shell for inbound Domain Security
// (woodgrovebank.com a partner; a test PKI from the OpenSSL command line),
// driven through a scenario whose outcome is known exactly: 3 domain-secured
// messages, 2 plain ones from another domain, 1 plaintext attempt from the
// partner (451 4.7.3), 1 TLS handshake that fails, 1 message relayed to a
// smart host whose TLS breaks. The counters, summed over both workers and the
// primary, must equal what happened; the log must be JSON lines with no key
// material in them.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { primaryRegistry, setCertificateSource, tlsFailureReason } from "../../src/metrics/counters.js";
import { countOutboundSession } from "../../src/metrics/outbound-sessions.js";
import { SessionError } from "../../src/smtp/send/session.js";

const PORT = 2525;
const SUBMIT = 2526;
const CERT_DAYS = 90;

let work: string;
let dir: string;
let root: OpenSslCa;
let wg: IssuedCert;
let wgChain: string;
let serverLeaf: IssuedCert;
let server: RunningServer;
let breaker: net.Server;
const HOST = randomLoopback();
const SMART_HOST = randomLoopback();

/** Every series of a metric in the current exposition, with its labels. */
async function series(name: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  const text = await server.get("/metrics");
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line.trim());
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, "$1");
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

const MSG = (from: string, to: string, id: string) => `From: ${from}\r\nTo: ${to}\r\nSubject: ${id}\r\nMessage-ID: <${id}@test>\r\n\r\nHello ${id}\r\n`;

async function domainSecured(id: string): Promise<void> {
  const { client } = await TestSmtpClient.connect(HOST, PORT);
  await client.cmd("EHLO mail.woodgrovebank.com");
  await client.startTls({ servername: "mail1.contoso.com", key: wg.keyPem as string, cert: wg.certPem + wgChain });
  await client.cmd("EHLO mail.woodgrovebank.com");
  const r = await client.send("a@woodgrovebank.com", ["alice@contoso.com"], MSG("a@woodgrovebank.com", "alice@contoso.com", id));
  assert.equal(r[0]?.text, "250 2.1.0 Sender OK");
  assert.match(r[r.length - 1]?.text ?? "", /^250 2\.6\.0 /);
  await client.quit();
}

async function plain(port: number, from: string, to: string, id: string): Promise<void> {
  const { client } = await TestSmtpClient.connect(HOST, port);
  await client.cmd("EHLO client.example");
  const r = await client.send(from, [to], MSG(from, to, id));
  assert.match(r[r.length - 1]?.text ?? "", /^250 2\.6\.0 /, JSON.stringify(r));
  await client.quit();
}

/** EHLO, STARTTLS, then a handshake offering TLS 1.0 only; rejects when the handshake fails. */
async function tls10Client(): Promise<void> {
  const plainSocket = net.connect({ host: HOST, port: PORT });
  plainSocket.on("error", () => undefined);
  let buf = "";
  const until = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (re.test(buf)) {
          plainSocket.off("data", onData);
          resolve();
        }
      };
      const onData = (d: Buffer) => {
        buf += d.toString("latin1");
        check();
      };
      plainSocket.on("data", onData);
      plainSocket.once("close", () => reject(new Error("closed")));
      check();
    });
  await until(/^220 .*\r\n/m);
  plainSocket.write("EHLO old.example\r\n");
  await until(/^250 .*\r\n/m);
  buf = "";
  plainSocket.write("STARTTLS\r\n");
  await until(/^220 .*\r\n/m);
  const secure = tls.connect({ socket: plainSocket, servername: "mail1.contoso.com", rejectUnauthorized: false, minVersion: "TLSv1", maxVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0" });
  try {
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
  } finally {
    secure.destroy();
  }
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-metrics-"));
  dir = path.join(work, "mail1");
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Metrics Test Root CA", keyType: "ec-p256" });
  const contosoCa = await root.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256" });
  const wgCa = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  wgChain = wgCa.certPem;
  wg = wgCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com", "mail.woodgrovebank.com"], keyType: "ec-p256" });
  serverLeaf = contosoCa.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com", "mail.contoso.com"], keyType: "ec-p256", days: CERT_DAYS });
  const rootFile = path.join(work, "root.cer");
  writeFileSync(rootFile, root.certPem);
  const pfx = path.join(work, "server.pfx");
  writeFileSync(pfx, contosoCa.pfx(serverLeaf, "pw", { withChain: true }));

  // A smart host that offers STARTTLS and answers the ClientHello with a fatal handshake_failure alert.
  breaker = net.createServer((s) => {
    s.on("error", () => undefined);
    s.write("220 smart.fabrikam.com ESMTP\r\n");
    let buf = "";
    let handshaking = false;
    s.on("data", (d: Buffer) => {
      if (handshaking) return void s.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]));
      buf += d.toString("latin1");
      for (let i = buf.indexOf("\r\n"); i >= 0; i = buf.indexOf("\r\n")) {
        const line = buf.slice(0, i).toUpperCase();
        buf = buf.slice(i + 2);
        if (line.startsWith("EHLO")) s.write("250-smart.fabrikam.com\r\n250 STARTTLS\r\n");
        else if (line === "STARTTLS") {
          handshaking = true;
          s.write("220 2.0.0 go ahead\r\n");
        }
        else s.write("500 5.5.1 no\r\n");
      }
    });
  });
  await new Promise<void>((r) => breaker.listen(PORT, SMART_HOST, r));

  assert.equal((await runSealpost(["--data", dir, "init", "--name", "mail1.contoso.com"])).code, 0);
  const script = [
    `Import-ExchangeCertificate -Path ${pfx} -Password pw | Enable-ExchangeCertificate -Services SMTP`,
    `Add-TrustedRootCertificate -Path ${rootFile}`,
    "Set-TransportConfig -UseSystemTrustStore $false",
    "Set-DomainSecurePartner woodgrovebank.com -RevocationMode Soft",
    "New-AcceptedDomain -DomainName contoso.com",
    "New-Mailbox -PrimarySmtpAddress alice@contoso.com",
    `Set-ReceiveConnector Inet -Bindings ${HOST}:${PORT} -DomainSecureEnabled:$true -AuthMechanism TLS`,
    `New-ReceiveConnector Internal -Usage Internal -Bindings ${HOST}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
    "Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com",
    `New-SendConnector Fabrikam -AddressSpaces "SMTP:fabrikam.com;1" -DNSRoutingEnabled:$false -SmartHosts "[${SMART_HOST}]" -Port ${PORT} -RequireTLS:$true`,
  ].join("\n");
  // One script, one process: the same commands an administrator would type.
  const scriptFile = path.join(work, "setup.ps1");
  writeFileSync(scriptFile, `${script}\n`);
  const r = await runSealpost(["--data", dir, "shell", "-f", scriptFile]);
  assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
  server = await startServe(dir, { workers: 2 });
});

after(async () => {
  await server?.stop();
  breaker?.close();
  root?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

test("counters equal what happened, summed over the workers and the primary", async () => {
  const m = (name: string, labels?: Record<string, string>) => server.metric(name, labels);

  // During: the first domain-secured message shows at once (the counter moves before the 250).
  await domainSecured("ds-1");
  assert.equal(await m("sealpost_domain_secured_messages_received_total", { partner: "woodgrovebank.com" }), 1);
  assert.equal(await m("sealpost_messages_received_total"), 1);
  await domainSecured("ds-2");
  await domainSecured("ds-3");

  // Two plain messages from a domain that is not a partner.
  await plain(PORT, "b@tailspintoys.com", "alice@contoso.com", "plain-1");
  await plain(PORT, "b@tailspintoys.com", "alice@contoso.com", "plain-2");

  // The partner without TLS: refused at MAIL FROM.
  {
    const { client } = await TestSmtpClient.connect(HOST, PORT);
    await client.cmd("EHLO mail.woodgrovebank.com");
    assert.equal((await client.cmd("MAIL FROM:<a@woodgrovebank.com>")).text, "451 4.7.3 Must issue a STARTTLS command first");
    await client.quit();
  }

  // A handshake that fails: STARTTLS, then bytes that are not a TLS ClientHello.
  {
    const { client } = await TestSmtpClient.connect(HOST, PORT);
    await client.cmd("EHLO broken.example");
    assert.equal((await client.cmd("STARTTLS")).code, 220);
    client.write("GET / HTTP/1.0\r\n\r\n");
    await waitUntil("the server to close the failed handshake", () => client.closed || undefined);
  }

  // A TLS 1.0-only client (below the connector's TLS 1.2 minimum).
  await assert.rejects(tls10Client());

  assert.equal(await m("sealpost_domain_secured_messages_received_total", { partner: "woodgrovebank.com" }), 3);
  assert.equal(await m("sealpost_messages_received_total", { connector: "Inet" }), 5);
  assert.equal(await m("sealpost_messages_refused_total", { connector: "Inet", reason: "TLS_REQUIRED" }), 1);
  assert.equal(await m("sealpost_messages_refused_total"), 1);
  assert.equal(await m("sealpost_inbound_verdicts_total", { code: "OK" }), 3);
  assert.equal(await m("sealpost_inbound_verdicts_total", { code: "NOT_A_PARTNER" }), 2);
  assert.equal(await m("sealpost_inbound_verdicts_total", { code: "TLS_REQUIRED" }), 1);
  assert.equal(await m("sealpost_inbound_sessions_total", { connector: "Inet" }), 8);
  const failures = await waitUntil("two handshake failures counted", async () => {
    const s = await series("sealpost_inbound_tls_handshake_failures_total");
    return s.reduce((a, x) => a + x.value, 0) >= 2 ? s : undefined;
  });
  assert.equal(failures.reduce((a, x) => a + x.value, 0), 2, JSON.stringify(failures));
  // OpenSSL's reason text alone: no error codes, function names or source paths.
  for (const f of failures) assert.match(f.labels.reason ?? "", /^[a-z0-9 ]{3,80}$/i, JSON.stringify(f));
  assert.ok(failures.some((f) => f.labels.reason === "unsupported protocol"), JSON.stringify(failures));
  await waitUntil("five local deliveries", async () => ((await m("sealpost_messages_delivered_total")) === 5 ? true : undefined));

  // The server's certificate: days to expiry as issued (90 days, less the minutes this test has run).
  const certs = await series("sealpost_certificate_days_to_expiry");
  assert.equal(certs.length, 1, JSON.stringify(certs));
  const c = certs[0] as { labels: Record<string, string>; value: number };
  assert.equal(c.labels.thumbprint, serverLeaf.sha1);
  assert.match(c.labels.subject ?? "", /CN=mail1\.contoso\.com/);
  assert.equal(c.labels.services, "SMTP");
  assert.ok(c.value > CERT_DAYS - 0.1 && c.value <= CERT_DAYS, `days to expiry ${c.value}`);
});

test("outbound: a smart host whose TLS breaks is counted by session result and handshake reason; the queue length shows", async () => {
  await plain(SUBMIT, "alice@contoso.com", "bob@fabrikam.com", "relay-1");
  const m = (name: string, labels?: Record<string, string>) => server.metric(name, labels);
  try {
    await waitUntil("the outbound attempt", async () => ((await m("sealpost_outbound_sessions_total")) >= 1 ? true : undefined));
  } catch (e) {
    const q = await shellC(dir, "Get-Queue | Format-List");
    throw new Error(`${(e as Error).message}\n${q.stdout}${q.stderr}\n${server.output().slice(-3000)}`);
  }
  assert.equal(await m("sealpost_outbound_sessions_total"), 1);
  assert.equal(await m("sealpost_outbound_sessions_total", { result: "tls_error" }), 1);
  const reasons = await series("sealpost_outbound_tls_handshake_failures_total");
  assert.equal(reasons.reduce((a, x) => a + x.value, 0), 1);
  assert.equal(reasons[0]?.labels.reason, "sslv3 alert handshake failure", JSON.stringify(reasons));
  await waitUntil("the deferral", async () => ((await m("sealpost_messages_deferred_total", { reason: "connection" })) === 1 ? true : undefined));
  assert.equal(await m("sealpost_outbound_session_failures_total", { reason: "connection" }), 1);
  assert.equal(await m("sealpost_queue_messages", { next_hop: "fabrikam.com" }), 1);
  assert.equal(await m("sealpost_messages_sent_total"), 0);
  assert.equal(await m("sealpost_messages_received_total"), 6);
  assert.equal(await m("sealpost_messages_received_total", { connector: "Internal" }), 1);
});

test("every metric name is snake_case with _total on counters, has HELP and TYPE, and is documented", async () => {
  const text = await server.get("/metrics");
  const doc = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../docs/metrics.md"), "utf8");
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => ({ name: x[1] as string, type: x[2] as string }));
  assert.ok(types.length >= 18, `${types.length} metrics`); // a server that is its own organization has no edge-sync gauges
  const names = new Set<string>();
  for (const t of types) {
    assert.match(t.name, /^sealpost_[a-z0-9_]+$/, t.name);
    if (t.type === "counter") assert.match(t.name, /_total$/, t.name);
    else assert.doesNotMatch(t.name, /_total$/, t.name);
    assert.ok(!names.has(t.name), `${t.name} appears once`);
    names.add(t.name);
    assert.match(text, new RegExp(`^# HELP ${t.name} \\S`, "m"));
    assert.ok(doc.includes(`| \`${t.name}\` | ${t.type} |`), `${t.name} (${t.type}) is in docs/metrics.md`);
  }
});

test("the log: JSON lines, the admin token never printed (the file that holds it named), no key material", async () => {
  const out = server.output();
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  const records = lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      assert.fail(`not a JSON line: ${l}`);
    }
  });
  for (const r of records) {
    assert.match(String(r.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(["debug", "info", "warn", "error"].includes(String(r.level)), JSON.stringify(r));
    assert.equal(typeof r.msg, "string");
  }
  assert.match(out, /admin API http:\/\/[\d.]+:\d+/);
  const token = readFileSync(path.join(dir, "admin.token"), "utf8").trim();
  assert.ok(!out.includes(token), "the first-start token is not printed");
  const named = records.filter((r) => r.local_admin_file === path.join(dir, "admin.token"));
  assert.equal(named.length, 1, "the log says once where the token is");
  assert.doesNotMatch(out, /-----BEGIN/);
  assert.doesNotMatch(out, /PRIVATE KEY/);
  for (const key of [wg.keyPem as string, serverLeaf.keyPem as string]) {
    for (const chunk of key.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----"))) assert.ok(!out.includes(chunk), "no line of a private key");
  }
});

test("the reason label: OpenSSL's reason text, whatever form the error took", () => {
  assert.equal(tlsFailureReason("TLS handshake failed: C0B7A1E2:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:354:"), "wrong version number");
  assert.equal(tlsFailureReason("SSL routines:tls_early_post_process_client_hello:unsupported protocol:../deps/op"), "unsupported protocol");
  assert.equal(tlsFailureReason("809CAE36167F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 40\n"), "sslv3 alert handshake failure");
  assert.equal(tlsFailureReason("TLS handshake failed: connection closed by client"), "connection closed by client");
  assert.equal(tlsFailureReason("TLS handshake failed: timeout"), "timeout");
  assert.equal(tlsFailureReason(""), "unknown");
  assert.ok(tlsFailureReason("x".repeat(500)).length <= 80);
});

test("outbound session results: a SessionError's stage, and an OpenSSL error that surfaced as a socket error", () => {
  assert.equal(countOutboundSession({ tls: true }), "tls");
  assert.equal(countOutboundSession({ tls: false }), "plaintext");
  assert.equal(countOutboundSession({ error: new SessionError("connect ECONNREFUSED 127.0.0.1:25", "connect") }), "connect_error");
  assert.equal(countOutboundSession({ error: new SessionError("STARTTLS not offered", "starttls") }), "starttls_error");
  assert.equal(countOutboundSession({ error: new SessionError("TLS handshake failed: x:error:0A000102:SSL routines:f:unsupported protocol:y", "tls") }), "tls_error");
  assert.equal(countOutboundSession({ error: new SessionError("80:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:f.c:1:", "connect") }), "tls_error");
  assert.equal(countOutboundSession({ error: new Error("boom") }), "connect_error");
});

test("the certificate gauge reads its source at every scrape", async () => {
  const now = new Date("2030-01-01T00:00:00Z");
  let certs = [{ thumbprint: "AB".repeat(20), subject: "CN=a.example", services: ["SMTP"], notAfter: new Date(now.getTime() + 10.5 * 86_400_000) }];
  setCertificateSource(() => certs, () => now);
  try {
    let text = await primaryRegistry.getSingleMetricAsString("sealpost_certificate_days_to_expiry");
    assert.match(text, new RegExp(`^sealpost_certificate_days_to_expiry\\{thumbprint="${"AB".repeat(20)}",subject="CN=a.example",services="SMTP"\\} 10.5$`, "m"));
    certs = [{ thumbprint: "CD".repeat(20), subject: "CN=b.example", services: [], notAfter: new Date(now.getTime() - 86_400_000) }];
    text = await primaryRegistry.getSingleMetricAsString("sealpost_certificate_days_to_expiry");
    assert.doesNotMatch(text, /a\.example/, "a certificate removed is gone");
    assert.match(text, /services="None"\} -1$/m);
  } finally {
    setCertificateSource(undefined);
  }
});
