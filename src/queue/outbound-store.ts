// The outbound queue: messages waiting for a send connector, kept in their
// own SQLite database DIR/queue/outbound.db (WAL, synchronous FULL) apart
// from the configuration database, so queue traffic never looks like a
// configuration change to the processes watching that one.
//
// A message enters it from the spool (the receive path's relay recipients,
// or a report we generate) and leaves it recipient by recipient: a row in
// `recipients` is a recipient still owed a delivery; it is deleted once the
// next hop accepted it or it failed for good, and the message's body goes
// with its last recipient. One queue per next-hop domain (`queues`) carries
// the connection state the schedule needs (consecutive failures, last
// attempt, suspension).
//
// Enqueueing is idempotent (the spool id is the key), so a crash between
// enqueue and the spool's done mark enqueues the same message again, harmlessly.
import { addressDomain } from "../message/address.js";
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dataFolder, ensurePrivateFile } from "../config/datadir.js";
import path from "node:path";
import { SealpostError } from "../errors/errors.js";
import type { SpoolEnvelope } from "./spool.js";
import { readFailure, storeFailure, type DeliveryFailure } from "./delivery-failure.js";

export type QueueState = "Ready" | "Retry" | "Suspended";

export interface QueueRow {
  domain: string;
  state: QueueState;
  consecutiveFailures: number;
  lastAttemptAt?: Date;
  nextRetryAt?: Date;
  /** Why the last attempt to reach the next hop failed; undefined after a success. */
  lastFailure: DeliveryFailure | undefined;
  messageCount: number;
  /** Recipients whose next attempt is due now or earlier. */
  dueCount: number;
}

export interface QueuedRecipient {
  address: string;
  notify?: string[];
  orcpt?: string;
  attempts: number;
  lastAttemptAt?: Date;
  nextAttemptAt: Date;
  /** Why the last attempt for this recipient failed, if one did. */
  lastFailure: DeliveryFailure | undefined;
  delayNotified: boolean;
}

/** One message in one queue (its recipients in that domain). */
export interface QueuedMessage {
  id: string;
  domain: string;
  envelope: SpoolEnvelope;
  arrivedAt: Date;
  size: number;
  subject: string;
  messageId: string;
  recipients: QueuedRecipient[];
}

