// Revocation checking for certificates whose chain the caller has already
// verified: CRLs from the certificate's http: CRL distribution points, OCSP
// from its AIA responder, a disk cache shared by every worker process (and
// kept across restarts) with a parsed copy in memory, and background refresh
// so that a large CRL never makes a session wait while a cached copy is still
// usable. check() never throws: every failure is status "unknown" with a
// reason a person can act on (URLs, names, dates only).
//
// Files: fetch.ts (bounded http: fetches), revocation-der.ts (DER reading,
// signatures), revocation-crl.ts / revocation-ocsp.ts (parse and verify),
// revocation-cache.ts (disk + memory cache, freshness), revocation-source.ts
// (cache decisions shared by) revocation-crl-source.ts and
// revocation-ocsp-source.ts (fetch, verify, store).
import { createHash } from "node:crypto";
import { httpFetcher, printable, type Fetcher, type FetchOptions } from "./fetch.js";
import { DiskCache } from "./revocation-cache.js";
import { CrlSource } from "./revocation-crl-source.js";
import { nameOf, revocationPointers, sameName, type RevocationPointers } from "./revocation-crl.js";
import { certFields, type CertFields } from "./revocation-der.js";
import { OcspSource } from "./revocation-ocsp-source.js";
import { errText, unknown, type SourceSettings } from "./revocation-source.js";

export { httpFetcher, type Fetcher, type FetchOptions };

export type RevocationStatus =
  | { status: "good"; source: "crl" | "ocsp"; url: string; thisUpdate?: Date; nextUpdate?: Date }
  | { status: "revoked"; source: "crl" | "ocsp"; url: string; revokedAt?: Date; reason?: string }
  | { status: "unknown"; reason: string };

export interface RevocationOptions {
  /** e.g. DIR/revocation — shared by all worker processes of a server, survives restarts. Created (0700) on first write. */
  cacheDir: string;
  /** Default httpFetcher(). */
  fetcher?: Fetcher;
  /** Injected clock (tests move time). */
  now?: () => Date;
  /** Default 10 MiB. */
  maxCrlBytes?: number;
  /** Default 5000. */
  timeoutMs?: number;
  /** Default 5 min; a CRL/OCSP response is usable until nextUpdate + skew. */
  skewMs?: number;
}

/**
 * What check() reads from a certificate, parsed once per certificate (keyed
 * by its SHA-256): a partner's chain is checked again for every message,
 * and parsing its extensions was most of that cost. Only the parsing is
 * remembered; the status is looked up in the (refreshed) CRL or OCSP cache
 * on every check, so a revocation still bites at once.
 */
interface CertMemo {
  fields?: CertFields;
  pointers?: RevocationPointers;
}
const MEMO_MAX = 2048;
const memo = new Map<string, CertMemo>();
/** The same Buffer object (the engine passes its memoized certificates' DER) skips even the hash. */
const byBuffer = new WeakMap<Buffer, CertMemo>();

function memoFor(der: Buffer): CertMemo {
  const known = byBuffer.get(der);
  if (known) return known;
  const key = createHash("sha256").update(der).digest("base64");
  let m = memo.get(key);
  if (!m) {
    if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value as string);
    memo.set(key, (m = {}));
  }
  byBuffer.set(der, m);
  return m;
}

export class RevocationChecker {
  /** Counters for tests and metrics. fetches: requests sent; fetchFailures: those that gave nothing usable; cacheHits: answers from a cached copy. */
  readonly stats = { fetches: 0, fetchFailures: 0, cacheHits: 0 };
  private readonly crl: CrlSource;
  private readonly ocsp: OcspSource;

  constructor(opts: RevocationOptions) {
    const now = opts.now ?? (() => new Date());
    const settings: SourceSettings = {
      fetcher: opts.fetcher ?? httpFetcher(),
      now,
      maxCrlBytes: opts.maxCrlBytes ?? 10 * 1024 * 1024,
      timeoutMs: opts.timeoutMs ?? 5000,
      skewMs: opts.skewMs ?? 5 * 60_000,
      disk: new DiskCache(opts.cacheDir, () => now().getTime()),
      stats: this.stats,
    };
    this.crl = new CrlSource(settings);
    this.ocsp = new OcspSource(settings);
  }

  /** Status of `cert` (DER) whose issuer `issuer` (DER) has ALREADY been verified by the caller (signature checked). Never throws. */
  async check(cert: Buffer, issuer: Buffer): Promise<RevocationStatus> {
    try {
      return await this.checkParsed(cert, issuer);
    } catch (e) {
      return unknown(`the revocation status could not be determined (${errText(e)})`);
    }
  }

  /** Refresh every cached CRL/OCSP entry that is past or near its nextUpdate (what a background timer calls). Never throws. */
  async refreshDue(): Promise<void> {
    await Promise.all([this.crl.refreshDue(), this.ocsp.refreshDue()]).catch(() => undefined);
  }

  private async checkParsed(certDer: Buffer, issuerDer: Buffer): Promise<RevocationStatus> {
    let cert: CertFields;
    let issuer: CertFields;
    let ptr: RevocationPointers;
    const certMemo = memoFor(certDer);
    try {
      cert = certMemo.fields ??= certFields(certDer);
    } catch {
      return unknown("the certificate could not be parsed");
    }
    try {
      const issuerMemo = memoFor(issuerDer);
      issuer = issuerMemo.fields ??= certFields(issuerDer);
    } catch {
      return unknown("the issuer certificate could not be parsed");
    }
    if (!sameName(cert.issuerDer, issuer.subjectDer)) {
      return unknown(`the certificate names ${nameOf(cert.issuerDer)} as its issuer, not ${issuer.subjectText}`);
    }
    try {
      ptr = certMemo.pointers ??= revocationPointers(certDer);
    } catch {
      return unknown("the certificate's CRL distribution point or authority information access extension could not be read");
    }
    const notes: string[] = [];
    const list = (urls: string[]) => urls.map((u) => printable(u)).join(", ");
    if (!ptr.crlHttp.length) {
      if (ptr.crlLdap.length) {
        notes.push(`the certificate's only CRL distribution points are LDAP URLs (${list(ptr.crlLdap)}), and Sealpost fetches CRLs over http: only`);
      } else if (ptr.crlOther.length) {
        notes.push(`the certificate's CRL distribution points have no http: URL (${list(ptr.crlOther)})`);
      } else if (ptr.crlSkipped) {
        notes.push("the certificate's CRL distribution points are all partitioned or indirect, which Sealpost does not use");
      }
    }
    if (!ptr.ocspHttp.length && ptr.ocspOther.length) notes.push(`the certificate's OCSP responders have no http: URL (${list(ptr.ocspOther)})`);
    if (!ptr.crlHttp.length && !ptr.ocspHttp.length) {
      return unknown(notes.length ? notes.join("; ") : "the certificate names no CRL distribution point or OCSP responder");
    }

    // CRL first when there is an http: distribution point, else OCSP; whichever gives unknown, the other is tried.
    const reasons: string[] = [...notes];
    for (const url of ptr.crlHttp) {
      const r = await this.crl.check(url, cert, issuer, ptr);
      if (r.status !== "unknown") return r;
      reasons.push(r.reason);
    }
    if (ptr.ocspHttp.length) {
      const r = await this.ocsp.check(ptr.ocspHttp, cert, issuer);
      if (r.status !== "unknown") return r;
      reasons.push(r.reason);
    }
    return unknown(reasons.join("; "));
  }
}
