// The trust engine: chain validation, then revocation, then the partner's
// rules (allowed issuers, name match), producing one verdict. A good chain is
// cached by the leaf's fingerprint and the options in force; a failed one by
// every certificate presented (see chain() for why); revocation is re-read
// from the revocation cache on every use, so a resumed TLS session or a
// reconnecting partner costs no chain work yet a revocation still bites.
import { createHash } from "node:crypto";
import { readFileSync, existsSync } from "node:fs";
import tls from "node:tls";
import { readCertificates } from "../certs.js";
import { matchesDomain } from "../names.js";
import { validateChain, type ChainResult, type Role } from "./chain.js";
import { matchAllowedIssuer, nameOnlyLookalikes, spkiSha256Of, type AllowedIssuer } from "./issuers.js";
import type { IntermediateCache } from "./intermediate-cache.js";
import { parseCert, type ParsedCert } from "./parsed.js";
import type { RevocationStatus } from "./revocation-source.js";
import { fail, type Check, type Verdict } from "./verdict.js";

export interface RevocationSource {
  check(cert: Buffer, issuer: Buffer): Promise<RevocationStatus>;
}

export interface EngineOptions {
  anchors: Buffer[];
  intermediates: Buffer[];
  revocation: RevocationSource;
  /** AIA caIssuers fetch; omit to never fetch issuers. */
  fetchIssuer?: (url: string) => Promise<Buffer[]>;
  now?: () => Date;
  skewMs?: number;
  /** How long a failed chain verdict is remembered (ms). */
  negativeTtlMs?: number;
  /**
   * Intermediates learned from verified chains (shared by the server's
   * processes): a chain that cannot be built from what was presented (a
   * resumed TLS session shows the leaf alone) is retried with them.
   */
  learned?: IntermediateCache;
}

export interface VerifyOptions {
  role: Role;
  requireClientAuthEku?: boolean;
  revocationMode?: "Hard" | "Soft";
  /**
   * Accept signatures below SHA-256 and keys below RSA-2048 / P-256 in the
   * chain, as warnings (a per-partner setting; off by default).
   */
  allowWeakCrypto?: boolean;
  /**
   * false: build the chain without AIA caIssuers fetches (only the peer's and
   * the organization's certificates), for a certificate no partner vouches
   * for yet (inbound MAIL FROM:<>). Default true.
   */
  fetchIssuers?: boolean;
}

export interface PartnerRules {
  nameMatch?: "Exact" | "Subdomains";
  certificateNames?: string[];
  /** Pinned issuing CAs, matched by key (see issuers.ts); empty or absent: any trusted chain. */
  allowedIssuers?: readonly AllowedIssuer[];
}

/**
 * A peer's certificates when reading the whole chain costs something (a TLS
 * socket's getPeerCertificate(true) re-parses every certificate): the leaf at
 * once, the chain (leaf first) only when the verdict cache cannot answer.
 */
export interface LazyChain {
  leaf: Buffer;
  chain(): Buffer[];
}

export type PresentedCerts = Buffer[] | LazyChain;

const leafOf = (c: PresentedCerts): Buffer | undefined => (Array.isArray(c) ? c[0] : c.leaf);
const allOf = (c: PresentedCerts): Buffer[] => (Array.isArray(c) ? c : c.chain());

interface CacheEntry {
  result: ChainResult;
  expiresAt: number;
}

const CACHE_MAX = 10_000;

/** The operating system's CA bundle, or Node's built-in list when there is none. */
export function systemAnchors(): Buffer[] {
  for (const file of ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]) {
    if (existsSync(file)) {
      try {
        return readCertificates(readFileSync(file));
      } catch {
        // fall through to Node's list
      }
    }
  }
  return tls.rootCertificates.flatMap((pem) => readCertificates(Buffer.from(pem)));
}

export class TrustEngine {
  /** signatures: signature checks made by chain building, in all. */
  readonly stats = { chainBuilds: 0, cacheHits: 0, signatures: 0 };
  private readonly anchors: ParsedCert[];
  private readonly intermediates: ParsedCert[];
  private readonly intermediateShas: Set<string>;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly now: () => Date;
  private readonly skewMs: number;

  constructor(private readonly opts: EngineOptions) {
    this.anchors = dedupe(opts.anchors.map(parseCert));
    this.intermediates = dedupe(opts.intermediates.map(parseCert));
    this.intermediateShas = new Set(this.intermediates.map((c) => c.sha256));
    this.now = opts.now ?? (() => new Date());
    this.skewMs = opts.skewMs ?? 5 * 60_000;
  }

