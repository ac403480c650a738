// The header firewall and the marks (SPEC §2): from every message that
// arrives, remove Authentication-Results fields that claim the
// organization's authserv-id (or an edge's name) and every
// X-MS-Exchange-Organization-* field; then prepend our Received: field and,
// for a domain-secured message, our Authentication-Results. Works on bytes
// (CRLF), folded fields included, without decoding the body.
//
// The firewall reads a field the way the most lenient reader could: the
// name unfolded and with whitespace before the colon, the authserv-id with
// a real RFC 5322 / RFC 2045 lexer (rfc5322-tokens.ts) and compared as a
// domain (case, trailing dots, UTS #46 spellings). A field is kept only when
// its authserv-id is provably someone else's: what cannot be parsed goes.
// Fields are removed whole (CRLF to CRLF), so removing one never joins the
// bytes around it into a new line. Linear in the size of the header section.

import { domainToASCII, domainToUnicode } from "node:url";
import { MIME_TSPECIALS, Tokenizer, unfold } from "./rfc5322-tokens.js";

export interface HeaderField {
  /** Field name as written (unfolded, whitespace before the colon removed); "" when the field has no colon. */
  name: string;
  start: number;
  /** End offset, after the field's final CRLF. */
  end: number;
}

const CRLF = Buffer.from("\r\n");

/** Offset just after the header section's last CRLF (before the empty line), or the whole message when it has no body. */
export function headerEnd(message: Buffer): number {
  if (message.subarray(0, 2).equals(CRLF)) return 0;
  const i = message.indexOf("\r\n\r\n");
  return i < 0 ? message.length : i + 2;
}

/** The header fields (CRLF-delimited), folded lines attached to their field; a folded line at the very start is a field of its own. */
export function parseHeaderFields(message: Buffer): HeaderField[] {
  return scanFields(message).map(({ name, start, end }) => ({ name, start, end }));
}

interface ScannedField extends HeaderField {
  /** Offset of the first colon, -1 without one. */
  colon: number;
  /** A CR not followed by LF or an LF not preceded by CR somewhere in the field. */
  bare: boolean;
}

/** One pass over the header section's octets. */
function scanFields(message: Buffer): ScannedField[] {
  const end = headerEnd(message);
  const fields: ScannedField[] = [];
  let cur: ScannedField | undefined;
  let i = 0;
  while (i < end) {
    const first = message[i];
    if (cur === undefined || (first !== 0x20 && first !== 0x09)) {
      if (cur) fields.push(cur);
      cur = { name: "", start: i, end: i, colon: -1, bare: false };
    }
    while (i < end) {
      const c = message[i] as number;
      if (c === 0x0d) {
        if (i + 1 < end && message[i + 1] === 0x0a) {
          i += 2;
          break;
        }
        cur.bare = true;
      } else if (c === 0x0a) cur.bare = true;
      else if (c === 0x3a && cur.colon < 0) cur.colon = i;
      i++;
    }
    cur.end = i;
  }
  if (cur) fields.push(cur);
  for (const f of fields) if (f.colon >= 0) f.name = trimWsp(unfold(message.toString("latin1", f.start, f.colon)));
  return fields;
}

function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return s.slice(a, b);
}

/** RFC 5322 §3.6.8 field-name = 1*ftext (printable ASCII but colon). */
function isFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126 || c === 0x3a) return false;
  }
  return true;
}

export type AuthservId = { id: string; quoted: boolean; version?: string } | { error: string };

/**
 * The authserv-id of an Authentication-Results value (RFC 8601 §2.2:
 * `authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo )`, the
 * authserv-id an RFC 2045 `value` = token / quoted-string), with the value
 * as Latin-1 text (one character per octet). The ";" that must follow is
 * required: anything else is an error.
 */
export function parseAuthservId(value: string): AuthservId {
  const lx = new Tokenizer(value, MIME_TSPECIALS);
  const first = lx.next();
  if (first.kind === "error") return { error: first.reason };
  if (first.kind !== "token" && first.kind !== "quoted-string") return { error: "no authserv-id" };
  let next = lx.next();
  let version: string | undefined;
  if (next.kind === "token" && /^[0-9]+$/.test(next.text)) {
    version = next.text;
    next = lx.next();
  }
  if (next.kind === "error") return { error: next.reason };
  if (next.kind !== "special" || next.text !== ";") return { error: "expected ';' after the authserv-id" };
  return { id: first.text, quoted: first.kind === "quoted-string", ...(version !== undefined ? { version } : {}) };
}

/** The authserv-id of an Authentication-Results value, lower case ("" when it cannot be parsed). */
export function authservIdOf(value: string): string {
  const r = parseAuthservId(value);
  return "id" in r ? r.id.toLowerCase() : "";
}

/** UTS #46 transitional processing's four deviations, for readers that still apply it. */
function transitional(s: string): string {
  return s.replace(/\u00df/g, "ss").replace(/\u03c2/g, "\u03c3").replace(/[\u200c\u200d]/g, "");
}

function withoutTrailingDots(s: string): string {
  let b = s.length;
  while (b > 0 && s.charCodeAt(b - 1) === 0x2e) b--;
  return s.slice(0, b);
}

