// Mail routing lookups: MX, Null MX and implicit MX (RFC 5321 §5.1, RFC 7505).
//
// Node's resolver (c-ares 1.34 in Node 20) reports, as err.code, for a query
// against the loopback ZoneServer (checked by test/unit/dns/resolver.test.ts):
//   NXDOMAIN (rcode 3)                  -> ENOTFOUND   (dns.NOTFOUND)
//   NOERROR, empty answer (NODATA)      -> ENODATA     (dns.NODATA)
//   SERVFAIL (rcode 2)                  -> ESERVFAIL   (dns.SERVFAIL)
//   REFUSED (rcode 5)                   -> EREFUSED    (dns.REFUSED)
//   nothing listening on the UDP port   -> ECONNREFUSED (dns.CONNREFUSED), at once
//   server that never answers           -> ETIMEOUT    (dns.TIMEOUT); with
//                                          { timeout: 300, tries: 1 } after ~600 ms
// The resolve*() methods use c-ares queries, so NXDOMAIN and NODATA stay
// distinct; only dns.lookup() (getaddrinfo) folds both into ENOTFOUND.
// A Null MX (exchange ".", the root) comes back as exchange "".
//
// Node's Resolver.setServers() quietly wraps an out-of-range port
// ("127.0.0.1:99999" becomes port 34463) and aborts the whole process on
// port 0, so createResolver() validates entries itself before handing them on.
import { parseWireDomain } from "../pki/domain.js";
import { isIPv4, isIPv6 } from "node:net";
import { Resolver } from "node:dns/promises";
import * as dns from "node:dns";

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** Both address lookups of a host, settled; a rejection carries Node's DNS error (err.code). */
export interface AddressLookup {
  ipv4: PromiseSettledResult<string[]>;
  ipv6: PromiseSettledResult<string[]>;
}

/** The few lookups mail routing needs; a thin wrapper around node:dns/promises Resolver. */
export interface MailResolver {
  /** DNS servers in use ([] = the system's). */
  readonly servers: readonly string[];
  /** MX records of `domain`; rejects with Node's DNS error (err.code ENODATA, ENOTFOUND, ...). */
  resolveMx(domain: string): Promise<MxRecord[]>;
  /** A and AAAA records of `host`, queried in parallel; never rejects. */
  resolveAddresses(host: string): Promise<AddressLookup>;
}

export interface MailHost {
  /** Exchange name (lower case, no trailing dot); the domain itself for an implicit MX. */
  name: string;
  preference: number;
  /** IPv4 addresses first, then IPv6. Never empty. */
  addresses: string[];
  /** True for the implicit MX (the domain's own A/AAAA, RFC 5321 §5.1). */
  implicit: boolean;
}

export type MailHostsResult =
  | { kind: "hosts"; hosts: MailHost[] }
  | { kind: "null-mx" }
  | { kind: "no-such-domain"; detail: string }
  | { kind: "temporary"; detail: string };

export interface ResolverOptions {
  /** Per-try query timeout in milliseconds (Node's default when omitted). */
  timeoutMs?: number;
  /** Tries per server (Node's default, 4, when omitted). */
  tries?: number;
}

function invalidServer(entry: string, why: string): Error {
  return new Error(`Invalid DNS server ${JSON.stringify(entry)}: ${why} (expected "ip", "ipv4:port" or "[ipv6]:port", port 1-65535)`);
}

function checkPort(entry: string, port: string): void {
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw invalidServer(entry, `port ${JSON.stringify(port)} is not a number from 1 to 65535`);
  }
}

/** Validates one server entry; returns it unchanged. Throws a descriptive Error. */
function checkServer(entry: unknown): string {
  if (typeof entry !== "string") throw invalidServer(String(entry), "not a string");
  if (entry === "") throw invalidServer(entry, "empty entry");
  if (entry.startsWith("[")) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
    if (!m) throw invalidServer(entry, "unbalanced brackets");
    const ip = m[1] ?? "";
    if (!isIPv6(ip)) throw invalidServer(entry, `${JSON.stringify(ip)} is not an IPv6 address (only IPv6 goes in brackets)`);
    if (m[2] !== undefined) checkPort(entry, m[2]);
    return entry;
  }
  if (isIPv4(entry) || isIPv6(entry)) return entry;
  const colon = entry.lastIndexOf(":");
  if (colon > 0 && isIPv4(entry.slice(0, colon))) {
    checkPort(entry, entry.slice(colon + 1));
    return entry;
  }
  throw invalidServer(entry, "not an IP address");
}

