// The revocation cache: raw DER CRLs and OCSP responses on disk (one file
// each, written atomically, shared by every worker process and kept across
// restarts) with a parsed copy in memory. A memory copy is used only while the
// disk file is unchanged: when another worker has refreshed the file, it is
// read again. Beside each file, NAME.json says where it came from and what it
// was verified against (so Update-RevocationCache, in another process, can
// fetch it again). Freshness (by nextUpdate and by age) and the
// one-refresh-at-a-time rule live here.
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, statSync, utimesSync } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import * as path from "node:path";
import { writeFileDurable } from "../../config/datadir.js";

export const HOUR_MS = 3_600_000;

/** The answer window of a cached CRL or OCSP response. */
export interface Window {
  start: Date;
  end: Date;
}

export type Freshness = "fresh" | "due" | "expired";

/**
 * "expired" past end + skew (the entry may no longer be used); "due" in the last 10% of the window or
 * past its end (still used, refreshed in the background); "fresh" otherwise.
 */
export function freshness(w: Window, now: Date, skewMs: number): Freshness {
  const t = now.getTime();
  const end = w.end.getTime();
  if (t > end + skewMs) return "expired";
  const span = Math.max(0, end - w.start.getTime());
  return t >= end - span / 10 ? "due" : "fresh";
}

/**
 * Freshness of a cached entry by its window (as freshness()) and by its age: past fetchedAt + maxAgeMs it
 * is "expired" (fetched again before it answers), in the last 10% of that age "due". The age is measured
 * on this server's clock, so no skew is added to it.
 */
export function entryFreshness(e: { window: Window; fetchedAt: Date }, now: Date, skewMs: number, maxAgeMs: number): Freshness {
  const byWindow = freshness(e.window, now, skewMs);
  if (byWindow === "expired") return "expired";
  const age = now.getTime() - e.fetchedAt.getTime();
  if (age > maxAgeMs) return "expired";
  return byWindow === "due" || age >= maxAgeMs * 0.9 ? "due" : "fresh";
}

/** Whether an entry that is not usable is so by its nextUpdate ("window") or by its age ("age"); undefined if usable. */
export function expiredBy(e: { window: Window; fetchedAt: Date }, now: Date, skewMs: number, maxAgeMs: number): "window" | "age" | undefined {
  if (freshness(e.window, now, skewMs) === "expired") return "window";
  return now.getTime() - e.fetchedAt.getTime() > maxAgeMs ? "age" : undefined;
}

/** NAME.json: what a cached CRL or OCSP response is for (base64 DER certificates). */
export type EntryMeta =
  | { kind: "crl"; url: string; issuer: string }
  | { kind: "ocsp"; urls: string[]; cert: string; issuer: string };

/** How long a file's mtime, once read, is taken as current: how soon a worker sees another worker's refresh. */
export const MTIME_RECHECK_MS = 1000;

/** Files of the cache folder: bounded reads, durable writes, mtimes as change markers. */
export class DiskCache {
  private ready = false;
  /**
   * mtimes read recently (name → when, by the checker's clock, and the value). Every check of a
   * certificate asks for the mtime of its CRL or OCSP file; one stat a second per file, not one per
   * message, is enough to notice another worker's refresh.
   */
  private readonly seen = new Map<string, { at: number; mtime: number | undefined }>();

  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  private ensure(): void {
    if (this.ready) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    this.ready = true;
  }

  file(name: string): string {
    if (!/^[a-f0-9]{64}\.(crl|ocsp)(\.json)?$/.test(name)) throw new Error("bad revocation cache file name");
    return path.join(this.dir, name);
  }

  /** Digests of the NAME.json contents this process wrote or read, so an unchanged one is not written again. */
  private readonly metaSeen = new Map<string, string>();

