// Edge synchronization: an edge server (`serve --org URL`) keeps a replica of
// the organization's configuration in its own SQLite store and applies each
// committed version whole (one snapshot read in a REPEATABLE READ
// transaction, one local transaction to replace it). It learns of a new
// version by LISTEN/NOTIFY when connected to the primary, and by polling the
// version (which also works against a read replica, where LISTEN is not
// allowed). While the store is unreachable it serves its last replica and
// retries; it catches up when the store returns.
//
// The only thing an edge writes to the organization store is its own status
// row (name, FQDN, software version, applied version, last contact).
import pg from "pg";
import client from "prom-client";
import type { OrgStore } from "../org/store.js";
import { errorMessage } from "../errors/errors.js";
import { outboundRegistry } from "../metrics/counters.js";
import { CONFIG_CHANNEL, PgOrgStore, SYNC_NOW_CHANNEL, redactUrl } from "../org/pg/pg-org-store.js";
import { SqliteOrgStore } from "../org/sqlite/sqlite-org-store.js";

export interface EdgeSyncOptions {
  url: string;
  /** The edge's own context: its org store is the SQLite replica. */
  /** The edge: its local organization store (the replica, SQLite) and its name. */
  ctx: { org: OrgStore; serverName: string };
  softwareVersion: string;
  log: (line: string) => void;
  /** How often the version is polled, ms (default 1000). */
  pollMs?: number;
  /** How often the status row is refreshed, ms (default 5000). */
  statusMs?: number;
  /** Delay before reconnecting after a failure, ms (default 2000). */
  retryMs?: number;
}

export interface EdgeSyncStatus {
  reachable: boolean;
  listening: boolean;
  appliedVersion: number;
  remoteVersion?: number;
  lastSuccess?: Date;
  lastError?: string;
}

const gauge = (name: string, help: string) => new client.Gauge({ name, help, registers: [outboundRegistry] });
/** Made when the first edge sync starts: a server that is its own organization exports none of them. */
function makeSyncMetrics() {
  return {
    reachable: gauge("sealpost_org_store_reachable", "1 when the organization store answered the last poll"),
    lag: gauge("sealpost_edge_sync_lag_versions", "Configuration versions committed in the organization store and not yet applied here"),
    lastSuccess: gauge("sealpost_edge_sync_last_success_timestamp_seconds", "When this edge last reached the organization store and was up to date (Unix time)"),
    applied: gauge("sealpost_edge_sync_applied_version", "The configuration version this edge applies"),
  };
}
let metricsOnce: ReturnType<typeof makeSyncMetrics> | undefined;
const syncMetrics = (): ReturnType<typeof makeSyncMetrics> => (metricsOnce ??= makeSyncMetrics());

export class EdgeSync {
  private store?: PgOrgStore | undefined;
  private listener?: pg.Client | undefined;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void> | undefined;
  private pending = false;
  private lastStatusAt = 0;
  private statusWritable = true;
  private readonly st: EdgeSyncStatus;
  private readonly replica: SqliteOrgStore;
  private warnedDown = false;

  constructor(private readonly opts: EdgeSyncOptions) {
    if (!(opts.ctx.org instanceof SqliteOrgStore)) throw new Error("edge sync needs the local SQLite store as its replica");
    this.replica = opts.ctx.org;
    this.st = { reachable: false, listening: false, appliedVersion: 0 };
  }

  status(): EdgeSyncStatus {
    return { ...this.st };
  }

  /** Connects and syncs once (resolves either way: an unreachable store is not an error here), then keeps going. */
  async start(): Promise<void> {
    // The local version counts only if it is a copy of this store (a server's own
    // configuration has versions of its own, which mean nothing here).
    this.st.appliedVersion = this.replica.replicaSource() === redactUrl(this.opts.url) ? await this.replica.version() : -1;
    syncMetrics().applied.set(this.st.appliedVersion);
    await this.syncNow();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = this.st.reachable ? (this.opts.pollMs ?? 1000) : (this.opts.retryMs ?? 2000);
    this.timer = setTimeout(() => {
      void this.syncNow().finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  /** One round: connect if needed, compare versions, copy a new one, report status. Never throws. */
  syncNow(): Promise<void> {
    if (this.running) {
      this.pending = true;
      return this.running;
    }
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.pending && !this.stopped) {
        this.pending = false;
        void this.syncNow();
      }
    });
    return this.running;
  }

