// Parsing and validating administrator input for the organization's
// configuration: sizes ("10MB"), time spans ("00:05:00"), bindings
// ("127.0.0.1:2525", "[::1]:25"), remote IP ranges, e-mail addresses and
// enumerations. Each failure is INVALID_ARGUMENT naming the value.
import net from "node:net";
import { SealpostError } from "../errors/errors.js";
import { normalizeDomain } from "../pki/domain.js";

function bad(what: string, value: string, hint: string): never {
  throw new SealpostError("INVALID_ARGUMENT", `${what} '${value}' is not valid: ${hint}.`);
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** "10MB", "10240KB", "10485760", "10485760B" → bytes. */
export function parseSize(what: string, input: string | number): number {
  const text = String(input).trim().toUpperCase().replace(/\s+/g, "");
  const m = /^(\d+(?:\.\d+)?)(B|KB|MB|GB)?(?:\(.*\))?$/.exec(text);
  if (!m) return bad(what, String(input), "give a size such as 10MB, 512KB or a number of bytes");
  const bytes = Math.round(Number(m[1]) * (UNITS[m[2] ?? "B"] as number));
  if (bytes < 1 || bytes > 2 * 1024 ** 3) return bad(what, String(input), "it must be between 1 byte and 2GB");
  return bytes;
}

/** Exchange time spans "hh:mm:ss" or "d.hh:mm:ss", or plain seconds → seconds. */
export function parseTimeSpan(what: string, input: string | number): number {
  const text = String(input).trim();
  if (/^\d+$/.test(text)) return Number(text);
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return bad(what, text, "give a time span such as 00:05:00 (hh:mm:ss) or a number of seconds");
  const secs = Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
  if (Number(m[3]) > 59 || Number(m[4]) > 59) return bad(what, text, "minutes and seconds go up to 59");
  return secs;
}

export function formatTimeSpan(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const hms = [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
  return d ? `${d}.${hms}` : hms;
}

export function formatSize(bytes: number): string {
  for (const [u, n] of [["GB", 1024 ** 3], ["MB", 1024 ** 2], ["KB", 1024]] as const) {
    if (bytes % n === 0) return `${bytes / n} ${u} (${bytes.toLocaleString("en-US")} bytes)`;
  }
  return `${bytes} B`;
}

export function parsePositiveInt(what: string, input: string | number, max = 1_000_000): number {
  const text = String(input).trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) return bad(what, text, `give a whole number from 1 to ${max}`);
  return Number(text);
}

/** "IP:port" or "[v6]:port"; "0.0.0.0" and "::" mean every address. Returns the canonical text. */
export function parseBinding(input: string): { host: string; port: number; text: string } {
  const text = input.trim();
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) return bad("The binding", text, "write IP:PORT, or [IPv6]:PORT");
  const host = (m[1] as string).toLowerCase();
  const port = Number(m[2]);
  if (net.isIP(host) === 0) return bad("The binding", text, "the address must be an IP address");
  if (!Number.isInteger(port) || port < 1 || port > 65535) return bad("The binding", text, "the port must be 1-65535");
  return { host, port, text: net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}` };
}

/** One remote IP range entry: an address, a CIDR block, or "a-b". */
export function parseIpRange(input: string): string {
  const text = input.trim();
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (cidr) {
    const fam = net.isIP(cidr[1] as string);
    const bits = Number(cidr[2]);
    if (fam === 0 || bits > (fam === 4 ? 32 : 128)) return bad("The remote IP range", text, "write an address, a CIDR block (10.0.0.0/8) or a range (a-b)");
    return text.toLowerCase();
  }
  const range = /^([^-]+)-([^-]+)$/.exec(text);
  if (range) {
    const [a, b] = [range[1] as string, range[2] as string];
    if (net.isIP(a) === 0 || net.isIP(a) !== net.isIP(b)) return bad("The remote IP range", text, "both ends must be addresses of one family");
    return text.toLowerCase();
  }
  if (net.isIP(text) === 0) return bad("The remote IP range", text, "write an address, a CIDR block (10.0.0.0/8) or a range (a-b)");
  return text.toLowerCase();
}

/** A matcher for a list of remote IP ranges (IPv4-mapped IPv6 addresses match their IPv4 ranges). */
export function ipMatcher(ranges: string[]): (ip: string) => boolean {
  const list = new net.BlockList();
  for (const r of ranges) {
    const cidr = /^([^/]+)\/(\d+)$/.exec(r);
    const range = /^([^-]+)-([^-]+)$/.exec(r);
    if (cidr) list.addSubnet(cidr[1] as string, Number(cidr[2]), net.isIPv6(cidr[1] as string) ? "ipv6" : "ipv4");
    else if (range) list.addRange(range[1] as string, range[2] as string, net.isIPv6(range[1] as string) ? "ipv6" : "ipv4");
    else list.addAddress(r, net.isIPv6(r) ? "ipv6" : "ipv4");
  }
  return (ip) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    const addr = mapped ? (mapped[1] as string) : ip;
    return list.check(addr, net.isIPv6(addr) ? "ipv6" : "ipv4");
  };
}

const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** An e-mail address for configuration: dot-atom local part, domain normalized. */
export function normalizeAddress(what: string, input: string): { address: string; local: string; domain: string } {
  const text = input.trim().replace(/^<(.*)>$/, "$1");
  const at = text.lastIndexOf("@");
  if (at <= 0 || at === text.length - 1) return bad(what, text, "write an address such as alice@contoso.com");
  const local = text.slice(0, at);
  if (!DOT_ATOM.test(local) || local.length > 64) return bad(what, text, "the part before '@' may hold letters, digits and . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -");
  const domain = normalizeDomain(text.slice(at + 1));
  return { address: `${local}@${domain}`, local, domain };
}

export function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  const hit = allowed.find((a) => a.toLowerCase() === value.trim().toLowerCase());
  if (!hit) return bad(what, value, `use ${allowed.join(", ")}`);
  return hit;
}

export type ListEditInput = { replace: string[] } | { add: string[]; remove: string[] };

/** Applies a plain list (replace) or @{Add;Remove} to `current`, normalizing each entry. */
export function applyListEdit(current: string[], edit: ListEditInput, normalize: (v: string) => string): string[] {
  if ("replace" in edit) return [...new Set(edit.replace.map(normalize))];
  const remove = new Set(edit.remove.map(normalize));
  const out = current.filter((v) => !remove.has(v));
  for (const v of edit.add.map(normalize)) if (!out.includes(v)) out.push(v);
  return out;
}
