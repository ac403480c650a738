// The outbound fetch policy: which addresses and ports the server may
// connect to when it fetches something on a certificate's or a peer's say-so
// (AIA caIssuers, CRL distribution points, OCSP responders). A certificate
// is attacker-made input until its chain verifies, so by default only public
// unicast addresses on ports 80 and 443 are allowed: never loopback, private,
// shared (CGNAT), link-local, unique-local, multicast, unspecified,
// documentation or reserved addresses, nor the IPv6 forms that embed such an
// IPv4 address, nor an address of this machine's own interfaces. Ranges an
// administrator names (a lab, the tests) are allowed in addition.
//
// Addresses are handled as bytes (4 or 16), so every spelling of one address
// (127.1, ::ffff:7f00:1, ::ffff:127.0.0.1) is one value. The check is made on
// the address actually connected to (see fetch.ts), not on the URL's text.
import os from "node:os";

export interface OutboundFetchPolicy {
  /** Address ranges allowed besides public unicast ones: "127.0.0.0/8", "::1", "10.0.0.1-10.0.0.9". */
  allowedRanges: readonly string[];
  /** TCP ports that may be connected to: "80", or a range "8000-8999". */
  allowedPorts: readonly string[];
}

export const DEFAULT_OUTBOUND_FETCH_PORTS: readonly string[] = Object.freeze(["80", "443"]);

export const DEFAULT_OUTBOUND_FETCH_POLICY: Readonly<OutboundFetchPolicy> = Object.freeze({
  allowedRanges: Object.freeze([]) as readonly string[],
  allowedPorts: DEFAULT_OUTBOUND_FETCH_PORTS,
});

/** How an administrator changes the policy (named in refusals). */
export const POLICY_HINT_RANGES = "Set-TransportServer -OutboundFetchAllowedRanges";
export const POLICY_HINT_PORTS = "Set-TransportServer -OutboundFetchAllowedPorts";

/** 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = Uint8Array;

function parseV4(text: string): IpBytes | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseV6(input: string): IpBytes | undefined {
  let text = input.replace(/%.*$/, ""); // a zone index names an interface, not an address
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const tail: number[] = [];
  if (text.includes(".")) {
    // A dotted IPv4 address in the last 32 bits ("::ffff:127.0.0.1").
    const i = text.lastIndexOf(":");
    const v4 = i < 0 ? undefined : parseV4(text.slice(i + 1));
    if (!v4) return undefined;
    tail.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
    text = text.slice(0, i + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const group = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = group(halves[0] as string);
  const rest = halves.length === 2 ? group(halves[1] as string) : [];
  if (!head || !rest) return undefined;
  const words = halves.length === 2 ? head.length + rest.length + tail.length : head.length + tail.length;
  if (halves.length === 2 ? words > 7 : words !== 8) return undefined;
  const all = halves.length === 2 ? [...head, ...new Array<number>(8 - words).fill(0), ...rest, ...tail] : [...head, ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** The bytes of an IP address in its usual text forms (dotted IPv4, IPv6 with or without brackets); undefined if it is not one. */
export function parseIp(text: string): IpBytes | undefined {
  const t = text.trim();
  return t.includes(":") ? parseV6(t) : parseV4(t);
}

