// Interop: Domain Security between Sealpost (Contoso, mail1.contoso.com) and
// Postfix (Debian's package) playing Woodgrove's server, in both directions:
//  (a) Sealpost → Postfix: Postfix's smtpd requires and verifies a client
//      certificate (smtpd_tls_security_level = encrypt, smtpd_tls_req_ccert =
//      yes) and delivers to a Maildir; Sealpost finds it by MX through a
//      loopback DNS server.
//  (b) Postfix → Sealpost: Postfix's smtp client sends with
//      smtp_tls_security_level = secure and Woodgrove's certificate to
//      Sealpost's Domain Security receive connector.
// Postfix runs as a private instance (`postfix -c DIR start`) with its own
// config, queue and data folders in the test's work folder, like
// src/bench/postfix.ts; /etc/postfix is never used. It listens and sends only
// on loopback: its one smtp route is a bracketed loopback address in the
// transport map, everything else goes to the error transport, and smtpd does
// no reverse DNS.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { AdminApi } from "../../src/admin/api.js";
import { ZoneServer } from "../../src/dns/zone-server.js";
import { masterServiceLine, POSTFIX_CORE_SERVICES } from "../../src/bench/postfix.js";

const POSTFIX = "/usr/sbin/postfix";
const HAVE_POSTFIX = existsSync(POSTFIX);
const SKIP = HAVE_POSTFIX ? false : `Postfix is not installed (${POSTFIX} is missing): apt-get install postfix ('No configuration') to run this suite`;

const PORT = 2525; // both servers' Domain Security listeners
const SUBMIT = 2526; // Sealpost's Internal receive connector
const INJECT = 2587; // Postfix's plain loopback listener to inject mail for (b)

const C = randomLoopback(); // Sealpost, mail1.contoso.com
let W = randomLoopback(); // Postfix, mail.woodgrovebank.com
while (W === C) W = randomLoopback();

let work: string;
let root: OpenSslCa | undefined;
let contosoCa: OpenSslCa;
let woodgroveCa: OpenSslCa;
/** Woodgrove's certificate, which Postfix presents in both directions. */
let wLeaf: IssuedCert;
let crlServer: http.Server | undefined;
let dns: ZoneServer | undefined;
let contoso: RunningServer | undefined;
let cDir: string;
let pf: PostfixInstance | undefined;

// ---------------------------------------------------------------- Postfix

interface PostfixInstance {
  conf: string;
  maillog: string;
  mailbox: string;
  start(): void;
  stop(): Promise<void>;
}

