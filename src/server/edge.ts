// One edge server process (a cluster worker, or the whole server with
// --workers 0): listeners for this server's receive connectors, the SMTP
// engine per connector, and a watch on the stores that applies any change
// (connectors, lists, certificates) to new sessions within a second, without
// a restart and without touching sessions in progress.
import net from "node:net";
import { openServerContext, type ServerContext } from "../main/context.js";
import { SealpostError } from "../errors/errors.js";
import type { LocalDelivery, LocalSink } from "../delivery/local.js";
import type { ProtocolLog } from "../protolog/protocol-log.js";
import type { MessageTracking } from "../protolog/tracking.js";
import type { OutboundStore } from "../queue/outbound-store.js";
import type { Spool } from "../queue/spool.js";
import { receiveServices } from "../main/services.js";
import { SmtpReceiver } from "../smtp/receive/receiver.js";
import type { ReceiverOptions } from "../smtp/receive/types.js";
import { inboundHooks } from "./inbound.js";
import { loadSnapshot, type ConnectorRuntime, type Snapshot } from "./snapshot.js";

export interface EdgeOptions {
  dataDir: string;
  ticketKeys?: Buffer;
  /** Where local deliveries go (default the Maildir; "discard" for benchmarks, see delivery/local.ts). */
  sink?: LocalSink;
  /** Called when relay recipients were queued (the queue manager, when it runs in this process). */
  onQueued?: () => void;
  /** How often the stores are checked for changes, ms. */
  watchIntervalMs?: number;
  log?: (line: string) => void;
}

function receiverOptions(c: ConnectorRuntime, edge: EdgeProcess): ReceiverOptions {
  const cfg = c.config;
  return {
    connector: cfg.name,
    fqdn: cfg.fqdn,
    maxMessageSize: cfg.maxMessageSize,
    maxRecipients: cfg.maxRecipientsPerMessage,
    idleTimeoutMs: cfg.connectionInactivityTimeout * 1000,
    maxConnections: cfg.maxInboundConnection,
    maxConnectionsPerSource: cfg.maxInboundConnectionPerSource,
    // Looked up per session, so a certificate enabled while running serves the next session.
    secureContext: () => edge.connector(cfg.name)?.secureContext,
    requestClientCertificate: cfg.domainSecureEnabled,
    minTlsVersion: "TLSv1.2",
  };
}

/** The error for a binding that cannot be listened on, naming the address and its receive connector(s). */
export function bindingError(binding: string, connectors: string[], e: NodeJS.ErrnoException): SealpostError {
  const which = `(receive connector${connectors.length > 1 ? "s" : ""} ${connectors.join(", ") || "?"})`;
  const fix = "change the connector's -Bindings";
  const text =
    e.code === "EADDRINUSE"
      ? `${binding} is already in use ${which}: stop the program listening there or ${fix}`
      : e.code === "EADDRNOTAVAIL"
        ? `${binding} is not an address of this machine ${which}: ${fix}`
        : e.code === "EACCES"
          ? `${binding} needs privileges to listen on ${which}: a port below 1024 needs root or CAP_NET_BIND_SERVICE`
          : `cannot listen on ${binding} ${which}: ${e.message}`;
  return new SealpostError("BINDING_UNAVAILABLE", text, { cause: e });
}

export class EdgeProcess {
  readonly ctx: ServerContext;
  readonly spool: Spool;
  readonly tracking: MessageTracking;
  readonly protocolLog: ProtocolLog;
  readonly delivery: LocalDelivery;
  readonly outbound: OutboundStore;
  private snap!: Snapshot;
  private readonly receivers = new Map<string, SmtpReceiver>();
  private readonly listeners = new Map<string, net.Server>();
  private watchTimer?: NodeJS.Timeout;
  private lastDataVersion = -1;
  private lastFullReload = 0;
  private reloading = false;
  private reloadDone: Promise<void> | undefined;