function checkPositiveInt(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1)) {
    throw new Error(`createResolver: ${name} must be a positive integer, got ${String(value)}`);
  }
}

/**
 * A MailResolver using `servers` ("ip", "ip:port", "[ipv6]:port"), or the
 * system's resolvers when `servers` is undefined or empty. Throws on a
 * malformed entry or option.
 */
export function createResolver(servers?: string[], opts: ResolverOptions = {}): MailResolver {
  checkPositiveInt("timeoutMs", opts.timeoutMs);
  checkPositiveInt("tries", opts.tries);
  const list = (servers ?? []).map(checkServer);
  const resolver = new Resolver({
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    ...(opts.tries !== undefined ? { tries: opts.tries } : {}),
  });
  if (list.length > 0) {
    try {
      resolver.setServers(list);
    } catch (err) {
      throw new Error(`Invalid DNS server list ${JSON.stringify(list)}: ${(err as Error).message}`);
    }
  }
  return {
    servers: Object.freeze([...list]),
    resolveMx: (domain) => resolver.resolveMx(domain),
    resolveAddresses: async (host) => {
      const [ipv4, ipv6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      return { ipv4, ipv6 };
    },
  };
}

/**
 * Orders MX records for delivery: preference ascending, and a random order
 * (Fisher-Yates with `random`, which returns [0, 1)) among equal preferences.
 * Never reorders across preferences. Returns a new array; the input is untouched.
 */
export function orderMx<T extends MxRecord>(records: readonly T[], random: () => number): T[] {
  const sorted = [...records].sort((a, b) => a.priority - b.priority);
  let start = 0;
  while (start < sorted.length) {
    let end = start + 1;
    while (end < sorted.length && sorted[end]!.priority === sorted[start]!.priority) end++;
    for (let i = end - start - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(random() * (i + 1)));
      const a = sorted[start + i]!;
      sorted[start + i] = sorted[start + j]!;
      sorted[start + j] = a;
    }
    start = end;
  }
  return sorted;
}

type Failure = "nxdomain" | "nodata" | "badname" | "temporary";

/**
 * Classifies a Node DNS error. Only NXDOMAIN, NODATA and a malformed name are
 * definite answers; everything else (ESERVFAIL, ETIMEOUT, EREFUSED,
 * ECONNREFUSED, EBADRESP, EFORMERR, ENOTIMP, ECANCELLED, EOF, unknown codes)
 * may clear up on a retry, so it is temporary.
 */
function classify(err: unknown): Failure {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case dns.NOTFOUND:
      return "nxdomain";
    case dns.NODATA:
      return "nodata";
    case dns.BADNAME:
      return "badname";
    default:
      return "temporary";
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : err instanceof Error ? err.message : String(err);
}

/** An MX host name from a DNS answer in A-label form (the peer rules of pki/domain.ts); undefined when it is not a valid host name. */
function normalizeHost(name: string): string | undefined {
  const r = parseWireDomain(name, { allowSingleLabel: true });
  return r.ok ? r.domain : undefined;
}

function addressesOf(lookup: AddressLookup): string[] {
  const out: string[] = [];
  for (const r of [lookup.ipv4, lookup.ipv6]) {
    if (r.status === "fulfilled") for (const a of r.value) if (!out.includes(a)) out.push(a);
  }
  return out;
}

function lookupDetail(lookup: AddressLookup): string {
  const part = (label: string, r: PromiseSettledResult<string[]>): string =>
    `${label} ${r.status === "fulfilled" ? (r.value.length > 0 ? r.value.join(" ") : "none") : describe(r.reason)}`;
  return `${part("A", lookup.ipv4)}, ${part("AAAA", lookup.ipv6)}`;
}

