// MAIL FROM / RCPT TO argument parsing: RFC 5321 4.1.2 paths, RFC 6531
// (SMTPUTF8) addresses, RFC 1870 SIZE, RFC 6152 BODY, RFC 3461 DSN params.
//
// Paths are parsed strictly with a hand-written scanner (no regex backtracking
// on attacker input): the address handed to the hooks is exactly what the
// client wrote between the brackets, minus a source route, so policy sees
// what a downstream MTA would see. The one leniency is a space after the
// colon ("MAIL FROM: <a@b>"), which many deployed clients send.
import { isIPv4, isIPv6 } from "node:net";
import { REPLY } from "./replies.js";
import type { MailParams, RcptParams, Reply } from "./types.js";

export interface ParsedPath {
  /** "" for the null path <>. */
  address: string;
  /** The address holds non-ASCII characters (allowed only with SMTPUTF8). */
  nonAscii: boolean;
}

const MAX_LOCAL = 64; // RFC 5321 4.5.3.1.1 (octets)
const MAX_DOMAIN = 255; // RFC 5321 4.5.3.1.2
const MAX_PATH = 256; // RFC 5321 4.5.3.1.3, brackets included
const MAX_ENVID = 100; // RFC 3461 4.4

// atext (RFC 5322 3.2.3) as a lookup table over ASCII.
const ATEXT = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~") ATEXT[c.charCodeAt(0)] = 1;

const isAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);

/**
 * Parses "<...>" at s[i]; returns the path and the index after ">", or undefined
 * on a syntax error. `barePostmaster`: accept "<Postmaster>" (forward paths only).
 */
export function parsePath(s: string, i: number, barePostmaster = false): { path: ParsedPath; next: number } | undefined {
  if (s.charCodeAt(i) !== 0x3c /* < */) return undefined;
  const open = i++;
  if (s.charCodeAt(i) === 0x3e /* > */) return { path: { address: "", nonAscii: false }, next: i + 1 };
  // A-d-l source route ("@a.example,@b.example:") is ignored (RFC 5321 4.1.1.3, C.).
  if (s.charCodeAt(i) === 0x40 /* @ */) {
    for (;;) {
      const d = scanDomain(s, i + 1);
      if (d < 0) return undefined;
      i = d;
      if (s.charCodeAt(i) === 0x2c /* , */ && s.charCodeAt(i + 1) === 0x40) {
        i++;
        continue;
      }
      if (s.charCodeAt(i) !== 0x3a /* : */) return undefined;
      i++;
      break;
    }
  }
  const start = i;
  let nonAscii = false;
  if (s.charCodeAt(i) === 0x22 /* " */) {
    // Quoted-string: qtextSMTP / quoted-pairSMTP (RFC 5321 4.1.2), UTF-8 allowed (RFC 6531).
    i++;
    for (;;) {
      const c = s.charCodeAt(i);
      if (Number.isNaN(c)) return undefined;
      if (c === 0x22) break;
      if (c === 0x5c /* \ */) {
        const q = s.charCodeAt(i + 1);
        if (!(q >= 32 && q <= 126)) return undefined;
        i += 2;
        continue;
      }
      if (c >= 0x80) nonAscii = true;
      else if (c < 32 || c > 126) return undefined;
      i++;
    }
    i++;
  } else {
    // Dot-string: atoms separated by single dots, no leading/trailing dot.
    let atomLen = 0;
    for (;; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x2e /* . */) {
        if (atomLen === 0) return undefined;
        atomLen = 0;
      } else if (c < 128 ? ATEXT[c] === 1 : c >= 0x80) {
        if (c >= 0x80) nonAscii = true;
        atomLen++;
      } else break;
    }
    if (atomLen === 0) return undefined;
  }
  const localEnd = i;
  if (Buffer.byteLength(s.slice(start, localEnd)) > MAX_LOCAL) return undefined;
  // RFC 5321 4.1.1.3: the reserved mailbox "Postmaster" may come without a domain.
  if (barePostmaster && s.charCodeAt(i) === 0x3e && s.slice(start, localEnd).toLowerCase() === "postmaster") {
    return { path: { address: s.slice(start, localEnd), nonAscii: false }, next: i + 1 };
  }
  if (s.charCodeAt(i) !== 0x40 /* @ */) return undefined;
  let d: number;
  if (s.charCodeAt(i + 1) === 0x5b /* [ */) d = scanAddressLiteral(s, i + 1);
  else {
    d = scanDomain(s, i + 1);
    if (d > 0) for (let k = i + 1; k < d; k++) if (s.charCodeAt(k) >= 0x80) nonAscii = true;
  }
  if (d < 0 || s.charCodeAt(d) !== 0x3e) return undefined;
  if (Buffer.byteLength(s.slice(open, d + 1)) > MAX_PATH) return undefined;
  return { path: { address: s.slice(start, d), nonAscii }, next: d + 1 };
}

