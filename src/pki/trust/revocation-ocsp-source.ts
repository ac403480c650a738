// Revocation status from the OCSP responders named in the certificate's AIA:
// one cache file per CertID (SHA-256 of its DER), responses POSTed as
// application/ocsp-request, verified before they replace anything.
import { fetchFailureText, printable } from "./fetch.js";
import { EntryStore, HOUR_MS, SingleFlight, type Entry, type Window } from "./revocation-cache.js";
import type { CertFields } from "./revocation-der.js";
import { buildCertId, buildOcspRequest, verifyOcspResponse, type OcspAnswer } from "./revocation-ocsp.js";
import { Failure, MAX_OCSP, Source, errText, isUnknown, iso, sha256, unknown, type SourceSettings } from "./revocation-source.js";
import type { RevocationStatus } from "./revocation-source.js";

const OCSP_MAX_BYTES = 256 * 1024;
/**
 * A response without nextUpdate is used until one hour after its thisUpdate (not after the fetch: over
 * plain http an old signed "good" could be replayed, and its thisUpdate is what dates it).
 */
const NO_NEXT_UPDATE_MS = HOUR_MS;
/**
 * After every responder of a certificate failed, checks that have a CRL to fall back on do not ask them
 * again for this long (OCSP is tried first: a responder that is down must not make every message wait
 * for its timeout before the cached CRL answers). Update-RevocationCache always asks.
 */
export const OCSP_FAILURE_BACKOFF_MS = 5 * 60_000;

interface OcspCached {
  answer: OcspAnswer;
  /** The responder it came from (unknown for a copy another worker fetched). */
  url?: string;
}

function ocspWindow(a: OcspAnswer): Window {
  return { start: a.thisUpdate, end: a.nextUpdate ?? new Date(a.thisUpdate.getTime() + NO_NEXT_UPDATE_MS) };
}

export class OcspSource extends Source<OcspCached> {
  private readonly flights = new SingleFlight<Entry<OcspCached>>();
  /** The last failed refresh per CertID (clock time and the failure), for OCSP_FAILURE_BACKOFF_MS. */
  private readonly failed = new Map<string, { at: number; failure: Failure }>();

  constructor(s: SourceSettings) {
    super(s, new EntryStore<OcspCached>(s.disk, MAX_OCSP));
  }

  /** `backoff`: a CRL can answer instead, so responders that failed within OCSP_FAILURE_BACKOFF_MS are not asked again. */
  async check(urls: string[], cert: CertFields, issuer: CertFields, opts: { backoff?: boolean } = {}): Promise<RevocationStatus> {
    const certId = buildCertId(cert, issuer);
    const name = `${sha256(certId)}.ocsp`;
    const issuerKey = sha256(issuer.der);
    const decode = async (der: Buffer) => {
      const answer = verifyOcspResponse(der, cert, issuer, { now: this.s.now(), skewMs: this.s.skewMs });
      return { parsed: { answer }, window: ocspWindow(answer), verifiedFor: issuerKey };
    };
    const e = await this.resolve(
      {
        refresh: (seen) => {
          const last = opts.backoff ? this.failed.get(name) : undefined;
          const t = this.s.now().getTime();
          if (last && t >= last.at && t - last.at < OCSP_FAILURE_BACKOFF_MS) return Promise.reject(last.failure);
          return this.refresh(name, urls, certId, cert, issuer, seen);
        },
        reload: () => this.store.current(name, OCSP_MAX_BYTES, decode),
      },
      // A CertID names one issuer key: a copy verified for another issuer certificate is not reused.
      (x) => x.verifiedFor.has(issuerKey),
      (stale, why) => `the cached OCSP response for this certificate ${stale} and could not be refreshed: ${why}`,
    );
    if (isUnknown(e)) return e;
    return this.answer(e.parsed, urls);
  }

  private answer(c: OcspCached, urls: string[]): RevocationStatus {
    const url = c.url ?? (urls[0] as string);
    const a = c.answer;
    if (a.status === "good") {
      return { status: "good", source: "ocsp", url, thisUpdate: a.thisUpdate, ...(a.nextUpdate ? { nextUpdate: a.nextUpdate } : {}) };
    }
    if (a.status === "revoked") {
      return {
        status: "revoked",
        source: "ocsp",
        url,
        ...(a.revokedAt ? { revokedAt: a.revokedAt } : {}),
        ...(a.reason !== undefined ? { reason: a.reason } : {}),
      };
    }
    return unknown(`the OCSP responder at ${printable(url)} does not know this certificate (it answered "unknown")`);
  }

