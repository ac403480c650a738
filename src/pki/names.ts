// Matching one certificate name against a host name (RFC 6125): exact, or a
// wildcard "*.P" standing for exactly one label below P. Domain-level partner
// rules (Subdomains, extra names) build on this in the trust layer.

export function matchesCertificateName(certName: string, host: string): boolean {
  const name = certName.toLowerCase().replace(/\.$/, "");
  const h = host.toLowerCase().replace(/\.$/, "");
  if (name === h) return true;
  if (name.startsWith("*.")) {
    const parent = name.slice(2);
    const dot = h.indexOf(".");
    return dot > 0 && h.slice(dot + 1) === parent && parent.includes(".");
  }
  return false;
}

export type NameMatch = "Exact" | "Subdomains";

export interface NameMatchOptions {
  nameMatch?: NameMatch;
  /** Extra names accepted for the partner (hosted services). Normalized. */
  certificateNames?: string[];
}

function norm(n: string): string {
  return n.toLowerCase().replace(/\.$/, "");
}

/**
 * Whether a certificate with these names (SAN dNSNames + host-name CN)
 * may speak for domain D (SPEC §2): a name equal to D, an RFC 6125 wildcard
 * one label above D, any name below D under Subdomains, or a name the
 * partner's CertificateNames accept. Inputs are A-labels (normalizeDomain).
 */
export function matchesDomain(certNames: string[], domain: string, opts: NameMatchOptions = {}): boolean {
  const d = norm(domain);
  const names = certNames.map(norm);
  if (names.some((n) => matchesCertificateName(n, d))) return true;
  if (opts.nameMatch === "Subdomains") {
    const below = (n: string) => n.endsWith(`.${d}`);
    if (names.some((n) => (n.startsWith("*.") ? n.slice(2) === d || below(n.slice(2)) : below(n)))) return true;
  }
  for (const extra of (opts.certificateNames ?? []).map(norm)) {
    if (names.some((n) => n === extra || matchesCertificateName(n, extra) || (extra.startsWith("*.") && matchesCertificateName(extra, n)))) return true;
  }
  return false;
}