/**
 * Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]
 * (non-ASCII U-labels allowed; whether they are used lawfully is SMTPUTF8's
 * business). Returns the index after the domain, or -1.
 */
function scanDomain(s: string, i: number): number {
  const start = i;
  for (;;) {
    const labelStart = i;
    let last = 0;
    for (;;) {
      const c = s.charCodeAt(i);
      if (isAlnum(c) || c >= 0x80 || (c === 0x2d /* - */ && i > labelStart)) {
        last = c;
        i++;
      } else break;
    }
    if (i === labelStart || last === 0x2d || i - labelStart > 63) return -1;
    if (s.charCodeAt(i) !== 0x2e || !(isAlnum(s.charCodeAt(i + 1)) || s.charCodeAt(i + 1) >= 0x80)) break;
    i++;
  }
  return Buffer.byteLength(s.slice(start, i)) > MAX_DOMAIN ? -1 : i;
}

/** "[" (IPv4 / "IPv6:" IPv6 / tag ":" dcontent) "]" (RFC 5321 4.1.3); returns the index after "]", or -1. */
function scanAddressLiteral(s: string, i: number): number {
  const close = s.indexOf("]", i);
  if (close < 0) return -1;
  const body = s.slice(i + 1, close);
  if (isIPv4(body)) return close + 1;
  const colon = body.indexOf(":");
  if (colon <= 0) return -1;
  const tag = body.slice(0, colon);
  const rest = body.slice(colon + 1);
  if (tag.toLowerCase() === "ipv6") return isIPv6(rest) ? close + 1 : -1;
  // Standardized-tag = Ldh-str: ASCII letters, digits and inner hyphens only (no dots, no
  // UTF-8), so an address literal never carries non-ASCII past the SMTPUTF8 check.
  if (!isLdhStr(tag) || !rest) return -1;
  for (let k = 0; k < rest.length; k++) {
    const c = rest.charCodeAt(k);
    if (c < 33 || c > 126 || c === 0x5b || c === 0x5c || c === 0x5d) return -1;
  }
  return close + 1;
}

/** RFC 5321 4.1.2 Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig, at least one octet. */
function isLdhStr(v: string): boolean {
  if (!isAlnum(v.charCodeAt(0)) || !isAlnum(v.charCodeAt(v.length - 1))) return false;
  for (let k = 1; k < v.length - 1; k++) if (!isAlnum(v.charCodeAt(k)) && v.charCodeAt(k) !== 0x2d) return false;
  return true;
}

/** RFC 3461 4: xtext = *( xchar / hexchar ), xchar 33..126 except "+" and "="; hexchar "+" 2 upper-hex. */
export function isXtext(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x2b /* + */) {
      if (!isUpperHex(v.charCodeAt(i + 1)) || !isUpperHex(v.charCodeAt(i + 2))) return false;
      i += 2;
    } else if (c < 33 || c > 126 || c === 0x3d) return false;
  }
  return true;
}
const isUpperHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46);

/** Splits "KEY=value KEY2" into [keyword upper-case, value | undefined]; undefined on a syntax error. */
function splitParams(s: string, i: number): Array<[string, string | undefined]> | undefined {
  const out: Array<[string, string | undefined]> = [];
  while (i < s.length) {
    if (s.charCodeAt(i) !== 0x20) return undefined;
    while (s.charCodeAt(i) === 0x20) i++;
    if (i >= s.length) break;
    let sp = s.indexOf(" ", i);
    if (sp < 0) sp = s.length;
    const tok = s.slice(i, sp);
    const eq = tok.indexOf("=");
    const key = eq < 0 ? tok : tok.slice(0, eq);
    const value = eq < 0 ? undefined : tok.slice(eq + 1);
    // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126)
    if (!key || !isAlnum(key.charCodeAt(0))) return undefined;
    for (let k = 1; k < key.length; k++) if (!isAlnum(key.charCodeAt(k)) && key.charCodeAt(k) !== 0x2d) return undefined;
    if (value !== undefined) {
      if (!value) return undefined;
      for (let k = 0; k < value.length; k++) {
        const c = value.charCodeAt(k);
        if (c < 33 || c > 126 || c === 0x3d) return undefined;
      }
    }
    out.push([key.toUpperCase(), value]);
    i = sp;
  }
  return out;
}

