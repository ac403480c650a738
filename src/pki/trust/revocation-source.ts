// What the CRL and OCSP sources share: options and counters, the cache
// decision (fresh: answer; due: answer and refresh in the background;
// expired: refresh first), spaced background refreshes, and the failure
// sentences that end up in an "unknown" status. An entry expires at its
// nextUpdate (+ skew) or when it is older than the maximum age, whichever
// comes first; both are handled alike.
import { createHash } from "node:crypto";
import { printable, type Fetcher } from "./fetch.js";
import { entryFreshness, expiredBy, type DiskCache, type Entry, type EntryHooks, type EntryStore } from "./revocation-cache.js";

/** What a revocation check found for one certificate. */
export type RevocationStatus =
  | { status: "good"; source: "crl" | "ocsp"; url: string; thisUpdate?: Date; nextUpdate?: Date }
  | { status: "revoked"; source: "crl" | "ocsp"; url: string; revokedAt?: Date; reason?: string }
  | { status: "unknown"; reason: string };

export interface SourceSettings {
  fetcher: Fetcher;
  now: () => Date;
  maxCrlBytes: number;
  timeoutMs: number;
  skewMs: number;
  /** The longest a cached copy is used after it was fetched, whatever its nextUpdate (read at each use: a setting). */
  maxAgeMs: () => number;
  disk: DiskCache;
  stats: { fetches: number; fetchFailures: number; cacheHits: number };
}

export type Unknown = { status: "unknown"; reason: string };

export function unknown(reason: string): Unknown {
  return { status: "unknown", reason };
}

export function isUnknown(x: object): x is Unknown {
  return (x as { status?: unknown }).status === "unknown";
}

/** A refresh that produced nothing usable: a full sentence, and the part after "could not be refreshed: ". */
export class Failure extends Error {
  constructor(
    readonly sentence: string,
    readonly why: string,
  ) {
    super(sentence);
    this.name = "RevocationFailure";
  }
}

export function errText(e: unknown): string {
  return printable(e instanceof Error ? e.message : String(e));
}

function sentenceOf(e: unknown): string {
  return e instanceof Failure ? e.sentence : `an internal error occurred (${errText(e)})`;
}

function whyOf(e: unknown): string {
  return e instanceof Failure ? e.why : errText(e);
}

export const iso = (d: Date): string => d.toISOString();

/** "24 hours", "90 minutes", "45 seconds". */
export function durationText(ms: number): string {
  const unit = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  if (ms % 3_600_000 === 0) return unit(ms / 3_600_000, "hour");
  if (ms % 60_000 === 0) return unit(ms / 60_000, "minute");
  return unit(Math.round(ms / 1000), "second");
}
/**
 * SHA-256 in hex, remembered: a partner's chain is checked for every message
 * and the same URLs and issuer certificates (the same Buffer objects, from
 * the memoized parsed certificates) are hashed again each time. Buffers are
 * remembered by identity (DER bytes are never modified in place).
 */
const bufferHashes = new WeakMap<Buffer, string>();
const stringHashes = new Map<string, string>();
export function sha256(b: Buffer | string): string {
  if (typeof b === "string") {
    let h = stringHashes.get(b);
    if (h === undefined) {
      h = createHash("sha256").update(b).digest("hex");
      if (stringHashes.size >= 4096) stringHashes.delete(stringHashes.keys().next().value as string);
      stringHashes.set(b, h);
    }
    return h;
  }
  let h = bufferHashes.get(b);
  if (h === undefined) bufferHashes.set(b, (h = createHash("sha256").update(b).digest("hex")));
  return h;
}

export const MAX_CRLS = 512;
export const MAX_OCSP = 20_000;
/** Spacing of background refresh attempts for one entry (refreshDue always tries). */
const BACKGROUND_MIN_SPACING_MS = 30_000;
const BACKGROUND_MAX_SPACING_MS = 15 * 60_000;

export abstract class Source<P> {
  /** Clock time of the last background refresh started, per entry name. */
  private readonly attempts = new Map<string, number>();

