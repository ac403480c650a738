// Outbound routing and the Domain Security safety rule (SPEC §2 "Outbound"),
// as pure functions: which send connector carries mail for a domain (the
// most specific address space, then the lowest cost), and whether that
// connector may carry a send partner's mail at all. A partner's mail that the
// chosen connector cannot carry is held, never sent another way.
import { matchListEntry } from "../pki/domain.js";
import type { AddressSpace, SendConnector } from "../org/model.js";

/** How specific an address space is for `domain`: -1 no match; higher is more specific. */
export function addressSpaceMatch(space: AddressSpace, domain: string): number {
  const d = domain.toLowerCase();
  const s = space.domain.toLowerCase();
  if (s === "*") return 0;
  if (s === d) return 1000 + s.split(".").length;
  if (s.startsWith("*.") && d.endsWith(s.slice(1))) return s.split(".").length;
  return -1;
}

export interface Route {
  connector: SendConnector;
  space: AddressSpace;
}

/** The connector for `domain` among those this server may use; undefined: no route. */
export function selectSendConnector(domain: string, connectors: SendConnector[], serverName: string): Route | undefined {
  let best: { route: Route; score: number } | undefined;
  for (const c of connectors) {
    if (!c.enabled) continue;
    if (c.sourceTransportServers.length > 0 && !c.sourceTransportServers.includes(serverName.toLowerCase())) continue;
    for (const space of c.addressSpaces) {
      const score = addressSpaceMatch(space, domain);
      if (score < 0) continue;
      const better =
        !best ||
        score > best.score ||
        (score === best.score && space.cost < best.route.space.cost) ||
        (score === best.score && space.cost === best.route.space.cost && c.name.localeCompare(best.route.connector.name) < 0);
      if (better) best = { route: { connector: c, space }, score };
    }
  }
  return best?.route;
}

/** Why a connector cannot carry domain-secured mail, or undefined when it can. */
export function domainSecureBlocker(c: SendConnector): string | undefined {
  // The structural reasons first: a smart-host connector cannot be given DomainSecureEnabled at all.
  if (!c.dnsRoutingEnabled || c.smartHosts.length > 0) return `the send connector ${c.name} routes through a smart host, not DNS`;
  if (c.ignoreSTARTTLS) return `the send connector ${c.name} ignores STARTTLS`;
  if (!c.domainSecureEnabled) return `the send connector ${c.name} does not have DomainSecureEnabled`;
  return undefined;
}

/** The send-list entry that makes `domain` (A-labels, the queue's key) a send partner: exact, or "*.P" for any subdomain of P. */
export function sendPartnerEntry(domain: string, list: string[]): string | undefined {
  return matchListEntry(domain, list);
}

export type OutboundPlan =
  | { kind: "no-route"; reason: string }
  | { kind: "held"; partner: string; connector: string; reason: string }
  | { kind: "domain-secure"; partner: string; route: Route }
  | { kind: "opportunistic"; route: Route };

/** The plan for mail to `domain`: how it leaves, or why it is held. */
export function planOutbound(domain: string, sendList: string[], connectors: SendConnector[], serverName: string): OutboundPlan {
  const route = selectSendConnector(domain, connectors, serverName);
  const partner = sendPartnerEntry(domain, sendList);
  if (!route) return { kind: "no-route", reason: `no send connector has an address space covering ${domain}` };
  if (!partner) return { kind: "opportunistic", route };
  const blocker = domainSecureBlocker(route.connector);
  if (blocker) {
    return { kind: "held", partner, connector: route.connector.name, reason: `${domain} is a Domain Security partner but ${blocker}; the mail is held until the configuration is fixed` };
  }
  return { kind: "domain-secure", partner, route };
}
