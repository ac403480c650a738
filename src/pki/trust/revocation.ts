// Revocation checking for certificates whose chain the caller has already
// verified: OCSP from the certificate's AIA responder first, then CRLs from
// its http: CRL distribution points, a disk cache shared by every worker
// process (and kept across restarts) with a parsed copy in memory, and
// background refresh so that a large CRL never makes a session wait while a
// cached copy is still usable. A cached copy answers until its nextUpdate or
// until it is older than the maximum age (default 24 hours), whichever comes
// first; updateCached() / updateFor() fetch again at once (the administrator's
// Update-RevocationCache). check() never throws: every failure is status
// "unknown" with a reason a person can act on (URLs, names, dates only).
//
// Files: fetch.ts (bounded http: fetches), revocation-der.ts (DER reading,
// signatures), revocation-crl.ts / revocation-ocsp.ts (parse and verify),
// revocation-cache.ts (disk + memory cache, freshness), revocation-source.ts
// (cache decisions shared by) revocation-crl-source.ts and
// revocation-ocsp-source.ts (fetch, verify, store).
import { createHash } from "node:crypto";
import { httpFetcher, printable, type Fetcher, type FetchOptions } from "./fetch.js";
import { DiskCache, HOUR_MS } from "./revocation-cache.js";
import { CrlSource } from "./revocation-crl-source.js";
import { nameOf, revocationPointers, sameName, type RevocationPointers } from "./revocation-crl.js";
import { certFields, type CertFields } from "./revocation-der.js";
import { OcspSource } from "./revocation-ocsp-source.js";
import { parseCert } from "./parsed.js";
import { Failure, errText, unknown, type RevocationStatus, type SourceSettings } from "./revocation-source.js";

export { httpFetcher, type Fetcher, type FetchOptions };

// The answer type lives with the sources that give it (no import cycle); re-exported here for callers.
export type { RevocationStatus } from "./revocation-source.js";

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
  /**
   * Default 24 hours: a cached CRL or OCSP response is fetched again once it is this old, whatever its
   * nextUpdate (in the background in the last 10% of that age, before answering past it). A function is
   * read at every use (a setting that may change).
   */
  maxAgeMs?: number | (() => number);
}

export const DEFAULT_REVOCATION_MAX_AGE_MS = 24 * HOUR_MS;