  /** Chain, validity, constraints, EKU, then revocation of every certificate but the anchor. */
  async verify(certs: PresentedCerts, opts: VerifyOptions): Promise<Verdict> {
    if (!leafOf(certs)) return fail("CERT_MISSING", "No certificate was presented.");
    const result = await this.chain(certs, opts);
    if (!result.verdict.ok || !result.path) return result.verdict;
    const verdict: Verdict = { ...result.verdict, checks: [...result.verdict.checks], warnings: [...result.verdict.warnings] };
    const path = result.path;
    const last = path.length - 1;
    for (let i = 0; i < last; i++) {
      const cert = path[i] as ParsedCert;
      const status = await this.opts.revocation.check(cert.der, (path[i + 1] as ParsedCert).der);
      const check = revocationCheck(cert, status);
      verdict.checks.push(check);
      if (status.status === "revoked") {
        return { ...verdict, ok: false, code: "CERT_REVOKED", reason: `The certificate ${cert.subject} (serial ${cert.serial}) is revoked${status.reason ? ` (${status.reason})` : ""}${status.revokedAt ? ` since ${status.revokedAt.toISOString()}` : ""}, per ${status.source.toUpperCase()} ${status.url}.` };
      }
      if (status.status === "unknown") {
        const reason = `The revocation status of ${cert.subject} is unknown: ${status.reason}.`;
        if (opts.revocationMode === "Soft") verdict.warnings.push(reason);
        else return { ...verdict, ok: false, code: "REVOCATION_UNKNOWN", reason };
      }
    }
    return verdict;
  }

  /** verify(), then the partner's allowed issuers and the name rule for `domain`. */
  async verifyForDomain(certs: PresentedCerts, domain: string, rules: PartnerRules, opts: VerifyOptions): Promise<Verdict> {
    const verdict = await this.verify(certs, opts);
    if (!verdict.ok) return verdict;
    const checks: Check[] = [...verdict.checks];
    const path = (await this.chain(certs, opts)).path ?? [];
    if (rules.allowedIssuers && rules.allowedIssuers.length > 0) {
      // By key: a CA in the verified path above the leaf whose public key is pinned. Names decide nothing.
      const issuers = path.slice(1);
      const hit = matchAllowedIssuer(rules.allowedIssuers, issuers);
      if (!hit) {
        const direct = issuers[0];
        const lookalikes = nameOnlyLookalikes(rules.allowedIssuers, issuers);
        const reason =
          `The certificate was issued by ${path[0]?.issuer ?? "?"}${direct ? ` (key SHA-256 ${spkiSha256Of(direct)})` : ""}, which is not among the allowed issuers for ${domain} (${rules.allowedIssuers.map((e) => e.subject).join("; ")}; pinned by key)` +
          (lookalikes.length > 0 ? `: ${lookalikes.map((c) => c.subject).join("; ")} in the chain bears an allowed issuer's name but another key.` : ".");
        checks.push({ name: "allowed issuers", ok: false, detail: reason });
        return { ...verdict, ok: false, code: "ISSUER_NOT_ALLOWED", reason, checks };
      }
      checks.push({ name: "allowed issuers", ok: true, detail: `${hit.cert.subject} in the chain has the pinned key ${hit.entry.spkiSha256}` });
    }
    const names = verdict.certificateNames ?? [];
    if (!matchesDomain(names, domain, rules)) {
      const reason = `The certificate names ${names.join(", ") || "nothing usable"}; none matches ${domain}${rules.nameMatch === "Subdomains" ? " or its subdomains" : ""}.`;
      checks.push({ name: `name matches ${domain}`, ok: false, detail: reason });
      return { ...verdict, ok: false, code: "NAME_MISMATCH", reason, checks };
    }
    checks.push({ name: `name matches ${domain}`, ok: true, detail: `the certificate names ${domain}` });
    return { ...verdict, checks, reason: `The certificate is valid and names ${domain}.` };
  }

