// One rotating, buffered log file writer shared by the protocol logs and the
// message tracking log: files <PREFIX><yyyymmdd>-<n>.log in one folder,
// a new file each UTC day and whenever the current one would pass the size
// cap, old files deleted at rotation: by age (maxAgeDays) and by the folder's
// total size for this prefix (maxTotalBytes, oldest files first).
//
// Several processes (cluster workers) log into the same folder. A file is
// only ever written by the process that created it: the number n is
// allocated by creating the file with O_EXCL, so two processes never share
// a file and never interleave partial lines. A reader merges the day's files
// by their timestamps. Retention never deletes a file this process has open
// (any RotatingFile of the process); a writer whose file was deleted anyway
// (by another process's retention or by hand) notices at its next flush and
// starts a new file instead of writing into a removed one.
//
// Logs are diagnostics, not data: lines are buffered in memory and written
// at least every flushIntervalMs without fsync, and a write error is reported
// (onError) instead of failing the SMTP session that logged.
import { mkdir, open, readdir, stat, unlink, type FileHandle } from "node:fs/promises";
import path from "node:path";

export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_AGE_DAYS = 30;
/** The folder's files of one prefix together, before the oldest are deleted. */
export const DEFAULT_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_FLUSH_INTERVAL_MS = 200;
/** Buffered bytes that trigger a flush without waiting for the timer. */
const EAGER_FLUSH_BYTES = 1024 * 1024;
const DAY_MS = 86_400_000;

/** Every file a RotatingFile of this process has open: retention never deletes one. */
const openFiles = new Set<string>();

export interface RotatingFileOptions {
  dir: string;
  /** File name prefix: "RECV", "SEND", "MSGTRK". */
  prefix: string;
  /** Lines written at the top of every new file (with their line ends), given the time of its first line. */
  header?: (created: Date) => string;
  maxFileBytes?: number;
  /** Files whose date is more than this many days before today (UTC) are deleted when a file is opened. 0 or less keeps everything. */
  maxAgeDays?: number;
  /**
   * When this prefix's files in the folder together pass this many bytes, the
   * oldest are deleted (checked whenever a file is opened, so the open files
   * may take the folder past it by up to one file each). 0 or less: no limit.
   */
  maxTotalBytes?: number;
  now?: () => Date;
  flushIntervalMs?: number;
  /** Background flush failures (default: a process warning). */
  onError?: (e: Error) => void;
}

/** "20261129" for a time on 2026-11-29 UTC. */
export function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10).replace(/-/g, "");
}

interface Entry {
  day: string;
  /** The line's time: a file opened for it is dated by it, so "#Date" never follows the first row. */
  at: number;
  text: string;
}

interface Current {
  day: string;
  fh: FileHandle;
  file: string;
  size: number;
  /** Bytes of the header: a file holding only its header takes a line of any size. */
  headerSize: number;
}

export class RotatingFile {
  private readonly dir: string;
  private readonly maxFileBytes: number;
  private readonly maxAgeDays: number;
  private readonly maxTotalBytes: number;
  private readonly now: () => Date;
  private readonly interval: number;
  private buffer: Entry[] = [];
  private bufferedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private current: Current | undefined;
  private readonly nextN = new Map<string, number>();
  private closed = false;
  private readonly nameRe: RegExp;

  constructor(private readonly opts: RotatingFileOptions) {
    if (!/^[A-Za-z]+$/.test(opts.prefix)) throw new Error(`bad log prefix ${opts.prefix}`);
    this.dir = path.resolve(opts.dir);
    this.maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.maxAgeDays = opts.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
    this.maxTotalBytes = opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
    this.now = opts.now ?? (() => new Date());
    this.interval = opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.nameRe = new RegExp(`^${opts.prefix}(\\d{8})-(\\d+)\\.log$`);
  }

  /** The clock the writer uses, so a row's timestamp and its file's day agree. */
  time(): Date {
    return this.now();
  }

