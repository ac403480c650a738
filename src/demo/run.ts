// `npm run demo` / `sealpost demo`: the seed scenario on loopback, from
// nothing. A test PKI (the OpenSSL command line as an independent CA: a
// common root, Contoso's and Woodgrove's issuing CAs, CRLs over loopback
// HTTP), a DNS server with MX records, Contoso's two edges (mail1.contoso.com
// and mail2.mail.contoso.com) sharing one organization store (PostgreSQL,
// embedded), and Woodgrove's edge, each a real `sealpost serve` on its own
// 127.0.x.y address. Both organizations are configured by the seed's five
// procedures as management-shell commands, printed as they run; mail goes
// both ways; then what must fail is tried. The summary shows what was
// accepted, refused and queued, the certificate lines of the protocol logs,
// and the counters. Exit 0 only when every expected outcome happened. The
// folder is left for inspection.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { AdminApi } from "../admin/api.js";
import { ZoneServer } from "../dns/zone-server.js";
import { migratePg, PgOrgStore } from "../org/pg/pg-org-store.js";
import { allCmdlets } from "../shell/cmdlets/index.js";
import { Shell } from "../shell/shell.js";
import { OpenSslCa, type IssuedCert } from "../devtools/openssl-ca.js";
import { FakeSmtpServer } from "../devtools/fake-smtp.js";
import { startServe, waitUntil, type RunningServer } from "../devtools/serve.js";
import { TestSmtpClient } from "../devtools/smtp-client.js";
import { startEmbeddedPostgres, type EmbeddedPg } from "../org/pg/embedded.js";

const PORT = 2525;
const SUBMIT = 2587;
/** The servers' addresses: 127.0.1.x for Contoso, 127.0.2.x for Woodgrove (another /16 of 127/8 with --net). */
function hostsFor(net: string) {
  return { mail1: `${net}.1.1`, mail2: `${net}.1.2`, woodgrove: `${net}.2.1`, stripped: `${net}.2.9` } as const;
}
let HOSTS = hostsFor("127.0");

interface Outcome {
  what: string;
  expected: string;
  observed: string;
  ok: boolean;
}

const out = (s = "") => process.stdout.write(`${s}\n`);
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function shellFor(api: AdminApi, cwd: string): Shell {
  return new Shell(
    {
      api,
      cwd,
      env: { ...process.env, PFXPW: "demo-pfx-password" },
      readSecret: async () => "demo-pfx-password",
      readLine: async () => "",
    },
    allCmdlets(),
  );
}

async function run(label: string, shell: Shell, line: string, api: AdminApi): Promise<string> {
  out(`${bold(`[${label}] PS>`)} ${line}`);
  api.ctx.org.setAuditContext({ admin: `demo (${label})`, command: line });
  const text = await shell.runLine(line);
  if (text.trim() !== "") out(text.replace(/^/gm, "    "));
  return text;
}

async function mailFrom(ip: string, sender: string, cert?: { key: string; cert: string }): Promise<string> {
  const { client } = await TestSmtpClient.connect(ip, PORT);
  try {
    await client.cmd("EHLO client.example");
    if (cert) {
      await client.startTls(cert);
      await client.cmd("EHLO client.example");
    }
    return (await client.cmd(`MAIL FROM:<${sender}>`)).text;
  } finally {
    await client.quit().catch(() => undefined);
  }
}

async function submit(ip: string, from: string, to: string, subject: string): Promise<string> {
  const { client } = await TestSmtpClient.connect(ip, SUBMIT);
  try {
    await client.cmd("EHLO workstation.example");
    const r = await client.send(from, [to], `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@demo>\r\n\r\nHello from the Sealpost demo (${subject}).\r\n`);
    return r[r.length - 1]?.text ?? "";
  } finally {
    await client.quit().catch(() => undefined);
  }
}

function maildir(dir: string, domain: string, local: string): string[] {
  const d = path.join(dir, "maildir", domain, local, "new");
  return existsSync(d) ? readdirSync(d).map((f) => readFileSync(path.join(d, f), "utf8")) : [];
}

function logLines(dir: string, kind: "SmtpSend" | "SmtpReceive", re: RegExp): string[] {
  const d = path.join(dir, "logs", "protocol", kind);
  if (!existsSync(d)) return [];
  return readdirSync(d).flatMap((f) => readFileSync(path.join(d, f), "utf8").split(/\r?\n/)).filter((l) => re.test(l));
}