  /** Asks the responders now, whatever the cache holds (Update-RevocationCache); throws a Failure when none gave a usable response. */
  update(urls: string[], cert: CertFields, issuer: CertFields): Promise<Entry<OcspCached>> {
    const certId = buildCertId(cert, issuer);
    const name = `${sha256(certId)}.ocsp`;
    return this.refresh(name, urls, certId, cert, issuer, this.store.peek(name), true);
  }

  /** Asks each responder in turn until one gives a usable response; stores it (one refresh per CertID at a time). */
  private refresh(
    name: string,
    urls: string[],
    certId: Buffer,
    cert: CertFields,
    issuer: CertFields,
    seen?: Entry<OcspCached>,
    forced = false,
  ): Promise<Entry<OcspCached>> {
    return this.flights.run(name, async () => {
      const newer = forced ? undefined : this.newerThan(name, seen);
      if (newer) return newer;
      const request = buildOcspRequest(certId);
      const failures: string[] = [];
      for (const url of urls) {
        const shown = printable(url);
        this.s.stats.fetches++;
        const problem = await this.fetchOne(url, shown, request, cert, issuer);
        if (typeof problem === "string") {
          this.s.stats.fetchFailures++;
          failures.push(problem);
          continue;
        }
        const { answer, body, now } = problem;
        const old = this.store.peek(name);
        if (old && answer.thisUpdate < old.parsed.answer.thisUpdate) {
          this.s.stats.fetchFailures++;
          failures.push(`the OCSP response from ${shown} is older than the copy already cached`);
          continue;
        }
        const window = ocspWindow(answer);
        this.failed.delete(name);
        return this.store.put(
          { name, der: body, parsed: { answer, url }, window, fetchedAt: now, verifiedFor: new Set([sha256(issuer.der)]) },
          { kind: "ocsp", urls, cert: cert.der.toString("base64"), issuer: issuer.der.toString("base64") },
        );
      }
      const all = failures.join("; ");
      const failure = new Failure(all, all);
      this.failed.delete(name);
      this.failed.set(name, { at: this.s.now().getTime(), failure });
      if (this.failed.size > MAX_OCSP) this.failed.delete(this.failed.keys().next().value as string);
      throw failure;
    });
  }

  /** One request: the verified, current answer, or a sentence about what went wrong. */
  private async fetchOne(
    url: string,
    shown: string,
    request: Buffer,
    cert: CertFields,
    issuer: CertFields,
  ): Promise<{ answer: OcspAnswer; body: Buffer; now: Date } | string> {
    let body: Buffer;
    try {
      body = await this.s.fetcher(url, {
        maxBytes: OCSP_MAX_BYTES,
        timeoutMs: this.s.timeoutMs,
        method: "POST",
        body: request,
        contentType: "application/ocsp-request",
      });
    } catch (e) {
      return `the OCSP responder at ${shown} could not be reached (${fetchFailureText(e)})`;
    }
    const now = this.s.now();
    let answer: OcspAnswer;
    try {
      if (body.length > OCSP_MAX_BYTES) throw new Error(`it is larger than ${OCSP_MAX_BYTES} bytes`);
      answer = verifyOcspResponse(body, cert, issuer, { now, skewMs: this.s.skewMs });
    } catch (e) {
      return `the OCSP response from ${shown} was refused: ${errText(e)}`;
    }
    const end = ocspWindow(answer).end;
    if (answer.thisUpdate.getTime() > now.getTime() + this.s.skewMs) {
      return `the OCSP response from ${shown} is not valid yet (its thisUpdate is ${iso(answer.thisUpdate)})`;
    }
    if (end.getTime() + this.s.skewMs < now.getTime()) {
      const what = answer.nextUpdate ? `its nextUpdate was ${iso(end)}` : `it has no nextUpdate and was produced at ${iso(answer.thisUpdate)}`;
      return `the OCSP response from ${shown} is out of date (${what})`;
    }
    return { answer, body, now };
  }
}
