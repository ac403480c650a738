// A trust verdict: never a bare false. Each result has a stable code and a
// reason a person can act on, plus the checks made and the chain built, so
// Test-Certificate and protocol logs can show why.

export const VERDICT_CODES = {
  OK: "All checks passed.",
  CERT_MISSING: "No certificate was presented.",
  CERT_MALFORMED: "A certificate could not be parsed.",
  CERT_SELF_SIGNED: "The certificate is self-signed and not trusted.",
  CHAIN_UNTRUSTED: "No chain to a trusted root could be built.",
  CHAIN_TOO_COMPLEX: "Building the chain needed more signature checks than a verification may make (too many candidate issuers).",
  SIGNATURE_INVALID: "A signature in the chain does not verify.",
  CERT_EXPIRED: "A certificate in the chain has expired.",
  CERT_NOT_YET_VALID: "A certificate in the chain is not valid yet.",
  CA_INVALID: "An issuer in the chain is not allowed to issue certificates.",
  PATH_LENGTH_EXCEEDED: "The chain is longer than an issuer's path length constraint allows.",
  NAME_CONSTRAINTS_VIOLATED: "A name in the certificate is outside an issuer's name constraints.",
  WEAK_KEY: "A certificate in the chain has a key below RSA-2048 / EC P-256, or a DSA key.",
  WEAK_SIGNATURE: "A certificate in the chain is signed with a hash below SHA-256 (SHA-1, MD5, ...).",
  EKU_MISSING: "The certificate is not issued for this use (extended key usage).",
  CERT_REVOKED: "A certificate in the chain is revoked.",
  REVOCATION_UNKNOWN: "The revocation status of a certificate in the chain could not be determined.",
  ISSUER_NOT_ALLOWED: "The certificate's issuer is not among the partner's allowed issuers.",
  NAME_MISMATCH: "The certificate does not name the domain.",
} as const;

export type VerdictCode = keyof typeof VERDICT_CODES;

export interface Check {
  name: string;
  /** true passed, false failed, null not applicable or skipped */
  ok: boolean | null;
  detail: string;
}

export interface ChainEntry {
  subject: string;
  issuer: string;
  serialNumber: string;
  thumbprint: string;
  notBefore: Date;
  notAfter: Date;
  /** How it was found: sent by the peer, known to the store, fetched (AIA), or a trust anchor. */
  source: "peer" | "store" | "aia" | "anchor";
}

export interface Verdict {
  ok: boolean;
  code: VerdictCode;
  reason: string;
  warnings: string[];
  checks: Check[];
  chain: ChainEntry[];
  /** The leaf's names that can match a domain: its SAN dNSNames, or its host-name CN when it has none (RFC 6125). */
  certificateNames?: string[];
  /** The leaf's SHA-1 thumbprint. */
  thumbprint?: string;
}

export function fail(code: Exclude<VerdictCode, "OK">, reason: string, rest: Partial<Verdict> = {}): Verdict {
  return { ok: false, code, reason, warnings: [], checks: [], chain: [], ...rest };
}