  /** Writes NAME.json unless it already says the same. Best effort: the entry works without it. */
  writeMeta(name: string, meta: EntryMeta): void {
    const data = Buffer.from(JSON.stringify(meta));
    const digest = createHash("sha256").update(data).digest("hex");
    if (this.metaSeen.get(name) === digest) return;
    try {
      this.ensure();
      writeFileDurable(this.file(`${name}.json`), data, 0o600);
      this.metaSeen.delete(name);
      this.metaSeen.set(name, digest);
      if (this.metaSeen.size > 25_000) this.metaSeen.delete(this.metaSeen.keys().next().value as string);
    } catch {
      // the cache still works; Update-RevocationCache will not know this entry
    }
  }

  /** The names of the cached entries (NAME for every NAME.crl / NAME.ocsp file), and their NAME.json when readable. */
  async listEntries(): Promise<Array<{ name: string; meta?: EntryMeta }>> {
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch {
      return [];
    }
    const names = files.filter((f) => /^[a-f0-9]{64}\.(crl|ocsp)$/.test(f)).sort();
    const have = new Set(files);
    const out: Array<{ name: string; meta?: EntryMeta }> = [];
    for (const name of names) {
      let meta: EntryMeta | undefined;
      if (have.has(`${name}.json`)) {
        const file = await this.read(`${name}.json`, 1 << 20);
        try {
          const parsed = file ? (JSON.parse(file.data.toString("utf8")) as EntryMeta) : undefined;
          if (parsed && (parsed.kind === "crl" || parsed.kind === "ocsp")) meta = parsed;
        } catch {
          meta = undefined;
        }
      }
      out.push(meta ? { name, meta } : { name });
    }
    return out;
  }

  /** mtime in ms, or undefined when the file does not exist (or cannot be read); at most MTIME_RECHECK_MS old. */
  async mtime(name: string): Promise<number | undefined> {
    const t = this.now();
    const hit = this.seen.get(name);
    if (hit && t >= hit.at && t - hit.at < MTIME_RECHECK_MS) return hit.mtime;
    let mtime: number | undefined;
    try {
      mtime = (await stat(this.file(name))).mtimeMs;
    } catch {
      mtime = undefined;
    }
    this.remember(name, mtime);
    return mtime;
  }

  private remember(name: string, mtime: number | undefined): void {
    this.seen.delete(name);
    this.seen.set(name, { at: this.now(), mtime });
    if (this.seen.size > 4096) this.seen.delete(this.seen.keys().next().value as string);
  }

  /** Contents and mtime, or undefined when missing, unreadable or larger than maxBytes. */
  async read(name: string, maxBytes: number): Promise<{ data: Buffer; mtimeMs: number } | undefined> {
    let fh;
    try {
      fh = await open(this.file(name), "r");
    } catch {
      return undefined;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > maxBytes) return undefined;
      const data = Buffer.alloc(st.size);
      let off = 0;
      while (off < st.size) {
        const { bytesRead } = await fh.read(data, off, st.size - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      if (off !== st.size) return undefined;
      return { data, mtimeMs: st.mtimeMs };
    } catch {
      return undefined;
    } finally {
      await fh.close();
    }
  }

  /**
   * Writes atomically (temporary file, fsync, rename) and stamps the file with `at` (the checker's clock),
   * which later readers take as the fetch time. Returns the mtime to remember, or undefined on failure
   * (the entry then lives in memory only).
   */
  write(name: string, data: Buffer, at: Date): number | undefined {
    try {
      this.ensure();
      const file = this.file(name);
      writeFileDurable(file, data, 0o600);
      utimesSync(file, at, at);
      const mtime = statSync(file).mtimeMs;
      this.remember(name, mtime);
      return mtime;
    } catch {
      this.seen.delete(name);
      return undefined;
    }
  }
}

/** At most one run per key at a time; later callers share the running promise. */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.running.get(key);
    if (existing) return existing;
    const p = fn().finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  get size(): number {
    return this.running.size;
  }

  /** Settles when every run started so far has settled. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()]);
  }
}

export interface EntryHooks<P> {
  /** Fetches a new copy (shared with any refresh of the same entry already running). */
  refresh: (seen?: Entry<P>) => Promise<Entry<P>>;
  /** The current entry, read again from disk when another worker changed the file. */
  reload: () => Promise<Entry<P> | undefined>;
}