  private async round(): Promise<void> {
    try {
      await this.connect();
      const store = this.store as PgOrgStore;
      const remote = await store.version();
      this.st.remoteVersion = remote;
      if (remote !== this.st.appliedVersion) {
        const snap = await store.exportSnapshot();
        this.replica.importSnapshot(snap, redactUrl(this.opts.url));
        this.opts.log(`edge sync: applied configuration version ${snap.version} (was ${this.st.appliedVersion})`);
        this.st.appliedVersion = snap.version;
      }
      this.st.reachable = true;
      this.st.lastSuccess = new Date();
      delete this.st.lastError;
      if (this.warnedDown) {
        this.opts.log(`edge sync: the organization store ${redactUrl(this.opts.url)} is reachable again`);
        this.warnedDown = false;
      }
      await this.reportStatus();
    } catch (e) {
      this.fail(e);
    }
    syncMetrics().reachable.set(this.st.reachable ? 1 : 0);
    syncMetrics().applied.set(this.st.appliedVersion);
    syncMetrics().lag.set(Math.max(0, (this.st.remoteVersion ?? this.st.appliedVersion) - this.st.appliedVersion));
    if (this.st.lastSuccess) syncMetrics().lastSuccess.set(this.st.lastSuccess.getTime() / 1000);
  }

  private fail(e: unknown): void {
    const msg = errorMessage(e).split(this.opts.url).join(redactUrl(this.opts.url));
    this.st.reachable = false;
    this.st.lastError = msg;
    if (!this.warnedDown) {
      const code = (e as { code?: string }).code;
      this.opts.log(
        code === "ORG_SCHEMA_TOO_NEW" || code === "ORG_SCHEMA_OLD"
          ? `edge sync: refusing the organization store's schema; serving configuration version ${this.st.appliedVersion} until this server or the store is upgraded (${msg})`
          : `edge sync: the organization store is unreachable; serving configuration version ${this.st.appliedVersion} until it returns (${msg})`,
      );
      this.warnedDown = true;
    }
    void this.disconnect();
  }

  private async connect(): Promise<void> {
    if (this.store && this.st.reachable) return;
    await this.disconnect();
    this.store = await PgOrgStore.open(this.opts.url, { max: 2, application: `sealpost-edge ${this.opts.ctx.serverName}` });
    // LISTEN needs the primary; on a read replica it fails and polling does the work.
    const l = new pg.Client({ connectionString: this.opts.url, connectionTimeoutMillis: 5000, application_name: `sealpost-edge-listen ${this.opts.ctx.serverName}` });
    l.on("error", () => undefined);
    try {
      await l.connect();
      await l.query(`LISTEN ${CONFIG_CHANNEL}`);
      await l.query(`LISTEN ${SYNC_NOW_CHANNEL}`);
      l.on("notification", (n) => {
        // A version this edge already applies (several notifications for one burst of changes): nothing to do.
        const v = Number(n.payload);
        if (n.channel === CONFIG_CHANNEL && Number.isFinite(v) && v <= this.st.appliedVersion) return;
        void this.syncNow();
      });
      l.on("end", () => {
        if (this.listener === l) {
          this.listener = undefined;
          this.st.listening = false;
        }
      });
      this.listener = l;
      this.st.listening = true;
    } catch {
      await l.end().catch(() => undefined);
      this.st.listening = false;
    }
  }

  private async disconnect(): Promise<void> {
    const l = this.listener;
    const s = this.store;
    this.listener = undefined;
    this.store = undefined;
    this.st.listening = false;
    await Promise.all([l?.end().catch(() => undefined), s?.close()]);
  }

  /** The status row: the one thing an edge writes. A read-only replica cannot take it (said once). */
  private async reportStatus(force = false): Promise<void> {
    const now = Date.now();
    if (!this.statusWritable || (!force && now - this.lastStatusAt < (this.opts.statusMs ?? 5000) && this.lastStatusAt !== 0 && this.lastReported === this.st.appliedVersion)) return;
    try {
      await (this.store as PgOrgStore).pool.query(
        `INSERT INTO edge_status (server_name, fqdn, software_version, applied_version, last_contact) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (server_name) DO UPDATE SET fqdn = excluded.fqdn, software_version = excluded.software_version, applied_version = excluded.applied_version, last_contact = now()`,
        [this.opts.ctx.serverName, this.opts.ctx.serverName, this.opts.softwareVersion, this.st.appliedVersion],
      );
      this.lastStatusAt = now;
      this.lastReported = this.st.appliedVersion;
    } catch (e) {
      if ((e as { code?: string }).code === "25006") {
        // read_only_sql_transaction: connected to a read replica.
        this.statusWritable = false;
        this.opts.log("edge sync: connected to a read-only replica; this edge's status is not reported (Test-EdgeSynchronization will not list it)");
        return;
      }
      throw e;
    }
  }

  private lastReported = -1;

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.disconnect();
  }
}
