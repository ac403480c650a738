// The domain of an e-mail address, with one meaning everywhere (inbound
// policy, recipients, the outbound queue, reports, Test-Mailflow): the
// A-label form of what follows the last "@", by the peer rules of
// pki/domain.ts (A-labels or IDNA2008 U-labels; no mapping). An address
// literal ("[192.0.2.1]") is no domain; an address whose domain cannot be
// normalized is "invalid" and must be refused by the caller, never taken as
// "some other domain".
import { parseWireDomain } from "../pki/domain.js";

export type AddressDomain =
  | { kind: "none" } // the null reverse-path, or no "@" (RCPT TO:<Postmaster>)
  | { kind: "domain"; domain: string }
  | { kind: "literal"; literal: string }
  | { kind: "invalid"; reason: string };

export function addressDomain(address: string): AddressDomain {
  const at = address.lastIndexOf("@");
  if (at < 0) return { kind: "none" };
  const raw = address.slice(at + 1);
  if (raw.startsWith("[") && raw.endsWith("]")) return { kind: "literal", literal: raw.toLowerCase() };
  const r = parseWireDomain(raw);
  return r.ok ? { kind: "domain", domain: r.domain } : { kind: "invalid", reason: r.reason };
}

/**
 * The normalized domain, "" for none, the lower-cased literal for an address
 * literal; throws for an invalid one (for paths that only ever see addresses
 * the receive path already accepted).
 */
export function domainOf(address: string): string {
  const d = addressDomain(address);
  switch (d.kind) {
    case "none":
      return "";
    case "domain":
      return d.domain;
    case "literal":
      return d.literal;
    case "invalid":
      throw new Error(`invalid domain in <${address}>: ${d.reason}`);
  }
}

/** The address with its domain in A-label form (local part unchanged): a key for lookups. */
export function normalizedAddress(address: string): string {
  const at = address.lastIndexOf("@");
  if (at < 0) return address;
  return `${address.slice(0, at)}@${domainOf(address)}`;
}
