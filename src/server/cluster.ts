// Process layout of `sealpost serve`: a primary that owns the admin endpoint,
// crash recovery of the spool and worker supervision, and N workers (default
// one per core) that run the receive path. Node 20 has no reusePort, so the
// cluster module shares each listening socket (every worker accepts on it). Workers share one set of TLS
// ticket keys so a partner resumes its session whichever worker it reaches.
import cluster from "node:cluster";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import client from "prom-client";
import type { AdminApi } from "../admin/api.js";
import { startAdminHttp, type AdminHttp, type LoopbackAddress } from "../admin/http.js";
import { LocalDelivery, type LocalSink } from "../delivery/local.js";
import { MessageTracking } from "../protolog/tracking.js";
import { Spool } from "../queue/spool.js";
import { primaryRegistry, setCertificateSource } from "../metrics/counters.js";
import { countOutboundSessions } from "../metrics/outbound-sessions.js";
import { createLogger, LOG_FORMAT_ENV, resolveLogFormat, resolveLogLevel, type LineLog, type Logger } from "../log/logger.js";
import { OutboundManager } from "../outbound/manager.js";
import { outboundSettings } from "../outbound/settings.js";
import { ProtocolLog } from "../protolog/protocol-log.js";
import { OutboundStore } from "../queue/outbound-store.js";
import { EdgeProcess } from "./edge.js";

export interface ServeOptions {
  dataDir: string;
  admin: LoopbackAddress;
  /** 0: everything in this one process. */
  workers: number;
  /** Local deliveries: the Maildir (default) or "discard" (benchmarks). */
  sink?: LocalSink;
  /** The application log (src/log/logger.ts); parts that take a plain `(line) => void` get `logger.line`. */
  logger: Logger;
}

const TICKET_ENV = "SEALPOST_TICKET_KEYS";
const SINK_ENV = "SEALPOST_SINK";

