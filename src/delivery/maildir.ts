// Local delivery to Maildir: DIR/maildir/<domain>/<encoded local part>/{tmp,new,cur}.
//
// Durability: the message is written to tmp/, fsynced, renamed into new/,
// and new/ is fsynced before deliverToMaildir() resolves; folders created on
// the way are fsynced into their parents. Only then may the caller mark the
// spooled message done (Spool.markDone), so a crash in between delivers the
// message twice, never zero times (at least once).
//
// Safety: the local part comes from the network (RCPT TO). encodeLocalPart()
// maps every possible string to a single path component that cannot be "."
// or "..", contains no separator and no NUL, so no address can name a path
// outside its domain's folder.
import { createHash } from "node:crypto";
import fs from "node:fs";
import { lstat, mkdir, readdir, rename, unlink } from "node:fs/promises";
import os from "node:os";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { dataFolder } from "../config/datadir.js";
import { SealpostError } from "../errors/errors.js";

/** The Maildir root inside a data folder. */
export function maildirRoot(dataDir: string): string {
  return dataFolder(dataDir).maildirRoot;
}

const SAFE = /^[a-z0-9._+-]$/;
/** Longest encoded name kept as is; longer ones are cut and given a hash suffix (file names are at most 255 bytes). */
export const MAX_ENCODED_LOCAL_PART = 200;

/**
 * One safe, non-empty folder name per local part: lower-cased, then every
 * UTF-8 byte outside [a-z0-9._+-] — and a leading "." — percent-encoded
 * ("%2F"). "%" itself is encoded, so the mapping is injective. "=" is never
 * produced by the byte encoding, which leaves it free for the two special
 * forms: "=" for the empty local part, and "<prefix>=<hash>" for names over
 * MAX_ENCODED_LOCAL_PART characters.
 */
