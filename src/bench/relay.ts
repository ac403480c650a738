// Scenario (d), relay-e2e: end-to-end domain-secured relay between two edge
// servers, Contoso (mail.contoso.com) → Woodgrove (mail.woodgrovebank.com),
// both Sealpost or both Postfix, all on loopback.
//
// The load generator submits to Contoso's submission listener (Sealpost: an
// Internal receive connector; Postfix: smtpd with permit_mynetworks), both
// with STARTTLS and no client certificate asked; Contoso makes each message
// durable (Sealpost: spool fdatasync, then the outbound queue's FULL commit;
// Postfix: cleanup's fsync) and relays it to Woodgrove over mutual TLS,
// verifying Woodgrove's certificate for woodgrovebank.com against the common
// root and presenting its own (mail.contoso.com, contoso.com); Woodgrove
// requires and verifies that client certificate, makes the message durable
// and drops it (Sealpost `--sink discard`, Postfix's discard transport).
//
//   Sealpost: configured with the seed procedure's shell lines
//     (Set-TransportConfig -TLSSendDomainSecureList, Set-SendConnector
//     Internet -DomainSecureEnabled:$True -Port 2525, Set-TransportServer
//     -ExternalDNSServers, New-ReceiveConnector Internal ...); MX records
//     from a loopback DNS server (src/dns/zone-server.ts). Woodgrove has
//     contoso.com in its TLSReceiveDomainSecureList, so every message passes
//     its full inbound check (chain, revocation, name).
//   Postfix: a transport map routes woodgrovebank.com to smtp:[W]:2525 (no
//     DNS), a TLS policy map makes it `secure match=woodgrovebank.com`,
//     smtp_tls_CAfile is the root, smtp_tls_cert_file Contoso's chain;
//     Woodgrove has smtpd_tls_req_ccert = yes with the root as CAfile.
//
// What counts: a message Contoso acknowledged (queue id from its 250) is
// followed through Contoso's records of the relay (Sealpost: the tracking
// log's SEND event; Postfix: smtp's status=sent line) to the queue id
// Woodgrove gave it in its 250, and then to Woodgrove's sink (Sealpost:
// DELIVER in its tracking log; Postfix: discard's status=sent). The time a
// message reached Woodgrove's sink: Sealpost's tracking event carries it to
// the millisecond; Postfix logs whole seconds only, so the benchmark reads
// the maillog every 10 ms and takes the middle of the interval in which the
// line appeared (clamped to the logged second). Throughput: messages in
// Woodgrove's sink / (last arrival − start of the first submission).
// Latency: a message's arrival in Woodgrove's sink − the start of its
// submission transaction.
import path from "node:path";
import { AdminApi } from "../admin/api.js";
import { ZoneServer } from "../dns/zone-server.js";
import { allCmdlets } from "../shell/cmdlets/index.js";
import { Shell, type ShellHost } from "../shell/shell.js";
import { startFsyncCounter } from "./fsyncs.js";
import { percentile, queueIdOf, runLoad, type LoadResult } from "./loadgen.js";
import { CLIENT_NAME, LOCAL_DOMAIN, PARTNER_DOMAIN, SERVER_NAME, type BenchPki } from "./pki.js";
import { setupPostfix, waitListening, type PostfixInstance } from "./postfix.js";
import { machineCpuSeconds, treeCpuSeconds, treeSummary } from "./procstat.js";
import type { RunRecord } from "./report.js";
import { startSealpost, type RunningSealpost } from "./sealpost.js";
import { LogTail } from "./sink.js";

export const RELAY_SCENARIO = "relay-e2e";
export const RELAY_FROM = `bench@${LOCAL_DOMAIN}`;
export const RELAY_TO = `sink@${PARTNER_DOMAIN}`;
/** Woodgrove's host name (its MX target and the name in its certificate). */
export const WOODGROVE_NAME = CLIENT_NAME;
const PORT = 2525;
/** Contoso-Sealpost's Inet connector (the partner's way in; not used by this scenario). */
const CONTOSO_INET_PORT = 2526;
const POLL_MS = 10;