  /** Queues one line (with its line end); the file is chosen by `at`'s UTC day. Never blocks, never throws. */
  write(text: string, at: Date = this.now()): void {
    if (this.closed) return;
    this.buffer.push({ day: utcDay(at), at: at.getTime(), text });
    this.bufferedBytes += text.length;
    if (this.bufferedBytes >= EAGER_FLUSH_BYTES) this.background();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.background(), this.interval);
      // Buffered lines must not keep a finished process alive; close() flushes them.
      this.timer.unref();
    }
  }

  private background(): void {
    this.flush().catch((e: Error) => (this.opts.onError ?? ((err: Error) => process.emitWarning(`log write failed: ${err.message}`)))(e));
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const entries = this.buffer;
    this.buffer = [];
    this.bufferedBytes = 0;
    // One writer at a time, in order; a failed flush does not block the next.
    const p = this.chain.then(() => this.writeEntries(entries));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async writeEntries(entries: Entry[]): Promise<void> {
    if (entries.length > 0 && this.current && (await this.current.fh.stat()).nlink === 0) {
      // Deleted under us: what follows goes to a new file, not into a removed one.
      await this.release();
    }
    // Consecutive lines for the same file go out in one write.
    let chunk = "";
    let chunkBytes = 0;
    const emit = async (): Promise<void> => {
      if (this.current && chunkBytes > 0) {
        await this.current.fh.write(chunk);
        this.current.size += chunkBytes;
      }
      chunk = "";
      chunkBytes = 0;
    };
    for (const e of entries) {
      const bytes = Buffer.byteLength(e.text);
      const cur = this.current;
      const used = cur ? cur.size + chunkBytes : 0;
      const full = cur !== undefined && used > cur.headerSize && used + bytes > this.maxFileBytes;
      if (!cur || cur.day !== e.day || full) {
        await emit();
        await this.rotate(e.day, new Date(e.at));
      }
      chunk += e.text;
      chunkBytes += bytes;
    }
    await emit();
  }

  /** Closes the current file (if any); the next line opens a new one. */
  private async release(): Promise<void> {
    const cur = this.current;
    this.current = undefined;
    if (!cur) return;
    openFiles.delete(cur.file);
    await cur.fh.close();
  }

  private async rotate(day: string, created: Date): Promise<void> {
    await this.release();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let n = this.nextN.get(day);
    if (n === undefined) {
      n = 1;
      for (const name of await readdir(this.dir)) {
        const m = this.nameRe.exec(name);
        if (m && m[1] === day) n = Math.max(n, Number(m[2]) + 1);
      }
    }
    for (;;) {
      try {
        // O_EXCL allocates n: this file is ours alone, whatever other processes do.
        const file = path.join(this.dir, `${this.opts.prefix}${day}-${n}.log`);
        const fh = await open(file, "wx", 0o600);
        openFiles.add(file);
        this.nextN.set(day, n + 1);
        const header = this.opts.header?.(created) ?? "";
        const size = Buffer.byteLength(header);
        this.current = { day, fh, file, size, headerSize: size };
        if (header) await fh.write(header);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        n++;
      }
    }
    await this.prune();
  }

  /**
   * Retention: delete this prefix's files dated more than maxAgeDays before
   * today, then, while the rest together pass maxTotalBytes, the oldest
   * (earliest day, then least recently written). Files open in this process
   * are never deleted.
   */
  private async prune(): Promise<void> {
    const cutoff = this.maxAgeDays > 0 ? utcDay(new Date(this.now().getTime() - this.maxAgeDays * DAY_MS)) : undefined;
    const kept: Array<{ file: string; day: string; n: number; size: number; mtime: number }> = [];
    for (const name of await readdir(this.dir)) {
      const m = this.nameRe.exec(name);
      if (!m) continue;
      const file = path.join(this.dir, name);
      if (openFiles.has(file)) {
        if (this.maxTotalBytes > 0) kept.push({ file, day: m[1] as string, n: Number(m[2]), size: await sizeOf(file, this.current), mtime: Infinity });
        continue;
      }
      if (cutoff !== undefined && (m[1] as string) < cutoff) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      if (this.maxTotalBytes <= 0) continue;
      const st = await stat(file).catch(() => undefined);
      if (st) kept.push({ file, day: m[1] as string, n: Number(m[2]), size: st.size, mtime: st.mtimeMs });
    }
    if (this.maxTotalBytes <= 0) return;
    let total = kept.reduce((sum, f) => sum + f.size, 0);
    if (total <= this.maxTotalBytes) return;
    kept.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.mtime - b.mtime || a.n - b.n));
    for (const f of kept) {
      if (total <= this.maxTotalBytes) break;
      if (openFiles.has(f.file)) continue;
      await unlink(f.file).catch(() => undefined);
      total -= f.size;
    }
  }

  /** Flushes and closes; later writes are ignored. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.release();
  }
}

/** An open file's size: ours from what we wrote, another writer's from the disk. */
async function sizeOf(file: string, cur: Current | undefined): Promise<number> {
  if (cur?.file === file) return cur.size;
  return (await stat(file).catch(() => undefined))?.size ?? 0;
}
