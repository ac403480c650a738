// CA certificates learned from verified chains, shared by every process of a
// server through one folder (DIR/trust-cache/intermediates/, one DER file
// per certificate, named by its SHA-256).
//
// Why: a partner that resumes a TLS session presents its leaf alone (the
// session keeps the peer's certificate, not its chain). After a
// configuration reload, on another worker, or after a restart, no verdict is
// cached for that leaf, and without its intermediate the chain cannot be
// built: the partner was refused. Every intermediate that was part of a
// path validated to a trust anchor is remembered here, so a leaf-only
// presentation is rebuilt from the known intermediates before it is refused.
//
// A learned certificate is never trusted for itself: it is only a candidate
// issuer in path building, whose signature, validity and constraints are
// checked to an anchor like any certificate a peer sends. The folder is
// bounded (oldest files go first) and a damaged file is skipped.
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseCert, type ParsedCert } from "./parsed.js";

export interface IntermediateCacheOptions {
  /** The folder; omit to keep learned certificates in memory only. */
  dir?: string;
  /** At most this many certificates (default 1000). */
  max?: number;
}

export class IntermediateCache {
  private readonly known = new Map<string, ParsedCert>();
  private readonly max: number;
  private lastListing = -1;

  constructor(private readonly opts: IntermediateCacheOptions = {}) {
    this.max = opts.max ?? 1000;
    if (opts.dir) mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  }

  /** Every learned certificate, after reading what other processes added since the last call. */
  list(): ParsedCert[] {
    this.refresh();
    return [...this.known.values()];
  }

  /** Remembers the CA certificates among `certs` (the non-anchor issuers of a validated path). */
  learn(certs: readonly ParsedCert[]): void {
    for (const c of certs) {
      if (!c.isCa || this.known.has(c.sha256)) continue;
      this.known.set(c.sha256, c);
      if (this.opts.dir) this.write(c);
    }
    while (this.known.size > this.max) this.known.delete(this.known.keys().next().value as string);
  }

  private write(c: ParsedCert): void {
    const dir = this.opts.dir as string;
    const file = path.join(dir, `${c.sha256}.der`);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, c.der, { mode: 0o600 });
      renameSync(tmp, file);
      this.prune(dir);
    } catch {
      // A cache: failing to remember costs a refused resumption at worst, never a wrong verdict.
    }
  }

  private prune(dir: string): void {
    const files = readdirSync(dir).filter((f) => f.endsWith(".der"));
    if (files.length <= this.max) return;
    const aged = files.map((f) => ({ f, t: statSync(path.join(dir, f)).mtimeMs })).sort((a, b) => a.t - b.t);
    for (const { f } of aged.slice(0, files.length - this.max)) {
      try {
        unlinkSync(path.join(dir, f));
      } catch {
        // another process pruned it first
      }
    }
  }

  private refresh(): void {
    const dir = this.opts.dir;
    if (!dir) return;
    let mtime: number;
    try {
      mtime = statSync(dir).mtimeMs;
    } catch {
      return;
    }
    if (mtime === this.lastListing) return;
    this.lastListing = mtime;
    for (const f of readdirSync(dir)) {
      const m = /^([0-9A-F]{64})\.der$/.exec(f);
      if (!m || this.known.has(m[1] as string)) continue;
      try {
        const c = parseCert(readFileSync(path.join(dir, f)));
        if (c.isCa && c.sha256 === m[1]) this.known.set(c.sha256, c);
      } catch {
        // damaged or half-written by a process that died: skipped
      }
    }
  }
}