/** The canonical text: dotted IPv4, or IPv6 as the URL standard writes it (compressed, lower case). */
export function formatIp(b: IpBytes): string {
  if (b.length === 4) return Array.from(b).join(".");
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // The longest run of two or more zero words becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

interface Prefix {
  bytes: IpBytes;
  bits: number;
}

function prefix(text: string): Prefix {
  const [addr, bits] = text.split("/") as [string, string];
  const bytes = parseIp(addr);
  if (!bytes) throw new Error(`bad built-in prefix ${text}`);
  return { bytes, bits: Number(bits) };
}

function inPrefix(b: IpBytes, p: Prefix): boolean {
  if (b.length !== p.bytes.length) return false;
  const full = Math.floor(p.bits / 8);
  for (let i = 0; i < full; i++) if (b[i] !== p.bytes[i]) return false;
  const rest = p.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((b[full] as number) & mask) === ((p.bytes[full] as number) & mask);
}

/** IPv4 ranges that are not public unicast (RFC 6890 and its updates), with the words a refusal uses. */
const SPECIAL_V4: Array<[Prefix, string]> = [
  ["0.0.0.0/8", "\"this network\" (0.0.0.0/8)"],
  ["10.0.0.0/8", "private (10.0.0.0/8)"],
  ["100.64.0.0/10", "shared address space, carrier-grade NAT (100.64.0.0/10)"],
  ["127.0.0.0/8", "loopback (127.0.0.0/8)"],
  ["169.254.0.0/16", "link-local (169.254.0.0/16)"],
  ["172.16.0.0/12", "private (172.16.0.0/12)"],
  ["192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"],
  ["192.0.2.0/24", "documentation (192.0.2.0/24)"],
  ["192.88.99.0/24", "6to4 relay anycast (192.88.99.0/24)"],
  ["192.168.0.0/16", "private (192.168.0.0/16)"],
  ["198.18.0.0/15", "benchmarking (198.18.0.0/15)"],
  ["198.51.100.0/24", "documentation (198.51.100.0/24)"],
  ["203.0.113.0/24", "documentation (203.0.113.0/24)"],
  ["224.0.0.0/4", "multicast (224.0.0.0/4)"],
  ["240.0.0.0/4", "reserved or broadcast (240.0.0.0/4)"],
].map(([p, n]) => [prefix(p as string), n as string]);

/** IPv6 ranges inside 2000::/3 (global unicast) that are still not public unicast. */
const SPECIAL_V6_GLOBAL: Array<[Prefix, string]> = [
  ["2001::/23", "IETF protocol assignments (2001::/23, including Teredo)"],
  ["2001:db8::/32", "documentation (2001:db8::/32)"],
  ["3fff::/20", "documentation (3fff::/20)"],
].map(([p, n]) => [prefix(p as string), n as string]);

/** IPv6 ranges outside 2000::/3 with a name of their own (the rest: "not a global unicast address"). */
const SPECIAL_V6_OTHER: Array<[Prefix, string]> = [
  ["::/128", "unspecified (::)"],
  ["::1/128", "loopback (::1)"],
  ["::/96", "IPv4-compatible (::/96, deprecated)"],
  ["64:ff9b:1::/48", "local-use NAT64 (64:ff9b:1::/48)"],
  ["100::/64", "discard-only (100::/64)"],
  ["fc00::/7", "unique local (fc00::/7)"],
  ["fe80::/10", "link-local (fe80::/10)"],
  ["fec0::/10", "site-local (fec0::/10, deprecated)"],
  ["ff00::/8", "multicast (ff00::/8)"],
].map(([p, n]) => [prefix(p as string), n as string]);

const MAPPED = prefix("::ffff:0:0/96");
const NAT64 = prefix("64:ff9b::/96");
const SIX_TO_FOUR = prefix("2002::/16");
const GLOBAL_V6 = prefix("2000::/3");

/** The IPv4 address an IPv6 address stands for or leads to (mapped, NAT64, 6to4), if any. */
export function embeddedV4(b: IpBytes): { v4: IpBytes; form: string } | undefined {
  if (b.length !== 16) return undefined;
  if (inPrefix(b, MAPPED)) return { v4: b.slice(12, 16), form: "IPv4-mapped" };
  if (inPrefix(b, NAT64)) return { v4: b.slice(12, 16), form: "NAT64" };
  if (inPrefix(b, SIX_TO_FOUR)) return { v4: b.slice(2, 6), form: "6to4" };
  return undefined;
}

/**
 * Why the address is not a public unicast address ("loopback (127.0.0.0/8)"), or undefined when it is
 * one. IPv6 forms that embed an IPv4 address are judged by that address.
 */
export function specialRange(b: IpBytes): string | undefined {
  if (b.length === 4) return SPECIAL_V4.find(([p]) => inPrefix(b, p))?.[1];
  const emb = embeddedV4(b);
  if (emb) {
    const why = specialRange(emb.v4);
    return why ? `${emb.form} ${formatIp(emb.v4)}, ${why}` : undefined;
  }
  if (inPrefix(b, GLOBAL_V6)) return SPECIAL_V6_GLOBAL.find(([p]) => inPrefix(b, p))?.[1];
  return SPECIAL_V6_OTHER.find(([p]) => inPrefix(b, p))?.[1] ?? "not a global unicast address (outside 2000::/3)";
}

/** One allowed range: "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" or "first-last" (one family). */
interface Range {
  lo: IpBytes;
  hi: IpBytes;
}

function compare(a: IpBytes, b: IpBytes): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/**
 * Parses an allowed range and returns its canonical text ("127.0.0.0/8", "::1/128",
 * "10.0.0.1-10.0.0.9"); host bits below the prefix length are cleared. Throws an Error whose message
 * says what is wrong.
 */
export function parseAllowedRange(input: string): { text: string; range: Range } {
  const text = String(input).trim();
  const dash = /^([^-/]+)-([^-/]+)$/.exec(text);
  if (dash) {
    const lo = parseIp(dash[1] as string);
    const hi = parseIp(dash[2] as string);
    if (!lo || !hi || lo.length !== hi.length) throw new Error("both ends of a range must be IP addresses of one family");
    if (compare(lo, hi) > 0) throw new Error("the first address of a range must not be above the last");
    return { text: `${formatIp(lo)}-${formatIp(hi)}`, range: { lo, hi } };
  }
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text);
  const bytes = m ? parseIp(m[1] as string) : undefined;
  if (!m || !bytes) throw new Error("write an IP address, a CIDR block such as 127.0.0.0/8 or fd00::/8, or a range first-last");
  const max = bytes.length * 8;
  const bits = m[2] === undefined ? max : Number(m[2]);
  if (bits > max) throw new Error(`the prefix length must be 0-${max}`);
  const lo = new Uint8Array(bytes);
  const hi = new Uint8Array(bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    const mask = (0xff << (8 - keep)) & 0xff;
    lo[i] = (bytes[i] as number) & mask;
    hi[i] = ((bytes[i] as number) & mask) | (~mask & 0xff);
  }
  return { text: `${formatIp(lo)}/${bits}`, range: { lo, hi } };
}