export type Parsed<T> = { ok: true; address: string; params: T } | { ok: false; reply: Reply };

const fail = (reply: Reply): { ok: false; reply: Reply } => ({ ok: false, reply });

/**
 * "FROM:<path> [params]" (the text after "MAIL "). Checks everything that does
 * not need policy: syntax, parameters, SIZE against the maximum, SMTPUTF8.
 */
export function parseMailFrom(arg: string, maxSize: number): Parsed<MailParams> {
  if (arg.length < 5 || arg.slice(0, 5).toUpperCase() !== "FROM:") return fail(REPLY.mailSyntax);
  let i = 5;
  while (arg.charCodeAt(i) === 0x20) i++;
  if (arg.charCodeAt(i) !== 0x3c) return fail(REPLY.mailSyntax);
  const p = parsePath(arg, i);
  if (!p) return fail(REPLY.badSender);
  const list = splitParams(arg, p.next);
  if (!list) return fail(REPLY.badParamValue);
  const params: MailParams = {};
  const seen = new Set<string>();
  for (const [key, value] of list) {
    if (seen.has(key)) return fail(REPLY.duplicateParam);
    seen.add(key);
    switch (key) {
      case "SIZE":
        if (value === undefined || !/^[0-9]{1,20}$/.test(value)) return fail(REPLY.badParamValue);
        params.size = Number(value);
        break;
      case "BODY": {
        const v = value?.toUpperCase();
        if (v !== "7BIT" && v !== "8BITMIME") return fail(REPLY.badParamValue);
        params.body = v;
        break;
      }
      case "SMTPUTF8":
        if (value !== undefined) return fail(REPLY.badParamValue);
        params.smtputf8 = true;
        break;
      case "RET": {
        const v = value?.toUpperCase();
        if (v !== "FULL" && v !== "HDRS") return fail(REPLY.badParamValue);
        params.ret = v;
        break;
      }
      case "ENVID":
        // Kept as xtext, as received: it is relayed verbatim to the next hop.
        if (value === undefined || value.length > MAX_ENVID || !isXtext(value)) return fail(REPLY.badParamValue);
        params.envid = value;
        break;
      default:
        return fail(REPLY.unknownParam);
    }
  }
  if (p.path.nonAscii && !params.smtputf8) return fail(REPLY.utf8Required);
  if (params.size !== undefined && params.size > maxSize) return fail(REPLY.sizeExceeded);
  return { ok: true, address: p.path.address, params };
}

const NOTIFY_VALUES = new Set(["NEVER", "SUCCESS", "FAILURE", "DELAY"]);

/** "TO:<path> [params]" (the text after "RCPT "). `smtputf8`: the transaction's MAIL had SMTPUTF8. */
export function parseRcptTo(arg: string, smtputf8: boolean): Parsed<RcptParams> {
  if (arg.length < 3 || arg.slice(0, 3).toUpperCase() !== "TO:") return fail(REPLY.rcptSyntax);
  let i = 3;
  while (arg.charCodeAt(i) === 0x20) i++;
  if (arg.charCodeAt(i) !== 0x3c) return fail(REPLY.rcptSyntax);
  const p = parsePath(arg, i, true);
  if (!p || p.path.address === "") return fail(REPLY.badRecipient);
  const list = splitParams(arg, p.next);
  if (!list) return fail(REPLY.badParamValue);
  const params: RcptParams = {};
  const seen = new Set<string>();
  for (const [key, value] of list) {
    if (seen.has(key)) return fail(REPLY.duplicateParam);
    seen.add(key);
    switch (key) {
      case "NOTIFY": {
        // RFC 3461 4.1: "NEVER" alone, or a list of SUCCESS / FAILURE / DELAY.
        const items = (value ?? "").toUpperCase().split(",");
        if (items.some((v) => !NOTIFY_VALUES.has(v)) || new Set(items).size !== items.length) return fail(REPLY.badParamValue);
        if (items.includes("NEVER") && items.length > 1) return fail(REPLY.badParamValue);
        params.notify = items as RcptParams["notify"];
        break;
      }
      case "ORCPT": {
        // RFC 3461 4.2: addr-type ";" xtext; kept as received.
        const semi = value?.indexOf(";") ?? -1;
        if (value === undefined || semi <= 0 || !isXtext(value.slice(semi + 1)) || semi + 1 >= value.length) return fail(REPLY.badParamValue);
        params.orcpt = value;
        break;
      }
      default:
        return fail(REPLY.unknownParam);
    }
  }
  if (p.path.nonAscii && !smtputf8) return fail(REPLY.utf8Required);
  return { ok: true, address: p.path.address, params };
}
