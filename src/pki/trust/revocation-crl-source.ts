// Revocation status from a CRL distribution point: one cache file per URL
// (SHA-256 of the URL), a fetched CRL verified against the issuer before it
// replaces anything, and the serial looked up in the CRL's map.
import { fetchFailureText, printable } from "./fetch.js";
import { EntryStore, HOUR_MS, SingleFlight, type Entry, type Window } from "./revocation-cache.js";
import {
  crlScopeProblem,
  crlSignatureProblem,
  lookupSerial,
  parseCrlAsync,
  type ParsedCrl,
  type RevocationPointers,
} from "./revocation-crl.js";
import type { CertFields } from "./revocation-der.js";
import { Failure, MAX_CRLS, Source, errText, isUnknown, iso, sha256, unknown, type SourceSettings } from "./revocation-source.js";
import type { RevocationStatus } from "./revocation-source.js";

/** CRLs kept parsed in memory, in DER bytes (at least four of the largest allowed); the rest stay on disk. */
const MAX_CRL_MEMORY_BYTES = 256 * 1024 * 1024;
/** A CRL without nextUpdate is used for this long after it was fetched. */
const NO_NEXT_UPDATE_MS = HOUR_MS;

function crlWindow(crl: ParsedCrl, fetchedAt: Date): Window {
  return crl.nextUpdate
    ? { start: crl.thisUpdate, end: crl.nextUpdate }
    : { start: fetchedAt, end: new Date(fetchedAt.getTime() + NO_NEXT_UPDATE_MS) };
}

export class CrlSource extends Source<ParsedCrl> {
  private readonly flights = new SingleFlight<Entry<ParsedCrl>>();

  constructor(s: SourceSettings) {
    super(s, new EntryStore<ParsedCrl>(s.disk, MAX_CRLS, Math.max(MAX_CRL_MEMORY_BYTES, 4 * s.maxCrlBytes)));
  }

  async check(url: string, cert: CertFields, issuer: CertFields, ptr: RevocationPointers): Promise<RevocationStatus> {
    const name = `${sha256(url)}.crl`;
    const issuerKey = sha256(issuer.der);
    const shown = printable(url);
    const decode = async (der: Buffer, fetchedAt: Date) => {
      const crl = await parseCrlAsync(der);
      if (crlSignatureProblem(crl, issuer, cert.issuerDer) || crl.unusable) throw new Error("refused");
      return { parsed: crl, window: crlWindow(crl, fetchedAt), verifiedFor: issuerKey };
    };
    // A copy cached for another issuer certificate (same URL) is usable only if this issuer signed it too.
    const signedByIssuer = (x: Entry<ParsedCrl>): boolean => {
      if (x.verifiedFor.has(issuerKey)) return true;
      if (crlSignatureProblem(x.parsed, issuer, cert.issuerDer)) return false;
      x.verifiedFor.add(issuerKey);
      return true;
    };
    const e = await this.resolve(
      {
        refresh: (seen) => this.refresh(name, url, issuer, cert.issuerDer, seen),
        reload: () => this.store.current(name, this.s.maxCrlBytes, decode),
      },
      signedByIssuer,
      (stale, why) => `the cached CRL from ${shown} ${stale} and could not be refreshed: ${why}`,
    );
    if (isUnknown(e)) return e;
    if (!signedByIssuer(e)) return unknown(`the CRL at ${shown} is not signed by ${issuer.subjectText}`);
    return this.answer(e.parsed, url, cert, ptr);
  }

  private answer(crl: ParsedCrl, url: string, cert: CertFields, ptr: RevocationPointers): RevocationStatus {
    const scope = crlScopeProblem(crl, cert.node.ca, ptr.cdpUris);
    if (scope) return unknown(`the CRL at ${printable(url)} does not cover this certificate: ${scope}`);
    const hit = lookupSerial(crl, cert.serialKey);
    if (hit) {
      return { status: "revoked", source: "crl", url, revokedAt: hit.revokedAt, ...(hit.reason !== undefined ? { reason: hit.reason } : {}) };
    }
    return { status: "good", source: "crl", url, thisUpdate: crl.thisUpdate, ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate } : {}) };
  }

  /** Fetches the CRL at `url` now, whatever the cache holds (Update-RevocationCache); throws a Failure when nothing usable came. */
  update(url: string, issuer: CertFields): Promise<Entry<ParsedCrl>> {
    const name = `${sha256(url)}.crl`;
    return this.refresh(name, url, issuer, issuer.subjectDer, this.store.peek(name), true);
  }

  /** Fetches, verifies and stores the CRL at `url` (one fetch per URL at a time). */
  private refresh(name: string, url: string, issuer: CertFields, certIssuerDer: Buffer, seen?: Entry<ParsedCrl>, forced = false): Promise<Entry<ParsedCrl>> {
    return this.flights.run(name, async () => {
      const newer = forced ? undefined : this.newerThan(name, seen);
      if (newer) return newer;
      const shown = printable(url);
      const fail = (problem: string): never => {
        this.s.stats.fetchFailures++;
        throw new Failure(`the CRL at ${shown} ${problem}`, `the CRL now served ${problem}`);
      };
      this.s.stats.fetches++;
      let body: Buffer;
      try {
        body = await this.s.fetcher(url, { maxBytes: this.s.maxCrlBytes, timeoutMs: this.s.timeoutMs });
      } catch (e) {
        const text = fetchFailureText(e);
        this.s.stats.fetchFailures++;
        throw new Failure(`the CRL at ${shown} could not be fetched (${text})`, `it could not be fetched (${text})`);
      }
      if (body.length > this.s.maxCrlBytes) {
        const text = `it is larger than the limit of ${this.s.maxCrlBytes} bytes`;
        this.s.stats.fetchFailures++;
        throw new Failure(`the CRL at ${shown} could not be fetched (${text})`, `it could not be fetched (${text})`);
      }
      let crl: ParsedCrl;
      try {
        crl = await parseCrlAsync(body);
      } catch (e) {
        return fail(`is not a valid CRL (${errText(e)})`);
      }
      const problem = crlSignatureProblem(crl, issuer, certIssuerDer);
      if (problem) return fail(`is not signed by ${issuer.subjectText} (${problem})`);
      if (crl.unusable) return fail(`cannot be used: ${crl.unusable}`);
      const now = this.s.now();
      const window = crlWindow(crl, now);
      if (crl.thisUpdate.getTime() > now.getTime() + this.s.skewMs) return fail(`is not valid yet (its thisUpdate is ${iso(crl.thisUpdate)})`);
      if (crl.nextUpdate && crl.nextUpdate < crl.thisUpdate) return fail("is malformed (its nextUpdate is before its thisUpdate)");
      if (window.end.getTime() + this.s.skewMs < now.getTime()) return fail(`is out of date (its nextUpdate was ${iso(window.end)})`);
      const old = this.store.peek(name);
      if (old && crl.thisUpdate < old.parsed.thisUpdate) return fail("is older than the copy already cached");
      return this.store.put(
        { name, der: crl.der, parsed: crl, window, fetchedAt: now, verifiedFor: new Set([sha256(issuer.der)]) },
        { kind: "crl", url, issuer: issuer.der.toString("base64") },
      );
    });
  }
}
