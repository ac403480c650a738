// Revocation status from the OCSP responders named in the certificate's AIA:
// one cache file per CertID (SHA-256 of its DER), responses POSTed as
// application/ocsp-request, verified before they replace anything.
import { fetchFailureText, printable } from "./fetch.js";
import { EntryStore, HOUR_MS, SingleFlight, type Entry, type Window } from "./revocation-cache.js";
import type { CertFields } from "./revocation-der.js";
import { buildCertId, buildOcspRequest, verifyOcspResponse, type OcspAnswer } from "./revocation-ocsp.js";
import { Failure, MAX_OCSP, Source, errText, isUnknown, iso, sha256, unknown, type SourceSettings } from "./revocation-source.js";
import type { RevocationStatus } from "./revocation.js";

const OCSP_MAX_BYTES = 256 * 1024;
/**
 * A response without nextUpdate is used until one hour after its thisUpdate (not after the fetch: over
 * plain http an old signed "good" could be replayed, and its thisUpdate is what dates it).
 */
const NO_NEXT_UPDATE_MS = HOUR_MS;

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

  constructor(s: SourceSettings) {
    super(s, new EntryStore<OcspCached>(s.disk, MAX_OCSP));
  }

  async check(urls: string[], cert: CertFields, issuer: CertFields): Promise<RevocationStatus> {
    const certId = buildCertId(cert, issuer);
    const name = `${sha256(certId)}.ocsp`;
    const issuerKey = sha256(issuer.der);
    const decode = async (der: Buffer) => {
      const answer = verifyOcspResponse(der, cert, issuer, { now: this.s.now(), skewMs: this.s.skewMs });
      return { parsed: { answer }, window: ocspWindow(answer), verifiedFor: issuerKey };
    };
    const e = await this.resolve(
      {
        refresh: (seen) => this.refresh(name, urls, certId, cert, issuer, seen),
        reload: () => this.store.current(name, OCSP_MAX_BYTES, decode),
      },
      // A CertID names one issuer key: a copy verified for another issuer certificate is not reused.
      (x) => x.verifiedFor.has(issuerKey),
      (end, why) => `the cached OCSP response for this certificate expired at ${iso(end)} and could not be refreshed: ${why}`,
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

  /** Asks each responder in turn until one gives a usable response; stores it (one refresh per CertID at a time). */
  private refresh(
    name: string,
    urls: string[],
    certId: Buffer,
    cert: CertFields,
    issuer: CertFields,
    seen?: Entry<OcspCached>,
  ): Promise<Entry<OcspCached>> {
    return this.flights.run(name, async () => {
      const newer = this.newerThan(name, seen);
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
        return this.store.put({ name, der: body, parsed: { answer, url }, window, fetchedAt: now, verifiedFor: new Set([sha256(issuer.der)]) });
      }
      const all = failures.join("; ");
      throw new Failure(all, all);
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