/** What Update-RevocationCache got for one CRL or one certificate's OCSP answer. */
export interface RevocationUpdate {
  source: "crl" | "ocsp";
  /** The CRL's URL; for OCSP the responder that answered (or the responders asked, comma-separated). */
  url: string;
  /** CRL: its issuer; OCSP: the certificate asked about. */
  subject?: string;
  ok: boolean;
  thisUpdate?: Date;
  nextUpdate?: Date;
  /** OCSP: what the responder said of the certificate. */
  status?: "good" | "revoked" | "unknown";
  /** Why nothing usable came. */
  error?: string;
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
    const maxAge = opts.maxAgeMs ?? DEFAULT_REVOCATION_MAX_AGE_MS;
    const settings: SourceSettings = {
      fetcher: opts.fetcher ?? httpFetcher(),
      now,
      maxCrlBytes: opts.maxCrlBytes ?? 10 * 1024 * 1024,
      timeoutMs: opts.timeoutMs ?? 5000,
      skewMs: opts.skewMs ?? 5 * 60_000,
      maxAgeMs: typeof maxAge === "function" ? maxAge : () => maxAge,
      disk: new DiskCache(opts.cacheDir, () => now().getTime()),
      stats: this.stats,
    };
    this.disk = settings.disk;
    this.crl = new CrlSource(settings);
    this.ocsp = new OcspSource(settings);
  }

  private readonly disk: DiskCache;

  /**
   * Fetches again, now, every CRL and OCSP response in the cache folder (or those from `url` only: a CRL
   * distribution point or an OCSP responder), whatever their freshness, and says per entry what came.
   * Never throws for a fetch; the results say what failed.
   */
  async updateCached(filter: { url?: string } = {}): Promise<RevocationUpdate[]> {
    const jobs: Array<() => Promise<RevocationUpdate>> = [];
    for (const { name, meta } of await this.disk.listEntries()) {
      if (!meta) {
        if (filter.url === undefined) {
          jobs.push(async () => ({
            source: name.endsWith(".crl") ? "crl" : "ocsp",
            url: "(unknown)",
            ok: false,
            error: `the cache file ${name} does not say where it came from; it is fetched again when a certificate next needs it`,
          }));
        }
        continue;
      }
      if (meta.kind === "crl") {
        if (filter.url !== undefined && meta.url !== filter.url) continue;
        jobs.push(() => this.updateCrl(meta.url, Buffer.from(meta.issuer, "base64")));
      } else {
        if (filter.url !== undefined && !meta.urls.includes(filter.url)) continue;
        jobs.push(() => this.updateOcsp(meta.urls, Buffer.from(meta.cert, "base64"), Buffer.from(meta.issuer, "base64")));
      }
    }
    return runLimited(jobs, 4);
  }

  /** The certificates the cache folder's entries were verified for and against (DER, each once): where an administrator's thumbprint may be found. */
  async cachedCertificates(): Promise<Buffer[]> {
    const seen = new Map<string, Buffer>();
    for (const { meta } of await this.disk.listEntries()) {
      if (!meta) continue;
      for (const b64 of meta.kind === "crl" ? [meta.issuer] : [meta.cert, meta.issuer]) if (!seen.has(b64)) seen.set(b64, Buffer.from(b64, "base64"));
    }
    return [...seen.values()];
  }

  /**
   * Fetches again, now, the OCSP answer and the CRLs for `cert` (DER) whose issuer `issuer` (DER) has
   * ALREADY been verified by the caller, cached or not. Never throws for a fetch.
   */
  async updateFor(certDer: Buffer, issuerDer: Buffer): Promise<RevocationUpdate[]> {
    let ptr: RevocationPointers;
    try {
      ptr = revocationPointers(certDer);
    } catch {
      return [];
    }
    const out: RevocationUpdate[] = [];
    if (ptr.ocspHttp.length) out.push(await this.updateOcsp(ptr.ocspHttp, certDer, issuerDer));
    for (const url of ptr.crlHttp) out.push(await this.updateCrl(url, issuerDer));
    return out;
  }

  private async updateCrl(url: string, issuerDer: Buffer): Promise<RevocationUpdate> {
    let subject: string | undefined;
    try {
      const issuer = certFields(issuerDer);
      subject = parseCert(issuerDer).subject;
      const e = await this.crl.update(url, issuer);
      return { source: "crl", url, subject, ok: true, thisUpdate: e.parsed.thisUpdate, ...(e.parsed.nextUpdate ? { nextUpdate: e.parsed.nextUpdate } : {}) };
    } catch (f) {
      return { source: "crl", url, ...(subject ? { subject } : {}), ok: false, error: f instanceof Failure ? f.sentence : `the update failed (${errText(f)})` };
    }
  }

  private async updateOcsp(urls: string[], certDer: Buffer, issuerDer: Buffer): Promise<RevocationUpdate> {
    let subject: string | undefined;
    try {
      const cert = certFields(certDer);
      subject = parseCert(certDer).subject;
      const e = await this.ocsp.update(urls, cert, certFields(issuerDer));
      const a = e.parsed.answer;
      return {
        source: "ocsp",
        url: e.parsed.url ?? urls.join(", "),
        subject,
        ok: true,
        status: a.status,
        thisUpdate: a.thisUpdate,
        ...(a.nextUpdate ? { nextUpdate: a.nextUpdate } : {}),
      };
    } catch (f) {
      return { source: "ocsp", url: urls.join(", "), ...(subject ? { subject } : {}), ok: false, error: f instanceof Failure ? f.sentence : `the update failed (${errText(f)})` };
    }
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

    // OCSP first when the certificate names an http: responder (an answer about this one certificate,
    // usually fresher than a CRL), then each http: CRL distribution point; whichever gives unknown, the
    // next is tried. With a CRL to fall back on, responders that just failed are not waited for again.
    const reasons: string[] = [...notes];
    if (ptr.ocspHttp.length) {
      const r = await this.ocsp.check(ptr.ocspHttp, cert, issuer, { backoff: ptr.crlHttp.length > 0 });
      if (r.status !== "unknown") return r;
      reasons.push(r.reason);
    }
    for (const url of ptr.crlHttp) {
      const r = await this.crl.check(url, cert, issuer, ptr);
      if (r.status !== "unknown") return r;
      reasons.push(r.reason);
    }
    return unknown(reasons.join("; "));
  }
}

/** Runs the jobs, at most `limit` at a time; results in the jobs' order. */
async function runLimited<T>(jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return out;
}