/** Delivers what a previous run acknowledged but did not finish (kill -9, power loss). */
async function recoverSpool(api: AdminApi, log: LineLog, sink: LocalSink | undefined, outbound: OutboundStore): Promise<void> {
  const dir = path.join(api.ctx.dir.root, "queue");
  const { pending, skipped } = await Spool.recover(dir);
  if (skipped > 0) log(`spool recovery: skipped ${skipped} torn record(s) that were never acknowledged`);
  if (pending.length === 0) return;
  log(`spool recovery: delivering ${pending.length} message(s) accepted before the last stop`);
  const spool = new Spool({ dir });
  spool.adopt(pending);
  const tracking = new MessageTracking({ dir: path.join(api.ctx.dir.root, "logs", "tracking") });
  const delivery = new LocalDelivery({ maildirRoot: path.join(api.ctx.dir.root, "maildir"), spool, tracking, serverName: api.serverName, outbound, ...(sink ? { sink } : {}) });
  for (const m of pending) delivery.start(m.id, m.envelope, m.message);
  for (let i = 0; i < 500 && delivery.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
  await tracking.close();
  await spool.close();
}

export async function runPrimary(api: AdminApi, opts: ServeOptions): Promise<() => Promise<void>> {
  const { logger } = opts;
  const outbound = OutboundStore.inDataDir(api.ctx.dir.root);
  await recoverSpool(api, logger.line, opts.sink, outbound);
  // /metrics: every certificate's days to expiry, read from the store at scrape time; outbound sessions by result.
  setCertificateSource(() => api.ctx.certs.list(), () => api.ctx.now());
  countOutboundSessions();
  // The outbound queue manager runs here, once per server, whatever the number of workers.
  const sendTracking = new MessageTracking({ dir: path.join(api.ctx.dir.root, "logs", "tracking") });
  const sendLog = new ProtocolLog({ dir: path.join(api.ctx.dir.root, "logs", "protocol", "SmtpSend"), kind: "send" });
  const manager = new OutboundManager({
    ctx: api.ctx,
    store: outbound,
    tracking: sendTracking,
    protocolLog: sendLog,
    settings: () => outboundSettings(api.ctx.db),
    log: logger.line,
  });
  manager.start();
  const ticketKeys = randomBytes(48);
  let edge: EdgeProcess | undefined;
  let aggregator: client.AggregatorRegistry<client.PrometheusContentType> | undefined;
  let stopping = false;
  if (opts.workers === 0) {
    edge = new EdgeProcess({ dataDir: opts.dataDir, ticketKeys, onQueued: () => manager.nudge(), ...(opts.sink ? { sink: opts.sink } : {}), log: logger.line });
    await edge.start();
  } else {
    aggregator = new client.AggregatorRegistry<client.PrometheusContentType>();
    // Workers accept on the shared listening socket themselves (SCHED_NONE)
    // rather than the primary accepting and handing each connection over
    // (round robin, Node's default): measured 7-11 % more sessions a second
    // with one message per connection (docs/performance.md). Node reads
    // NODE_CLUSTER_SCHED_POLICY ("rr" / "none"), which still wins when set.
    if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: process.argv[1] as string, args: process.argv.slice(2) });
    const fork = () => cluster.fork({ [TICKET_ENV]: ticketKeys.toString("hex"), SEALPOST_WORKER: "1", [LOG_FORMAT_ENV]: logger.format, ...(opts.sink ? { [SINK_ENV]: opts.sink } : {}) });
    const ready = new Promise<void>((resolve, reject) => {
      let up = 0;
      cluster.on("message", (_w, msg: { type?: string; error?: string }) => {
        if (msg?.type === "queued") manager.nudge();
        if (msg?.type === "ready" && ++up === opts.workers) resolve();
        if (msg?.type === "failed") reject(new Error(msg.error));
      });
    });
    cluster.on("exit", (w, code, signal) => {
      if (stopping) return;
      logger.warn(`worker ${w.process.pid} exited (${signal ?? code}); starting another`, { worker: w.process.pid, ...(signal ? { signal } : { code }) });
      fork();
    });
    for (let i = 0; i < opts.workers; i++) fork();
    await ready;
  }
  const http: AdminHttp = await startAdminHttp(api, opts.admin, {
    metrics: async () => `${aggregator ? await aggregator.clusterMetrics() : await client.register.metrics()}\n${await primaryRegistry.metrics()}`,
  });
  // The one secret the log ever shows: on its own line, at first start only; masked in every other line.
  if (http.newToken) logger.announceSecret(`Admin API token (shown once, stored in ${http.tokenFile} with mode 0600)`, "admin_token", http.newToken);
  const listening = edge ? edge.addresses().map((a) => a.binding).join(", ") : "(workers)";
  logger.info(`Sealpost ${api.serverName}: data ${api.ctx.dir.root}, SMTP ${listening}, admin API http://${http.address}, ${opts.workers === 0 ? "single process" : `${opts.workers} worker(s)`}${opts.sink === "discard" ? ", local deliveries DISCARDED (--sink discard)" : ""}`, {
    server: api.serverName,
    admin_api: `http://${http.address}`,
    workers: opts.workers,
  });
  return async () => {
    stopping = true;
    setCertificateSource(undefined);
    await http.close();
    if (edge) await edge.stop();
    await manager.stop();
    await sendLog.close();
    await sendTracking.close();
    outbound.close();
    await Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w) return resolve();
            // A worker may already be gone (SIGTERM sent to the whole process group): nothing to tell it.
            if (w.isDead() || !w.isConnected()) return resolve();
            w.once("exit", () => resolve());
            try {
              w.send({ type: "stop" }, (err: Error | null) => {
                if (err) resolve();
              });
            } catch {
              resolve();
            }
          }),
      ),
    );
  };
}

export async function runWorker(dataDir: string, logger: Logger = createLogger({ format: resolveLogFormat(undefined), level: resolveLogLevel() })): Promise<void> {
  // prom-client answers the primary's requests for counters only once an
  // AggregatorRegistry exists in the worker (it installs the listener).
  new client.AggregatorRegistry<client.PrometheusContentType>();
  const keys = process.env[TICKET_ENV];
  const sink = process.env[SINK_ENV] === "discard" ? ("discard" as const) : undefined;
  const edge = new EdgeProcess({
    dataDir,
    ...(keys ? { ticketKeys: Buffer.from(keys, "hex") } : {}),
    ...(sink ? { sink } : {}),
    // The queue manager runs in the primary: tell it there is mail to send.
    onQueued: () => process.send?.({ type: "queued" }),
    log: logger.child({ worker: process.pid }).line,
  });
  try {
    await edge.start();
    process.send?.({ type: "ready" });
  } catch (e) {
    process.send?.({ type: "failed", error: (e as Error).message });
    process.exit(1);
  }
  const stop = async () => {
    await edge.stop();
    process.exit(0);
  };
  process.on("message", (m: { type?: string }) => {
    if (m?.type === "stop") void stop();
  });
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => undefined); // the primary decides
}

export function defaultWorkers(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

export const isWorker = (): boolean => cluster.isWorker && process.env.SEALPOST_WORKER === "1";