async function safeAddresses(resolver: MailResolver, host: string): Promise<AddressLookup> {
  try {
    return await resolver.resolveAddresses(host);
  } catch (err) {
    const rejected: PromiseRejectedResult = { status: "rejected", reason: err };
    return { ipv4: rejected, ipv6: rejected };
  }
}

/** No MX records: the domain's own addresses form an implicit MX (RFC 5321 §5.1). */
async function implicitMx(domain: string, resolver: MailResolver, mxFailure: Failure): Promise<MailHostsResult> {
  const lookup = await safeAddresses(resolver, domain);
  const addresses = addressesOf(lookup);
  if (addresses.length > 0) {
    return { kind: "hosts", hosts: [{ name: domain, preference: 0, addresses, implicit: true }] };
  }
  const failures = [lookup.ipv4, lookup.ipv6].map((r) => (r.status === "fulfilled" ? "nodata" : classify(r.reason)));
  if (failures.includes("temporary")) {
    return { kind: "temporary", detail: `no MX for ${domain} and its address lookup failed (${lookupDetail(lookup)})` };
  }
  if (mxFailure === "nxdomain" && failures.every((f) => f === "nxdomain")) {
    return { kind: "no-such-domain", detail: `${domain} does not exist (NXDOMAIN)` };
  }
  // The domain exists but has no MX, A or AAAA records: it cannot receive mail.
  return { kind: "no-such-domain", detail: `${domain} has no MX, A or AAAA records` };
}

/**
 * Where to deliver mail for `domain` (already normalized: lower-case A-labels).
 * Never throws for DNS errors; the result says what happened:
 *   hosts          MX hosts by preference (random within equal preference), each with
 *                  its IPv4 then IPv6 addresses; hosts without addresses are dropped.
 *                  Without MX records, the domain itself (implicit: true, preference 0).
 *   null-mx        the domain publishes a Null MX ("."): it accepts no mail (RFC 7505).
 *   no-such-domain NXDOMAIN, a malformed name, or no MX and no A/AAAA at all.
 *   temporary      SERVFAIL, timeout, refused, unreachable server, or MX hosts that
 *                  all have no address: try again later.
 */
export async function resolveMailHosts(
  domain: string,
  resolver: MailResolver,
  opts: { random?: () => number } = {},
): Promise<MailHostsResult> {
  const random = opts.random ?? Math.random;
  let records: MxRecord[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    const failure = classify(err);
    switch (failure) {
      case "nxdomain":
      case "nodata":
        return implicitMx(domain, resolver, failure);
      case "badname":
        return { kind: "no-such-domain", detail: `${JSON.stringify(domain)} is not a valid domain name (${describe(err)})` };
      case "temporary":
        return { kind: "temporary", detail: `MX lookup for ${domain} failed: ${describe(err)}` };
    }
  }
  if (records.length === 0) return implicitMx(domain, resolver, "nodata");

  // RFC 7505 §3: a "." exchange means "no mail"; Node reports the root as "".
  if (records.some((r) => r.exchange === "" || r.exchange === ".")) return { kind: "null-mx" };

  const ordered: MxRecord[] = [];
  const seen = new Set<string>();
  for (const r of orderMx(records, random)) {
    const name = normalizeHost(r.exchange);
    if (name === undefined || seen.has(name)) continue; // an MX that is no valid host name is never contacted; a repeated host keeps its most preferred entry
    seen.add(name);
    ordered.push({ exchange: name, priority: r.priority });
  }

  const lookups = await Promise.all(ordered.map((r) => safeAddresses(resolver, r.exchange)));
  const hosts: MailHost[] = [];
  ordered.forEach((r, i) => {
    const addresses = addressesOf(lookups[i]!);
    if (addresses.length > 0) hosts.push({ name: r.exchange, preference: r.priority, addresses, implicit: false });
  });
  if (hosts.length === 0) {
    const detail = ordered.map((r, i) => `${r.exchange} (${lookupDetail(lookups[i]!)})`).join("; ");
    return { kind: "temporary", detail: `no MX host of ${domain} has an address: ${detail}` };
  }
  return { kind: "hosts", hosts };
}