export function encodeLocalPart(local: string): string {
  const bytes = Buffer.from(local.normalize("NFC").toLowerCase(), "utf8");
  let out = "";
  for (const [i, byte] of bytes.entries()) {
    const ch = String.fromCharCode(byte);
    out += SAFE.test(ch) && !(i === 0 && ch === ".") ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (out === "") return "=";
  if (out.length <= MAX_ENCODED_LOCAL_PART) return out;
  let cut = MAX_ENCODED_LOCAL_PART - 33;
  // Do not split a %XX escape (cosmetic: the hash keeps names distinct anyway).
  const pct = out.lastIndexOf("%", cut - 1);
  if (pct !== -1 && pct > cut - 3) cut = pct;
  return `${out.slice(0, cut)}=${createHash("sha256").update(out).digest("hex").slice(0, 32)}`;
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DOMAIN_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** A normalized domain: lower-case letters, digits, hyphens and dots between labels (A-labels for IDNs), at most 253 characters. */
export function isNormalizedDomain(domain: string): boolean {
  return domain.length <= 253 && DOMAIN_RE.test(domain);
}

let counter = 0;
const HOST = os
  .hostname()
  // Maildir's own escapes for the two characters a host part must not hold.
  .replace(/\//g, "\\057")
  .replace(/:/g, "\\072");

/**
 * "<seconds>.M<microseconds>P<pid>Q<counter>.<host>", the classic Maildir
 * unique name; with a delivery tag, ",X=<tag>" after it (the extension
 * syntax Dovecot and Courier use for ",S=<size>"; readers ignore fields they
 * do not know).
 */
function uniqueName(tag?: string): string {
  const us = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
  const sec = us / 1_000_000n;
  counter++;
  return `${sec}.M${us % 1_000_000n}P${process.pid}Q${counter}.${HOST}${tag ? `,X=${tag}` : ""}`;
}

const TAG_RE = /^[A-Za-z0-9_-]{1,64}$/;
const TAG_IN_NAME = /,X=([A-Za-z0-9_-]{1,64})(?:[,:]|$)/;

/** The mailbox folder of an address (no check that it exists). */
function mailboxDir(root: string, domain: string, localPart: string): string {
  return path.join(path.resolve(root), domain, encodeLocalPart(localPart));
}

/**
 * Which tagged deliveries a mailbox already holds (in new/ or cur/): how
 * spool recovery tells a copy that a killed process delivered (renamed into
 * new/, synced) but did not get to mark done from one it never wrote. A copy
 * still in tmp/ was never delivered and does not count. Each mailbox is read
 * once per index: make one index per recovery, not one for ever.
 */
export class DeliveredIndex {
  private readonly boxes = new Map<string, Promise<Set<string>>>();

  constructor(private readonly root: string) {}

  has(domain: string, localPart: string, tag: string): Promise<boolean> {
    if (!isNormalizedDomain(domain)) return Promise.resolve(false);
    const box = mailboxDir(this.root, domain, localPart);
    let tags = this.boxes.get(box);
    if (!tags) {
      tags = (async () => {
        const found = new Set<string>();
        for (const sub of ["new", "cur"]) {
          let names: string[];
          try {
            names = await readdir(path.join(box, sub));
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
            throw e;
          }
          for (const n of names) {
            const m = TAG_IN_NAME.exec(n);
            if (m) found.add(m[1] as string);
          }
        }
        return found;
      })();
      this.boxes.set(box, tags);
      // A failed read must not be cached: the caller retries.
      tags.catch(() => this.boxes.delete(box));
    }
    return tags.then((t) => t.has(tag));
  }
}

function cb(fn: (fd: number, done: (e: NodeJS.ErrnoException | null) => void) => void, fd: number): Promise<void> {
  return new Promise((resolve, reject) => fn(fd, (e) => (e ? reject(e) : resolve())));
}

async function syncDir(dir: string): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(dir, "r", (e, f) => (e ? reject(e) : resolve(f))));
  try {
    await cb(fs.fsync, fd);
  } finally {
    await cb((f, d) => fs.close(f, d), fd);
  }
}

/**
 * Folders known (in this process) to exist with their names durable in the
 * parent. The first sight of a folder fsyncs its parent even if another
 * process created it, because that process may not have synced it yet.
 * In-flight checks are shared so concurrent deliveries wait for the same sync.
 */
const ready = new Map<string, Promise<void>>();

function ensureDir(dir: string): Promise<void> {
  let p = ready.get(dir);
  if (!p) {
    p = (async () => {
      try {
        await mkdir(dir, { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      // Refuse a symlink or a file planted where a folder should be.
      const st = await lstat(dir);
      if (!st.isDirectory()) throw new Error(`${dir} is not a folder`);
      await syncDir(path.dirname(dir));
    })();
    ready.set(dir, p);
    // A failure must not be cached: the next delivery tries again.
    p.catch(() => ready.delete(dir));
  }
  return p;
}

/** Forget cached folders (a test or an administrator removed some). */
export function resetMaildirCache(): void {
  ready.clear();
}

function writeAll(fd: number, bufs: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (rest: Buffer[]): void => {
      if (rest.length === 0) return resolve();
      fs.writev(fd, rest, (e, n) => {
        if (e) return reject(e);
        if (n <= 0) return reject(new Error("write made no progress"));
        const left: Buffer[] = [];
        for (const b of rest) {
          if (n >= b.length) n -= b.length;
          else {
            left.push(b.subarray(n));
            n = 0;
          }
        }
        step(left);
      });
    };
    step(bufs.filter((b) => b.length > 0));
  });
}

/**
 * Delivers one message to <root>/<domain>/<encodeLocalPart(localPart)>/new/
 * and resolves with the file's path once the file and its name in new/ are
 * durable. `root` is the Maildir root (maildirRoot(dataDir)); `domain` must
 * already be normalized (isNormalizedDomain), else INVALID_DOMAIN. `tag`
 * ([A-Za-z0-9_-], at most 64) goes into the file name, for DeliveredIndex.
 */
export async function deliverToMaildir(root: string, domain: string, localPart: string, message: Buffer, opts: { prepend?: Buffer; tag?: string } = {}): Promise<string> {
  if (!isNormalizedDomain(domain)) {
    throw new SealpostError("INVALID_DOMAIN", `The domain "${domain}" is not a normalized domain name; no mail is delivered to it.`);
  }
  if (opts.tag !== undefined && !TAG_RE.test(opts.tag)) throw new SealpostError("INVALID_ARGUMENT", `The delivery tag "${opts.tag}" is not valid.`);
  const base = path.resolve(root);
  const box = mailboxDir(base, domain, localPart);
  // Belt and braces: the encoding already guarantees this.
  if (path.dirname(path.dirname(box)) !== base) throw new SealpostError("INVALID_ARGUMENT", "A mailbox path would leave the Maildir root.");
  const ensureBox = async (): Promise<void> => {
    try {
      await mkdir(path.dirname(base), { recursive: true, mode: 0o700 });
      await ensureDir(base);
      await ensureDir(path.dirname(box));
      await ensureDir(box);
      await Promise.all(["tmp", "new", "cur"].map((d) => ensureDir(path.join(box, d))));
    } catch (e) {
      throw new SealpostError("IO_ERROR", `The mailbox folder ${box} could not be created: ${(e as Error).message}`, { cause: e });
    }
  };
  await ensureBox();
  const bufs = opts.prepend ? [opts.prepend, message] : [message];
  for (let attempt = 0; ; attempt++) {
    const name = uniqueName(opts.tag);
    const tmpFile = path.join(box, "tmp", name);
    const newFile = path.join(box, "new", name);
    let fd: number;
    try {
      fd = await new Promise<number>((resolve, reject) => fs.open(tmpFile, "wx", 0o600, (e, f) => (e ? reject(e) : resolve(f))));
    } catch (e) {
      // Unique names make this near impossible; O_EXCL makes it safe anyway.
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && attempt < 5) continue;
      // The folder was removed behind the cache (an administrator deleted a mailbox): create it again, once.
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && attempt === 0) {
        for (const d of [...ready.keys()]) if (d === base || d.startsWith(base + path.sep)) ready.delete(d);
        await ensureBox();
        continue;
      }
      throw new SealpostError("IO_ERROR", `A message could not be written to ${box}: ${(e as Error).message}`, { cause: e });
    }
    try {
      try {
        await writeAll(fd, bufs);
        await cb(fs.fsync, fd);
      } finally {
        await cb((f, d) => fs.close(f, d), fd);
      }
      await rename(tmpFile, newFile);
      await syncDir(path.join(box, "new"));
    } catch (e) {
      await unlink(tmpFile).catch(() => undefined);
      throw new SealpostError("IO_ERROR", `A message could not be delivered to ${box}: ${(e as Error).message}`, { cause: e });
    }
    return newFile;
  }
}
