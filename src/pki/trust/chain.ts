// Chain building and path validation (no revocation, no network except AIA
// caIssuers through the injected fetcher). Builds leaf → ... → trust anchor
// from the peer's certificates, the organization's known intermediates and
// AIA, then checks validity (with clock skew), basic constraints, key usage,
// path length, name constraints and the extended key usage for the role.
import { certificateNames } from "../certs.js";
import { EKU_OIDS, isIssuedBy, parseCert, type ParsedCert } from "./parsed.js";
import { fail, type ChainEntry, type Check, type Verdict } from "./verdict.js";

export type Role = "server" | "client";

export interface TrustMaterial {
  anchors: ParsedCert[];
  intermediates: ParsedCert[];
}

export interface ChainOptions {
  now: Date;
  skewMs: number;
  role: Role;
  /** Client role only: demand clientAuth (serverAuth alone is not enough). */
  requireClientAuthEku?: boolean;
  /** Fetches an AIA caIssuers URL (certificate, DER/PEM/PKCS#7); undefined when not allowed. */
  fetchIssuer?: (url: string) => Promise<Buffer[]>;
  maxDepth?: number;
}

export interface ChainResult {
  verdict: Verdict;
  /** leaf first, the anchor last; present when a path was built */
  path?: ParsedCert[];
  sources?: ChainEntry["source"][];
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

async function findPath(leaf: ParsedCert, peers: ParsedCert[], material: TrustMaterial, opts: ChainOptions): Promise<Node[] | undefined> {
  const maxDepth = opts.maxDepth ?? 8;
  const anchorBySha = new Set(material.anchors.map((a) => a.sha256));
  const fetched = new Map<string, ParsedCert[]>();

  const walk = async (path: Node[]): Promise<Node[] | undefined> => {
    const cur = (path[path.length - 1] as Node).cert;
    if (anchorBySha.has(cur.sha256)) {
      (path[path.length - 1] as Node).source = "anchor";
      return path;
    }
    for (const a of material.anchors) {
      if (isIssuedBy(cur, a)) return [...path, { cert: a, source: "anchor" }];
    }
    if (path.length >= maxDepth || cur.selfIssued) return undefined;
    const seen = new Set(path.map((n) => n.cert.sha256));
    const candidates: Node[] = [
      ...peers.map((c) => ({ cert: c, source: "peer" as const })),
      ...material.intermediates.map((c) => ({ cert: c, source: "store" as const })),
    ];
    for (const cand of candidates) {
      if (seen.has(cand.cert.sha256) || !isIssuedBy(cur, cand.cert)) continue;
      const found = await walk([...path, cand]);
      if (found) return found;
    }
    if (opts.fetchIssuer) {
      for (const url of cur.aiaIssuerUrls) {
        if (!/^http:\/\//i.test(url)) continue;
        let got = fetched.get(url);
        if (!got) {
          got = [];
          try {
            got = (await opts.fetchIssuer(url)).map(parseCert);
          } catch {
            // An unreachable or damaged AIA URL only means no issuer from there.
          }
          fetched.set(url, got);
        }
        for (const c of got) {
          if (seen.has(c.sha256) || !isIssuedBy(cur, c)) continue;
          const found = await walk([...path, { cert: c, source: "aia" }]);
          if (found) return found;
        }
      }
    }
    return undefined;
  };
  return walk([{ cert: leaf, source: "peer" }]);
}

/** RFC 5280 dNSName subtree: equal, or a subdomain of the base ("." prefix: subdomains only). */
function inSubtree(name: string, base: string): boolean {
  const n = name.replace(/^\*\./, "x.").toLowerCase();
  if (base.startsWith(".")) return n.endsWith(base);
  return n === base || n.endsWith(`.${base}`);
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
  if (certs.length === 0) return { verdict: fail("CERT_MISSING", "No certificate was presented.") };
  let leaf: ParsedCert;
  let peers: ParsedCert[];
  try {
    leaf = parseCert(certs[0] as Buffer);
    peers = certs.slice(1).map(parseCert);
  } catch {
    return { verdict: fail("CERT_MALFORMED", "The presented certificate could not be parsed.") };
  }
  const names = certificateNames(leaf.dnsNames, leaf.commonName);
  const base = { certificateNames: names, thumbprint: leaf.sha1 };
  const checks: Check[] = [];
  const path = await findPath(leaf, peers, material, opts);
  if (!path) {
    const self = leaf.selfIssued && isIssuedBy(leaf, leaf);
    const chain = [entry({ cert: leaf, source: "peer" })];
    checks.push({ name: "chain", ok: false, detail: self ? "self-signed, not a trusted root" : `no trusted root found above ${leaf.issuer}` });
    return {
      verdict: self
        ? fail("CERT_SELF_SIGNED", `The certificate ${leaf.subject} is self-signed and is not a trusted root; add it with Add-TrustedRootCertificate only if you trust it.`, { ...base, checks, chain })
        : fail("CHAIN_UNTRUSTED", `No chain from ${leaf.subject} to a trusted root: its issuer ${leaf.issuer} is not trusted or not found (add the root with Add-TrustedRootCertificate, or the intermediate with Add-IntermediateCertificate).`, { ...base, checks, chain }),
    };
  }
  const chain = path.map(entry);
  checks.push({ name: "chain", ok: true, detail: `${path.length} certificate(s) to the trusted root ${path[path.length - 1]?.cert.subject ?? ""}` });
  const failWith = (code: Parameters<typeof fail>[0], reason: string, check: string): ChainResult => {
    checks.push({ name: check, ok: false, detail: reason });
    return { verdict: fail(code, reason, { ...base, checks, chain }), path: path.map((n) => n.cert), sources: path.map((n) => n.source) };
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
  // name constraints from every CA above, applied to the leaf's DNS names
  const leafNames = leaf.dnsNames.length ? leaf.dnsNames : names;
  for (let i = 1; i < path.length; i++) {
    const nc = (path[i] as Node).cert.nameConstraints;
    if (!nc) continue;
    for (const n of leafNames) {
      const excluded = nc.excluded.find((b) => inSubtree(n, b));
      if (excluded) {
        return failWith("NAME_CONSTRAINTS_VIOLATED", `The name ${n} is excluded by ${(path[i] as Node).cert.subject} (excluded subtree ${excluded}).`, "name constraints");
      }
      if (nc.permitted.length && !nc.permitted.some((b) => inSubtree(n, b))) {
        return failWith("NAME_CONSTRAINTS_VIOLATED", `The name ${n} is outside the names ${(path[i] as Node).cert.subject} may certify (${nc.permitted.join(", ")}).`, "name constraints");
      }
    }
  }
  checks.push({ name: "name constraints", ok: true, detail: "no issuer's name constraints are violated" });
  const eku = ekuAllows(leaf, opts);
  if (!eku.ok) return failWith("EKU_MISSING", `${leaf.subject}: ${eku.detail}.`, "extended key usage");
  checks.push({ name: "extended key usage", ok: true, detail: eku.detail });
  return {
    verdict: { ok: true, code: "OK", reason: "The chain is valid.", warnings: [], checks, chain, ...base },
    path: path.map((n) => n.cert),
    sources: path.map((n) => n.source),
  };
}
