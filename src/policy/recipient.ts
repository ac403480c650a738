// Which accepted domain and which mailbox a recipient is (pure): the receive
// path's RCPT TO and the reports the server writes itself use this one rule.
// Domains are A-labels (message/address.ts); an accepted domain "*.P" covers
// every subdomain of P (matchListEntry), the exact entry first.
import { matchListEntry } from "../pki/domain.js";
import type { AcceptedDomain } from "../org/model.js";

export function acceptedDomainFor(domains: readonly AcceptedDomain[], domain: string): AcceptedDomain | undefined {
  const entry = matchListEntry(domain, domains.map((a) => a.domainName));
  return entry === undefined ? undefined : domains.find((a) => a.domainName === entry);
}

/**
 * The mailbox for `address` (local part as written, domain in A-label form)
 * in an authoritative domain: the mailbox of that address, else the domain's
 * catch-all; undefined when neither. `mailboxes` holds lower-case addresses.
 */
export function mailboxFor(accepted: AcceptedDomain, address: string, domain: string, hasMailbox: (lowerAddress: string) => boolean): string | undefined {
  const local = address.slice(0, address.lastIndexOf("@"));
  return hasMailbox(`${local}@${domain}`.toLowerCase()) ? `${local}@${domain}` : accepted.catchAllMailbox;
}
