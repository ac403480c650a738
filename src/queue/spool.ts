// The durable spool: accepted messages are appended to per-process segment
// files DIR/queue/spool/<pid>-<startTimeMs>-<seq>.seg with group commit, so
// one fdatasync makes a whole batch durable. The SMTP 250 is sent only after
// append() resolves, and append() resolves only after a datasync that began
// after the record's bytes were written (see docs in src/queue/README.md).
//
// Done markers go to an append-only "<segment>.done" file (one id a line) and
// are NOT synced: losing one to a power cut re-delivers a message (at least
// once), never loses one. A closed segment whose records are all done is
// deleted with its .done file.
import { readdir, readFile, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { SealpostError } from "../errors/errors.js";
import { DoneFile } from "./done-file.js";
import { defaultSpoolIo, ensureDirDurable, syncDir, type SpoolIo } from "./io.js";
import { encodeEnvelope, encodeRecord, MAX_RECORD_BYTES, newSegmentHeader, parseSegment, recordSize, type SkippedRegion } from "./record.js";

export type { SpoolIo } from "./io.js";

export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;

/** What is stored with each message. Structural copies of the SMTP types, so the spool does not depend on the engine. */
export interface SpoolEnvelope {
  /** ISO 8601 time of acceptance. */
  receivedAt: string;
  /** "" for the null reverse-path. */
  mailFrom: string;
  rcptTo: Array<{ address: string; params: { notify?: string[]; orcpt?: string } }>;
  mailParams: { size?: number; body?: string; smtputf8?: boolean; ret?: string; envid?: string };
  connector: string;
  sessionId: string;
  tls?: { protocol: string; cipher: string; resumed?: boolean; peerSubject?: string; peerIssuer?: string; peerThumbprint?: string };
  verdict?: { verdict: string; partner?: string; reason?: string };
  /** Stored as is (must be JSON-serialisable). */
  meta?: Record<string, unknown>;
}

export interface SpooledMessage {
  id: string;
  /** Base name of the segment file holding the record. */
  segment: string;
  /** Byte offset of the record in the segment. */
  offset: number;
  envelope: SpoolEnvelope;
  message: Buffer;
}

export interface SkippedRecord extends SkippedRegion {
  segment: string;
}

const SEGMENT_RE = /^(\d+)-(\d+)-(\d+)\.seg$/;

/** What a segment's name says: the process that wrote it, when its Spool started, its sequence number. */
export interface SegmentInfo {
  name: string;
  pid: number;
  startMs: number;
  seq: number;
}

export interface RecoverOptions {
  /**
   * Only the segments this returns true for are read (and, when all done,
   * deleted): e.g. those of one worker that died, while other workers are
   * still appending to theirs. Default: every segment.
   */
  segments?: (seg: SegmentInfo) => boolean;
}

/** Segment files opened for appending by Spools of this process: recover() must never delete them. */
const liveSegments = new Set<string>();

let idCounter = 0;
/** Random bytes for ids, drawn 4 KiB at a time: a randomBytes() call per message cost more than the rest of the id. */
let randomPool = Buffer.alloc(0);
let randomAt = 0;

/** Time-ordered id: 12 hex digits of ms since the epoch, a per-process counter, 40 random bits. */
export function newMessageId(now = Date.now()): string {
  idCounter = (idCounter + 1) % 0x1000000;
  if (randomAt + 5 > randomPool.length) {
    randomPool = randomBytes(4096);
    randomAt = 0;
  }
  const rnd = randomPool.toString("hex", randomAt, randomAt + 5);
  randomAt += 5;
  return now.toString(16).padStart(12, "0") + idCounter.toString(16).padStart(6, "0") + rnd;
}

interface Pending {
  id: string;
  env: Buffer;
  message: Buffer;
  size: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One segment's bookkeeping: the acknowledged ids not yet done. */
interface Segment {
  name: string;
  file: string;
  outstanding: Set<string>;
  closed: boolean;
  deleting: boolean;
  /** Written by another process (or an earlier run): its .done file may end in a line cut short by a kill. */
  adopted?: boolean;
  done?: DoneFile;
}

interface Active {
  seg: Segment;
  fd: number;
  size: number;
  seed: number;
  /** The segment header, written with the first batch (nothing is acknowledged before it is durable too). */
  header?: Buffer | undefined;
}

function ioError(what: string, e: unknown): SealpostError {
  return new SealpostError("IO_ERROR", `The spool could not ${what}: ${(e as Error).message}`, { cause: e });
}

export class Spool {
  private readonly spoolDir: string;
  private readonly io: SpoolIo;
  private readonly maxSegmentBytes: number;
  private readonly startMs = Date.now();
  private seq = 0;
  private dirReady = false;
  private active: Active | undefined;
  private readonly segments = new Map<string, Segment>();
  private readonly idToSegment = new Map<string, Segment>();
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly background = new Set<Promise<void>>();
  private readonly counters = { appends: 0, syncs: 0 };

  constructor(opts: { dir: string; io?: SpoolIo; maxSegmentBytes?: number }) {
    this.spoolDir = path.join(path.resolve(opts.dir), "spool");
    this.io = opts.io ?? defaultSpoolIo;
    this.maxSegmentBytes = opts.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
  }

  /** appends: records acknowledged; syncs: datasyncs of segment data. */
  get stats(): { readonly appends: number; readonly syncs: number } {
    return { ...this.counters };
  }

  /**
   * Resolves with the new message id only after the record is durable: its
   * bytes were written AND a datasync that started after that write finished
   * has completed. Concurrent calls share one datasync (group commit).
   */
  append(envelope: SpoolEnvelope, message: Buffer): Promise<string> {
    if (this.closed) return Promise.reject(new SealpostError("SPOOL_CLOSED", "The spool is closed; the message was not queued."));
    const id = newMessageId();
    let env: Buffer;
    try {
      env = encodeEnvelope(id, envelope);
    } catch (e) {
      return Promise.reject(new SealpostError("INVALID_ARGUMENT", `The message envelope cannot be stored: ${(e as Error).message}`, { cause: e }));
    }
    const size = recordSize(env, message);
    if (size > MAX_RECORD_BYTES) return Promise.reject(new SealpostError("INVALID_ARGUMENT", "The message is too large for the spool."));
    return new Promise<string>((resolve, reject) => {
      this.queue.push({ id, env, message, size, resolve: () => resolve(id), reject });
      this.draining ??= this.drain();
    });
  }

  /**
   * While one batch is being written and synced, new appends accumulate in
   * the queue; the next turn of this loop takes them all. N concurrent
   * appends therefore cost about two datasyncs, not N.
   */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.writeBatch();
    } finally {
      this.draining = undefined;
    }
  }

  private async writeBatch(): Promise<void> {
    const head = this.queue[0];
    if (!head) return;
    let act: Active;
    try {
      // Awaiting here (even when the segment is already open) lets every
      // append made in the same tick join this batch.
      act = await this.ensureActive();
      if (act.size > 0 && act.size + head.size > this.maxSegmentBytes) {
        await this.rotate();
        act = await this.ensureActive();
      }
    } catch (e) {
      // No segment to write to: refuse what is waiting rather than spin.
      for (const p of this.queue.splice(0)) p.reject(ioError("open a segment", e));
      return;
    }
    let take = 0;
    let bytes = act.header?.length ?? 0;
    for (const p of this.queue) {
      if (take > 0 && act.size + bytes + p.size > this.maxSegmentBytes) break;
      bytes += p.size;
      take++;
    }
    const batch = this.queue.splice(0, take);
    const bufs: Buffer[] = act.header ? [act.header] : [];
    for (const p of batch) bufs.push(...encodeRecord(act.seed, p.env, p.message));
    try {
      await this.io.write(act.fd, bufs);
      act.size += bytes;
      act.header = undefined;
      // The datasync starts only now, after the write above completed: that
      // ordering is the whole durability argument for this batch.
      await this.io.datasync(act.fd);
      this.counters.syncs++;
    } catch (e) {
      // After a failed write or fsync the file's state is unknown (a failed
      // fsync may drop the dirty pages and a retry would "succeed"): never
      // acknowledge from this segment again, continue in a fresh one.
      for (const p of batch) p.reject(ioError("write a message durably", e));
      await this.rotate().catch(() => undefined);
      return;
    }
    for (const p of batch) {
      act.seg.outstanding.add(p.id);
      this.idToSegment.set(p.id, act.seg);
      this.counters.appends++;
      p.resolve();
    }
    if (act.size >= this.maxSegmentBytes) await this.rotate().catch(() => undefined);
  }

  private async ensureActive(): Promise<Active> {
    if (this.active) return this.active;
    if (!this.dirReady) {
      await ensureDirDurable(this.io, this.spoolDir);
      this.dirReady = true;
    }
    for (;;) {
      const name = `${process.pid}-${this.startMs}-${this.seq++}.seg`;
      const file = path.join(this.spoolDir, name);
      let fd: number;
      try {
        // O_EXCL: never append to a file another Spool (or an earlier life of this pid) owns.
        fd = await this.io.open(file, "ax");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
        throw e;
      }
      liveSegments.add(file);
      const seg: Segment = { name, file, outstanding: new Set(), closed: false, deleting: false };
      try {
        // fdatasync of the file makes its bytes durable, not the name that
        // leads to them: sync the folder once, before the first acknowledgement.
        await syncDir(this.io, this.spoolDir);
      } catch (e) {
        liveSegments.delete(file);
        await this.io.close(fd).catch(() => undefined);
        throw e;
      }
      this.segments.set(name, seg);
      const { header, seed } = newSegmentHeader(randomBytes(16));
      this.active = { seg, fd, size: 0, seed, header };
      return this.active;
    }
  }

  /** Closes the active segment; it is deleted as soon as all its records are done. */
  private async rotate(): Promise<void> {
    const act = this.active;
    if (!act) return;
    this.active = undefined;
    act.seg.closed = true;
    liveSegments.delete(act.seg.file);
    try {
      await this.io.close(act.fd);
    } finally {
      this.maybeDelete(act.seg);
    }
  }

  /**
   * Marks a message done (delivered or finally failed). The marker is
   * written (it survives kill -9 once this resolves) but not synced: a power
   * loss may bring the message back, to be delivered again.
   */
  async markDone(id: string): Promise<void> {
    const seg = this.idToSegment.get(id);
    if (!seg) throw new SealpostError("NOT_FOUND", `No spooled message ${id} is pending in this spool (recovered messages must be adopted).`);
    this.idToSegment.delete(id);
    seg.done ??= new DoneFile(this.io, `${seg.file}.done`, { freshLine: seg.adopted === true });
    try {
      await seg.done.add(id);
    } catch (e) {
      this.idToSegment.set(id, seg);
      throw ioError("record a message as done", e);
    }
    seg.outstanding.delete(id);
    this.maybeDelete(seg);
  }

  /** Takes over recovered messages, so markDone() works for them and their segments are deleted when done. */
  adopt(messages: SpooledMessage[]): void {
    for (const m of messages) {
      let seg = this.segments.get(m.segment);
      if (!seg) {
        seg = { name: m.segment, file: path.join(this.spoolDir, m.segment), outstanding: new Set(), closed: true, deleting: false, adopted: true };
        this.segments.set(m.segment, seg);
      }
      seg.outstanding.add(m.id);
      this.idToSegment.set(m.id, seg);
    }
  }

  /** True while this Spool holds the segment (open for appending, or adopted and not yet all done). */
  holds(segment: string): boolean {
    return this.segments.has(segment);
  }

  /** Ids acknowledged (or adopted) and not yet done. */
  pendingIds(): string[] {
    return [...this.idToSegment.keys()];
  }

  private maybeDelete(seg: Segment): void {
    if (!seg.closed || seg.outstanding.size > 0 || seg.deleting) return;
    seg.deleting = true;
    const p = (async () => {
      await seg.done?.close();
      await deleteSegment(this.io, seg.file);
      this.segments.delete(seg.name);
    })()
      // A failed delete leaves a fully-done segment behind; recover() removes it.
      .catch(() => undefined)
      .finally(() => this.background.delete(p));
    this.background.add(p);
  }

  /** Waits for queued appends, closes the active segment and the done files. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.draining) await this.draining;
    await this.rotate();
    for (const seg of this.segments.values()) await seg.done?.close();
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  /**
   * At startup, before any Spool appends to the folder (e.g. in the cluster
   * primary before forking): every record of every segment that is not
   * marked done, in order (segments by start time, pid, sequence; records by
   * offset). Damaged regions — a torn tail from a crash mid-write, which was
   * never acknowledged, or a CRC mismatch — are skipped and counted. Segments
   * with nothing pending are deleted with their .done files.
   */
  static async recover(dir: string, opts: RecoverOptions = {}): Promise<{ pending: SpooledMessage[]; skipped: number; skippedRecords: SkippedRecord[] }> {
    const spoolDir = path.join(path.resolve(dir), "spool");
    let names: string[];
    try {
      names = await readdir(spoolDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { pending: [], skipped: 0, skippedRecords: [] };
      throw ioError("read its folder", e);
    }
    const segs = names
      .map((n) => ({ n, m: SEGMENT_RE.exec(n) }))
      .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
      .filter(({ n, m }) => !opts.segments || opts.segments(segmentInfo(n, m)))
      .sort((a, b) => Number(a.m[2]) - Number(b.m[2]) || Number(a.m[1]) - Number(b.m[1]) || Number(a.m[3]) - Number(b.m[3]));
    const pending: SpooledMessage[] = [];
    const skippedRecords: SkippedRecord[] = [];
    for (const { n, m } of segs) {
      const file = path.join(spoolDir, n);
      if (liveSegments.has(file)) continue;
      let buf: Buffer;
      let done: Set<string>;
      try {
        buf = await readFile(file);
        done = await readDoneIds(`${file}.done`);
      } catch (e) {
        throw ioError(`read segment ${n}`, e);
      }
      const { records, skipped } = parseSegment(buf);
      for (const s of skipped) skippedRecords.push({ segment: n, ...s });
      const left = records.filter((r) => !done.has(r.id));
      for (const r of left) {
        pending.push({ id: r.id, segment: n, offset: r.offset, envelope: r.envelope as unknown as SpoolEnvelope, message: r.message });
      }
      if (left.length === 0 && !ownedByLiveProcess(Number(m[1]))) await deleteSegment(defaultSpoolIo, file);
    }
    // .done files whose segment is gone (a crash between the two unlinks).
    const segSet = new Set(names);
    for (const n of names) {
      if (!n.endsWith(".seg.done") || segSet.has(n.slice(0, -5))) continue;
      const m = SEGMENT_RE.exec(n.slice(0, -5));
      if (m && opts.segments && !opts.segments(segmentInfo(n.slice(0, -5), m))) continue;
      await unlink(path.join(spoolDir, n)).catch(() => undefined);
    }
    return { pending, skipped: skippedRecords.length, skippedRecords };
  }
}

function segmentInfo(name: string, m: RegExpExecArray): SegmentInfo {
  return { name, pid: Number(m[1]), startMs: Number(m[2]), seq: Number(m[3]) };
}

/** Another running process may still be appending to its segments: never delete them under it. */
function ownedByLiveProcess(pid: number): boolean {
  if (pid === process.pid) return false; // our own live segments are excluded by liveSegments
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readDoneIds(file: string): Promise<Set<string>> {
  try {
    return new Set((await readFile(file, "utf8")).split("\n").filter((l) => l.length > 0));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Set();
    throw e;
  }
}

/**
 * Segment first, folder sync, then the .done file: a crash in between leaves
 * an orphan .done (harmless, removed at recovery), never a segment without
 * its done markers (which would deliver everything in it again).
 */
async function deleteSegment(io: SpoolIo, file: string): Promise<void> {
  await unlink(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
  await syncDir(io, path.dirname(file));
  await unlink(`${file}.done`).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
}
