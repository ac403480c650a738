// Spool recovery, in the primary: the one path that delivers what was
// acknowledged with 250 but not marked done. It runs at start (every segment
// a previous run left) and whenever a worker exits, for any cause (the
// segments that worker wrote), while the other workers keep serving.
//
// Never racing a writer: a worker's segments are taken over only after the
// primary saw the worker exit (the process is gone: nothing appends to them
// any more), and only segments named with its pid and a start time before
// that exit, so a later process that happens to get the same pid keeps its
// own. Segments this recovery already holds are never read twice.
//
// Duplicates: a process killed between a mailbox delivery and the done mark
// leaves the message pending although a copy is in the mailbox. Every copy's
// file name carries the spool id and recipient index, so recovery finds that
// copy (DeliveredIndex) and does not write it again — counted in
// sealpost_spool_recovery_already_delivered_total and logged. Relay
// recipients are queued by spool id (a no-op when already queued).
import { dataFolder } from "../config/datadir.js";
import { LocalDelivery, type LocalSink } from "../delivery/local.js";
import { DeliveredIndex } from "../delivery/maildir.js";
import type { LineLog } from "../log/logger.js";
import { serverMetrics } from "../metrics/counters.js";
import type { MessageTracking } from "../protolog/tracking.js";
import type { OutboundStore } from "../queue/outbound-store.js";
import { Spool, type SegmentInfo } from "../queue/spool.js";

/** What to recover: everything a previous run left, or what one worker wrote before it exited. */
export type RecoveryScope = { cause: "restart" } | { cause: "worker_exit"; pid: number; exitedAt: number };

export interface SpoolRecoveryOptions {
  /** The data folder's root. */
  root: string;
  serverName: string;
  tracking: MessageTracking;
  outbound: OutboundStore;
  sink?: LocalSink;
  /** Relay recipients were queued (wakes the queue manager). */
  onQueued?: () => void;
  log: LineLog;
}

export class SpoolRecovery {
  private readonly queueDir: string;
  private readonly maildir: string;
  private readonly spool: Spool;
  private readonly delivery: LocalDelivery;
  /** Scans run one after another, so two never adopt the same segment. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly batches = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: SpoolRecoveryOptions) {
    this.queueDir = dataFolder(opts.root).queueDir;
    this.maildir = dataFolder(opts.root).maildirRoot;
    this.spool = new Spool({ dir: this.queueDir });
    this.delivery = new LocalDelivery({
      maildirRoot: this.maildir,
      spool: this.spool,
      tracking: opts.tracking,
      serverName: opts.serverName,
      outbound: opts.outbound,
      ...(opts.onQueued ? { onQueued: opts.onQueued } : {}),
      ...(opts.sink ? { sink: opts.sink } : {}),
    });
  }

  /**
   * Reads the segments in scope, adopts their pending messages and starts
   * delivering them; resolves with their number once they are adopted (the
   * deliveries go on in the background, see `idle()`).
   */
  recover(scope: RecoveryScope): Promise<number> {
    const p = this.chain.then(() => this.scan(scope));
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.chain;
    while (this.batches.size > 0) await Promise.all([...this.batches]);
  }

  private async scan(scope: RecoveryScope): Promise<number> {
    if (this.closed) return 0;
    const inScope =
      scope.cause === "restart"
        ? (s: SegmentInfo) => !this.spool.holds(s.name)
        : (s: SegmentInfo) => s.pid === scope.pid && s.startMs <= scope.exitedAt && !this.spool.holds(s.name);
    const { pending, skipped } = await Spool.recover(this.queueDir, { segments: inScope });
    const whose = scope.cause === "restart" ? "" : ` (worker ${scope.pid})`;
    if (skipped > 0) this.opts.log(`spool recovery: skipped ${skipped} torn record(s) that were never acknowledged${whose}`);
    if (pending.length === 0) return 0;
    const what = scope.cause === "restart" ? "accepted before the last stop" : `worker ${scope.pid} acknowledged before it exited`;
    this.opts.log(`spool recovery: delivering ${pending.length} message(s) ${what}`);
    this.spool.adopt(pending);
    serverMetrics.spoolRecovered.inc({ cause: scope.cause }, pending.length);
    // One index per scan: each mailbox is listed once for the whole batch.
    const index = new DeliveredIndex(this.maildir);
    const batch = (async () => {
      const outcomes = await Promise.all(pending.map((m) => this.delivery.deliver(m.id, m.envelope, m.message, index)));
      const already = outcomes.reduce((n, o) => n + o.alreadyDelivered, 0);
      const done = outcomes.filter((o) => o.done).length;
      if (already > 0) serverMetrics.spoolAlreadyDelivered.inc(already);
      this.opts.log(
        `spool recovery: ${done} of ${pending.length} message(s) ${what} finished` +
          (already > 0 ? `; ${already} recipient cop${already === 1 ? "y was" : "ies were"} already in the mailbox (delivered before the crash) and not delivered again` : "") +
          (done < pending.length ? "; the rest stay in the spool" : ""),
      );
    })();
    this.batches.add(batch);
    void batch.finally(() => this.batches.delete(batch));
    return pending.length;
  }

  /**
   * Stops taking over spools; waits up to `waitMs` for deliveries in flight.
   * What is not finished stays in the spool and is delivered at the next start.
   */
  async close(waitMs: number): Promise<void> {
    this.closed = true;
    await this.chain;
    const end = Date.now() + waitMs;
    while (this.delivery.inFlight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await this.spool.close();
  }
}