export async function runDemo(opts: { dir?: string; net?: string } = {}): Promise<number> {
  const started = Date.now();
  const net = opts.net ?? "127.0";
  if (!/^127\.(25[0-5]|2[0-4]\d|1?\d?\d)$/.test(net)) throw new Error(`--net ${net}: give the first two octets of a loopback /16, e.g. 127.0`);
  HOSTS = hostsFor(net);
  const root = path.resolve(opts.dir ?? "sealpost-demo");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const certs = path.join(root, "certificates");
  mkdirSync(certs);
  const outcomes: Outcome[] = [];
  const expect = (what: string, expected: string, observed: string, ok: boolean) => outcomes.push({ what, expected, observed, ok });
  const servers: RunningServer[] = [];
  const apis: AdminApi[] = [];
  let pgServer: EmbeddedPg | undefined;
  let dns: ZoneServer | undefined;
  let stripped: FakeSmtpServer | undefined;
  let crlServer: http.Server | undefined;
  let ca: OpenSslCa | undefined;
  try {
    out(bold(`Sealpost demo: Domain Security between Contoso and Woodgrove Bank, on loopback (folder ${root})`));
    out();
    out(bold("== The test PKI (OpenSSL as an independent CA), the DNS server, the organization store =="));
    const cas: Record<string, OpenSslCa> = {};
    crlServer = http.createServer((req, res) => {
      const c = cas[(req.url ?? "").replace(/^\//, "")];
      if (!c) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/pkix-crl" }).end(c.crl({ der: true }));
    });
    await new Promise<void>((r) => (crlServer as http.Server).listen(0, "127.0.0.1", r));
    const crlPort = (crlServer.address() as AddressInfo).port;
    const crlBase = `http://127.0.0.1:${crlPort}`;
    ca = await OpenSslCa.createRoot({ name: "O=Demo Trust,CN=Demo Root CA", keyType: "ec-p256", dir: path.join(root, "ca") });
    cas["root.crl"] = ca;
    const contosoCa = await ca.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
    const woodgroveCa = await ca.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
    cas["contoso.crl"] = contosoCa;
    cas["woodgrove.crl"] = woodgroveCa;
    writeFileSync(path.join(certs, "root.cer"), ca.certPem);
    writeFileSync(path.join(certs, "contoso-ca.cer"), contosoCa.certPem);
    writeFileSync(path.join(certs, "woodgrove-ca.cer"), woodgroveCa.certPem);
    out(`    root "CN=Demo Root CA", issuing CAs for Contoso and Woodgrove; CRLs at ${crlBase}`);

    dns = await ZoneServer.start({ host: "127.0.0.1", port: 0 });
    dns.set("woodgrovebank.com", "MX", [{ preference: 10, exchange: "mail.woodgrovebank.com" }]);
    dns.set("mail.woodgrovebank.com", "A", [HOSTS.woodgrove]);
    dns.set("mail.contoso.com", "MX", [
      { preference: 10, exchange: "mail1.contoso.com" },
      { preference: 10, exchange: "mail2.mail.contoso.com" },
    ]);
    dns.set("mail1.contoso.com", "A", [HOSTS.mail1]);
    dns.set("mail2.mail.contoso.com", "A", [HOSTS.mail2]);
    out(`    DNS on ${dns.address}: MX woodgrovebank.com → mail.woodgrovebank.com (${HOSTS.woodgrove}); MX mail.contoso.com → mail1 (${HOSTS.mail1}), mail2 (${HOSTS.mail2})`);

    pgServer = await startEmbeddedPostgres({ throwaway: true });
    const orgUrl = await pgServer.createDatabase("contoso_org");
    await migratePg(orgUrl);
    out(`    Contoso's organization store: PostgreSQL (embedded) — sealpost --org <url> org migrate`);
    out();

    // The servers' data folders and admin APIs (Contoso's edges reach the organization store too).
    const dirs = { mail1: path.join(root, "mail1.contoso.com"), mail2: path.join(root, "mail2.mail.contoso.com"), woodgrove: path.join(root, "mail.woodgrovebank.com") };
    const contosoOrg = await PgOrgStore.open(orgUrl);
    const api1 = AdminApi.open(dirs.mail1, { org: contosoOrg });
    await api1.setServerName("mail1.contoso.com");
    const api2 = AdminApi.open(dirs.mail2, { org: await PgOrgStore.open(orgUrl) });
    await api2.setServerName("mail2.mail.contoso.com");
    const apiW = await AdminApi.openWithDefaults(dirs.woodgrove);
    await apiW.setServerName("mail.woodgrovebank.com");
    apis.push(api1, api2, apiW);
    const sh = { mail1: shellFor(api1, certs), mail2: shellFor(api2, certs), woodgrove: shellFor(apiW, certs) };

    out(bold("== Procedure 1: a certificate request on each edge (signed by the organization's CA) =="));
    const issued: Record<string, IssuedCert> = {};
    for (const [key, subject, domain, caFor] of [
      ["mail1", "DC=com,DC=Contoso,CN=mail1.contoso.com", "mail.contoso.com", contosoCa],
      ["mail2", "DC=com,DC=Contoso,CN=mail2.mail.contoso.com", "mail.contoso.com", contosoCa],
      ["woodgrove", "O=Woodgrove Bank,CN=mail.woodgrovebank.com", "woodgrovebank.com", woodgroveCa],
    ] as const) {
      const req = `${key}.req`;
      await run(key, sh[key], `New-ExchangeCertificate -GenerateRequest -FriendlyName "Internet certificate" -Path ${req} -SubjectName "${subject}" -DomainName ${domain}`, apis[["mail1", "mail2", "woodgrove"].indexOf(key)] as AdminApi);
      issued[key] = caFor.signRequest(readFileSync(path.join(certs, req)), { crlUrl: `${crlBase}/${caFor === contosoCa ? "contoso" : "woodgrove"}.crl` });
      writeFileSync(path.join(certs, `${key}.cer`), (issued[key] as IssuedCert).certPem + caFor.certPem);
      out(`    (the CA signs ${req} → ${key}.cer)`);
    }
    out();
    out(bold("== Procedure 2: import the issued certificates and enable them for SMTP; trust the common root =="));
    for (const key of ["mail1", "mail2", "woodgrove"] as const) {
      const api = apis[["mail1", "mail2", "woodgrove"].indexOf(key)] as AdminApi;
      await run(key, sh[key], `Import-ExchangeCertificate -Path ${key}.cer | Enable-ExchangeCertificate -Services SMTP`, api);
    }
    await run("contoso org", sh.mail1, "Add-TrustedRootCertificate -Path root.cer", api1);
    await run("contoso org", sh.mail1, "Set-TransportConfig -UseSystemTrustStore $false", api1);
    await run("woodgrove", sh.woodgrove, "Add-TrustedRootCertificate -Path root.cer", apiW);
    await run("woodgrove", sh.woodgrove, "Set-TransportConfig -UseSystemTrustStore $false", apiW);
    out();

    out(bold("== The organizations' mail domains and connectors (Contoso: once, for both edges) =="));
    for (const line of [
      "New-AcceptedDomain -Name Contoso -DomainName contoso.com",
      "New-AcceptedDomain -Name MailContoso -DomainName mail.contoso.com",
      "New-Mailbox -PrimarySmtpAddress alice@mail.contoso.com",
      `New-ReceiveConnector "mail1.contoso.com\\Internal" -Usage Internal -Bindings ${HOSTS.mail1}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
      "Set-SendConnector Internet -Fqdn mail.contoso.com -Port 2525",
    ]) {
      await run("contoso org", sh.mail1, line, api1);
    }
    for (const [key, api] of [["mail1", api1], ["mail2", api2]] as const) {
      await run(key, sh[key], `New-ReceiveConnector Inet -Bindings ${HOSTS[key]}:${PORT}`, api);
      await run(key, sh[key], `Set-TransportServer -ExternalDNSServers ${dns.address}`, api);
      // The lab's CRLs are on loopback, which the outbound fetch policy refuses unless allowed.
      await run(key, sh[key], `Set-TransportServer -OutboundFetchAllowedRanges 127.0.0.1 -OutboundFetchAllowedPorts ${crlPort}`, api);
    }
    for (const line of [
      "New-AcceptedDomain -Name Woodgrove -DomainName woodgrovebank.com",
      "New-Mailbox -PrimarySmtpAddress bob@woodgrovebank.com",
      `Set-ReceiveConnector Inet -Bindings ${HOSTS.woodgrove}:${PORT}`,
      `New-ReceiveConnector Internal -Usage Internal -Bindings ${HOSTS.woodgrove}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
      "Set-SendConnector Internet -Port 2525",
      `Set-TransportServer -ExternalDNSServers ${dns.address}`,
      `Set-TransportServer -OutboundFetchAllowedRanges 127.0.0.1 -OutboundFetchAllowedPorts ${crlPort}`,
    ]) {
      await run("woodgrove", sh.woodgrove, line, apiW);
    }
    out();

    out(bold("== Procedure 3: outbound Domain Security =="));
    await run("contoso org", sh.mail1, "Set-TransportConfig -TLSSendDomainSecureList woodgrovebank.com", api1);
    await run("contoso org", sh.mail1, "Set-SendConnector Internet -DomainSecureEnabled:$True", api1);
    await run("woodgrove", sh.woodgrove, "Set-TransportConfig -TLSSendDomainSecureList mail.contoso.com", apiW);
    await run("woodgrove", sh.woodgrove, "Set-SendConnector Internet -DomainSecureEnabled:$True", apiW);
    out();
    out(bold("== Procedure 4: inbound Domain Security =="));
    await run("contoso org", sh.mail1, "Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com", api1);
    for (const [key, api] of [["mail1", api1], ["mail2", api2]] as const) await run(key, sh[key], "Set-ReceiveConnector Inet -DomainSecureEnabled:$True -AuthMechanism TLS", api);
    await run("woodgrove", sh.woodgrove, "Set-TransportConfig -TLSReceiveDomainSecureList mail.contoso.com", apiW);
    await run("woodgrove", sh.woodgrove, "Set-ReceiveConnector Inet -DomainSecureEnabled:$True -AuthMechanism TLS", apiW);
    out();
    out(bold("== Procedure 5: verbose protocol logs, then test mail flow =="));
    for (const [key, api] of [["mail1", api1], ["mail2", api2]] as const) await run(key, sh[key], "Set-ReceiveConnector Inet -ProtocolLoggingLevel Verbose", api);
    await run("contoso org", sh.mail1, "Set-SendConnector Internet -ProtocolLoggingLevel Verbose", api1);
    await run("woodgrove", sh.woodgrove, "Set-ReceiveConnector Inet -ProtocolLoggingLevel Verbose", apiW);
    await run("woodgrove", sh.woodgrove, "Set-SendConnector Internet -ProtocolLoggingLevel Verbose", apiW);
    for (const a of apis) await a.close();
    apis.length = 0;

    out();
    out(bold("== Starting the three edge servers =="));
    const [s1, s2, sw] = await Promise.all([
      startServe(dirs.mail1, { args: ["--org", orgUrl] }),
      startServe(dirs.mail2, { args: ["--org", orgUrl] }),
      startServe(dirs.woodgrove),
    ]);
    servers.push(s1, s2, sw);
    out(`    mail1.contoso.com ${HOSTS.mail1}:${PORT} · mail2.mail.contoso.com ${HOSTS.mail2}:${PORT} (edges of Contoso's organization store) · mail.woodgrovebank.com ${HOSTS.woodgrove}:${PORT}`);
    const local1 = AdminApi.open(dirs.mail1);
    apis.push(local1);
    const tm = await local1.mailflow.test("bob@woodgrovebank.com");
    out(`${bold("[mail1] PS>")} Test-Mailflow -TargetEmailAddress bob@woodgrovebank.com`);
    out(`    Result ${tm.Result}; next hop ${tm.NextHop}; ${tm.TlsVersion} ${tm.Cipher}; server certificate ${tm.ServerCertificateSubject} (issuer ${tm.ServerCertificateIssuer}); domain-secured: ${tm.DomainSecured}; ${tm.LatencyMs} ms`);
    expect("Test-Mailflow mail1 → woodgrovebank.com", "Success, domain-secured", `${tm.Result}${tm.DomainSecured ? ", domain-secured" : ""}`, tm.Result === "Success" && tm.DomainSecured);
    out();

    out(bold("== Mail both ways =="));
    const r1 = await submit(HOSTS.mail1, "alice@mail.contoso.com", "bob@woodgrovebank.com", "contoso-to-woodgrove");
    out(`    alice@mail.contoso.com → bob@woodgrovebank.com (submitted to mail1): ${r1}`);
    const r2 = await submit(HOSTS.woodgrove, "bob@woodgrovebank.com", "alice@mail.contoso.com", "woodgrove-to-contoso");
    out(`    bob@woodgrovebank.com → alice@mail.contoso.com (submitted to Woodgrove): ${r2}`);
    const toBob = await waitUntil("Contoso → Woodgrove", () => maildir(dirs.woodgrove, "woodgrovebank.com", "bob").find((m) => m.includes("Subject: contoso-to-woodgrove")), 20_000).catch(() => undefined);
    const marked = (m: string | undefined, d: string) => m !== undefined && new RegExp(`x-domain-secure=pass smtp\\.mailfrom=${d.replace(/\./g, "\\.")}`).test(m);
    expect("Contoso → Woodgrove (alice → bob)", "delivered, domain-secured", toBob ? (marked(toBob, "mail.contoso.com") ? "delivered, domain-secured" : "delivered, NOT marked") : "not delivered", marked(toBob, "mail.contoso.com"));
    const toAlice = await waitUntil("Woodgrove → Contoso", () => [...maildir(dirs.mail1, "mail.contoso.com", "alice"), ...maildir(dirs.mail2, "mail.contoso.com", "alice")].find((m) => m.includes("Subject: woodgrove-to-contoso")), 20_000).catch(() => undefined);
    const via = toAlice && maildir(dirs.mail1, "mail.contoso.com", "alice").includes(toAlice) ? "mail1" : "mail2";
    expect("Woodgrove → Contoso (bob → alice)", "delivered, domain-secured", toAlice ? (marked(toAlice, "woodgrovebank.com") ? `delivered via ${via}, domain-secured` : "delivered, NOT marked") : "not delivered", marked(toAlice, "woodgrovebank.com"));
    out();

    out(bold("== What must fail =="));
    const plain = await mailFrom(HOSTS.mail1, "mallory@woodgrovebank.com");
    out(`    a plaintext sender claiming woodgrovebank.com → mail1: ${plain}`);
    expect("plaintext sender claiming woodgrovebank.com", "refused 451 4.7.3", plain.slice(0, 9) === "451 4.7.3" ? "refused 451 4.7.3" : plain, plain.startsWith("451 4.7.3"));
    const fab = woodgroveCa.issueLeaf({ subject: "CN=mail.fabrikam.com", dnsNames: ["mail.fabrikam.com", "fabrikam.com"], keyType: "ec-p256", crlUrl: `${crlBase}/woodgrove.crl` });
    const wrong = await mailFrom(HOSTS.mail2, "mallory@woodgrovebank.com", { key: fab.keyPem as string, cert: fab.certPem + woodgroveCa.certPem });
    out(`    a sender claiming woodgrovebank.com with a certificate for fabrikam.com → mail2: ${wrong}`);
    expect("certificate for another domain (fabrikam.com)", "refused 451 4.7.5", wrong.startsWith("451 4.7.5") ? "refused 451 4.7.5" : wrong, wrong.startsWith("451 4.7.5"));
    // Woodgrove's server as an attacker in the path would show it: no STARTTLS.
    stripped = await FakeSmtpServer.start({ host: HOSTS.stripped, port: PORT, name: "mail.woodgrovebank.com" });
    dns.set("mail.woodgrovebank.com", "A", [HOSTS.stripped]);
    out(`    DNS now sends mail.woodgrovebank.com to ${HOSTS.stripped}, a server that offers no STARTTLS (as if stripped)`);
    await submit(HOSTS.mail1, "alice@mail.contoso.com", "bob@woodgrovebank.com", "while-stripped");
    const q = await waitUntil("the message queued", async () => {
      const r = await shellFor(local1, root).runObjects("Get-Queue woodgrovebank.com").catch(() => []);
      const v = r[0] as { Status?: string; LastError?: string; MessageCount?: number } | undefined;
      return v && v.Status === "Retry" && (v.MessageCount ?? 0) > 0 ? v : undefined;
    }, 20_000).catch(() => undefined);
    out(`${bold("[mail1] PS>")} Get-Queue woodgrovebank.com | Format-List Status,MessageCount,LastError`);
    out(`    Status ${q?.Status ?? "?"}, ${q?.MessageCount ?? 0} message(s), LastError: ${q?.LastError ?? ""}`);
    expect("Woodgrove stripped of STARTTLS", "queued (Retry), nothing sent", q ? `queued (Retry); MAIL commands sent: ${stripped.count("MAIL")}` : "not queued", !!q && stripped.count("MAIL") === 0);
    out();

    out(bold("== The protocol logs: certificates seen on each side =="));
    for (const [label, dir, kind] of [["mail1 send", dirs.mail1, "SmtpSend"], ["woodgrove receive", dirs.woodgrove, "SmtpReceive"], ["woodgrove send", dirs.woodgrove, "SmtpSend"]] as const) {
      for (const l of logLines(dir, kind, /Certificate subject|verified OK|refused/).slice(0, 4)) out(`    [${label}] ${l}`);
    }
    out();

    out(bold("== Counters (Get-Counter \"\\MSExchange Secure Mail Transport\\*\") =="));
    const names = ["sealpost_domain_secured_messages_received_total", "sealpost_domain_secured_messages_sent_total", "sealpost_domain_secured_outbound_session_failures_total"];
    const label = ["Domain-Secured Messages Received", "Domain-Secured Messages Sent", "Domain-Secured Outbound Session Failures"];
    const counters: Record<string, number[]> = {};
    for (const [i, s] of servers.entries()) counters[["mail1", "mail2", "woodgrove"][i] as string] = await Promise.all(names.map((n) => s.metric(n)));
    out(`    ${"".padEnd(42)}${"mail1".padStart(8)}${"mail2".padStart(8)}${"woodgrove".padStart(11)}`);
    for (const [i, l] of label.entries()) out(`    ${l.padEnd(42)}${String(counters.mail1?.[i]).padStart(8)}${String(counters.mail2?.[i]).padStart(8)}${String(counters.woodgrove?.[i]).padStart(11)}`);
    const receivedContoso = (counters.mail1?.[0] ?? 0) + (counters.mail2?.[0] ?? 0);
    const sentContoso = (counters.mail1?.[1] ?? 0) + (counters.mail2?.[1] ?? 0);
    const failures = (counters.mail1?.[2] ?? 0) + (counters.mail2?.[2] ?? 0);
    // Test-Mailflow ran outside the server: its probe is not in the server's counters.
    const consistent = receivedContoso === 1 && sentContoso === 1 && failures >= 1 && counters.woodgrove?.[0] === 2 && counters.woodgrove?.[1] === 1;
    expect("counters", "Contoso received 1, sent 1, ≥1 outbound failure; Woodgrove received 2, sent 1", `Contoso received ${receivedContoso}, sent ${sentContoso}, failures ${failures}; Woodgrove received ${counters.woodgrove?.[0]}, sent ${counters.woodgrove?.[1]}`, consistent);
    writeFileSync(path.join(root, "organization.json"), JSON.stringify(await contosoOrg.exportSnapshot().catch(() => ({})), (k, v: unknown) => (k === "der" ? undefined : v), 2));
    out();

    out(bold("== Summary =="));
    const w = Math.max(...outcomes.map((o) => o.what.length));
    const we = Math.max(...outcomes.map((o) => o.expected.length));
    out(`    ${"".padEnd(3)}${"what".padEnd(w + 2)}${"expected".padEnd(we + 2)}observed`);
    for (const o of outcomes) out(`    ${o.ok ? "ok " : "NO "}${o.what.padEnd(w + 2)}${o.expected.padEnd(we + 2)}${o.observed}`);
    const allOk = outcomes.every((o) => o.ok);
    out();
    out(`${allOk ? "Every expected outcome happened" : "SOME EXPECTED OUTCOMES DID NOT HAPPEN"} (${Math.round((Date.now() - started) / 1000)} s). Logs, Maildirs, queues and configuration are in ${root}`);
    out(`    e.g. sealpost --data ${dirs.mail1} shell -c 'Get-Queue'   ·   ${path.join(dirs.woodgrove, "maildir", "woodgrovebank.com", "bob", "new")}`);
    return allOk ? 0 : 1;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const a of apis) await a.close().catch(() => undefined);
    await stripped?.close();
    await dns?.close();
    crlServer?.close();
    await pgServer?.stop();
  }
}