function postfix(args: string[]): string {
  const r = spawnSync(POSTFIX, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`postfix ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stdout}${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function setupPostfix(dir: string, wg: IssuedCert): PostfixInstance {
  const conf = path.join(dir, "conf");
  const queue = path.join(dir, "queue");
  const data = path.join(dir, "data");
  const tls = path.join(dir, "tls");
  const mailbox = path.join(dir, "mail");
  for (const d of [conf, queue, data, tls, mailbox]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const pw = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postfix:"))?.split(":");
  if (!pw) throw new Error("the postfix user does not exist (is the package installed?)");
  const [uid, gid] = [Number(pw[2]), Number(pw[3])];
  // tlsmgr and the master's lock live in data_directory; virtual(8) writes the Maildir as the postfix user.
  chownSync(data, uid, gid);
  chownSync(mailbox, uid, gid);
  const ca = path.join(tls, "root.pem");
  writeFileSync(ca, root!.certPem);
  writeFileSync(path.join(tls, "woodgrove.pem"), wg.certPem + woodgroveCa.certPem);
  writeFileSync(path.join(tls, "woodgrove.key"), wg.keyPem as string, { mode: 0o600 });
  // mail.contoso.com goes to Sealpost's address only; Domain Security: verified, and Contoso's names.
  writeFileSync(path.join(conf, "transport"), `mail.contoso.com smtp:[${C}]:${PORT}\n`);
  writeFileSync(path.join(conf, "tls_policy"), `[${C}]:${PORT} secure match=mail.contoso.com:mail1.contoso.com\n`);
  writeFileSync(path.join(conf, "vmailbox"), "bob@woodgrovebank.com woodgrovebank.com/bob/\n");
  const maillog = path.join(dir, "maillog");
  writeFileSync(
    path.join(conf, "main.cf"),
    `# Written by test/interop/postfix-outbound.test.ts: Woodgrove's server, on loopback only.
compatibility_level = 3.6
queue_directory = ${queue}
data_directory = ${data}
maillog_file = ${maillog}
maillog_file_prefixes = ${dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.woodgrovebank.com
mydomain = woodgrovebank.com
myorigin = woodgrovebank.com
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtpd_peername_lookup = no
# Local delivery for woodgrovebank.com: virtual(8) into Maildirs under ${mailbox}.
virtual_mailbox_domains = woodgrovebank.com
virtual_mailbox_base = ${mailbox}
virtual_mailbox_maps = texthash:${path.join(conf, "vmailbox")}
virtual_uid_maps = static:${uid}
virtual_gid_maps = static:${gid}
# Only mail.contoso.com leaves, to Sealpost on loopback; anything else fails.
transport_maps = texthash:${path.join(conf, "transport")}
default_transport = error:no mail leaves this test
relay_transport = error:no mail leaves this test
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 2s
# (a) Inbound Domain Security: TLS and a client certificate that verifies, required.
smtpd_tls_security_level = encrypt
smtpd_tls_ask_ccert = yes
smtpd_tls_req_ccert = yes
smtpd_tls_CAfile = ${ca}
smtpd_tls_cert_file = ${path.join(tls, "woodgrove.pem")}
smtpd_tls_key_file = ${path.join(tls, "woodgrove.key")}
smtpd_tls_loglevel = 2
smtpd_tls_received_header = yes
# (b) Outbound Domain Security: a verified server certificate with Contoso's names, and ours.
smtp_tls_security_level = secure
smtp_tls_secure_cert_match = nexthop, dot-nexthop
smtp_tls_policy_maps = texthash:${path.join(conf, "tls_policy")}
smtp_tls_CAfile = ${ca}
smtp_tls_cert_file = ${path.join(tls, "woodgrove.pem")}
smtp_tls_key_file = ${path.join(tls, "woodgrove.key")}
smtp_tls_loglevel = 1
# (c) Postfix resumes TLS sessions with the servers it sends to, as deployed Postfix does.
smtp_tls_session_cache_database = btree:${path.join(data, "smtp_scache")}
smtp_tls_session_cache_timeout = 3600s
`,
  );
  const svc = masterServiceLine;
  writeFileSync(
    path.join(conf, "master.cf"),
    [
      "# Written by test/interop/postfix-outbound.test.ts: no chroot, only the services this test needs.",
      svc(`${W}:${PORT}`, "inet", "n", "-", "-", "-", "smtpd"),
      // The injection listener for (b): plain SMTP from loopback (mynetworks may relay to mail.contoso.com).
      svc(`${W}:${INJECT}`, "inet", "n", "-", "-", "-", "smtpd"),
      "  -o smtpd_tls_security_level=none",
      "  -o smtpd_tls_ask_ccert=no",
      "  -o smtpd_tls_req_ccert=no",
      ...POSTFIX_CORE_SERVICES.map((x) => masterServiceLine(...x)),
      svc("smtp", "unix", "-", "-", "-", "-", "smtp"),
      svc("virtual", "unix", "-", "n", "-", "-", "virtual"),
      "",
    ].join("\n"),
  );
  const pidFile = path.join(queue, "pid", "master.pid");
  return {
    conf,
    maillog,
    mailbox,
    start() {
      postfix(["-c", conf, "check"]);
      postfix(["-c", conf, "start"]);
    },
    async stop() {
      if (!existsSync(pidFile)) return;
      const pid = Number(readFileSync(pidFile, "utf8").trim());
      try {
        postfix(["-c", conf, "stop"]);
      } catch {
        if (pid > 0 && alive(pid)) process.kill(pid, "SIGTERM");
      }
      const end = Date.now() + 15_000;
      while (pid > 0 && alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
    },
  };
}

function postfixLog(): string {
  return pf && existsSync(pf.maillog) ? readFileSync(pf.maillog, "utf8") : "";
}

function postfixMaildir(local: string): string[] {
  const d = path.join(pf!.mailbox, "woodgrovebank.com", local, "new");
  return existsSync(d) ? readdirSync(d).sort().map((f) => readFileSync(path.join(d, f), "utf8")) : [];
}

// ---------------------------------------------------------------- Sealpost

function sealpostMaildir(domain: string, local: string): string[] {
  const d = path.join(cDir, "maildir", domain, local, "new");
  return existsSync(d) ? readdirSync(d).sort().map((f) => readFileSync(path.join(d, f), "utf8")) : [];
}

function protocolLog(kind: "SmtpSend" | "SmtpReceive"): string {
  const d = path.join(cDir, "logs", "protocol", kind);
  return existsSync(d) ? readdirSync(d).map((f) => readFileSync(path.join(d, f), "utf8")).join("") : "";
}

/** What to show when a wait fails: both sides' logs. */
function diagnostics(): string {
  return `\n--- Postfix maillog (tail) ---\n${postfixLog().slice(-4000)}\n--- Sealpost output (tail) ---\n${contoso?.output().slice(-3000) ?? ""}\n--- SmtpSend ---\n${protocolLog("SmtpSend").slice(-3000)}\n--- SmtpReceive ---\n${protocolLog("SmtpReceive").slice(-3000)}`;
}

async function ok(line: string): Promise<void> {
  const r = await shellC(cDir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
}

/** Sealpost's counter for the partner woodgrovebank.com, once it has counted something (it may lag the mailbox by a moment). */
async function counter(name: string): Promise<number> {
  const get = () => contoso!.metric(name, { partner: "woodgrovebank.com" });
  await waitUntil(`${name}{partner="woodgrovebank.com"} counted`, async () => ((await get()) > 0 ? true : undefined), 5_000).catch(() => undefined);
  return get();
}

/** One message over plain SMTP, as an MUA or another server would hand it in. */
async function smtpSend(host: string, port: number, from: string, to: string, subject: string): Promise<void> {
  const { client, greeting } = await TestSmtpClient.connect(host, port);
  assert.match(greeting.text, /^220/);
  assert.match((await client.cmd("EHLO client.example")).text, /^250/);
  assert.match((await client.cmd(`MAIL FROM:<${from}>`)).text, /^250/);
  assert.match((await client.cmd(`RCPT TO:<${to}>`)).text, /^250/);
  assert.match((await client.cmd("DATA")).text, /^354/);
  const r = await client.cmd(`From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@test>\r\n\r\nHello ${subject}\r\n.`);
  assert.match(r.text, /^250 /);
  await client.quit();
}

/** The header block with folded lines joined. */
function headers(msg: string): string {
  return (msg.split(/\r?\n\r?\n/)[0] ?? "").replace(/\r?\n[ \t]+/g, " ");
}

describe("Domain Security interop with Postfix (Woodgrove)", { skip: SKIP }, () => {
  before(async () => {
    if (!HAVE_POSTFIX) return;
    work = mkdtempSync(path.join(os.tmpdir(), "sealpost-postfix-interop-"));
    chmodSync(work, 0o755); // Postfix's unprivileged daemons walk into it
    crlServer = http.createServer((req, res) => {
      const ca = { "/root.crl": root, "/woodgrove.crl": woodgroveCa, "/contoso.crl": contosoCa }[(req.url ?? "").replace(/\?.*$/, "")];
      if (!ca) return void res.writeHead(404).end();
      res.end(ca.crl({ der: true }));
    });
    await new Promise<void>((r) => crlServer!.listen(0, "127.0.0.1", r));
    const crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
    root = await OpenSslCa.createRoot({ dir: path.join(work, "ca"), name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
    contosoCa = await root.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
    woodgroveCa = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
    // The CA helper's default EKU is serverAuth + clientAuth: each certificate serves both directions.
    const cLeaf = contosoCa.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com", "mail.contoso.com"], crlUrl: `${crlBase}/contoso.crl`, keyType: "ec-p256" });
    wLeaf = woodgroveCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["mail.woodgrovebank.com", "woodgrovebank.com"], crlUrl: `${crlBase}/woodgrove.crl`, keyType: "ec-p256" });

    dns = await ZoneServer.start({ host: "127.0.0.1", port: 0 });
    dns.set("woodgrovebank.com", "MX", [{ preference: 10, exchange: "mail.woodgrovebank.com" }]);
    dns.set("mail.woodgrovebank.com", "A", [W]);
    dns.set("mail.contoso.com", "MX", [{ preference: 10, exchange: "mail1.contoso.com" }]);
    dns.set("mail1.contoso.com", "A", [C]);

    // Sealpost: Contoso, configured with the seed's commands.
    cDir = path.join(work, "contoso");
    assert.equal((await runSealpost(["--data", cDir, "init", "--name", "mail1.contoso.com"])).code, 0);
    const api = AdminApi.open(cDir);
    await api.trust.add("root", Buffer.from(root.certPem));
    await api.trust.setSettings({ useSystemTrustStore: false });
    await api.close();
    const pfx = path.join(work, "contoso.pfx");
    writeFileSync(pfx, contosoCa.pfx(cLeaf, "pw", { withChain: true }));
    for (const line of [
      `Import-ExchangeCertificate -Path ${pfx} -Password pw | Enable-ExchangeCertificate -Services SMTP`,
      "New-AcceptedDomain -DomainName mail.contoso.com",
      "New-Mailbox -PrimarySmtpAddress alice@mail.contoso.com",
      `Set-ReceiveConnector Inet -Bindings ${C}:${PORT} -DomainSecureEnabled:$true -AuthMechanism TLS -ProtocolLoggingLevel Verbose`,
      `New-ReceiveConnector Internal -Usage Internal -Bindings ${C}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
      "Set-TransportConfig -TLSSendDomainSecureList woodgrovebank.com",
      "Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com",
      "Set-SendConnector Internet -DomainSecureEnabled:$True",
      `Set-SendConnector Internet -Port ${PORT} -ProtocolLoggingLevel Verbose`,
      `Set-TransportServer mail1.contoso.com -ExternalDNSServers ${dns.address}`,
      // The CRLs are served on loopback: allowed explicitly (the outbound fetch policy refuses loopback by default).
      `Set-TransportServer mail1.contoso.com -OutboundFetchAllowedRanges 127.0.0.0/8 -OutboundFetchAllowedPorts ${(crlServer.address() as AddressInfo).port}`,
    ]) {
      await ok(line);
    }

    pf = setupPostfix(path.join(work, "postfix"), wLeaf);
    pf.start();
    contoso = await startServe(cDir);
    // Postfix's master starts its listeners a moment after `postfix start` returns.
    await waitUntil("Postfix listening", async () => {
      try {
        const { client, greeting } = await TestSmtpClient.connect(W, INJECT);
        await client.quit();
        return /^220/.test(greeting.text) ? true : undefined;
      } catch {
        return undefined;
      }
    }, 20_000);
  });

  after(async () => {
    // Each step on its own, so one failure does not leave Postfix running.
    await pf?.stop().catch((e: unknown) => console.error("stopping Postfix:", e));
    await contoso?.stop().catch(() => undefined);
    await dns?.close().catch(() => undefined);
    crlServer?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("(a) Sealpost → Postfix: Postfix requires and verifies Contoso's certificate; delivered; counted", async () => {
    await smtpSend(C, SUBMIT, "alice@mail.contoso.com", "bob@woodgrovebank.com", "c2pf-1");
    const got = await waitUntil("the message in Postfix's Maildir for bob", () => postfixMaildir("bob").find((m) => m.includes("Subject: c2pf-1")), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}${diagnostics()}`);
    });
    // Postfix's own Received header: the client certificate it verified.
    assert.match(headers(got), /Received: from [^;]*\(Client CN "mail1\.contoso\.com", Issuer "Contoso Issuing CA" \(verified OK\)\)/);
    // Postfix's log (smtpd_tls_loglevel = 2): the chain it verified, the client certificate, "Trusted",
    // and the message that session handed in, delivered.
    const log = await waitUntil("Postfix's delivery to bob logged", () => {
      const t = postfixLog();
      return /postfix\/virtual\[\d+\]: \w+: to=<bob@woodgrovebank\.com>.*status=sent/.test(t) ? t : undefined;
    }).catch((e: Error) => {
      throw new Error(`${e.message}${diagnostics()}`);
    });
    const pid = /postfix\/smtpd\[(\d+)\]: Trusted TLS connection established from \S+\[127\.[\d.]+\]: TLSv1\.[23] with cipher/.exec(log)?.[1];
    assert.ok(pid, `no "Trusted TLS connection established" in Postfix's log:\n${log}`);
    const session = log.split("\n").filter((l) => l.includes(`postfix/smtpd[${pid}]: `)).join("\n");
    assert.match(session, /: depth=0 verify=1 subject=\/CN=mail1\.contoso\.com$/m);
    assert.match(session, /: depth=1 verify=1 subject=\/O=Contoso\/CN=Contoso Issuing CA$/m);
    assert.match(session, /: subject_CN=mail1\.contoso\.com, issuer=Contoso Issuing CA, fingerprint=/);
    const qid = /: (\w+): client=/.exec(session)?.[1];
    assert.ok(qid, session);
    assert.match(log, new RegExp(`postfix/virtual\\[\\d+\\]: ${qid}: to=<bob@woodgrovebank\\.com>, relay=virtual,.*status=sent \\(delivered to maildir\\)`));
    assert.equal(await counter("sealpost_domain_secured_messages_sent_total"), 1);
    // Sealpost's send log (written as the session goes): Postfix's certificate, verified, then MAIL.
    const send = await waitUntil("Sealpost's send log through MAIL FROM", () => {
      const t = protocolLog("SmtpSend");
      return /,>,MAIL FROM:<alice@mail\.contoso\.com>/.test(t) ? t : undefined;
    }).catch((e: Error) => {
      throw new Error(`${e.message}${diagnostics()}`);
    });
    assert.match(send, /,\*,"?CN=mail\.woodgrovebank\.com"?,Certificate subject/);
    assert.match(send, /,\*,"?CN=mail1\.contoso\.com"?,Certificate subject/);
    assert.match(send, /verified OK/);
  });

  test("(b) Postfix → Sealpost: smtp_tls_security_level = secure with Woodgrove's certificate; domain-secured; counted", async () => {
    await smtpSend(W, INJECT, "someone@woodgrovebank.com", "alice@mail.contoso.com", "pf2c-1");
    const got = await waitUntil("the message in alice's Maildir at Sealpost", () => sealpostMaildir("mail.contoso.com", "alice").find((m) => m.includes("Subject: pf2c-1")), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}${diagnostics()}`);
    });
    assert.match(headers(got), new RegExp(`Authentication-Results: mail\\.contoso\\.com; x-domain-secure=pass smtp\\.mailfrom=woodgrovebank\\.com x-domain-secure\\.cert=${wLeaf.sha1}`));
    assert.equal(await counter("sealpost_domain_secured_messages_received_total"), 1);
    const log = await waitUntil("Postfix's delivery logged", () => {
      const t = postfixLog();
      return /postfix\/smtp\[\d+\]: \w+: to=<alice@mail\.contoso\.com>.*status=sent/.test(t) ? t : undefined;
    }).catch((e: Error) => {
      throw new Error(`${e.message}${diagnostics()}`);
    });
    const c = C.replace(/\./g, "\\.");
    const smtp = /postfix\/smtp\[(\d+)\]: \w+: to=<alice@mail\.contoso\.com>/.exec(log)?.[1];
    assert.match(log, new RegExp(`postfix/smtp\\[${smtp}\\]: Verified TLS connection established to ${c}\\[${c}\\]:${PORT}: TLSv1\\.[23] with cipher`));
    assert.match(log, new RegExp(`postfix/smtp\\[${smtp}\\]: \\w+: to=<alice@mail\\.contoso\\.com>, relay=${c}\\[${c}\\]:${PORT},.*status=sent \\(250 2\\.6\\.0`));
    const recv = await waitUntil("Sealpost's receive log with Woodgrove's certificate", () => {
      const t = protocolLog("SmtpReceive");
      return /CN=mail\.woodgrovebank\.com/.test(t) ? t : undefined;
    }).catch((e: Error) => {
      throw new Error(`${e.message}${diagnostics()}`);
    });
    assert.match(recv, /,\*,,Received certificate/);
  });

  test("(c) Postfix resumes its TLS session after Sealpost reloaded its configuration: still domain-secured", async () => {
    // A configuration change that does not touch trust makes every receive process reload.
    await ok("Set-TransportConfig -TLSReceiveDomainSecureList @{Add='fabrikam.com'}");
    // Postfix keeps an idle SMTP connection for 2 s; wait it out so the next delivery opens a new one and resumes.
    await new Promise((r) => setTimeout(r, 3_000));
    await smtpSend(W, INJECT, "someone@woodgrovebank.com", "alice@mail.contoso.com", "pf2c-resumed");
    const got = await waitUntil("the resumed session's message in alice's Maildir", () => sealpostMaildir("mail.contoso.com", "alice").find((m) => m.includes("Subject: pf2c-resumed")), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}${diagnostics()}`);
    });
    assert.match(headers(got), /Authentication-Results: mail\.contoso\.com; x-domain-secure=pass smtp\.mailfrom=woodgrovebank\.com/);
    // The protocol log is written behind the delivery: wait (with a deadline) for the resumed session's line.
    const resumed = /TLS negotiated TLSv1\.[23] \S+ \(resumed\), client certificate: yes/;
    await waitUntil("the resumed session in the receive protocol log", () => (resumed.test(protocolLog("SmtpReceive")) ? true : undefined), 15_000).catch(() => undefined);
    const recv = protocolLog("SmtpReceive");
    assert.match(recv, resumed, `Postfix did not resume its session:${diagnostics()}`);
    assert.doesNotMatch(recv, /refused \w+: .*woodgrovebank/i, "no partner session was refused");
  });
});
