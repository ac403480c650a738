// Chain building and path validation (no revocation, no network except AIA
// caIssuers through the injected fetcher). Builds leaf → ... → trust anchor
// from the peer's certificates, the organization's known intermediates and
// AIA, then checks validity (with clock skew), basic constraints, key usage,
// path length, the strength of keys and signatures, name constraints and the
// extended key usage for the role.
//
// Path building costs a bounded amount of work whatever the peer sends (a
// peer may send many cross-signed CA certificates whose names all chain):
// - at most `maxPeerCertificates` of the peer's certificates are considered
//   (the rest are ignored), and a path has at most `maxDepth` certificates;
// - candidates are found by name and by key identifier first, so a
//   certificate that cannot be the issuer costs no signature check;
// - each (certificate, issuer) signature is verified at most once per
//   verification, and each certificate is expanded at most once per search
//   (breadth first: a dead end is never walked again), so the work grows
//   with the number of certificates, not with the number of paths;
// - signature checks are paid from a budget (`maxSignatureWork`, in units of
//   about one RSA-2048 / P-256 check; costlier keys cost more); when it runs
//   out before a path is found, the verdict is CHAIN_TOO_COMPLEX;
// - at most `maxAiaFetches` distinct http: caIssuers URLs are fetched per
//   verification, and at most `maxAiaCertificates` certificates are taken
//   from each answer.
import { certificateNames } from "../certs.js";
import { certificateNameKey } from "../names.js";
import { EKU_OIDS, mayBeIssuedBy, parseCert, signatureVerifies, type ParsedCert } from "./parsed.js";
import { fail, type ChainEntry, type Check, type Verdict, type VerdictCode } from "./verdict.js";

export type Role = "server" | "client";

export interface TrustMaterial {
  anchors: ParsedCert[];
  intermediates: ParsedCert[];
}

export interface ChainLimits {
  /** The peer's certificates considered after its leaf (default 10); later ones are ignored. */
  maxPeerCertificates: number;
  /** Signature checks per verification, in cost units (default 64; RSA-2048 and P-256 cost 1). */
  maxSignatureWork: number;
  /** Distinct AIA caIssuers URLs fetched per verification (default 3). */
  maxAiaFetches: number;
  /** Certificates taken from one AIA answer (default 5). */
  maxAiaCertificates: number;
}

export const DEFAULT_CHAIN_LIMITS: Readonly<ChainLimits> = Object.freeze({
  maxPeerCertificates: 10,
  maxSignatureWork: 64,
  maxAiaFetches: 3,
  maxAiaCertificates: 5,
});

/** Default longest path, in certificates, the leaf and the trust anchor included. */
export const DEFAULT_MAX_DEPTH = 8;

export interface ChainOptions {
  now: Date;
  skewMs: number;
  role: Role;
  /** Client role only: demand clientAuth (serverAuth alone is not enough). */
  requireClientAuthEku?: boolean;
  /** Fetches an AIA caIssuers URL (certificate, DER/PEM/PKCS#7); undefined when not allowed. */
  fetchIssuer?: (url: string) => Promise<Buffer[]>;
  /** Longest path in certificates, leaf and anchor included (default 8). */
  maxDepth?: number;
  /** Accept signatures below SHA-256 and keys below RSA-2048 / P-256, as warnings. */
  allowWeakCrypto?: boolean;
  limits?: Partial<ChainLimits>;
}

/** What building the path cost. */
export interface ChainWork {
  /** Signature verifications made. */
  signatures: number;
  /** Their cost in budget units (see ChainLimits.maxSignatureWork). */
  signatureCost: number;
  /** AIA caIssuers URLs fetched. */
  aiaFetches: number;
  /** Peer certificates beyond maxPeerCertificates, not considered. */
  ignoredPeerCertificates: number;
}

export interface ChainResult {
  verdict: Verdict;
  /** leaf first, the anchor last; present when a path was built */
  path?: ParsedCert[];
  sources?: ChainEntry["source"][];
  /** Always set by validateChain (absent on results the engine makes without building). */
  work?: ChainWork;
}

