// Domain names as Sealpost stores and compares them: lower case, IDNA
// A-labels, no trailing dot. This module is the one place where a domain
// enters, and the one place where domains are compared with list entries:
//
// - normalizeDomain: what administrators type (shell, CLI, API, the store).
//   UTS #46 non-transitional processing *with mapping*: "BÜCHER.example",
//   "bücher.example", "xn--bcher-kva.example" and the fullwidth
//   "ｂüｃｈｅｒ.example" are all the A-label "xn--bcher-kva.example".
// - parseWireDomain: what peers send (SMTP envelope, SMTPUTF8 included;
//   certificate names; DNS answers). No mapping beyond ASCII case: only
//   A-labels or IDNA2008 U-labels in NFC are accepted, anything that UTS #46
//   would have to map (fullwidth letters, upper-case non-ASCII, ideographic
//   full stops) is refused, so a peer cannot make one string mean two names.
// - matchListEntry: an administrator's list entry ("P", or "*.P" for any
//   subdomain of P at any depth, SPEC §2) against a normalized domain. The
//   RFC 6125 wildcard of a certificate (exactly one label) is a different
//   rule and lives in names.ts (matchesCertificateName).
//
// Anything that is not a valid domain is refused with the reason, never
// treated as "some other domain": a sender whose domain cannot be normalized
// is refused, not waved through as "not a partner".
import { domainToASCII, domainToUnicode } from "node:url";
import { SealpostError } from "../errors/errors.js";

export interface DomainOptions {
  /** Accept a leading "*." label (a list entry meaning "any subdomain"). */
  allowWildcard?: boolean;
  /** Accept a single-label name such as "edgea36" (host names in certificates). */
  allowSingleLabel?: boolean;
}

export type DomainResult = { ok: true; domain: string } | { ok: false; reason: string };

const LDH_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const ASCII = /^[\x00-\x7f]*$/;
/**
 * IDNA2008 (RFC 5892) derives PVALID code points from letters, marks and
 * digits; symbols, punctuation and emoji are DISALLOWED although UTS #46
 * still maps them to A-labels. This is that rule on general categories.
 */
const IDNA2008_ULABEL = /^[\p{Ll}\p{Lo}\p{Lm}\p{M}\p{Nd}-]+$/u;

/** Checks A-label form ("a.b.c", lower case) label by label; returns the reason or undefined. */
function checkAscii(ascii: string, opts: DomainOptions): string | undefined {
  const labels = ascii.split(".");
  if (labels.length < 2 && !opts.allowSingleLabel) return "it needs at least two labels (like example.com)";
  for (const label of labels) {
    if (!LDH_LABEL.test(label)) return `the label '${label}' may hold only letters, digits and inner hyphens, at most 63`;
    if (label.startsWith("xn--")) {
      const u = domainToUnicode(label);
      if (u === "" || u === label || !IDNA2008_ULABEL.test(u)) return `the label '${label}' is not a valid IDNA A-label`;
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? "")) return "the last label is numeric (an IP address is not a domain)";
  if (ascii.length > 253) return "it is longer than 253 characters";
  return undefined;
}

