// Process layout of `sealpost serve`: a primary that owns the admin endpoint,
// crash recovery of the spool and worker supervision, and N workers (default
// one per core) that run the receive path. Node 20 has no reusePort, so the
// cluster module shares each listening socket (every worker accepts on it). Workers share one set of TLS
// ticket keys so a partner resumes its session whichever worker it reaches.
import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import os from "node:os";
import client from "prom-client";
import type { AdminApi } from "../admin/api.js";
import { startAdminHttp, type AdminHttp, type LoopbackAddress } from "../admin/http.js";
import type { LocalSink } from "../delivery/local.js";
import { ERROR_CODES, SealpostError, isSealpostError, type ErrorCode } from "../errors/errors.js";
import type { MessageTracking } from "../protolog/tracking.js";
import { primaryRegistry, serverMetrics, setCertificateSource } from "../metrics/counters.js";
import { countOutboundSessions } from "../metrics/outbound-sessions.js";
import { createLogger, LOG_FORMAT_ENV, resolveLogFormat, resolveLogLevel, type Logger } from "../log/logger.js";
import type { OutboundManager } from "../outbound/manager.js";
import type { ProtocolLog } from "../protolog/protocol-log.js";
import type { OutboundStore } from "../queue/outbound-store.js";
import { sendServices, serverStores } from "../main/services.js";
import { EdgeProcess } from "./edge.js";
import { SpoolRecovery } from "./recovery.js";

export interface ServeOptions {
  dataDir: string;
  admin: LoopbackAddress;
  /** HTTPS for the admin endpoint (required off loopback: see adminapi/binding.ts), and the names its Host header may carry. */
  adminTls?: { key: string; cert: string };
  adminHosts?: string[];
  /** 0: everything in this one process. */
  workers: number;
  /** Local deliveries: the Maildir (default) or "discard" (benchmarks). */
  sink?: LocalSink;
  /** The application log (src/log/logger.ts); parts that take a plain `(line) => void` get `logger.line`. */
  logger: Logger;
  /** The longest a stop may take (default 30 s): workers still running shortly before it are killed. */
  shutdownTimeoutMs?: number;
}

const TICKET_ENV = "SEALPOST_TICKET_KEYS";
const SINK_ENV = "SEALPOST_SINK";
const SHUTDOWN_ENV = "SEALPOST_SHUTDOWN_TIMEOUT_MS";
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * Restarts of a worker that exited: the first at once (a crash, a kill -9:
 * serve again now), then after 1 s, doubling up to 60 s while it keeps
 * exiting; a worker that served for 30 s resets its slot. Postfix's master
 * throttles a failing service the same way (60 s).
 */
export const RESTART_BACKOFF = { firstMs: 1000, maxMs: 60_000, stableMs: 30_000 };

/** The delay before the next start of a worker whose slot has `failures` quick exits before this one. */
export function restartDelay(failures: number, b = RESTART_BACKOFF): number {
  if (failures <= 0) return 0;
  return Math.min(b.maxMs, b.firstMs * 2 ** Math.min(failures - 1, 30));
}

/** One of the N worker places the primary keeps filled. */
interface Slot {
  worker?: Worker | undefined;
  readyAt?: number | undefined;
  everReady: boolean;
  /** Exits in a row without having served RESTART_BACKOFF.stableMs. */
  failures: number;
  timer?: NodeJS.Timeout | undefined;
}

/** Thrown inside start() when stop() was called meanwhile. */
class Stopped extends Error {}

/**
 * The primary of `sealpost serve`. start() may fail (a binding in use: the
 * server stops, exit status 1); stop() may be called at any moment — while
 * starting, while workers crash, or after start — and always ends every
 * worker (SIGTERM, then SIGKILL shortly before the shutdown timeout).
 */
