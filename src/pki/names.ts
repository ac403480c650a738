// Matching certificate names against domains. Both sides go through the
// one domain type (domain.ts, peer rules: A-labels or IDNA2008 U-labels, no
// mapping), so "bücher.example" in a certificate and "xn--bcher-kva.example"
// in a list are the same name, and a name that is not a valid domain
// matches nothing.
//
// The certificate wildcard (RFC 6125 §6.4.3) "*.P" stands for exactly ONE
// label below P; a list entry "*.P" (matchListEntry in domain.ts) covers any
// depth. The two rules differ on purpose and are kept apart by name.
import { parseWireDomain } from "./domain.js";

/** A certificate name or host in A-label form, or undefined when it is not a valid name. */
export function certificateNameKey(name: string): string | undefined {
  const r = parseWireDomain(name, { allowWildcard: true, allowSingleLabel: true });
  return r.ok ? r.domain : undefined;
}

/** RFC 6125: exact, or a wildcard "*.P" standing for exactly one label below P (P has two labels or more). */
export function matchesCertificateName(certName: string, host: string): boolean {
  const name = certificateNameKey(certName);
  const h = certificateNameKey(host);
  if (!name || !h || h.startsWith("*.")) return false;
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

/**
 * Whether a certificate with these names (SAN dNSNames, or the host-name CN
 * when there is no SAN) may speak for domain D (SPEC §2): a name equal to D,
 * an RFC 6125 wildcard one label above D, any name below D under Subdomains,
 * or a name the partner's CertificateNames accept.
 */
export function matchesDomain(certNames: string[], domain: string, opts: NameMatchOptions = {}): boolean {
  const d = certificateNameKey(domain);
  if (!d || d.startsWith("*.")) return false;
  const names = certNames.map(certificateNameKey).filter((n): n is string => n !== undefined);
  if (names.some((n) => matchesCertificateName(n, d))) return true;
  if (opts.nameMatch === "Subdomains") {
    const below = (n: string) => n.endsWith(`.${d}`);
    if (names.some((n) => (n.startsWith("*.") ? n.slice(2) === d || below(n.slice(2)) : below(n)))) return true;
  }
  for (const extra of (opts.certificateNames ?? []).map(certificateNameKey)) {
    if (!extra) continue;
    if (names.some((n) => n === extra || matchesCertificateName(n, extra) || (extra.startsWith("*.") && matchesCertificateName(extra, n)))) return true;
  }
  return false;
}