/**
 * The spellings a reader could compare a name as: lower case, UTS #46
 * A-label (non-transitional, as node:url does), its U-label and that
 * U-label's A-label, and the transitional A-label; trailing dots removed.
 * `ok`: the name has an A-label at all.
 */
function domainForms(name: string): { forms: Set<string>; ok: boolean } {
  // Letters, digits, hyphens and dots, no A-label and not a number at the
  // end (which URL host parsing reads as IPv4): every form is the lower case.
  if (LDH.test(name) && !/(?:^|\.)xn--/i.test(name) && !NUMERIC_END.test(name)) {
    const lower = withoutTrailingDots(name.toLowerCase());
    return { forms: new Set(lower ? [lower] : []), ok: lower !== "" };
  }
  const forms = new Set<string>();
  const add = (x: string) => {
    const y = withoutTrailingDots(x);
    if (y) forms.add(y);
  };
  const lower = name.toLowerCase();
  add(lower);
  const ascii = domainToASCII(name);
  add(ascii);
  const unicode = domainToUnicode(name);
  if (unicode) {
    add(unicode);
    add(domainToASCII(unicode));
    add(domainToASCII(transitional(unicode.toLowerCase())));
  }
  add(domainToASCII(transitional(lower)));
  return { forms, ok: ascii !== "" && withoutTrailingDots(ascii) !== "" };
}

const LDH = /^[A-Za-z0-9.-]+$/;
const ASCII = /^[\x00-\x7f]*$/;
const NUMERIC_END = /(?:^|\.)(?:[0-9]+|0[xX][0-9A-Fa-f]*)\.*$/;

const ownFormsCache = new WeakMap<readonly string[], Set<string>>();

function ownForms(ownIds: readonly string[]): Set<string> {
  let forms = ownFormsCache.get(ownIds);
  if (!forms) {
    forms = new Set<string>();
    for (const id of ownIds) for (const f of domainForms(id).forms) forms.add(f);
    ownFormsCache.set(ownIds, forms);
  }
  return forms;
}

/**
 * Longer authserv-ids are not compared (a domain name has at most 253
 * octets; the margin is for UTS #46 characters that map to nothing) and go.
 */
const MAX_ID = 1024;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * "own" when an authserv-id (Latin-1 text of its octets) is, read as UTF-8
 * or as Latin-1, one of `ownIds` in any spelling of `domainForms`;
 * "unknown" when it is empty, not UTF-8 or has no A-label (so it cannot be
 * shown to differ); otherwise "foreign".
 */
export function classifyAuthservId(id: string, ownIds: readonly string[]): "own" | "foreign" | "unknown" {
  if (id === "" || id.length > MAX_ID) return "unknown";
  const own = ownForms(ownIds);
  let text = id;
  if (!ASCII.test(id)) {
    try {
      text = utf8.decode(Buffer.from(id, "latin1"));
    } catch {
      return "unknown";
    }
  }
  const primary = domainForms(text);
  if (!primary.ok) return "unknown";
  for (const f of primary.forms) if (own.has(f)) return "own";
  if (text !== id) for (const f of domainForms(id).forms) if (own.has(f)) return "own";
  return "foreign";
}

const AR = "authentication-results";
const ORG_PREFIX = "x-ms-exchange-organization-";

/** Whether a field (Latin-1 text of its octets, final line break removed) with this name must go. */
function forbiddenNamed(lowerName: string, field: string, colon: number, ctx: Ctx): boolean {
  if (lowerName.startsWith(ORG_PREFIX)) return true;
  if (lowerName !== AR) return false;
  const parsed = parseAuthservId(field.slice(colon + 1));
  if (!("id" in parsed)) return true;
  let verdict = ctx.seen.get(parsed.id);
  if (verdict === undefined) {
    verdict = classifyAuthservId(parsed.id, ctx.ownIds);
    ctx.seen.set(parsed.id, verdict);
  }
  return verdict !== "foreign";
}

/** One message's pass: our ids, and the verdicts on the authserv-ids already seen in it. */
interface Ctx {
  ownIds: readonly string[];
  seen: Map<string, "own" | "foreign" | "unknown">;
}

/** A field read strictly: the name up to the first colon, unfolded; a field without a valid name is searched line by line. */
function forbiddenStrict(field: string, ctx: Ctx): boolean {
  const colon = field.indexOf(":");
  if (colon >= 0) {
    const raw = field.slice(0, colon);
    const name = trimWsp(unfold(raw));
    if (isFieldName(name)) return forbiddenNamed(name.toLowerCase(), field, colon, ctx);
    // Not a field name by RFC 5322: a reader that drops what cannot be in
    // a name (a fold with its WSP, a byte-order mark, controls) must not
    // find one of ours either.
    const squeezed = asciiLower(raw.replace(/[^\x21-\x39\x3b-\x7e]+/g, ""));
    if (squeezed === AR || squeezed.startsWith(ORG_PREFIX)) return true;
  }
  // Nor may a reader that skips junk at a line's start or takes any line
  // of a malformed field for a field start.
  return /(?:^|[\r\n])[^\x21-\x39\x3b-\x7e\r\n]*(?:authentication-results[\t ]*:|x-ms-exchange-organization-)/i.test(field);
}