interface Node {
  cert: ParsedCert;
  source: ChainEntry["source"];
}

function entry(n: Node): ChainEntry {
  return {
    subject: n.cert.subject,
    issuer: n.cert.issuer,
    serialNumber: n.cert.serial,
    thumbprint: n.cert.sha1,
    notBefore: n.cert.notBefore,
    notAfter: n.cert.notAfter,
    source: n.source,
  };
}

class BudgetExhausted extends Error {}

/** The state of one verification's path building, shared by its searches. */
class Builder {
  readonly work: ChainWork = { signatures: 0, signatureCost: 0, aiaFetches: 0, ignoredPeerCertificates: 0 };
  private readonly verified = new Map<string, boolean>();
  private readonly fetched = new Map<string, ParsedCert[]>();
  private readonly anchorShas: Set<string>;
  private readonly anchorsByName = new Map<string, ParsedCert[]>();
  private readonly pool: Node[] = [];
  private readonly poolByName = new Map<string, Node[]>();
  private readonly inPool = new Set<string>();
  /** Whether a search left out a certificate outside its validity (so another search may find more). */
  private skippedForTime = false;

  constructor(
    private readonly material: TrustMaterial,
    private readonly opts: ChainOptions,
    private readonly limits: ChainLimits,
    peers: ParsedCert[],
  ) {
    this.anchorShas = new Set(material.anchors.map((a) => a.sha256));
    for (const a of material.anchors) push(this.anchorsByName, a.node.subject, a);
    for (const c of peers) this.add(c, "peer");
    for (const c of material.intermediates) this.add(c, "store");
  }

  private add(cert: ParsedCert, source: Node["source"]): void {
    // Anchors are reached through anchorsByName; a certificate is a candidate once.
    if (this.anchorShas.has(cert.sha256) || this.inPool.has(cert.sha256)) return;
    this.inPool.add(cert.sha256);
    const n = { cert, source };
    this.pool.push(n);
    push(this.poolByName, cert.node.subject, n);
  }

  /** `issuer` issued `cert`: name and key identifier first, then the signature, checked once and paid from the budget. */
  private issued(cert: ParsedCert, issuer: ParsedCert): boolean {
    if (!mayBeIssuedBy(cert, issuer)) return false;
    const key = `${cert.sha256}>${issuer.sha256}`;
    const known = this.verified.get(key);
    if (known !== undefined) return known;
    const cost = issuer.key.verifyCost;
    let ok = false;
    if (cost !== undefined && issuer.publicKey) {
      if (this.work.signatureCost + cost > this.limits.maxSignatureWork) throw new BudgetExhausted();
      this.work.signatures++;
      this.work.signatureCost += cost;
      ok = signatureVerifies(cert, issuer);
    }
    this.verified.set(key, ok);
    return ok;
  }

  /** The leaf's own signature under its own key (for the "self-signed" refusal). */
  selfSigned(leaf: ParsedCert): boolean {
    try {
      return leaf.selfIssued && this.issued(leaf, leaf);
    } catch (e) {
      if (e instanceof BudgetExhausted) return false;
      throw e;
    }
  }

  private inTime(c: ParsedCert): boolean {
    const now = this.opts.now.getTime();
    return now + this.opts.skewMs >= c.notBefore.getTime() && now - this.opts.skewMs <= c.notAfter.getTime();
  }