export const randomHost = (): string =>
  `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const epochNow = () => performance.timeOrigin + performance.now();

/** How to read one kind of server's records of a relay. */
export interface RelayPatterns {
  /** Contoso: a message Woodgrove accepted; groups `id` (Contoso's queue id) and `reply` (Woodgrove's 250). */
  sent: RegExp;
  /** Contoso: a temporary or permanent failure of a relay attempt. */
  failed: RegExp;
  /** Woodgrove: a message in its sink; groups `id`, optionally `ts` (ISO time) and `session`. */
  sink: RegExp;
  /** Woodgrove: a new inbound session (when the sink lines do not name theirs). */
  session?: RegExp;
  /** Woodgrove: the sink line says the message was received domain-secured. */
  secured?: RegExp;
}

export const SEALPOST_RELAY: RelayPatterns = {
  sent: /"eventId":"SEND".*?"internalId":"(?<id>[0-9a-f]+)".*"detail":"(?<reply>(?:[^"\\]|\\.)*)"/,
  failed: /"eventId":"(?:DEFER|FAIL)"/,
  sink: /^\{"timestamp":"(?<ts>[^"]+)","eventId":"DELIVER".*?"internalId":"(?<id>[0-9a-f]+)".*?"sessionId":"(?<session>[^"]*)"/,
  secured: /"domainSecure":\{"verdict":"domain-secured"/,
};

export const POSTFIX_RELAY: RelayPatterns = {
  sent: /postfix\/smtp\[\d+\]: (?<id>[0-9A-Za-z]+): to=.*status=sent \((?<reply>.*)\)$/,
  failed: /postfix\/smtp\[\d+\]: [0-9A-Za-z]+: to=.*status=(?:deferred|bounced)/,
  sink: /postfix\/discard\[\d+\]: (?<id>[0-9A-Za-z]+): to=.*status=sent/,
  session: /postfix\/smtpd\[\d+\]: connect from/,
};

/** "Nov 29 09:24:40" at the start of a maillog line → epoch ms of that second (local time), near `near`. */
export function syslogSecond(line: string, near: number): number | undefined {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) /.exec(line);
  if (!m) return undefined;
  const year = new Date(near).getFullYear();
  for (const y of [year, year - 1, year + 1]) {
    const t = new Date(`${m[1]} ${m[2]} ${y} ${m[3]}:${m[4]}:${m[5]}`).getTime();
    if (Number.isFinite(t) && Math.abs(t - near) < 86_400_000) return t;
  }
  return undefined;
}

/**
 * Follows relayed messages from Contoso's records to Woodgrove's sink, reading
 * only what the logs gained since the last poll.
 */
export class RelayTracker {
  private readonly up: LogTail;
  private readonly down: LogTail;
  /** Contoso's queue id → Woodgrove's. */
  readonly next = new Map<string, string>();
  /** Woodgrove's queue id → when it reached the sink (epoch ms). */
  readonly arrived = new Map<string, number>();
  private readonly sessionIds = new Set<string>();
  private sessionLines = 0;
  failed = 0;
  secured = 0;
  /** Sink lines seen (a message delivered twice counts twice). */
  delivered = 0;
  private lastRead = epochNow();

  constructor(
    contosoLogs: string,
    woodgroveLogs: string,
    private readonly p: RelayPatterns,
    fileFilter: (name: string) => boolean = () => true,
  ) {
    // Sealpost's tracking folder gains a file per worker and on rotation: listed again every second.
    this.up = new LogTail(contosoLogs, fileFilter, 1000);
    this.down = new LogTail(woodgroveLogs, fileFilter, 1000);
  }

  static sealpost(contosoDir: string, woodgroveDir: string): RelayTracker {
    return new RelayTracker(path.join(contosoDir, "logs", "tracking"), path.join(woodgroveDir, "logs", "tracking"), SEALPOST_RELAY, (n) => n.startsWith("MSGTRK"));
  }

  static postfix(contosoMaillog: string, woodgroveMaillog: string): RelayTracker {
    return new RelayTracker(contosoMaillog, woodgroveMaillog, POSTFIX_RELAY);
  }

  /** Woodgrove's inbound sessions seen so far. */
  get sessions(): number {
    return this.sessionIds.size + this.sessionLines;
  }

  poll(): void {
    // A line first seen now was written after the previous read and before this one.
    const now = epochNow();
    const estimate = (this.lastRead + now) / 2;
    this.lastRead = now;
    this.down.poll((line) => {
      if (this.p.session?.test(line)) this.sessionLines++;
      const m = this.p.sink.exec(line);
      const id = m?.groups?.id;
      if (!m || !id) return;
      this.delivered++;
      let at: number;
      const ts = m.groups?.ts;
      if (ts !== undefined) at = Date.parse(ts);
      else {
        const sec = syslogSecond(line, estimate);
        at = sec === undefined ? estimate : Math.min(Math.max(estimate, sec), sec + 999);
      }
      if (!this.arrived.has(id)) this.arrived.set(id, at);
      const session = m.groups?.session;
      if (session) this.sessionIds.add(session);
      if (this.p.secured?.test(line)) this.secured++;
    });
    this.up.poll((line) => {
      if (this.p.failed.test(line)) this.failed++;
      const m = this.p.sent.exec(line);
      const id = m?.groups?.id;
      const downstream = queueIdOf(m?.groups?.reply ?? "");
      if (id && downstream) this.next.set(id, downstream);
    });
  }

  /** When the message Contoso acknowledged as `id` reached Woodgrove's sink, if it did. */
  arrival(id: string): number | undefined {
    const w = this.next.get(id);
    return w === undefined ? undefined : this.arrived.get(w);
  }
}

/** Two servers set up for the relay: where to submit, their process trees, their records. */
export interface RelayPair {
  name: string;
  submitHost: string;
  /** Contoso's and Woodgrove's process tree roots. */
  pids(): [number, number];
  tracker: RelayTracker;
  /** Whether Woodgrove's records show Domain Security per message (Sealpost's tracking log). */
  securedPerMessage: boolean;
  describe(): string;
  stop(): Promise<void>;
}

function shellHost(api: AdminApi): ShellHost {
  const none = () => Promise.reject(new Error("the benchmark's shell lines read nothing"));
  return { api, cwd: process.cwd(), env: process.env, readSecret: none, readLine: none };
}

/** Runs management shell lines in this process, as `sealpost shell -c` would. */
async function shell(api: AdminApi, lines: string[]): Promise<void> {
  const sh = new Shell(shellHost(api), allCmdlets());
  for (const line of lines) {
    try {
      await sh.runLine(line);
    } catch (e) {
      throw new Error(`${line}: ${(e as Error).message}`);
    }
  }
}

/** Contoso's edge: submission on an Internal connector, woodgrovebank.com domain-secured over the Internet send connector. */
export async function configureContoso(dir: string, pki: BenchPki, host: string, dnsServer: string): Promise<void> {
  const api = await AdminApi.openWithDefaults(dir);
  try {
    await api.setServerName(SERVER_NAME);
    await api.trust.add("root", Buffer.from(pki.root.certPem));
    await api.trust.add("intermediate", Buffer.from(pki.partnerCa.certPem));
    // The bench PKI's CRLs are on loopback, which the outbound fetch policy refuses unless allowed.
    api.transportServer.set({ outboundFetchAllowedRanges: { replace: ["127.0.0.1"] }, outboundFetchAllowedPorts: { replace: [new URL(pki.crlBase).port] } });
    const view = await api.certificates.importCertificate({ data: pki.orgCa.pfx(pki.contosoEdge, "bench", { withChain: true }), password: "bench" });
    await api.certificates.enableCertificate(view.Thumbprint, "SMTP");
    await shell(api, [
      "Set-TransportConfig -UseSystemTrustStore $false",
      `New-AcceptedDomain -DomainName ${LOCAL_DOMAIN}`,
      `Set-ReceiveConnector Inet -Bindings ${host}:${CONTOSO_INET_PORT}`,
      `New-ReceiveConnector Internal -Usage Internal -Bindings ${host}:${PORT} -RemoteIPRanges 127.0.0.0/8`,
      // The seed's procedure 3.
      `Set-TransportConfig -TLSSendDomainSecureList ${PARTNER_DOMAIN}`,
      "Set-SendConnector Internet -DomainSecureEnabled:$True",
      `Set-SendConnector Internet -Port ${PORT}`,
      `Set-TransportServer ${SERVER_NAME} -ExternalDNSServers ${dnsServer}`,
    ]);
  } finally {
    await api.close();
  }
}

/** Woodgrove's edge: contoso.com in the receive list, Inet with Domain Security. */
export async function configureWoodgrove(dir: string, pki: BenchPki, host: string): Promise<void> {
  const api = await AdminApi.openWithDefaults(dir);
  try {
    await api.setServerName(WOODGROVE_NAME);
    await api.trust.add("root", Buffer.from(pki.root.certPem));
    await api.trust.add("intermediate", Buffer.from(pki.orgCa.certPem));
    // The bench PKI's CRLs are on loopback, which the outbound fetch policy refuses unless allowed.
    api.transportServer.set({ outboundFetchAllowedRanges: { replace: ["127.0.0.1"] }, outboundFetchAllowedPorts: { replace: [new URL(pki.crlBase).port] } });
    const view = await api.certificates.importCertificate({ data: pki.partnerCa.pfx(pki.client, "bench", { withChain: true }), password: "bench" });
    await api.certificates.enableCertificate(view.Thumbprint, "SMTP");
    await shell(api, [
      "Set-TransportConfig -UseSystemTrustStore $false",
      `New-AcceptedDomain -DomainName ${PARTNER_DOMAIN}`,
      `New-Mailbox -PrimarySmtpAddress ${RELAY_TO}`,
      `Set-TransportConfig -TLSReceiveDomainSecureList ${LOCAL_DOMAIN}`,
      `Set-ReceiveConnector Inet -Bindings ${host}:${PORT} -DomainSecureEnabled:$true -AuthMechanism TLS`,
    ]);
  } finally {
    await api.close();
  }
}

export interface SealpostRelayOptions {
  name: string;
  workers: number;
  env?: Record<string, string>;
  nodeArgs?: string[];
}

/** Two `sealpost serve` processes and the DNS server with Woodgrove's MX. */
export async function startSealpostRelay(work: string, pki: BenchPki, o: SealpostRelayOptions): Promise<RelayPair> {
  const cHost = randomHost();
  let wHost = randomHost();
  while (wHost === cHost) wHost = randomHost();
  const dns = await ZoneServer.start({ host: "127.0.0.1", port: 0 });
  const started: RunningSealpost[] = [];
  try {
    dns.set(PARTNER_DOMAIN, "MX", [{ preference: 10, exchange: WOODGROVE_NAME }]);
    dns.set(WOODGROVE_NAME, "A", [wHost]);
    const cDir = path.join(work, `${o.name}-contoso`);
    const wDir = path.join(work, `${o.name}-woodgrove`);
    await configureContoso(cDir, pki, cHost, dns.address);
    await configureWoodgrove(wDir, pki, wHost);
    const common = { workers: o.workers, env: o.env ?? {}, nodeArgs: o.nodeArgs ?? [] };
    // Contoso keeps the Maildir sink (it has no local mail here; discard would change nothing it does); Woodgrove discards like the other scenarios.
    const results = await Promise.allSettled([startSealpost(cDir, { ...common, sink: "maildir" }), startSealpost(wDir, { ...common, sink: "discard" })]);
    for (const r of results) if (r.status === "fulfilled") started.push(r.value);
    for (const r of results) if (r.status === "rejected") throw r.reason;
    const [c, w] = started as [RunningSealpost, RunningSealpost];
    await Promise.all([waitListening(cHost, PORT), waitListening(wHost, PORT)]);
    return {
      name: o.name,
      submitHost: cHost,
      pids: () => [c.pid, w.pid],
      tracker: RelayTracker.sealpost(cDir, wDir),
      securedPerMessage: true,
      describe: () =>
        `${o.name} relay: Contoso ${cHost}:${PORT} (Internal connector; Internet send connector DomainSecureEnabled, MX from DNS ${dns.address}) [${treeSummary(c.pid)}] → ` +
        `Woodgrove ${wHost}:${PORT} (Inet, DomainSecureEnabled, sink discard) [${treeSummary(w.pid)}], ${o.workers === 0 ? "one process" : `${o.workers} worker(s)`} each`,
      stop: async () => {
        await Promise.all(started.splice(0).map((s) => s.stop()));
        await dns.close();
      },
    };
  } catch (e) {
    await Promise.all(started.map((s) => s.stop()));
    await dns.close();
    throw e;
  }
}

export interface PostfixRelayOptions {
  /** smtp_tls_connection_reuse = yes (through tlsproxy): several deliveries per TLS connection. */
  reuse: boolean;
}

/** Two private Postfix instances, configured but not started: `start()` starts both, `pair.stop()` stops them. */
export function setupPostfixRelay(work: string, pki: BenchPki, o: PostfixRelayOptions): { contoso: PostfixInstance; woodgrove: PostfixInstance; pair: RelayPair; start(): Promise<void> } {
  const cHost = randomHost();
  let wHost = randomHost();
  while (wHost === cHost) wHost = randomHost();
  const woodgrove = setupPostfix(work, pki, wHost, PORT, {
    name: "postfix-woodgrove",
    hostname: WOODGROVE_NAME,
    domain: PARTNER_DOMAIN,
    certChainPem: pki.clientChainPem,
    keyPem: pki.client.keyPem as string,
  });
  const next = `[${wHost}]:${PORT}`;
  const contoso = setupPostfix(work, pki, cHost, PORT, {
    name: "postfix-contoso",
    hostname: SERVER_NAME,
    domain: LOCAL_DOMAIN,
    certChainPem: pki.contosoEdgeChainPem,
    keyPem: pki.contosoEdge.keyPem as string,
    files: {
      transport: `${PARTNER_DOMAIN} smtp:${next}\n`,
      tls_policy: `${next} secure match=${PARTNER_DOMAIN}\n`,
    },
    main: (p) => ({
      // Submission from the load generator: STARTTLS, no client certificate asked, relay for mynetworks.
      smtpd_tls_ask_ccert: "no",
      smtpd_tls_req_ccert: "no",
      smtpd_recipient_restrictions: "permit_mynetworks, reject",
      smtpd_relay_restrictions: "permit_mynetworks, reject",
      default_transport: "smtp",
      relay_transport: "smtp",
      transport_maps: `texthash:${path.join(p.conf, "transport")}`,
      // Mutual TLS to Woodgrove: its certificate verified against the root and for woodgrovebank.com; ours presented.
      smtp_tls_security_level: "secure",
      smtp_tls_policy_maps: `texthash:${path.join(p.conf, "tls_policy")}`,
      smtp_tls_CAfile: path.join(p.tls, "ca.pem"),
      smtp_tls_cert_file: path.join(p.tls, "server.pem"),
      smtp_tls_key_file: path.join(p.tls, "server.key"),
      // Debian's main.cf: resumption of the client's TLS sessions.
      smtp_tls_session_cache_database: `btree:${path.join(p.data, "smtp_scache")}`,
      smtp_tls_loglevel: "0",
      ...(o.reuse ? { smtp_tls_connection_reuse: "yes" } : {}),
    }),
    services: [["smtp", "unix", "-", "-", "-", "-", "smtp"], ...(o.reuse ? [["tlsproxy", "unix", "-", "-", "-", "0", "tlsproxy"] as [string, string, string, string, string, string, string]] : [])],
  });
  let running = false;
  return {
    contoso,
    woodgrove,
    async start() {
      woodgrove.start();
      try {
        contoso.start();
      } catch (e) {
        woodgrove.stop();
        throw e;
      }
      // From here pair.stop() stops both, also when they never start listening.
      running = true;
      await Promise.all([waitListening(cHost, PORT), waitListening(wHost, PORT)]);
    },
    pair: {
      name: "postfix",
      submitHost: cHost,
      pids: () => [contoso.masterPid(), woodgrove.masterPid()],
      tracker: RelayTracker.postfix(contoso.maillog, woodgrove.maillog),
      securedPerMessage: false,
      describe: () =>
        `postfix relay: Contoso ${cHost}:${PORT} (transport ${PARTNER_DOMAIN} → smtp:${next}, ${next} secure match=${PARTNER_DOMAIN}, client certificate, ` +
        `smtp_tls_connection_reuse ${o.reuse ? "yes" : "no"}) [${treeSummary(contoso.masterPid())}] → Woodgrove ${wHost}:${PORT} (smtpd_tls_req_ccert, discard) [${treeSummary(woodgrove.masterPid())}]`,
      stop: async () => {
        if (!running) return;
        running = false;
        try {
          contoso.stop();
        } finally {
          woodgrove.stop();
        }
      },
    },
  };
}

export interface RelayScenario {
  name: string;
  connections: number;
  perConnection: number;
}

export interface RelayLoad {
  pki: BenchPki;
  size: number;
  /** How long to wait for the last message to reach Woodgrove after the submissions, ms. */
  drainTimeoutMs: number;
}

/** One measured run: submissions to Contoso, then wait until Woodgrove's sink has every acknowledged message. */
export async function measureRelay(l: RelayLoad, pair: RelayPair, s: RelayScenario, total: number, countFsyncs = false): Promise<RunRecord> {
  const fsyncs = countFsyncs ? await startFsyncCounter() : undefined;
  const pids = pair.pids();
  const cpu0 = pids.map(treeCpuSeconds);
  const m0 = machineCpuSeconds();
  const self0 = process.cpuUsage();
  const tr = pair.tracker;
  tr.poll();
  const sessions0 = tr.sessions;
  const failed0 = tr.failed;
  const secured0 = tr.secured;
  const delivered0 = tr.delivered;
  const w0 = performance.now();
  const poller = setInterval(() => tr.poll(), POLL_MS);
  let load: LoadResult;
  try {
    load = await runLoad({
      host: pair.submitHost,
      port: PORT,
      servername: SERVER_NAME,
      ehlo: "hub.contoso.com",
      key: l.pki.client.keyPem as string,
      cert: l.pki.clientChainPem,
      connections: s.connections,
      perConnection: s.perConnection,
      total,
      size: l.size,
      resume: false,
      mailFrom: RELAY_FROM,
      rcptTo: RELAY_TO,
    });
  } finally {
    clearInterval(poller);
  }
  const pending = new Set(load.ids);
  const deadline = performance.now() + l.drainTimeoutMs;
  for (;;) {
    tr.poll();
    for (const id of pending) if (tr.arrival(id) !== undefined) pending.delete(id);
    if (pending.size === 0 || performance.now() > deadline) break;
    await sleep(POLL_MS);
  }
  const cpuS = pids.map((p, i) => treeCpuSeconds(p) - (cpu0[i] as number));
  const serverCpuS = cpuS.reduce((a, b) => a + b, 0);
  const self = process.cpuUsage(self0);
  const m1 = machineCpuSeconds();
  const wall = (performance.now() - w0) / 1000;
  const syncs = await fsyncs?.stop();

  const t0 = performance.timeOrigin + load.t0;
  const e2e: number[] = [];
  let last = t0;
  load.ids.forEach((id, i) => {
    const at = tr.arrival(id);
    if (at === undefined) return;
    e2e.push(at - (performance.timeOrigin + (load.starts[i] as number)));
    last = Math.max(last, at);
  });
  e2e.sort((a, b) => a - b);
  const otherCores = Math.max(0, m1.busy - m0.busy - serverCpuS - (self.user + self.system) / 1e6) / wall;
  return {
    scenario: s.name,
    server: pair.name,
    // The table's msg/s and latencies are end to end: until the message was in Woodgrove's sink.
    load: { ...load, elapsedMs: Math.max(last - t0, load.elapsedMs), latencyP50: percentile(e2e, 50), latencyP99: percentile(e2e, 99) },
    inSink: e2e.length,
    serverCpuS,
    otherCores,
    stealCores: (m1.steal - m0.steal) / wall,
    ...(syncs !== undefined ? { fsyncs: syncs } : {}),
    relay: {
      submitMs: load.elapsedMs,
      submitP50: load.latencyP50,
      submitP99: load.latencyP99,
      sessions: tr.sessions - sessions0,
      failed: tr.failed - failed0,
      // Deliveries into Woodgrove's sink beyond one per acknowledged message: the same message relayed twice.
      duplicates: Math.max(0, tr.delivered - delivered0 - e2e.length),
      ...(pair.securedPerMessage ? { secured: tr.secured - secured0 } : {}),
      contosoCpuS: cpuS[0] as number,
      woodgroveCpuS: cpuS[1] as number,
    },
  };
}
