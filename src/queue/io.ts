// The spool's file system primitives, injectable so a test can record the
// exact order of writes and syncs (a kill -9 test cannot prove durability:
// the page cache survives it). The default goes through node:fs callbacks,
// i.e. libuv's threadpool, so an fdatasync never blocks the event loop.
import fs from "node:fs";
import path from "node:path";

export interface SpoolIo {
  open(path: string, flags: string): Promise<number>;
  /** Writes every byte of `bufs` at the file position (segments are opened for append). */
  write(fd: number, bufs: Buffer[]): Promise<void>;
  datasync(fd: number): Promise<void>;
  close(fd: number): Promise<void>;
  /** Full fsync, used for directories (a new name is directory metadata); datasync is used when absent. */
  fsync?(fd: number): Promise<void>;
}

function done<T>(resolve: (v: T) => void, reject: (e: unknown) => void) {
  return (err: NodeJS.ErrnoException | null, v: T) => (err ? reject(err) : resolve(v));
}

function writev(fd: number, bufs: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => fs.writev(fd, bufs, (err, n) => (err ? reject(err) : resolve(n))));
}

export const defaultSpoolIo: SpoolIo = {
  open: (p, flags) => new Promise((resolve, reject) => fs.open(p, flags, 0o600, done(resolve, reject))),
  async write(fd, bufs) {
    // libuv already loops over short writes and IOV_MAX; this loop is the
    // belt to its braces, since a silently short record would be a lost message.
    let rest = bufs.filter((b) => b.length > 0);
    while (rest.length > 0) {
      let n = await writev(fd, rest);
      if (n <= 0) throw new Error("write made no progress");
      const left: Buffer[] = [];
      for (const b of rest) {
        if (n >= b.length) n -= b.length;
        else {
          left.push(n > 0 ? b.subarray(n) : b);
          n = 0;
        }
      }
      rest = left;
    }
  },
  datasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
  fsync: (fd) => new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve()))),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
};

/** fsync a directory so the names created or removed in it survive a power loss. */
export async function syncDir(io: SpoolIo, dir: string): Promise<void> {
  const fd = await io.open(dir, "r");
  try {
    await (io.fsync ?? io.datasync)(fd);
  } finally {
    await io.close(fd);
  }
}

/**
 * mkdir -p with mode 0700, then fsync the parent of every folder it created
 * — and of `dir` and its parent in any case, because another process may
 * have just created them without syncing yet — so a folder that holds
 * acknowledged data cannot vanish with a power loss. Runs once per Spool.
 */
export async function ensureDirDurable(io: SpoolIo, dir: string, alwaysLevels = 2): Promise<void> {
  const target = path.resolve(dir);
  const first = await fs.promises.mkdir(target, { recursive: true, mode: 0o700 });
  const chain: string[] = [];
  for (let d = target; d !== path.dirname(d); d = path.dirname(d)) {
    const created = first !== undefined && d.length >= path.resolve(first).length;
    if (!created && chain.length >= alwaysLevels) break;
    chain.push(d);
  }
  // Outermost first: a name is synced into a parent whose own name is already durable.
  for (const d of chain.reverse()) await syncDir(io, path.dirname(d));
}
