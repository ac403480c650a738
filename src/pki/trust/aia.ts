// AIA caIssuers fetching for chain building, with a cache by URL shared by
// every verification (and every engine) of a server process: a partner that
// sends its leaf alone, or many leaves of one issuing CA, costs one fetch per
// issuer URL per hour, not one per session. Fetches go through the outbound
// fetch policy (the fetcher given) and follow no redirect: the URL comes from
// a certificate whose chain is not verified yet, anyone can mint one, so each
// URL it lists costs at most one request. Failures are remembered briefly
// (a refusal by the policy is not: it sends nothing, and a policy change must
// take effect at once). Memory is bounded in entries and bytes.
import { readCertificates } from "../certs.js";
import { FetchPolicyError, type Fetcher } from "./fetch.js";

export interface IssuerFetchOptions {
  now?: () => Date;
  /** How long fetched issuer certificates are reused (default 1 hour). */
  ttlMs?: number;
  /** How long a failed fetch is remembered (default 1 minute). */
  failureTtlMs?: number;
  /** Largest response read (default 1 MiB). */
  maxBytes?: number;
  /** Per fetch (default 5 s). */
  timeoutMs?: number;
  /** Cached URLs (default 256). */
  maxEntries?: number;
  /** Cached bytes in all (default 8 MiB). */
  maxTotalBytes?: number;
}

interface Cached {
  certs?: Buffer[];
  error?: Error;
  bytes: number;
  expiresAt: number;
}

export class IssuerFetchCache {
  /** fetches: requests sent; hits: answers from the cache. */
  readonly stats = { fetches: 0, hits: 0 };
  private readonly entries = new Map<string, Cached>();
  private readonly running = new Map<string, Promise<Buffer[]>>();
  private bytes = 0;
  private readonly now: () => Date;

  constructor(
    private readonly fetcher: Fetcher,
    private readonly opts: IssuerFetchOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
  }

  /** The certificates (DER) at an AIA caIssuers URL; throws when there are none to be had. */
  readonly fetch = (url: string): Promise<Buffer[]> => {
    const t = this.now().getTime();
    const hit = this.entries.get(url);
    if (hit && hit.expiresAt > t) {
      this.stats.hits++;
      if (hit.error) return Promise.reject(hit.error);
      return Promise.resolve(hit.certs as Buffer[]);
    }
    const running = this.running.get(url);
    if (running) return running;
    const p = this.load(url).finally(() => this.running.delete(url));
    this.running.set(url, p);
    return p;
  };

  /** Forgets everything (after a policy change, in tests). */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private async load(url: string): Promise<Buffer[]> {
    const maxBytes = this.opts.maxBytes ?? 1 << 20;
    let body: Buffer;
    try {
      this.stats.fetches++;
      body = await this.fetcher(url, { maxBytes, timeoutMs: this.opts.timeoutMs ?? 5000, maxRedirects: 0 });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (e instanceof FetchPolicyError) {
        this.stats.fetches--; // nothing was sent
        throw err;
      }
      this.remember(url, { error: err, bytes: 0 }, this.opts.failureTtlMs ?? 60_000);
      throw err;
    }
    let certs: Buffer[];
    try {
      certs = readCertificates(body);
    } catch (e) {
      const err = new Error(`the answer is not a certificate (${e instanceof Error ? e.message : String(e)})`);
      this.remember(url, { error: err, bytes: 0 }, this.opts.failureTtlMs ?? 60_000);
      throw err;
    }
    this.remember(url, { certs, bytes: certs.reduce((n, c) => n + c.length, 0) }, this.opts.ttlMs ?? 3_600_000);
    return certs;
  }

  private remember(url: string, value: Omit<Cached, "expiresAt">, ttlMs: number): void {
    const old = this.entries.get(url);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(url);
    }
    const maxEntries = this.opts.maxEntries ?? 256;
    const maxTotal = this.opts.maxTotalBytes ?? 8 << 20;
    if (value.bytes > maxTotal) return;
    while (this.entries.size > 0 && (this.entries.size >= maxEntries || this.bytes + value.bytes > maxTotal)) {
      const [oldest, e] = this.entries.entries().next().value as [string, Cached];
      this.bytes -= e.bytes;
      this.entries.delete(oldest);
    }
    this.entries.set(url, { ...value, expiresAt: this.now().getTime() + ttlMs });
    this.bytes += value.bytes;
  }
}