  private async fetchAia(cert: ParsedCert): Promise<void> {
    const fetchIssuer = this.opts.fetchIssuer;
    if (!fetchIssuer) return;
    for (const url of cert.aiaIssuerUrls) {
      if (!/^http:\/\//i.test(url) || this.fetched.has(url)) continue;
      if (this.work.aiaFetches >= this.limits.maxAiaFetches) return;
      this.work.aiaFetches++;
      let got: ParsedCert[] = [];
      try {
        got = (await fetchIssuer(url)).slice(0, this.limits.maxAiaCertificates).map(parseCert);
      } catch {
        // An unreachable or damaged AIA URL only means no issuer from there.
      }
      this.fetched.set(url, got);
      for (const c of got) this.add(c, "aia");
    }
  }

  /**
   * Breadth first from the leaf: the shortest path to an anchor among the
   * candidates (only those within their validity when `validOnly`), each
   * certificate expanded once. `aia`: fetch each expanded certificate's
   * caIssuers (within the per-verification cap).
   */
  private async search(leaf: ParsedCert, validOnly: boolean, aia: boolean): Promise<Node[] | undefined> {
    const maxDepth = this.opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    const start: Node = { cert: leaf, source: "peer" };
    const parent = new Map<Node, Node>();
    const depth = new Map<Node, number>([[start, 1]]);
    const visited = new Set<string>([leaf.sha256]);
    const pathTo = (n: Node): Node[] => {
      const out: Node[] = [];
      for (let c: Node | undefined = n; c; c = parent.get(c)) out.unshift(c);
      return out;
    };
    const usable = (c: ParsedCert) => {
      if (!validOnly || this.inTime(c)) return true;
      this.skippedForTime = true;
      return false;
    };
    const queue: Node[] = [start];
    for (let head = 0; head < queue.length; head++) {
      const n = queue[head] as Node;
      const d = depth.get(n) as number;
      if (this.anchorShas.has(n.cert.sha256)) {
        // The leaf itself is trusted.
        return [{ cert: n.cert, source: "anchor" }];
      }
      if (d + 1 <= maxDepth) {
        for (const a of this.anchorsByName.get(n.cert.node.issuer) ?? []) {
          if (usable(a) && this.issued(n.cert, a)) return [...pathTo(n), { cert: a, source: "anchor" }];
        }
      }
      // A non-anchor above this one needs room for an anchor above it; a self-issued one goes no higher.
      if (d + 2 > maxDepth || n.cert.selfIssued) continue;
      if (aia) await this.fetchAia(n.cert);
      for (const cand of this.poolByName.get(n.cert.node.issuer) ?? []) {
        if (visited.has(cand.cert.sha256) || !usable(cand.cert) || !this.issued(n.cert, cand.cert)) continue;
        visited.add(cand.cert.sha256);
        const next: Node = { cert: cand.cert, source: cand.source };
        parent.set(next, n);
        depth.set(next, d + 1);
        queue.push(next);
      }
    }
    return undefined;
  }

  /**
   * The path for `leaf`, preferring issuers within their validity and the
   * certificates at hand: first without AIA, then with it, then (so that an
   * expired issuer is reported as such) with issuers outside their validity.
   * "too-complex" when the signature budget ran out first.
   */
  async build(leaf: ParsedCert): Promise<Node[] | undefined | "too-complex"> {
    try {
      const first = await this.search(leaf, true, false);
      if (first) return first;
      if (this.opts.fetchIssuer) {
        const withAia = await this.search(leaf, true, true);
        if (withAia) return withAia;
      }
      if (this.skippedForTime) return await this.search(leaf, false, this.opts.fetchIssuer !== undefined);
      return undefined;
    } catch (e) {
      if (e instanceof BudgetExhausted) return "too-complex";
      throw e;
    }
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * The names that can make the certificate match a domain (RFC 6125 §6.4.4):
 * its SAN dNSNames, or its subject CN (when a host name) only when it has no
 * SAN dNSName. Lower case, no trailing dot. The verdict exports exactly this
 * list, and name constraints are checked on exactly this list.
 */
export function matchingNames(cert: ParsedCert): string[] {
  return cert.dnsNames.length > 0 ? certificateNames(cert.dnsNames, undefined) : certificateNames([], cert.commonName);
}

interface DnsBase {
  /** undefined: the empty base, every name */
  name?: string;
  subdomainsOnly: boolean;
}

function dnsBase(raw: string): DnsBase {
  const subdomainsOnly = raw.startsWith(".");
  const label = subdomainsOnly ? raw.slice(1) : raw;
  if (label === "") return { subdomainsOnly };
  return { name: certificateNameKey(label) ?? label, subdomainsOnly };
}

/** RFC 5280 dNSName subtree: the base or a name below it ("." prefix: below it only). */
function inSubtree(name: string, b: DnsBase): boolean {
  if (b.name === undefined) return true;
  if (name.endsWith(`.${b.name}`)) return true;
  return !b.subdomainsOnly && name === b.name;
}

/** Every name "*.P" can stand for (one label below P) is in the subtree. */
function wildcardWithin(parent: string, b: DnsBase): boolean {
  return b.name === undefined || parent === b.name || parent.endsWith(`.${b.name}`);
}

/** Some name "*.P" can stand for is in the subtree. */
function wildcardMeets(parent: string, b: DnsBase): boolean {
  if (wildcardWithin(parent, b)) return true;
  // the base is itself one label below P: "*.P" stands for it
  return !b.subdomainsOnly && b.name !== undefined && b.name.endsWith(`.${parent}`) && !b.name.slice(0, -parent.length - 1).includes(".");
}

function permittedBy(name: string, bases: DnsBase[]): boolean {
  if (name.startsWith("*.")) return bases.some((b) => wildcardWithin(name.slice(2), b));
  return bases.some((b) => inSubtree(name, b));
}

function excludedBy(name: string, bases: string[]): string | undefined {
  return bases.find((raw) => {
    const b = dnsBase(raw);
    return name.startsWith("*.") ? wildcardMeets(name.slice(2), b) : inSubtree(name, b);
  });
}

/** RFC 5280 directoryName subtree: the base's RDNs begin the subject's. */
function dnWithin(subject: string[], base: string[]): boolean {
  return base.length <= subject.length && base.every((rdn, i) => subject[i] === rdn);
}

function ekuAllows(leaf: ParsedCert, opts: ChainOptions): { ok: boolean; detail: string } {
  if (!leaf.eku) return { ok: !(opts.role === "client" && opts.requireClientAuthEku), detail: "no extended key usage extension (any use)" };
  const has = (oid: string) => leaf.eku?.includes(oid) === true;
  if (opts.role === "server") {
    return has(EKU_OIDS.server) || has(EKU_OIDS.any)
      ? { ok: true, detail: "serverAuth present" }
      : { ok: false, detail: "the certificate lacks the serverAuth extended key usage a mail server needs" };
  }
  if (opts.requireClientAuthEku) {
    return has(EKU_OIDS.client) || has(EKU_OIDS.any)
      ? { ok: true, detail: "clientAuth present" }
      : { ok: false, detail: "the certificate lacks the clientAuth extended key usage (required by setting)" };
  }
  return has(EKU_OIDS.client) || has(EKU_OIDS.server) || has(EKU_OIDS.any)
    ? { ok: true, detail: has(EKU_OIDS.client) ? "clientAuth present" : "serverAuth present (accepted for a client)" }
    : { ok: false, detail: "the certificate has neither clientAuth nor serverAuth extended key usage" };
}

/** Builds and validates the path for `certs[0]` (the others are what the peer sent). */
export async function validateChain(certs: Buffer[], material: TrustMaterial, opts: ChainOptions): Promise<ChainResult> {
  const limits: ChainLimits = { ...DEFAULT_CHAIN_LIMITS, ...opts.limits };
  const noWork: ChainWork = { signatures: 0, signatureCost: 0, aiaFetches: 0, ignoredPeerCertificates: 0 };
  if (certs.length === 0) return { verdict: fail("CERT_MISSING", "No certificate was presented."), work: noWork };
  let leaf: ParsedCert;
  let peers: ParsedCert[];
  const considered = certs.slice(1, 1 + limits.maxPeerCertificates);
  try {
    leaf = parseCert(certs[0] as Buffer);
    peers = considered.map(parseCert);
  } catch {
    return { verdict: fail("CERT_MALFORMED", "The presented certificate could not be parsed."), work: noWork };
  }
  const builder = new Builder(material, opts, limits, peers);
  const work = builder.work;
  work.ignoredPeerCertificates = certs.length - 1 - considered.length;
  const names = matchingNames(leaf);
  const base = { certificateNames: names, thumbprint: leaf.sha1 };
  const checks: Check[] = [];
  const warnings: string[] = [];
  if (work.ignoredPeerCertificates > 0) {
    checks.push({ name: "certificates considered", ok: null, detail: `${work.ignoredPeerCertificates} certificate(s) beyond the first ${limits.maxPeerCertificates} the peer sent were ignored` });
  }
  const built = await builder.build(leaf);
  if (built === "too-complex") {
    const reason = `Building a chain from ${leaf.subject} over the ${peers.length} certificate(s) the peer sent needed more than ${limits.maxSignatureWork} units of signature checks; refused (a partner's chain normally needs a few).`;
    checks.push({ name: "chain", ok: false, detail: reason });
    return { verdict: fail("CHAIN_TOO_COMPLEX", reason, { ...base, checks, chain: [entry({ cert: leaf, source: "peer" })] }), work };
  }
  if (!built) {
    const self = builder.selfSigned(leaf);
    const chain = [entry({ cert: leaf, source: "peer" })];
    checks.push({ name: "chain", ok: false, detail: self ? "self-signed, not a trusted root" : `no trusted root found above ${leaf.issuer}` });
    return {
      verdict: self
        ? fail("CERT_SELF_SIGNED", `The certificate ${leaf.subject} is self-signed and is not a trusted root; add it with Add-TrustedRootCertificate only if you trust it.`, { ...base, checks, chain })
        : fail("CHAIN_UNTRUSTED", `No chain from ${leaf.subject} to a trusted root: its issuer ${leaf.issuer} is not trusted or not found (add the root with Add-TrustedRootCertificate, or the intermediate with Add-IntermediateCertificate).`, { ...base, checks, chain }),
      work,
    };
  }
  const path = built;
  const chain = path.map(entry);
  checks.push({ name: "chain", ok: true, detail: `${path.length} certificate(s) to the trusted root ${path[path.length - 1]?.cert.subject ?? ""}` });
  const done = (verdict: Verdict): ChainResult => ({ verdict, path: path.map((n) => n.cert), sources: path.map((n) => n.source), work });
  const failWith = (code: Exclude<VerdictCode, "OK">, reason: string, check: string): ChainResult => {
    checks.push({ name: check, ok: false, detail: reason });
    return done(fail(code, reason, { ...base, checks, chain, warnings }));
  };
  // validity, for every certificate including the anchor
  const now = opts.now.getTime();
  for (const { cert } of path) {
    if (now + opts.skewMs < cert.notBefore.getTime()) {
      return failWith("CERT_NOT_YET_VALID", `The certificate ${cert.subject} is not valid before ${cert.notBefore.toISOString()}.`, "validity");
    }
    if (now - opts.skewMs > cert.notAfter.getTime()) {
      return failWith("CERT_EXPIRED", `The certificate ${cert.subject} expired on ${cert.notAfter.toISOString()}.`, "validity");
    }
  }
  checks.push({ name: "validity", ok: true, detail: `every certificate is within its validity (±${Math.round(opts.skewMs / 60000)} min)` });
  // issuers: CA flag, keyCertSign, path length
  for (let i = 1; i < path.length; i++) {
    const { cert, source } = path[i] as Node;
    const isAnchor = source === "anchor";
    if (!cert.isCa && !(isAnchor && cert.selfIssued)) {
      return failWith("CA_INVALID", `${cert.subject} issued a certificate but is not a CA (basicConstraints CA:TRUE missing).`, "basic constraints");
    }
    if (cert.keyCertSign === false) {
      return failWith("CA_INVALID", `${cert.subject} issued a certificate but its key usage lacks keyCertSign.`, "basic constraints");
    }
    // Intermediates below this CA, not counting self-issued ones (RFC 5280 6.1.4).
    const below = path.slice(1, i).filter((n) => !n.cert.selfIssued).length;
    if (cert.pathLen !== undefined && below > cert.pathLen) {
      return failWith("PATH_LENGTH_EXCEEDED", `${cert.subject} allows ${cert.pathLen} intermediate(s) below it; the chain has ${below}.`, "path length");
    }
  }
  checks.push({ name: "basic constraints", ok: true, detail: "every issuer is a CA within its path length" });
  // keys of every certificate (the anchor's too) and signatures of all but the anchor's own
  const weak: { code: "WEAK_KEY" | "WEAK_SIGNATURE"; reason: string }[] = [];
  for (let i = 0; i < path.length; i++) {
    const { cert, source } = path[i] as Node;
    const who = `The certificate ${cert.subject} (serial ${cert.serial}${source === "anchor" ? ", a trusted root" : ""})`;
    if (cert.key.weak) weak.push({ code: "WEAK_KEY", reason: `${who} has a weak key, ${cert.key.description}: ${cert.key.weak}.` });
    if (source !== "anchor" && cert.signature.weak) weak.push({ code: "WEAK_SIGNATURE", reason: `${who} has a weak signature, ${cert.signature.algorithm}: ${cert.signature.weak}.` });
  }
  if (weak.length > 0 && !opts.allowWeakCrypto) {
    const first = weak[0] as (typeof weak)[number];
    return failWith(first.code, first.reason, "cryptographic strength");
  }
  for (const w of weak) warnings.push(`${w.reason} Accepted: weak cryptography is allowed for this partner.`);
  checks.push({
    name: "cryptographic strength",
    ok: true,
    detail: weak.length ? `${weak.length} weakness(es) accepted as warnings (weak cryptography allowed)` : "every key is at least RSA-2048 / P-256 and every signature at least SHA-256",
  });
  // Name constraints (RFC 5280 6.1.3 b, c): every CA's constraints bind every
  // certificate below it (self-issued intermediates excepted). For the leaf,
  // the DNS names checked are exactly the names that can match a domain.
  for (let i = 1; i < path.length; i++) {
    const ca = (path[i] as Node).cert;
    const nc = ca.nameConstraints;
    if (!nc) continue;
    const permitted = nc.permitted.map(dnsBase);
    for (let j = 0; j < i; j++) {
      const cert = (path[j] as Node).cert;
      if (j > 0 && cert.selfIssued) continue;
      const dns = j === 0 ? names : certificateNames(cert.dnsNames, undefined);
      for (const shown of dns) {
        // A name that is not a valid host name matches no domain; the rest are checked in the form matching uses.
        const n = certificateNameKey(shown);
        if (n === undefined) continue;
        const excluded = excludedBy(n, nc.excluded);
        if (excluded !== undefined) {
          return failWith("NAME_CONSTRAINTS_VIOLATED", `The name ${shown} in ${cert.subject} is excluded by ${ca.subject} (excluded subtree ${excluded || "(every name)"}).`, "name constraints");
        }
        if (permitted.length > 0 && !permittedBy(n, permitted)) {
          return failWith("NAME_CONSTRAINTS_VIOLATED", `The name ${shown} in ${cert.subject} is outside the names ${ca.subject} may certify (${nc.permitted.join(", ")}).`, "name constraints");
        }
      }
      if (cert.subjectDn.length > 0) {
        if (nc.excludedDirs.some((b) => dnWithin(cert.subjectDn, b))) {
          return failWith("NAME_CONSTRAINTS_VIOLATED", `The subject ${cert.subject} is in a directory subtree ${ca.subject} excludes.`, "name constraints");
        }
        if (nc.permittedDirs.length > 0 && !nc.permittedDirs.some((b) => dnWithin(cert.subjectDn, b))) {
          return failWith("NAME_CONSTRAINTS_VIOLATED", `The subject ${cert.subject} is outside the directory subtrees ${ca.subject} may certify.`, "name constraints");
        }
      }
    }
  }
  checks.push({ name: "name constraints", ok: true, detail: "no issuer's name constraints are violated" });
  const eku = ekuAllows(leaf, opts);
  if (!eku.ok) return failWith("EKU_MISSING", `${leaf.subject}: ${eku.detail}.`, "extended key usage");
  checks.push({ name: "extended key usage", ok: true, detail: eku.detail });
  return done({ ok: true, code: "OK", reason: "The chain is valid.", warnings, checks, chain, ...base });
}