export interface EnqueueItem {
  id: string;
  envelope: SpoolEnvelope;
  body: Buffer;
  /** Recipients for other domains, in the envelope's order. */
  recipients: string[];
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS messages (
    id           TEXT PRIMARY KEY,
    envelope     TEXT NOT NULL,
    body         BLOB NOT NULL,
    arrived_at   INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    message_id   TEXT NOT NULL DEFAULT ''
  );
  CREATE TABLE IF NOT EXISTS recipients (
    message_id       TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    address          TEXT NOT NULL,
    domain           TEXT NOT NULL,
    notify           TEXT,
    orcpt            TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  INTEGER,
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    delay_notified   INTEGER NOT NULL DEFAULT 0,
    remove_requested INTEGER NOT NULL DEFAULT 0,     -- Remove-Message -WithNDR: report, then remove
    PRIMARY KEY (message_id, address)
  );
  CREATE INDEX IF NOT EXISTS recipients_by_domain ON recipients(domain, next_attempt_at);
  CREATE INDEX IF NOT EXISTS recipients_removal ON recipients(remove_requested) WHERE remove_requested = 1;
  CREATE TABLE IF NOT EXISTS queues (
    domain                TEXT PRIMARY KEY,
    suspended             INTEGER NOT NULL DEFAULT 0,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    last_attempt_at       INTEGER,
    next_retry_at         INTEGER,
    last_error            TEXT NOT NULL DEFAULT ''
  );
`;

/**
 * The queue of a recipient: its domain in A-label form (message/address.ts),
 * so every spelling of a partner's domain is the partner's queue. A domain
 * that cannot be normalized (never accepted by the receive path) is queued
 * under an "invalid:" key that no route or list matches; the manager returns
 * such mail to its sender.
 */
function domainOfAddress(address: string): string {
  const d = addressDomain(address);
  if (d.kind === "domain") return d.domain;
  if (d.kind === "literal") return d.literal;
  return `${INVALID_QUEUE_PREFIX}${address.slice(address.lastIndexOf("@") + 1).toLowerCase()}`;
}

export const INVALID_QUEUE_PREFIX = "invalid:";

function subjectOf(body: Buffer): string {
  const head = body.toString("latin1", 0, Math.min(body.length, 8192));
  const end = head.search(/\r?\n\r?\n/);
  const m = /^subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(end >= 0 ? head.slice(0, end) : head);
  return m ? (m[1] as string).replace(/\r?\n[ \t]+/g, " ").trim().slice(0, 255) : "";
}

const toDate = (ms: number | null | undefined): Date | undefined => (ms === null || ms === undefined ? undefined : new Date(ms));

interface RcptRow {
  message_id: string;
  address: string;
  domain: string;
  notify: string | null;
  orcpt: string | null;
  attempts: number;
  last_attempt_at: number | null;
  next_attempt_at: number;
  last_error: string;
  delay_notified: number;
}

interface MsgRow {
  id: string;
  envelope: string;
  arrived_at: number;
  size: number;
  subject: string;
  message_id: string;
}

export class OutboundStore {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private batch: Array<{ item: EnqueueItem; resolve: () => void; reject: (e: Error) => void }> = [];
  private flushScheduled = false;

  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      // Mode 0600 before SQLite creates it (its -wal and -shm files take the same mode).
      ensurePrivateFile(file);
      this.db = new Database(file);
    } catch (e) {
      throw new SealpostError("IO_ERROR", `The outbound queue ${file} could not be opened: ${(e as Error).message}`, { cause: e });
    }
    this.db.pragma("journal_mode = WAL");
    // NORMAL for the queue's bookkeeping (a delivery recorded, a retry
    // scheduled): in WAL mode such a commit survives kill -9 (it is in the
    // page cache), and a power cut can at worst undo it, i.e. send a message
    // again (at least once). Enqueueing, which takes over from the spool,
    // switches to FULL for its commit (insertAll).
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 10000");
    this.db.exec(SCHEMA);
  }

  /** A prepared statement, prepared once (the queue manager runs these many times a second). */
  private st(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) this.statements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  static inDataDir(root: string): OutboundStore {
    return new OutboundStore(dataFolder(root).outboundDbFile);
  }

  /**
   * Durably queues the items (one transaction for all calls made in the same
   * turn of the event loop: group commit). Resolves once committed.
   */
  enqueue(item: EnqueueItem): Promise<void> {
    return new Promise((resolve, reject) => {
      this.batch.push({ item, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    this.flushScheduled = false;
    try {
      this.insertAll(batch.map((b) => b.item));
      for (const b of batch) b.resolve();
    } catch (e) {
      const err = new SealpostError("IO_ERROR", `The outbound queue could not store a message: ${(e as Error).message}`, { cause: e });
      for (const b of batch) b.reject(err);
    }
  }

  /** Synchronous enqueue of several items in one transaction. */
  insertAll(items: EnqueueItem[]): void {
    const insMsg = this.st(
      "INSERT OR IGNORE INTO messages (id, envelope, body, arrived_at, size, subject, message_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const insRcpt = this.st(
      "INSERT OR IGNORE INTO recipients (message_id, address, domain, notify, orcpt, next_attempt_at) VALUES (?, ?, ?, ?, ?, 0)",
    );
    const insQueue = this.st("INSERT OR IGNORE INTO queues (domain) VALUES (?)");
    this.db.pragma("synchronous = FULL");
    try {
      this.insertTx(items, insMsg, insRcpt, insQueue);
    } finally {
      this.db.pragma("synchronous = NORMAL");
    }
  }

  private insertTx(items: EnqueueItem[], insMsg: Database.Statement, insRcpt: Database.Statement, insQueue: Database.Statement): void {
    this.db.transaction(() => {
      for (const { id, envelope, body, recipients } of items) {
        if (recipients.length === 0) continue;
        const arrived = Date.parse(envelope.receivedAt);
        const info = insMsg.run(id, JSON.stringify(envelope), body, Number.isFinite(arrived) ? arrived : Date.now(), body.length, subjectOf(body), String(envelope.meta?.messageId ?? ""));
        if (info.changes === 0) continue; // already queued (a recovered spool message)
        for (const address of recipients) {
          const p = envelope.rcptTo.find((r) => r.address === address)?.params ?? {};
          const domain = domainOfAddress(address);
          insRcpt.run(id, address, domain, p.notify ? p.notify.join(",") : null, p.orcpt ?? null);
          insQueue.run(domain);
        }
      }
    }).immediate();
  }

  /** Every queue that has recipients (or a recorded state), with counts. */
  listQueues(now = Date.now()): QueueRow[] {
    const rows = this.db
      .prepare(
        `SELECT q.domain, q.suspended, q.consecutive_failures, q.last_attempt_at, q.next_retry_at, q.last_error,
                COUNT(DISTINCT r.message_id) AS messages, SUM(CASE WHEN r.next_attempt_at <= ? THEN 1 ELSE 0 END) AS due
           FROM queues q LEFT JOIN recipients r ON r.domain = q.domain
          GROUP BY q.domain ORDER BY q.domain`,
      )
      .all(now) as Array<{ domain: string; suspended: number; consecutive_failures: number; last_attempt_at: number | null; next_retry_at: number | null; last_error: string; messages: number; due: number | null }>;
    return rows.map((r) => ({
      domain: r.domain,
      state: r.suspended ? "Suspended" : r.consecutive_failures > 0 || (r.last_error !== "" && r.messages > 0) ? "Retry" : "Ready",
      consecutiveFailures: r.consecutive_failures,
      ...(r.last_attempt_at !== null ? { lastAttemptAt: new Date(r.last_attempt_at) } : {}),
      ...(r.next_retry_at !== null ? { nextRetryAt: new Date(r.next_retry_at) } : {}),
      lastFailure: readFailure(r.last_error),
      messageCount: r.messages,
      dueCount: r.due ?? 0,
    }));
  }

  getQueue(domain: string): QueueRow | undefined {
    return this.listQueues().find((q) => q.domain === domain);
  }

  /** The earliest time any unsuspended queue has work due (undefined: nothing queued). */
  nextDue(): number | undefined {
    const r = this.db
      .prepare("SELECT MIN(r.next_attempt_at) AS t FROM recipients r JOIN queues q ON q.domain = r.domain WHERE q.suspended = 0")
      .get() as { t: number | null };
    return r.t ?? undefined;
  }

  /** Domains of unsuspended queues with a recipient due at `now`. */
  dueDomains(now: number): string[] {
    return (
      this.db
        .prepare("SELECT DISTINCT r.domain FROM recipients r JOIN queues q ON q.domain = r.domain WHERE q.suspended = 0 AND r.next_attempt_at <= ? AND r.remove_requested = 0")
        .all(now) as Array<{ domain: string }>
    ).map((r) => r.domain);
  }

  /** Messages of a queue (all, or only those due at `dueAt`), oldest first, with their recipients in that domain. */
  messagesIn(domain: string, opts: { dueAt?: number; limit?: number } = {}): QueuedMessage[] {
    const rcpts = (
      opts.dueAt !== undefined
        ? this.st("SELECT * FROM recipients WHERE domain = ? AND next_attempt_at <= ? AND remove_requested = 0 ORDER BY message_id, rowid").all(domain, opts.dueAt)
        : this.st("SELECT * FROM recipients WHERE domain = ? ORDER BY message_id, rowid").all(domain)
    ) as RcptRow[];
    return this.group(rcpts, opts.limit);
  }

  /** One message in every queue it is in (undefined: not queued). */
  message(id: string): QueuedMessage[] {
    return this.group(this.st("SELECT * FROM recipients WHERE message_id = ? ORDER BY domain, rowid").all(id) as RcptRow[]);
  }

  /** Every queued message, per queue. */
  allMessages(): QueuedMessage[] {
    return this.group(this.st("SELECT * FROM recipients ORDER BY domain, message_id, rowid").all() as RcptRow[]);
  }

  body(id: string): Buffer | undefined {
    const r = this.st("SELECT body FROM messages WHERE id = ?").get(id) as { body: Buffer } | undefined;
    return r?.body;
  }

  private group(rows: RcptRow[], limit?: number): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    const byKey = new Map<string, QueuedMessage>();
    const getMsg = this.st("SELECT id, envelope, arrived_at, size, subject, message_id FROM messages WHERE id = ?");
    for (const r of rows) {
      const key = `${r.message_id}\u0000${r.domain}`;
      let m = byKey.get(key);
      if (!m) {
        if (limit !== undefined && out.length >= limit) continue;
        const row = getMsg.get(r.message_id) as MsgRow | undefined;
        if (!row) continue;
        m = {
          id: row.id,
          domain: r.domain,
          envelope: JSON.parse(row.envelope) as SpoolEnvelope,
          arrivedAt: new Date(row.arrived_at),
          size: row.size,
          subject: row.subject,
          messageId: row.message_id,
          recipients: [],
        };
        byKey.set(key, m);
        out.push(m);
      }
      m.recipients.push({
        address: r.address,
        ...(r.notify !== null ? { notify: r.notify.split(",").filter(Boolean) } : {}),
        ...(r.orcpt !== null ? { orcpt: r.orcpt } : {}),
        attempts: r.attempts,
        ...(r.last_attempt_at !== null ? { lastAttemptAt: new Date(r.last_attempt_at) } : {}),
        nextAttemptAt: new Date(r.next_attempt_at),
        lastFailure: readFailure(r.last_error),
        delayNotified: r.delay_notified !== 0,
      });
    }
    return out;
  }

  /** Recipients are done (delivered, or failed and reported): removed; the message goes with its last recipient. */
  complete(id: string, addresses: string[]): void {
    const del = this.st("DELETE FROM recipients WHERE message_id = ? AND address = ?");
    this.db.transaction(() => {
      for (const a of addresses) del.run(id, a);
      this.st("DELETE FROM messages WHERE id = ? AND NOT EXISTS (SELECT 1 FROM recipients WHERE message_id = ?)").run(id, id);
    }).immediate();
  }

  /** An attempt for these recipients failed temporarily: count it, keep the reason, schedule the next. */
  deferred(id: string, addresses: string[], at: number, nextAt: number, failure: DeliveryFailure, countAttempt = true): void {
    const stored = storeFailure(failure);
    const upd = this.st(
      `UPDATE recipients SET attempts = attempts + ?, last_attempt_at = ?, next_attempt_at = ?, last_error = ? WHERE message_id = ? AND address = ?`,
    );
    this.db.transaction(() => {
      for (const a of addresses) upd.run(countAttempt ? 1 : 0, at, nextAt, stored, id, a);
    }).immediate();
  }

  /** Reschedules recipients without counting an attempt (e.g. the next hop's queue went into retry). */
  reschedule(id: string, addresses: string[], nextAt: number): void {
    const upd = this.st("UPDATE recipients SET next_attempt_at = ? WHERE message_id = ? AND address = ?");
    this.db.transaction(() => {
      for (const a of addresses) upd.run(nextAt, id, a);
    }).immediate();
  }

  /** Remove-Message -WithNDR: the queue manager reports these recipients as failed and removes them. */
  requestRemoval(id: string, addresses: string[]): void {
    const upd = this.st("UPDATE recipients SET remove_requested = 1 WHERE message_id = ? AND address = ?");
    this.db.transaction(() => {
      for (const a of addresses) upd.run(id, a);
    }).immediate();
  }

  /** Messages (per queue) with recipients an administrator removed with a report. */
  removalsRequested(): QueuedMessage[] {
    return this.group(this.st("SELECT * FROM recipients WHERE remove_requested = 1 ORDER BY domain, message_id, rowid").all() as RcptRow[]);
  }

  markDelayNotified(id: string, addresses: string[]): void {
    const upd = this.st("UPDATE recipients SET delay_notified = 1 WHERE message_id = ? AND address = ?");
    this.db.transaction(() => {
      for (const a of addresses) upd.run(id, a);
    }).immediate();
  }

  /** The next hop answered (a session was opened): its failure count starts again. */
  queueSucceeded(domain: string, at: number): void {
    this.db
      .prepare("INSERT INTO queues (domain) VALUES (?) ON CONFLICT(domain) DO NOTHING")
      .run(domain);
    this.st("UPDATE queues SET consecutive_failures = 0, last_attempt_at = ?, next_retry_at = NULL, last_error = '' WHERE domain = ?").run(at, domain);
  }

  /** No session could be had with the next hop: the queue goes into Retry until `nextAt`, and so do its recipients. */
  queueFailed(domain: string, at: number, nextAt: number, failure: DeliveryFailure, countFailure = true): void {
    this.db.transaction(() => {
      this.st("INSERT INTO queues (domain) VALUES (?) ON CONFLICT(domain) DO NOTHING").run(domain);
      this.db
        .prepare("UPDATE queues SET consecutive_failures = consecutive_failures + ?, last_attempt_at = ?, next_retry_at = ?, last_error = ? WHERE domain = ?")
        .run(countFailure ? 1 : 0, at, nextAt, storeFailure(failure), domain);
    }).immediate();
  }

  queueState(domain: string): { consecutiveFailures: number; lastAttemptAt?: Date; suspended: boolean } {
    const r = this.st("SELECT consecutive_failures, last_attempt_at, suspended FROM queues WHERE domain = ?").get(domain) as
      | { consecutive_failures: number; last_attempt_at: number | null; suspended: number }
      | undefined;
    if (!r) return { consecutiveFailures: 0, suspended: false };
    const last = toDate(r.last_attempt_at);
    return { consecutiveFailures: r.consecutive_failures, ...(last ? { lastAttemptAt: last } : {}), suspended: r.suspended !== 0 };
  }

  /** Retry-Queue: every recipient of the queue becomes due now; the failure count is kept (Exchange's behaviour). */
  retryNow(domain: string, now = Date.now()): number {
    return this.db.transaction(() => {
      this.st("UPDATE queues SET next_retry_at = ? WHERE domain = ?").run(now, domain);
      return this.st("UPDATE recipients SET next_attempt_at = ? WHERE domain = ?").run(now, domain).changes;
    }).immediate();
  }

  setSuspended(domain: string, suspended: boolean): void {
    this.st("UPDATE queues SET suspended = ? WHERE domain = ?").run(suspended ? 1 : 0, domain);
  }

  /** Drops empty queues that have no recorded failure (keeps the list short). */
  pruneEmptyQueues(): void {
    this.db
      .prepare("DELETE FROM queues WHERE suspended = 0 AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.domain = queues.domain)")
      .run();
  }

  close(): void {
    if (this.batch.length > 0) this.flush();
    this.db.close();
  }
}
