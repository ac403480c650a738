// Postfix under test: Debian's package, run as a private instance whose
// config_directory, queue_directory and data_directory live in the
// benchmark's work folder (`postfix -c DIR start|stop`). The system's
// /etc/postfix is never read for settings nor written.
//
// Equivalent to Sealpost's setup: smtpd on HOST:2525 only,
// smtpd_tls_security_level = encrypt, smtpd_tls_req_ccert = yes (a client
// certificate that verifies against the same root), the same ECDSA P-256
// server certificate and chain, its durable queue (cleanup fsyncs each
// queue file before the 250), and every recipient delivered by the discard
// transport, i.e. dropped right after the queue.
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { LOCAL_DOMAIN, SERVER_NAME, type BenchPki } from "./pki.js";

const POSTFIX = "/usr/sbin/postfix";

function run(args: string[]): string {
  const r = spawnSync(POSTFIX, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`postfix ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stdout}${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** Installs Debian's postfix when it is missing (without configuring the system instance). */
export function ensurePostfix(log: (l: string) => void): string {
  if (!existsSync(POSTFIX)) {
    if (process.getuid?.() !== 0) throw new Error("Postfix is not installed and installing it needs root: run `apt-get install -y postfix` (choose 'No configuration'), or use --smoke.");
    log("installing Debian's postfix package (apt-get install -y postfix, 'No configuration') ...");
    execFileSync("sh", ["-c", "echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections"]);
    const r = spawnSync("apt-get", ["install", "-y", "postfix"], { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    if (r.status !== 0 || !existsSync(POSTFIX)) {
      throw new Error(`could not install postfix (apt-get install -y postfix exited ${r.status}); run 'apt-get update' first or install it yourself:\n${(r.stderr ?? "").slice(-2000)}`);
    }
  }
  return spawnSync("/usr/sbin/postconf", ["-d", "-h", "mail_version"], { encoding: "utf8" }).stdout.trim();
}

/** One master.cf service: name, type, private, unprivileged, wakeup, process limit, command (chroot is always n). */
export type MasterService = [name: string, type: string, priv: string, unpriv: string, wakeup: string, limit: string, cmd: string];

export function masterServiceLine(...[name, type, priv, unpriv, wakeup, limit, cmd]: MasterService): string {
  return `${name.padEnd(18)} ${type.padEnd(10)} ${priv} ${unpriv} n ${wakeup.padEnd(6)} ${limit.padEnd(4)} ${cmd}`;
}

/** The services every private instance needs (without chroot), besides its listeners and delivery transports. */
export const POSTFIX_CORE_SERVICES: MasterService[] = [
  ["pickup", "unix", "n", "-", "60", "1", "pickup"],
  ["cleanup", "unix", "n", "-", "-", "0", "cleanup"],
  ["qmgr", "unix", "n", "-", "300", "1", "qmgr"],
  ["tlsmgr", "unix", "-", "-", "1000?", "1", "tlsmgr"],
  ["rewrite", "unix", "-", "-", "-", "-", "trivial-rewrite"],
  ["bounce", "unix", "-", "-", "-", "0", "bounce"],
  ["defer", "unix", "-", "-", "-", "0", "bounce"],
  ["trace", "unix", "-", "-", "-", "0", "bounce"],
  ["verify", "unix", "-", "-", "-", "1", "verify"],
  ["flush", "unix", "n", "-", "1000?", "0", "flush"],
  ["proxymap", "unix", "-", "-", "-", "-", "proxymap"],
  ["showq", "unix", "n", "-", "-", "-", "showq"],
  ["error", "unix", "-", "-", "-", "-", "error"],
  ["retry", "unix", "-", "-", "-", "-", "error"],
  ["discard", "unix", "-", "-", "-", "-", "discard"],
  ["anvil", "unix", "-", "-", "-", "1", "anvil"],
  ["scache", "unix", "-", "-", "-", "1", "scache"],
  ["postlog", "unix-dgram", "n", "-", "-", "1", "postlogd"],
];

export interface PostfixInstance {
  dir: string;
  maillog: string;
  host: string;
  port: number;
  start(): void;
  stop(): void;
  masterPid(): number;
}

/** Where an instance keeps its files (for settings that name them). */
export interface PostfixPaths {
  dir: string;
  conf: string;
  queue: string;
  data: string;
  tls: string;
}

/** Another instance than the inbound scenarios' one (the relay scenario runs two). */
export interface PostfixOptions {
  /** Its folder in the work folder (default "postfix"). */
  name?: string;
  /** myhostname (default mail.contoso.com). */
  hostname?: string;
  /** mydomain and mydestination (default contoso.com). */
  domain?: string;
  /** The certificate chain (PEM, leaf first) and key smtpd (and smtp) present: default mail.contoso.com's. */
  certChainPem?: string;
  keyPem?: string;
  /** main.cf settings that replace the defaults below (same name) or are added after them. */
  main?: (p: PostfixPaths) => Record<string, string>;
  /** More master.cf services: [name, type, private, unpriv, wakeup, maxproc, command]. */
  services?: Array<[string, string, string, string, string, string, string]>;
  /** Files written into the config folder (texthash: tables), name → content. */
  files?: Record<string, string>;
}

export function setupPostfix(work: string, pki: BenchPki, host: string, port: number, o: PostfixOptions = {}): PostfixInstance {
  const dir = path.join(work, o.name ?? "postfix");
  const conf = path.join(dir, "conf");
  const queue = path.join(dir, "queue");
  const data = path.join(dir, "data");
  const tlsDir = path.join(dir, "tls");
  for (const d of [conf, queue, data, tlsDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  // tlsmgr and the master's lock file live in data_directory, owned by the mail_owner.
  const pw = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postfix:"))?.split(":");
  if (!pw) throw new Error("the postfix user does not exist (is the package installed?)");
  chownSync(data, Number(pw[2]), Number(pw[3]));
  writeFileSync(path.join(tlsDir, "ca.pem"), pki.root.certPem);
  writeFileSync(path.join(tlsDir, "server.pem"), o.certChainPem ?? pki.serverChainPem);
  writeFileSync(path.join(tlsDir, "server.key"), o.keyPem ?? (pki.server.keyPem as string), { mode: 0o600 });
  for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(path.join(conf, name), text);
  const hostname = o.hostname ?? SERVER_NAME;
  const domain = o.domain ?? LOCAL_DOMAIN;
  const maillog = path.join(dir, "maillog");
  let mainCf = `# Written by the Sealpost benchmark (src/bench/postfix.ts).
compatibility_level = 3.6
queue_directory = ${queue}
data_directory = ${data}
maillog_file = ${maillog}
maillog_file_prefixes = ${dir}
# The smtpd listener is bound to ${host}:${port} in master.cf; inet_interfaces
# must name a configured interface address, so it is loopback's 127.0.0.1.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = ${hostname}
mydomain = ${domain}
mydestination = ${domain}
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
biff = no
enable_long_queue_ids = yes
# Every delivery goes to the discard transport: dropped after the durable queue.
local_transport = discard
default_transport = discard
relay_transport = discard
smtpd_recipient_restrictions = permit_tls_all_clientcerts, permit_mynetworks, reject
smtpd_relay_restrictions = permit_tls_all_clientcerts, permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 200
smtpd_timeout = 300s
# Mutual TLS: required, with a client certificate that verifies against the benchmark's root.
smtpd_tls_security_level = encrypt
smtpd_tls_ask_ccert = yes
smtpd_tls_req_ccert = yes
smtpd_tls_CAfile = ${path.join(tlsDir, "ca.pem")}
smtpd_tls_cert_file = ${path.join(tlsDir, "server.pem")}
smtpd_tls_key_file = ${path.join(tlsDir, "server.key")}
# Resumption by TLS 1.3 session tickets (tlsmgr's keys, shared by every smtpd).
# No smtpd_tls_session_cache_database: Debian's sample main.cf sets one, but it
# serves only clients without tickets and costs an fsync per new session;
# leaving it out does not handicap Postfix (measured: 1/conn about 4 % faster).
smtpd_tls_session_cache_timeout = 3600s
smtpd_tls_loglevel = 0
`;
  // Overrides replace the line of the same setting (Postfix would take the last one, with a warning); the rest is appended.
  const extra: string[] = [];
  for (const [k, v] of Object.entries(o.main?.({ dir, conf, queue, data, tls: tlsDir }) ?? {})) {
    const re = new RegExp(`^${k} = .*$`, "m");
    if (re.test(mainCf)) mainCf = mainCf.replace(re, () => `${k} = ${v}`);
    else extra.push(`${k} = ${v}`);
  }
  if (extra.length > 0) mainCf += `# Settings of this instance (src/bench/relay.ts).\n${extra.join("\n")}\n`;
  writeFileSync(path.join(conf, "main.cf"), mainCf);
  const svc = masterServiceLine;
  writeFileSync(
    path.join(conf, "master.cf"),
    [
      "# Written by the Sealpost benchmark: no chroot, only the services this test needs.",
      svc(`${host}:${port}`, "inet", "n", "-", "-", "-", "smtpd"),
      ...POSTFIX_CORE_SERVICES.map((x) => masterServiceLine(...x)),
      ...(o.services ?? []).map((x) => svc(...x)),
      "",
    ].join("\n"),
  );
  const pidFile = path.join(queue, "pid", "master.pid");
  return {
    dir,
    maillog,
    host,
    port,
    start() {
      run(["-c", conf, "check"]);
      run(["-c", conf, "start"]);
    },
    stop() {
      if (existsSync(pidFile)) run(["-c", conf, "stop"]);
    },
    masterPid() {
      return Number(readFileSync(pidFile, "utf8").trim());
    },
  };
}

/** Waits until something accepts TCP connections on host:port. */
export async function waitListening(host: string, port: number, timeoutMs = 20_000): Promise<void> {
  const net = await import("node:net");
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