/** Splits off the "*." and the trailing dot, with the shape checks common to both modes. */
function shape(raw: string, opts: DomainOptions): { name: string; wildcard: boolean } | string {
  if (raw === "") return "it is empty";
  if (raw.includes("@")) return "it looks like an e-mail address; give only the part after '@'";
  if (/[/:?#\s\\[\]]/.test(raw)) return "it looks like a URL or an address literal, or contains spaces; give only the host name";
  let name = raw.endsWith(".") ? raw.slice(0, -1) : raw;
  let wildcard = false;
  if (name.startsWith("*.")) {
    if (!opts.allowWildcard) return "a wildcard is not allowed here";
    wildcard = true;
    name = name.slice(2);
  }
  if (name.includes("*")) return "'*' may only stand alone as the first label";
  if (name === "" || name.split(".").some((l) => l === "")) return "it has an empty label (two dots in a row, or a leading dot)";
  return { name, wildcard };
}

function result(ascii: string, wildcard: boolean, opts: DomainOptions): DomainResult {
  const why = checkAscii(ascii, opts);
  if (why) return { ok: false, reason: why };
  return { ok: true, domain: wildcard ? `*.${ascii}` : ascii };
}

/** Administrators' input: UTS #46 mapping, then A-labels. */
export function parseDomain(input: string, opts: DomainOptions = {}): DomainResult {
  const s = shape(input.trim(), opts);
  if (typeof s === "string") return { ok: false, reason: s };
  // WHATWG's domainToASCII is UTS #46 non-transitional processing with
  // mapping (lower case, fullwidth, NFC); "" when IDNA refuses the name.
  const ascii = domainToASCII(s.name);
  if (ascii === "") return { ok: false, reason: "it is not a valid internationalized domain name" };
  if (!ASCII.test(s.name)) {
    for (const label of ascii.split(".")) {
      if (label.startsWith("xn--") && !IDNA2008_ULABEL.test(domainToUnicode(label))) {
        return { ok: false, reason: "it holds characters IDNA2008 does not allow in a domain name (symbols, punctuation or emoji)" };
      }
    }
  }
  return result(ascii, s.wildcard, opts);
}

/**
 * What a peer sent: A-labels (ASCII case-insensitive) or IDNA2008 U-labels
 * in NFC, no other mapping. Returns the A-label form or why it is refused.
 */
export function parseWireDomain(input: string, opts: DomainOptions = {}): DomainResult {
  const s = shape(input, opts);
  if (typeof s === "string") return { ok: false, reason: s };
  const lowered = s.name.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  if (ASCII.test(lowered)) return result(lowered, s.wildcard, opts);
  if (lowered.normalize("NFC") !== lowered) return { ok: false, reason: "it is not in Unicode normalization form C" };
  const ascii = domainToASCII(lowered);
  if (ascii === "") return { ok: false, reason: "it is not a valid internationalized domain name" };
  const given = lowered.split(".");
  const labels = ascii.split(".");
  if (given.length !== labels.length) return { ok: false, reason: "it holds a character that stands for a dot; only '.' separates labels" };
  for (let i = 0; i < labels.length; i++) {
    const g = given[i] as string;
    const a = labels[i] as string;
    if (ASCII.test(g)) {
      if (g !== a) return { ok: false, reason: `the label '${g}' is not a valid label` };
    } else if (domainToUnicode(a) !== g || !IDNA2008_ULABEL.test(g)) {
      return { ok: false, reason: `the label '${g}' is not a valid IDNA2008 U-label (upper-case, fullwidth or other characters that need mapping are refused)` };
    }
  }
  return result(ascii, s.wildcard, opts);
}

/** Returns the normalized form of an administrator's input or throws INVALID_DOMAIN with the reason. */
export function normalizeDomain(input: string, opts: DomainOptions = {}): string {
  const r = parseDomain(input, opts);
  if (!r.ok) throw new SealpostError("INVALID_DOMAIN", `'${input.trim()}' is not a valid domain name: ${r.reason}.`);
  return r.domain;
}

/** True when the value is a valid domain under the options. */
export function isValidDomain(input: string, opts: DomainOptions = {}): boolean {
  return parseDomain(input, opts).ok;
}

/**
 * The entry of a list that covers `domain` (both normalized): the exact
 * entry first, else the most specific "*.P" with `domain` anywhere below P
 * (SPEC §2: a list entry "*.P" covers every subdomain depth, not P itself).
 */
export function matchListEntry(domain: string, entries: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const e of entries) {
    if (e === domain) return e;
    if (e.startsWith("*.") && domain.endsWith(e.slice(1)) && (!best || e.length > best.length)) best = e;
  }
  return best;
}