/** One cached CRL or OCSP response. */
export interface Entry<P> {
  name: string;
  der: Buffer;
  parsed: P;
  window: Window;
  /** mtime of the disk file this copy matches (undefined: memory only). */
  mtimeMs: number | undefined;
  fetchedAt: Date;
  /** Fingerprints of issuers this copy has been verified against. */
  verifiedFor: Set<string>;
  /** Set by the last check that used the entry: how to refresh and reload it (background refreshes, refreshDue). */
  hooks?: EntryHooks<P>;
}

/**
 * Memory map of entries over the disk cache, bounded in count and in bytes (oldest dropped first).
 * `decode` turns file bytes into an entry's parsed form and window; it throws for bytes it refuses.
 */
export class EntryStore<P> {
  private readonly mem = new Map<string, Entry<P>>();
  private readonly reloads = new SingleFlight<Entry<P> | undefined>();
  private bytes = 0;

  constructor(
    private readonly disk: DiskCache,
    private readonly maxEntries: number,
    private readonly maxBytes: number = Number.POSITIVE_INFINITY,
  ) {}

  /**
   * The current entry: the memory copy when the disk file is unchanged (or gone), else the disk copy
   * read again (once, however many callers ask). A disk copy that cannot be read or decoded, or is older
   * than the memory copy, is ignored.
   */
  async current(
    name: string,
    maxBytes: number,
    decode: (der: Buffer, fetchedAt: Date) => Promise<{ parsed: P; window: Window; verifiedFor: string }>,
  ): Promise<Entry<P> | undefined> {
    const mtime = await this.disk.mtime(name);
    const m = this.mem.get(name);
    if (mtime === undefined || (m && m.mtimeMs === mtime)) return m;
    return this.reloads.run(name, async () => {
      const file = await this.disk.read(name, maxBytes);
      let decoded;
      try {
        if (file) decoded = await decode(file.data, new Date(file.mtimeMs));
      } catch {
        // refused below
      }
      const mine = this.mem.get(name);
      if (!file || !decoded || (mine && decoded.window.start.getTime() < mine.window.start.getTime())) {
        // Unusable or older than ours: keep the memory copy and do not read this file version again.
        if (mine) mine.mtimeMs = file?.mtimeMs ?? mtime;
        return mine;
      }
      const entry: Entry<P> = {
        name,
        der: file.data,
        parsed: decoded.parsed,
        window: decoded.window,
        mtimeMs: file.mtimeMs,
        fetchedAt: new Date(file.mtimeMs),
        verifiedFor: new Set([decoded.verifiedFor]),
      };
      if (mine?.hooks) entry.hooks = mine.hooks;
      this.set(entry);
      return entry;
    });
  }

  /** Stores a freshly fetched entry on disk (with what it is for) and in memory. */
  put(entry: Omit<Entry<P>, "mtimeMs">, meta?: EntryMeta): Entry<P> {
    if (meta) this.disk.writeMeta(entry.name, meta);
    const full: Entry<P> = { ...entry, mtimeMs: this.disk.write(entry.name, entry.der, entry.fetchedAt) };
    const old = this.mem.get(entry.name);
    if (old?.hooks && !full.hooks) full.hooks = old.hooks;
    this.set(full);
    return full;
  }

  peek(name: string): Entry<P> | undefined {
    return this.mem.get(name);
  }

  entries(): Entry<P>[] {
    return [...this.mem.values()];
  }

  private set(entry: Entry<P>): void {
    this.drop(entry.name);
    this.mem.set(entry.name, entry);
    this.bytes += entry.der.length;
    while (this.mem.size > 1 && (this.mem.size > this.maxEntries || this.bytes > this.maxBytes)) {
      this.drop(this.mem.keys().next().value as string);
    }
  }

  private drop(name: string): void {
    const old = this.mem.get(name);
    if (!old) return;
    this.bytes -= old.der.length;
    this.mem.delete(name);
  }
}