/** Parses a port ("8080") or port range ("8000-8999") for the policy; returns its canonical text, throws an Error with the reason. */
export function parseAllowedPort(input: string | number): { text: string; lo: number; hi: number } {
  const text = String(input).trim();
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || hi < 1 || lo > 65535) throw new Error("a port is a whole number from 1 to 65535 (or a range such as 8000-8999)");
  if (lo > hi) throw new Error("the first port of a range must not be above the last");
  return { text: lo === hi ? String(lo) : `${lo}-${hi}`, lo, hi };
}

function inRange(b: IpBytes, r: Range): boolean {
  return b.length === r.lo.length && compare(b, r.lo) >= 0 && compare(b, r.hi) <= 0;
}

/** A policy ready to answer: ranges parsed once. */
export class CompiledFetchPolicy {
  private readonly ranges: Range[];
  private readonly ports: Array<{ text: string; lo: number; hi: number }>;

  constructor(readonly policy: OutboundFetchPolicy) {
    this.ranges = policy.allowedRanges.map((r) => parseAllowedRange(r).range);
    this.ports = policy.allowedPorts.map(parseAllowedPort);
  }

  /** Why the port may not be connected to, or undefined. */
  portRefusal(port: number): string | undefined {
    if (this.ports.some((p) => port >= p.lo && port <= p.hi)) return undefined;
    const allowed = this.ports.map((p) => p.text).join(", ") || "none";
    return `the port ${port} is not allowed by the outbound fetch policy (allowed ports: ${allowed}; ${POLICY_HINT_PORTS} changes them)`;
  }

  /** Why the address may not be connected to, or undefined. `own`: this machine's interface addresses. */
  addressRefusal(address: string, own: OwnAddresses = ownAddresses()): string | undefined {
    const b = parseIp(address);
    if (!b) return `the address ${address} is not an IP address`;
    const shown = formatIp(b);
    const emb = embeddedV4(b);
    const allowed = (x: IpBytes) => this.ranges.some((r) => inRange(x, r));
    if (allowed(b) || (emb?.form === "IPv4-mapped" && allowed(emb.v4))) return undefined;
    const special = specialRange(b);
    const why = special ?? (own.has(b) || (emb && own.has(emb.v4)) ? "an address of this server's own interfaces" : undefined);
    if (!why) return undefined;
    return `the address ${shown} is not allowed by the outbound fetch policy (${why}; only public unicast addresses are fetched from unless ${POLICY_HINT_RANGES} allows the range)`;
  }
}

/** This machine's interface addresses. */
export class OwnAddresses {
  private readonly keys: Set<string>;
  constructor(addresses: string[]) {
    this.keys = new Set(addresses.flatMap((a) => {
      const b = parseIp(a);
      return b ? [formatIp(b)] : [];
    }));
  }

  has(b: IpBytes): boolean {
    return this.keys.has(formatIp(b));
  }
}

let ownCache: { at: number; value: OwnAddresses } | undefined;
/** The interface addresses (os.networkInterfaces()), read again at most every 10 seconds. */
export function ownAddresses(): OwnAddresses {
  const now = Date.now();
  if (ownCache && now - ownCache.at >= 0 && now - ownCache.at < 10_000) return ownCache.value;
  let list: string[] = [];
  try {
    list = Object.values(os.networkInterfaces()).flatMap((ifs) => (ifs ?? []).map((i) => i.address));
  } catch {
    list = [];
  }
  ownCache = { at: now, value: new OwnAddresses(list) };
  return ownCache.value;
}