export class Primary {
  private readonly logger: Logger;
  private readonly shutdownMs: number;
  private readonly ticketKeys = randomBytes(48);
  private outbound?: OutboundStore;
  private tracking?: MessageTracking;
  private sendLog?: ProtocolLog;
  private manager?: OutboundManager;
  private recovery?: SpoolRecovery;
  private edge?: EdgeProcess;
  private http?: AdminHttp;
  private aggregator?: client.AggregatorRegistry<client.PrometheusContentType>;
  private readonly slots: Slot[] = [];
  private readonly slotOf = new Map<number, Slot>();
  /** Every worker process not yet exited, with a promise of its exit. */
  private readonly live = new Map<Worker, Promise<void>>();
  private startup?: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private failedAtStart = false;
  private stopping = false;
  private starting?: Promise<void>;
  private stopped?: Promise<void>;
  private stopRequested!: () => void;
  private readonly stopRequest = new Promise<void>((r) => (this.stopRequested = r));

  constructor(
    private readonly api: AdminApi,
    private readonly opts: ServeOptions,
  ) {
    this.logger = opts.logger;
    this.shutdownMs = opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  }

  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private bail(): void {
    if (this.stopping) throw new Stopped("stopped while starting");
  }

  private async doStart(): Promise<void> {
    const { api, opts, logger } = this;
    const root = api.ctx.dir.root;
    const stores = serverStores(api.ctx);
    const { outbound, tracking } = stores;
    this.outbound = outbound;
    this.tracking = tracking;
    this.recovery = new SpoolRecovery({
      root,
      serverName: api.serverName,
      tracking,
      outbound,
      ...(opts.sink ? { sink: opts.sink } : {}),
      onQueued: () => this.manager?.nudge(),
      log: logger.line,
    });
    // Delivers (in the background) what a previous run acknowledged but did not finish.
    await this.recovery.recover({ cause: "restart" });
    this.bail();
    // /metrics: every certificate's days to expiry, read from the store at scrape time; outbound sessions by result.
    setCertificateSource(() => api.ctx.certs.list(), () => api.ctx.now());
    countOutboundSessions();
    // The outbound queue manager runs here, once per server, whatever the number of workers.
    const send = sendServices(api.ctx, stores, { log: logger.line });
    this.sendLog = send.sendLog;
    this.manager = send.manager;
    this.manager.start();
    if (opts.workers === 0) {
      const manager = this.manager;
      this.edge = new EdgeProcess({ dataDir: opts.dataDir, ticketKeys: this.ticketKeys, onQueued: () => manager.nudge(), ...(opts.sink ? { sink: opts.sink } : {}), log: logger.line });
      await this.edge.start();
    } else {
      await this.startWorkers();
    }
    this.bail();
    const aggregator = this.aggregator;
    this.http = await startAdminHttp(api, opts.admin, {
      ...(opts.adminTls ? { tls: opts.adminTls } : {}),
      ...(opts.adminHosts ? { hostNames: opts.adminHosts } : {}),
      log: (m) => logger.warn(m),
      metrics: async () => `${aggregator ? await aggregator.clusterMetrics() : await client.register.metrics()}\n${await primaryRegistry.metrics()}`,
    });
    this.bail();
    // The first-start token is not printed: the log says where it is (it belongs to the built-in local-admin).
    if (this.http.newToken) logger.info(`Admin API token created for local-admin: read it from ${this.http.tokenFile} (mode 0600)`, { local_admin_file: this.http.tokenFile });
    const listening = this.edge ? this.edge.addresses().map((a) => a.binding).join(", ") : "(workers)";
    logger.info(`Sealpost ${api.serverName}: data ${root}, SMTP ${listening}, admin API ${this.http.origin}, ${opts.workers === 0 ? "single process" : `${opts.workers} worker(s)`}${opts.sink === "discard" ? ", local deliveries DISCARDED (--sink discard)" : ""}`, {
      server: api.serverName,
      admin_api: this.http.origin,
      workers: opts.workers,
    });
  }

