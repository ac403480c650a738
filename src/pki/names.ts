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
