// Where a domain's mail goes on a route: the send connector's smart hosts,
// or the domain's mail hosts from DNS (MX in preference order, random within a
// preference, the implicit MX; Null MX and a missing domain are permanent).
import { createResolver, resolveMailHosts, type MailResolver } from "../dns/resolver.js";
import type { Route } from "../policy/outbound.js";

/** The resolver for outbound lookups: this server's ExternalDNSServers, or the system's when there are none. */
export function defaultResolver(servers: string[]): MailResolver {
  return createResolver(servers.length > 0 ? servers : undefined, { timeoutMs: 5000, tries: 2 });
}

/** A host to connect to: the name (SNI, logs) and its addresses in order. */
export interface Target {
  name: string;
  addresses: string[];
  port: number;
}

export type TargetsResult =
  | { kind: "ok"; targets: Target[] }
  | { kind: "temporary"; reason: string }
  | { kind: "permanent"; failure: "null-mx" | "no-such-domain"; status: string; reason: string };

/** "host", "host:port", "[1.2.3.4]", "[1.2.3.4]:port" → name, port, and whether it is a literal. */
export function parseSmartHost(s: string, defaultPort: number): { name: string; port: number; literal: boolean } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(s);
  if (!m) return { name: s, port: defaultPort, literal: false };
  return { name: m[1] as string, port: m[2] ? Number(m[2]) : defaultPort, literal: s.startsWith("[") || /^[\d.]+$/.test(m[1] as string) };
}

export async function targetsFor(domain: string, route: Route, resolver: MailResolver): Promise<TargetsResult> {
  const c = route.connector;
  if (!c.dnsRoutingEnabled && c.smartHosts.length > 0) {
    const out: Target[] = [];
    const errors: string[] = [];
    for (const s of c.smartHosts) {
      const h = parseSmartHost(s, c.port);
      if (h.literal) {
        out.push({ name: h.name, addresses: [h.name], port: h.port });
        continue;
      }
      try {
        const found = await resolver.resolveAddresses(h.name);
        const addrs = [found.ipv4, found.ipv6].flatMap((r) => (r.status === "fulfilled" ? r.value : []));
        if (addrs.length > 0) out.push({ name: h.name, addresses: addrs, port: h.port });
        else errors.push(`${h.name}: no address`);
      } catch (e) {
        errors.push(`${h.name}: ${(e as Error).message}`);
      }
    }
    return out.length > 0 ? { kind: "ok", targets: out } : { kind: "temporary", reason: `no smart host of the send connector ${c.name} could be resolved (${errors.join("; ")})` };
  }
  const r = await resolveMailHosts(domain, resolver);
  switch (r.kind) {
    case "hosts":
      return { kind: "ok", targets: r.hosts.map((x) => ({ name: x.name, addresses: x.addresses, port: c.port })) };
    case "null-mx":
      return { kind: "permanent", failure: "null-mx", status: "5.1.10", reason: `${domain} accepts no mail (null MX, RFC 7505)` };
    case "no-such-domain":
      return { kind: "permanent", failure: "no-such-domain", status: "5.1.2", reason: `the domain ${domain} does not exist (${r.detail})` };
    default:
      return { kind: "temporary", reason: `DNS lookup for ${domain} failed: ${r.detail}` };
  }
}