  private async chain(certs: PresentedCerts, opts: VerifyOptions): Promise<ChainResult> {
    let leaf: ParsedCert;
    try {
      leaf = parseCert(leafOf(certs) as Buffer);
    } catch {
      return { verdict: fail("CERT_MALFORMED", "The presented certificate could not be parsed.") };
    }
    // Two kinds of entry, so that what one presentation lacked never refuses
    // another:
    // - a GOOD chain is keyed by the leaf (and the options): any later
    //   presentation of that leaf, even a resumed TLS 1.3 session that sends
    //   the leaf alone, gets it without chain work;
    // - a FAILED chain is keyed by every certificate presented. A failure can
    //   depend on what was sent (a leaf alone, an intermediate missing or the
    //   wrong one), so it answers only the same presentation again: a resumed
    //   session showing the leaf alone and failing for lack of its
    //   intermediate must not refuse the partner's next full handshake, which
    //   does send it. Failures are still cached (for negativeTtlMs) because a
    //   partner that keeps presenting the same bad chain would otherwise cost
    //   a chain build, and perhaps an AIA fetch, per connection.
    const opt = `${opts.role}|${opts.requireClientAuthEku ? 1 : 0}|${opts.allowWeakCrypto ? "weak-ok" : "strong"}`;
    const okKey = `ok|${leaf.sha256}|${opt}`;
    const now = this.now();
    const good = this.cache.get(okKey);
    if (good && good.expiresAt > now.getTime()) {
      this.stats.cacheHits++;
      return good.result;
    }
    // Not known good: only now is the whole chain read (see LazyChain). None
    // (a TLS session already gone) decides nothing and is not remembered.
    const all = allOf(certs);
    if (all.length === 0) return { verdict: fail("CERT_MISSING", "No certificate was presented.") };
    // A failure without AIA fetching says nothing about the chain with it, so the fail key names the
    // fetch option; a good chain is good however it was found (no fetch is made to answer from it).
    const fetchIssuers = opts.fetchIssuers !== false && this.opts.fetchIssuer !== undefined;
    const failKey = `fail|${presentedHash(all)}|${opt}|${fetchIssuers ? "aia" : "no-aia"}`;
    const bad = this.cache.get(failKey);
    // "Not yet valid" is never answered from the cache: it may become valid any moment.
    if (bad && bad.expiresAt > now.getTime() && bad.result.verdict.code !== "CERT_NOT_YET_VALID") {
      this.stats.cacheHits++;
      return bad.result;
    }
    this.stats.chainBuilds++;
    const chainOpts = {
      now,
      skewMs: this.skewMs,
      role: opts.role,
      ...(opts.requireClientAuthEku ? { requireClientAuthEku: true } : {}),
      ...(opts.allowWeakCrypto ? { allowWeakCrypto: true } : {}),
      ...(fetchIssuers && this.opts.fetchIssuer ? { fetchIssuer: this.opts.fetchIssuer } : {}),
    };
    let result = await validateChain(all, { anchors: this.anchors, intermediates: this.intermediates }, chainOpts);
    this.stats.signatures += result.work?.signatures ?? 0;
    const learned = this.opts.learned;
    if (learned && result.verdict.code === "CHAIN_UNTRUSTED") {
      // Before refusing: the intermediates this server has seen in verified chains (never trusted for themselves).
      const extra = learned.list().filter((c) => !this.intermediateShas.has(c.sha256));
      if (extra.length > 0) {
        result = await validateChain(all, { anchors: this.anchors, intermediates: [...this.intermediates, ...extra] }, chainOpts);
        this.stats.signatures += result.work?.signatures ?? 0;
      }
    }
    if (learned && result.verdict.ok && result.path && result.sources) {
      const sources = result.sources;
      learned.learn(result.path.filter((_, i) => i > 0 && (sources[i] === "peer" || sources[i] === "aia")));
    }
    // A good chain stays good until its first certificate expires; a bad one is retried soon.
    const expiresAt = result.verdict.ok && result.path
      ? Math.min(...result.path.map((c) => c.notAfter.getTime())) + this.skewMs
      : now.getTime() + (this.opts.negativeTtlMs ?? 60_000);
    const key = result.verdict.ok && result.path ? okKey : failKey;
    this.cache.delete(key); // re-inserted last, so eviction (oldest first) finds it late
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { result, expiresAt });
    return result;
  }
}

/** One digest of every certificate presented, in the order sent. */
function presentedHash(all: Buffer[]): string {
  const h = createHash("sha256");
  for (const der of all) h.update(createHash("sha256").update(der).digest());
  return h.digest("hex");
}

function dedupe(certs: ParsedCert[]): ParsedCert[] {
  const seen = new Set<string>();
  return certs.filter((c) => (seen.has(c.sha256) ? false : (seen.add(c.sha256), true)));
}

function revocationCheck(cert: ParsedCert, s: RevocationStatus): Check {
  const name = `revocation of ${cert.subject}`;
  if (s.status === "good") return { name, ok: true, detail: `not revoked (${s.source.toUpperCase()} ${s.url})` };
  if (s.status === "revoked") return { name, ok: false, detail: `revoked (${s.source.toUpperCase()} ${s.url})` };
  return { name, ok: null, detail: `unknown: ${s.reason}` };
}