  private async startWorkers(): Promise<void> {
    this.aggregator = new client.AggregatorRegistry<client.PrometheusContentType>();
    // Workers accept on the shared listening socket themselves (SCHED_NONE)
    // rather than the primary accepting and handing each connection over
    // (round robin, Node's default): measured 7-11 % more sessions a second
    // with one message per connection (docs/performance.md). Node reads
    // NODE_CLUSTER_SCHED_POLICY ("rr" / "none"), which still wins when set.
    if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: process.argv[1] as string, args: process.argv.slice(2) });
    cluster.on("message", (w, msg: { type?: string; error?: string; code?: string }) => this.onMessage(w, msg));
    cluster.on("exit", (w, code, signal) => this.onExit(w, code, signal));
    const ready = new Promise<void>((resolve, reject) => (this.startup = { resolve, reject }));
    for (let i = 0; i < this.opts.workers; i++) {
      const slot: Slot = { everReady: false, failures: 0 };
      this.slots.push(slot);
      this.fork(slot);
    }
    try {
      await Promise.race([ready, this.stopRequest]);
    } finally {
      this.startup = undefined;
    }
  }

  private fork(slot: Slot): void {
    slot.timer = undefined;
    if (this.stopping) return;
    const w = cluster.fork({
      [TICKET_ENV]: this.ticketKeys.toString("hex"),
      SEALPOST_WORKER: "1",
      [LOG_FORMAT_ENV]: this.logger.format,
      [SHUTDOWN_ENV]: String(this.shutdownMs),
      ...(this.opts.sink ? { [SINK_ENV]: this.opts.sink } : {}),
    });
    slot.worker = w;
    slot.readyAt = undefined;
    this.slotOf.set(w.id, slot);
    const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()));
    this.live.set(w, exited);
    void exited.then(() => this.live.delete(w));
  }

  private onMessage(w: Worker, msg: { type?: string; error?: string; code?: string }): void {
    if (msg?.type === "queued") return this.manager?.nudge();
    const slot = this.slotOf.get(w.id);
    if (!slot) return;
    if (msg?.type === "ready") {
      slot.readyAt = Date.now();
      slot.everReady = true;
      if (this.slots.every((s) => s.everReady)) this.startup?.resolve();
    } else if (msg?.type === "failed") {
      const message = msg.error ?? "the worker failed to start";
      if (this.startup) {
        // At start: the configuration cannot be served (a binding in use, ...). Stop rather than loop.
        this.failedAtStart = true;
        const code = msg.code && msg.code in ERROR_CODES ? (msg.code as ErrorCode) : "INTERNAL";
        this.startup.reject(new SealpostError(code, message));
      } else if (!this.stopping) {
        this.logger.error(`ALERT worker ${w.process.pid} could not start: ${message}`, { alert: true, worker: w.process.pid });
      }
    }
  }

  private onExit(w: Worker, code: number, signal: string): void {
    const slot = this.slotOf.get(w.id);
    this.slotOf.delete(w.id);
    if (slot?.worker === w) slot.worker = undefined;
    if (this.stopping || !slot) return;
    const pid = w.process.pid as number;
    const exitedAt = Date.now();
    serverMetrics.workerExits.inc();
    // What it acknowledged and did not finish is delivered now, by this process, while the others serve.
    this.recovery?.recover({ cause: "worker_exit", pid, exitedAt }).catch((e: Error) => {
      this.logger.error(`ALERT spool recovery: the spool of worker ${pid} could not be read (${e.message}); its messages are delivered at the next start`, { alert: true, worker: pid });
    });
    if (this.failedAtStart) return;
    if (slot.readyAt !== undefined && exitedAt - slot.readyAt >= RESTART_BACKOFF.stableMs) slot.failures = 0;
    const delay = restartDelay(slot.failures);
    slot.failures++;
    const how = signal ? { signal } : { code };
    this.logger.warn(`worker ${pid} exited (${signal ?? code}); starting another${delay > 0 ? ` in ${delay / 1000} s (${slot.failures} exits in a row)` : ""}`, { worker: pid, ...how, restart_delay_ms: delay });
    slot.timer = setTimeout(() => this.fork(slot), delay);
    slot.timer.unref();
  }

  /** SIGKILL to every worker still running (the last resort of a shutdown that took too long). */
  killWorkers(): void {
    for (const w of this.live.keys()) {
      try {
        w.process.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM to every worker (each stops accepting, lets sessions finish, exits); SIGKILL to any left shortly before the timeout. */
  private async stopWorkers(): Promise<void> {
    if (this.live.size === 0) return;
    for (const w of this.live.keys()) {
      try {
        w.process.kill("SIGTERM");
      } catch {
        // already gone
      }
    }
    const killAfter = Math.max(500, this.shutdownMs - 1500);
    const timer = setTimeout(() => {
      const left = [...this.live.keys()].map((w) => w.process.pid);
      if (left.length === 0) return;
      this.logger.warn(`shutdown: worker(s) ${left.join(", ")} still running after ${killAfter / 1000} s; killing them`, { workers: left });
      this.killWorkers();
    }, killAfter);
    timer.unref();
    try {
      await Promise.all([...this.live.values()]);
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    this.stopRequested();
    for (const s of this.slots) if (s.timer) clearTimeout(s.timer);
    const workersGone = this.stopWorkers();
    // start() gives up at its next step; what it made so far is closed below.
    await this.starting?.catch(() => undefined);
    setCertificateSource(undefined);
    await this.http?.close();
    if (this.edge) await this.edge.stop({ graceMs: sessionGrace(this.shutdownMs) });
    await workersGone;
    // Deliveries of recovered messages get a moment; the rest stay in the spool for the next start.
    await this.recovery?.close(1000);
    await this.manager?.stop();
    await this.sendLog?.close();
    await this.tracking?.close();
    this.outbound?.close();
  }
}

/** How long sessions in a transaction may take to finish at a stop: within the shutdown timeout, with time left to close. */
function sessionGrace(shutdownMs: number): number {
  return Math.max(500, shutdownMs - 3000);
}

export async function runWorker(dataDir: string, logger: Logger = createLogger({ format: resolveLogFormat(undefined), level: resolveLogLevel() })): Promise<void> {
  // prom-client answers the primary's requests for counters only once an
  // AggregatorRegistry exists in the worker (it installs the listener).
  new client.AggregatorRegistry<client.PrometheusContentType>();
  const keys = process.env[TICKET_ENV];
  const sink = process.env[SINK_ENV] === "discard" ? ("discard" as const) : undefined;
  const shutdownMs = Number(process.env[SHUTDOWN_ENV]) || DEFAULT_SHUTDOWN_TIMEOUT_MS;
  let edge: EdgeProcess | undefined;
  let starting: Promise<void> | undefined;
  let stopping = false;
  // Installed before anything listens: a stop asked for during start-up is never lost.
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await starting?.catch(() => undefined);
      await edge?.stop({ graceMs: sessionGrace(shutdownMs) });
    } finally {
      process.exit(0);
    }
  };
  process.on("message", (m: { type?: string }) => {
    if (m?.type === "stop") void stop();
  });
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => undefined); // the primary decides
  const fail = (e: unknown) => {
    if (!stopping) process.send?.({ type: "failed", error: (e as Error).message, ...(isSealpostError(e) ? { code: e.code } : {}) });
    process.exit(stopping ? 0 : 1);
  };
  try {
    edge = new EdgeProcess({
      dataDir,
      ...(keys ? { ticketKeys: Buffer.from(keys, "hex") } : {}),
      ...(sink ? { sink } : {}),
      // The queue manager runs in the primary: tell it there is mail to send.
      onQueued: () => process.send?.({ type: "queued" }),
      log: logger.child({ worker: process.pid }).line,
    });
    starting = edge.start();
    await starting;
  } catch (e) {
    return fail(e);
  }
  if (!stopping) process.send?.({ type: "ready" });
}

export function defaultWorkers(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

export const isWorker = (): boolean => cluster.isWorker && process.env.SEALPOST_WORKER === "1";