  constructor(
    protected readonly s: SourceSettings,
    protected readonly store: EntryStore<P>,
  ) {}

  /** Refreshes every entry this process has used that is due or expired (another worker's newer file is read instead). */
  async refreshDue(): Promise<void> {
    await Promise.all(
      this.store.entries().map(async (e) => {
        try {
          const cur = (await e.hooks?.reload()) ?? e;
          if (this.freshness(cur) !== "fresh") await cur.hooks?.refresh(cur);
        } catch {
          // counted in stats; the next check or timer tick tries again
        }
      }),
    );
  }

  protected freshness(e: Entry<P>): ReturnType<typeof entryFreshness> {
    return entryFreshness(e, this.s.now(), this.s.skewMs, this.s.maxAgeMs());
  }

  /** Why a cached copy may no longer answer: "expired at T" (its nextUpdate) or "was fetched at T, more than ... ago". */
  protected staleText(e: Entry<P>): string {
    if (expiredBy(e, this.s.now(), this.s.skewMs, this.s.maxAgeMs()) === "age") {
      return `was fetched at ${iso(e.fetchedAt)}, longer ago than the revocation cache's maximum age of ${durationText(this.s.maxAgeMs())}`;
    }
    return `expired at ${iso(e.window.end)}`;
  }

  /**
   * The entry to answer from: the cached one while usable (starting a background refresh in its last 10%
   * of validity or of the maximum age), else a freshly fetched one; or unknown when neither is available.
   * `usable` rejects a cached copy that was verified for another issuer; `expired` words the failure to
   * refresh a copy that may no longer answer (`stale`: why, from staleText).
   */
  protected async resolve(
    hooks: EntryHooks<P>,
    usable: (e: Entry<P>) => boolean,
    expired: (stale: string, why: string) => string,
  ): Promise<Entry<P> | Unknown> {
    let e = await hooks.reload();
    if (e && !usable(e)) e = undefined;
    if (e) {
      e.hooks = hooks;
      const state = this.freshness(e);
      if (state !== "expired") {
        this.s.stats.cacheHits++;
        if (state === "due") this.background(e);
        return e;
      }
      const stale = this.staleText(e);
      try {
        return await hooks.refresh(e);
      } catch (f) {
        return unknown(expired(stale, whyOf(f)));
      }
    }
    try {
      const fresh = await hooks.refresh();
      fresh.hooks ??= hooks;
      return fresh;
    } catch (f) {
      return unknown(sentenceOf(f));
    }
  }

  /**
   * Starts a refresh without waiting for it. Attempts for one entry are spaced (1% of its window or of the
   * maximum age, whichever is shorter, between 30 s and 15 min), successful or not, so that a server still
   * handing out the same CRL is not asked again on every check.
   */
  private background(e: Entry<P>): void {
    const refresh = e.hooks?.refresh;
    if (!refresh) return;
    const nowMs = this.s.now().getTime();
    const span = Math.min(e.window.end.getTime() - e.window.start.getTime(), this.s.maxAgeMs());
    const spacing = Math.min(Math.max(span / 100, BACKGROUND_MIN_SPACING_MS), BACKGROUND_MAX_SPACING_MS);
    const last = this.attempts.get(e.name);
    if (last !== undefined && nowMs >= last && nowMs - last < spacing) return;
    this.attempts.delete(e.name);
    this.attempts.set(e.name, nowMs);
    if (this.attempts.size > MAX_CRLS + MAX_OCSP) this.attempts.delete(this.attempts.keys().next().value as string);
    refresh(e).catch(() => undefined);
  }

  /**
   * The memory entry when a refresh finished since the caller looked (`seen`: what it saw, or nothing) and
   * its result is still usable: then there is nothing to fetch.
   */
  protected newerThan(name: string, seen: Entry<P> | undefined): Entry<P> | undefined {
    const cur = this.store.peek(name);
    if (!cur || cur === seen || (seen && cur.fetchedAt <= seen.fetchedAt)) return undefined;
    return this.freshness(cur) === "expired" ? undefined : cur;
  }
}
