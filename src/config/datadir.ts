// The server's data folder and its layout (docs/data-folder.md). DataDir
// names every path in it; nothing else spells them:
//   DIR/sealpost.db                      local SQLite store (server data + local org config)
//   DIR/keys/                            private keys, one PKCS#8 PEM file each, mode 0600
//   DIR/queue/spool/, DIR/queue/outbound.db   the durable spool, the outbound queue
//   DIR/maildir/                         local mailboxes
//   DIR/logs/protocol/{SmtpReceive,SmtpSend}/, DIR/logs/tracking/   protocol logs, message tracking
//   DIR/revocation/, DIR/trust-cache/intermediates/   the trust layer's caches
//   DIR/admin.token, DIR/admin.address, DIR/shell_history
// The folder and every folder in it are private (0700), every file in it
// 0600, whoever made them: ensure() tightens what it finds looser (a folder
// made by hand with mode 0755, files of an earlier release), and the files
// Sealpost creates get mode 0600 explicitly.
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync, chmodSync, existsSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { SealpostError } from "../errors/errors.js";

export const DEFAULT_DATA_DIR = "./data";

export function resolveDataDir(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(option ?? env.SEALPOST_DATA ?? DEFAULT_DATA_DIR);
}

/** The data folder: its root and every path in it. */
export class DataDir {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get dbFile(): string {
    return path.join(this.root, "sealpost.db");
  }

  get keysDir(): string {
    return path.join(this.root, "keys");
  }

  /** The spool's and the outbound queue's folder (the Spool keeps its segments in spool/ below it). */
  get queueDir(): string {
    return path.join(this.root, "queue");
  }

  get spoolDir(): string {
    return path.join(this.queueDir, "spool");
  }

  get outboundDbFile(): string {
    return path.join(this.queueDir, "outbound.db");
  }

  get maildirRoot(): string {
    return path.join(this.root, "maildir");
  }

  get trackingLogDir(): string {
    return path.join(this.root, "logs", "tracking");
  }

  /** One direction's protocol logs. */
  protocolLogDir(kind: "receive" | "send"): string {
    return path.join(this.root, "logs", "protocol", kind === "receive" ? "SmtpReceive" : "SmtpSend");
  }

  /** Cached CRLs and OCSP answers. */
  get revocationDir(): string {
    return path.join(this.root, "revocation");
  }

  /** Intermediate CA certificates learned from partners' chains and AIA. */
  get intermediatesDir(): string {
    return path.join(this.root, "trust-cache", "intermediates");
  }

  get adminTokenFile(): string {
    return path.join(this.root, "admin.token");
  }

  get adminAddressFile(): string {
    return path.join(this.root, "admin.address");
  }

  get shellHistoryFile(): string {
    return path.join(this.root, "shell_history");
  }

  /** Creates the folder and its private subfolders if missing; makes what is there private (folders 0700, files 0600). */
  ensure(): void {
    try {
      if (existsSync(this.root) && !statSync(this.root).isDirectory()) {
        throw new SealpostError("IO_ERROR", `The data folder ${this.root} exists and is not a folder.`);
      }
      mkdirSync(this.root, { recursive: true, mode: 0o700 });
      mkdirSync(this.keysDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      if (e instanceof SealpostError) throw e;
      throw new SealpostError("IO_ERROR", `The data folder ${this.root} could not be created: ${(e as Error).message}`, { cause: e });
    }
    const mode = statSync(this.root).mode & 0o777;
    if (mode & 0o077) {
      try {
        chmodSync(this.root, 0o700);
      } catch (e) {
        throw new SealpostError(
          "IO_ERROR",
          `The data folder ${this.root} is open to other users (mode ${mode.toString(8).padStart(4, "0")}) and could not be made private (0700): ${(e as Error).message}. Run Sealpost as the folder's owner, or chmod 700 it.`,
          { cause: e },
        );
      }
    }
    tightenTree(this.root);
  }

  /** Writes a private key file atomically with mode 0600; returns its name relative to keys/. */
  writeKeyFile(pem: string): string {
    const name = `${randomBytes(12).toString("hex")}.key`;
    writeFileDurable(path.join(this.keysDir, name), pem, 0o600);
    return name;
  }

  keyPath(name: string): string {
    // Names come from our own table; refuse anything that could leave keys/.
    if (!/^[a-f0-9]{24}\.key$/.test(name)) throw new SealpostError("IO_ERROR", "A key file name in the store is not valid.");
    return path.join(this.keysDir, name);
  }

  removeKeyFile(name: string): void {
    rmSync(this.keyPath(name), { force: true });
  }
}

/**
 * Folders under `dir` to 0700 and files to 0600 where they are looser.
 * Symbolic links are not followed; an entry that vanishes meanwhile (a
 * running server renames and removes files) or that this user may not change
 * is left alone: the private data folder above it already shuts others out.
 */
export function tightenTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const p = path.join(dir, name);
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) {
        if (st.mode & 0o077) chmodSync(p, 0o700);
        tightenTree(p);
      } else if (st.mode & 0o077) {
        chmodSync(p, 0o600);
      }
    } catch {
      // gone, or not ours: see above
    }
  }
}

/**
 * Makes sure `file` exists with mode 0600 before a library opens it: SQLite
 * creates a database file with mode 0644 (less the umask) and its -wal and
 * -shm files with the database file's mode.
 */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, "a", 0o600));
  if (statSync(file).mode & 0o077) chmodSync(file, 0o600);
}

/** Write to a temporary file, fsync it, rename over the target, fsync the folder. */
export function writeFileDurable(file: string, data: string | Buffer, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", mode);
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = openSync(path.dirname(file), "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** The data folder's paths, by its root (a folder that need not exist yet). */
export function dataFolder(root: string): DataDir {
  return new DataDir(root);
}

export { DataDir as DataFolder };