  constructor(private readonly opts: EdgeOptions) {
    this.ctx = openServerContext(opts.dataDir);
    ({ spool: this.spool, tracking: this.tracking, protocolLog: this.protocolLog, outbound: this.outbound, delivery: this.delivery } = receiveServices(this.ctx, { sink: opts.sink, onQueued: opts.onQueued }));
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  connector(name: string): ConnectorRuntime | undefined {
    return this.snap.connectors.find((c) => c.config.name === name);
  }

  /** The addresses listened on, e.g. for tests that bind port 0. */
  addresses(): Array<{ binding: string; address: string; port: number }> {
    return [...this.listeners].map(([binding, srv]) => {
      const a = srv.address() as net.AddressInfo;
      return { binding, address: a.address, port: a.port };
    });
  }

  async start(): Promise<void> {
    await this.reload(true);
    this.watchTimer = setInterval(() => void this.watch(), this.opts.watchIntervalMs ?? 250);
    this.watchTimer.unref();
  }

  /** The configuration as committed now: reloads first when the store changed since the snapshot was taken. */
  async current(): Promise<Snapshot> {
    if (this.reloadDone) await this.reloadDone;
    const dv = this.ctx.db.pragma("data_version", { simple: true }) as number;
    if (dv !== this.lastDataVersion) await this.reload(false);
    return this.snap;
  }

  private async watch(): Promise<void> {
    if (this.reloading) return;
    const dv = this.ctx.db.pragma("data_version", { simple: true }) as number;
    // Certificates come into and out of validity with time: reload every minute anyway.
    const due = Date.now() - this.lastFullReload > 60_000;
    if (dv !== this.lastDataVersion || due) await this.reload(false);
  }

  private reload(first: boolean): Promise<void> {
    // One reload at a time; callers arriving meanwhile share it.
    if (this.reloadDone) return this.reloadDone;
    this.reloadDone = this.doReload(first).finally(() => {
      this.reloadDone = undefined;
    });
    return this.reloadDone;
  }

  private async doReload(first: boolean): Promise<void> {
    this.reloading = true;
    try {
      this.lastDataVersion = this.ctx.db.pragma("data_version", { simple: true }) as number;
      this.lastFullReload = Date.now();
      const version = String(await this.ctx.org.version());
      this.ctx.invalidateTrust();
      this.snap = await loadSnapshot(this.ctx, version, { ...(this.opts.ticketKeys ? { ticketKeys: this.opts.ticketKeys } : {}) });
      for (const c of this.snap.connectors) {
        if (!c.secureContext) this.opts.log?.(`warning: no SMTP certificate names ${c.config.fqdn}; connector ${c.config.name} does not offer STARTTLS`);
        const existing = this.receivers.get(c.config.name);
        if (existing) existing.updateOptions(receiverOptions(c, this));
        else this.receivers.set(c.config.name, new SmtpReceiver(receiverOptions(c, this), inboundHooks(this.hooksDeps(), c.config.name)));
      }
      await this.rebind(first);
    } catch (e) {
      if (first) throw e;
      this.opts.log?.(`configuration reload failed, keeping the previous one: ${(e as Error).message}`);
    } finally {
      this.reloading = false;
    }
  }

  private hooksDeps() {
    return { ctx: this.ctx, snapshot: () => this.snap, current: () => this.current(), spool: this.spool, delivery: this.delivery, tracking: this.tracking, protocolLog: this.protocolLog, ...(this.opts.log ? { log: this.opts.log } : {}) };
  }

  /** Listens on every binding of an enabled connector; closes the ones no longer wanted. */
  private async rebind(first: boolean): Promise<void> {
    const wanted = new Set(this.snap.connectors.flatMap((c) => c.config.bindings));
    for (const [binding, srv] of this.listeners) {
      if (!wanted.has(binding)) {
        srv.close();
        this.listeners.delete(binding);
      }
    }
    for (const binding of wanted) {
      if (this.listeners.has(binding)) continue;
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(binding);
      if (!m) continue;
      const srv = net.createServer((socket) => this.dispatch(binding, socket));
      try {
        await new Promise<void>((resolve, reject) => {
          srv.once("error", reject);
          srv.listen({ host: m[1], port: Number(m[2]) }, () => {
            srv.off("error", reject);
            resolve();
          });
        });
        this.listeners.set(binding, srv);
      } catch (e) {
        const names = this.snap.connectors.filter((c) => c.config.bindings.includes(binding)).map((c) => c.config.name);
        const err = bindingError(binding, names, e as NodeJS.ErrnoException);
        // At start the server stops with this error (as Postfix's master does); later, a
        // binding added by a configuration change is tried again at every reload (within a minute).
        if (first) throw err;
        this.opts.log?.(`ALERT ${err.message}; the other bindings keep serving and this one is tried again within a minute`);
      }
    }
  }

  /** The connector for this binding whose remote IP ranges match most narrowly. */
  private dispatch(binding: string, socket: net.Socket): void {
    const ip = socket.remoteAddress ?? "";
    let best: ConnectorRuntime | undefined;
    let bestSize = Infinity;
    for (const c of this.snap.connectors) {
      if (!c.config.bindings.includes(binding) || !c.matchesRemote(ip)) continue;
      const size = c.specificity(ip);
      if (size < bestSize) {
        best = c;
        bestSize = size;
      }
    }
    const receiver = best ? this.receivers.get(best.config.name) : undefined;
    if (!best || !receiver) {
      socket.end("554 5.7.1 Access denied: no receive connector accepts connections from this address\r\n");
      return;
    }
    // ConnectionTimeout: the longest a session may last, idle or not.
    const timer = setTimeout(() => socket.destroy(), best.config.connectionTimeout * 1000);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
    receiver.handle(socket);
  }

  /** `graceMs`: how long sessions in a transaction may take to finish before they are cut (default the receiver's). */
  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.watchTimer) clearInterval(this.watchTimer);
    await Promise.all([...this.listeners.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.listeners.clear();
    await Promise.all([...this.receivers.values()].map((r) => r.closeAll(opts.graceMs)));
    // Let deliveries of messages already acknowledged finish writing (they are durable anyway).
    for (let i = 0; i < 50 && this.delivery.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
    await this.protocolLog.close();
    await this.tracking.close();
    await this.spool.close();
    this.outbound.close();
    await this.ctx.close();
  }
}