/** A line break that is not CRLF: a bare CR or a bare LF. */
const BARE_BREAK = /\r(?!\n)|(?<!\r)\n/;
const ANY_BREAK = /\r\n|\r|\n/;

/**
 * Whether the field (Latin-1 text of its octets, CRLF-delimited, final
 * CRLF removed) must go: read as RFC 5322 says, and — when it holds a bare
 * CR or LF — also as a reader that takes those for line ends would (each
 * such line a field start unless it begins with WSP).
 */
function forbiddenField(field: string, ctx: Ctx): boolean {
  if (forbiddenStrict(field, ctx)) return true;
  if (!BARE_BREAK.test(field)) return false;
  let current: string | undefined;
  for (const line of field.split(ANY_BREAK)) {
    if (current !== undefined && (line.startsWith(" ") || line.startsWith("\t"))) {
      current += line;
      continue;
    }
    if (current !== undefined && forbiddenStrict(current, ctx)) return true;
    current = line;
  }
  return current !== undefined && forbiddenStrict(current, ctx);
}

function isFirewallName(lowerName: string): boolean {
  return lowerName === AR || lowerName.startsWith(ORG_PREFIX);
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/**
 * Removes the fields the firewall forbids. `ownIds`: the organization's
 * authserv-id and the names of its edges (lower case).
 */
export function stripForgedHeaders(message: Buffer, ownIds: string[]): { message: Buffer; removed: string[] } {
  const fields = scanFields(message);
  const removed: string[] = [];
  const keep: Buffer[] = [];
  let cursor = 0;
  const ctx: Ctx = { ownIds, seen: new Map() };
  for (const f of fields) {
    // Most fields: a plain name that is not one of the firewall's, CRLF line ends only.
    if (!f.bare && isFieldName(f.name) && !isFirewallName(f.name.toLowerCase())) continue;
    let text = message.toString("latin1", f.start, f.end);
    if (text.endsWith("\r\n")) text = text.slice(0, -2);
    if (!forbiddenField(text, ctx)) continue;
    keep.push(message.subarray(cursor, f.start));
    cursor = f.end;
    removed.push(f.name);
  }
  if (removed.length === 0) return { message, removed };
  keep.push(message.subarray(cursor));
  return { message: Buffer.concat(keep), removed };
}

export interface ReceivedInfo {
  heloName?: string;
  remoteAddress: string;
  byName: string;
  id: string;
  date: Date;
  /** "ESMTP" or "ESMTPS" etc. */
  protocol: string;
  tls?: { protocol: string; cipher: string; clientSubject?: string; clientIssuer?: string; verified?: boolean };
  recipient?: string;
}

/** RFC 5322 date-time in UTC, e.g. "Sun, 29 Nov 2026 06:00:00 +0000". */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace("GMT", "+0000");
}

/** A header value with characters that cannot appear in a comment neutralized. */
function commentSafe(s: string): string {
  return s.replace(/[\r\n()\\]/g, " ");
}

export function receivedField(r: ReceivedInfo): string {
  const t = receivedTemplate(r);
  return `${t.head}${r.id}${t.tail}${rfc5322Date(r.date)}\r\n`;
}

/**
 * The Received: field without its id and date, which are all that change
 * between the messages of a session: field = head + id + tail + date + CRLF.
 */
export function receivedTemplate(r: Omit<ReceivedInfo, "id" | "date">): { head: string; tail: string } {
  const from = `from ${commentSafe(r.heloName ?? "unknown")} ([${r.remoteAddress}])`;
  let tls = "";
  if (r.tls) {
    tls = `\r\n\t(using ${commentSafe(r.tls.protocol)} with cipher ${commentSafe(r.tls.cipher)})`;
    if (r.tls.clientSubject) {
      tls += `\r\n\t(client certificate subject "${commentSafe(r.tls.clientSubject)}", issuer "${commentSafe(r.tls.clientIssuer ?? "")}"${r.tls.verified ? ", verified OK" : ", not verified"})`;
    }
  }
  const forPart = r.recipient ? `\r\n\tfor <${r.recipient}>` : "";
  return { head: `Received: ${from}\r\n\tby ${r.byName} (Sealpost) with ${r.protocol} id `, tail: `${tls}${forPart};\r\n\t` };
}

/** SPEC §2: `Authentication-Results: <authserv-id>; x-domain-secure=pass smtp.mailfrom=<D> x-domain-secure.cert=<SHA-1>` */
export function domainSecureResults(authservId: string, domain: string, thumbprint: string): string {
  return `Authentication-Results: ${authservId}; x-domain-secure=pass smtp.mailfrom=${domain} x-domain-secure.cert=${thumbprint}\r\n`;
}

/** Prepends fields (each ending in CRLF) to the message. */
export function prependFields(message: Buffer, fields: string[]): Buffer {
  return Buffer.concat([Buffer.from(fields.join(""), "utf8"), message]);
}
