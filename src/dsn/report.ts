// Delivery status notifications: RFC 3464 reports in an RFC 6522
// multipart/report, honouring the RFC 3461 DSN parameters the sender gave
// (NOTIFY per recipient, RET, ENVID, ORCPT). Pure apart from the random
// Message-ID and boundary: the clock comes in as `now`; the queue decides
// when a report is due and sends what this returns.
//
// Everything we write is CRLF with lines of at most 998 octets (RFC 5322
// 2.1.1), header fields folded at whitespace near 78 columns. The human part
// is UTF-8 (quoted-printable when it is not plain short-lined ASCII); the
// machine part is US-ASCII as RFC 3464 requires; only an attached original
// can bring 8-bit octets, and then the result says so (`eightBit`).
import { randomBytes } from "node:crypto";
import { domainToASCII } from "node:url";
import { parseHeaderFields, rfc5322Date } from "../message/headers.js";

export type DsnNotify = "NEVER" | "SUCCESS" | "FAILURE" | "DELAY";

export interface DsnRecipient {
  address: string;
  /** The ORCPT parameter as received: "rfc822;x@y", xtext-encoded. */
  orcpt?: string;
  notify?: DsnNotify[] | undefined;
  /** RFC 3463 enhanced status, e.g. "5.7.5" or "4.4.1". */
  status: string;
  action: "failed" | "delayed";
  /** "type; text", e.g. "smtp; 451 4.7.5 ..." or "x-domain-security; The certificate ... is revoked". */
  diagnostic?: string;
  remoteMta?: string;
  lastAttemptAt?: Date;
  willRetryUntil?: Date;
}

export interface DsnInput {
  kind: "failure" | "delay";
  /** Our FQDN. */
  reportingMta: string;
  /** The envelope sender of the original; "" is the null sender. */
  originalSender: string;
  envid?: string | undefined;
  ret?: "FULL" | "HDRS";
  arrivalDate: Date;
  now: Date;
  recipients: DsnRecipient[];
  originalMessage: Buffer;
  messageIdDomain: string;
  /** A sentence for the human part, e.g. naming the failed TLS check and host. */
  humanReason?: string | undefined;
}

export interface DsnMessage {
  mailFrom: "";
  rcptTo: string;
  message: Buffer;
  /**
   * The body carries 8-bit octets (from the attached original): send with
   * BODY=8BITMIME. A non-ASCII rcptTo also needs SMTPUTF8 (the To field
   * carries it as is, RFC 6532).
   */
  eightBit: boolean;
}

/** The largest original returned whole; above it only the header section is returned. */
export const MAX_RETURNED_MESSAGE = 256 * 1024;

const CRLF = "\r\n";
const MAX_LINE = 998;
const FOLD_AT = 78;

/**
 * The report to send, or undefined when none must be sent: the null sender
 * (never report on a report: no loops) or one holding control characters, or
 * no recipient of this kind whose NOTIFY asks for it. Absent NOTIFY means
 * FAILURE,DELAY (the choice RFC 3461 §4.1 leaves to the server); NEVER means
 * nothing, ever.
 */
export function buildDsn(input: DsnInput): DsnMessage | undefined {
  const sender = input.originalSender.trim().replace(/^<(.*)>$/, "$1");
  if (sender === "") return undefined;
  // Not an address any SMTP command could carry (the receive path never
  // accepts one): reporting to it would put CR LF into RCPT TO.
  if (/[\x00-\x1f\x7f]/.test(sender)) return undefined;
  const wanted: DsnNotify = input.kind === "failure" ? "FAILURE" : "DELAY";
  const action = input.kind === "failure" ? "failed" : "delayed";
  const recipients = input.recipients.filter((r) => r.action === action && notifyAllows(r.notify, wanted));
  if (recipients.length === 0) return undefined;

  const original = returnedPart(input);
  const human = humanPart(input, recipients, original.note);
  const status = deliveryStatus(input, recipients);
  const parts = [human, { headers: ["Content-Type: message/delivery-status", "Content-Description: Delivery report"], body: Buffer.from(status, "ascii") }, original];

  let boundary = newBoundary();
  while (parts.some((p) => p.body.includes(`--${boundary}`))) boundary = newBoundary();
  const eightBit = parts.some((p) => has8bit(p.body));

  const mta = hostName(input.reportingMta);
  const head = [
    fold("From", `Mail Delivery System <MAILER-DAEMON@${mta}>`),
    fold("To", `<${sender}>`),
    fold("Subject", subjectFor(input)),
    fold("Date", rfc5322Date(input.now)),
    fold("Message-ID", `<${randomBytes(16).toString("hex")}@${hostName(input.messageIdDomain) || mta}>`),
  ];
  // RFC 3834 3.1.5: an automatic response should point at what it answers.
  const inReplyTo = originalMessageId(input.originalMessage);
  if (inReplyTo) head.push(fold("In-Reply-To", inReplyTo), fold("References", inReplyTo));
  head.push(
    "Auto-Submitted: auto-replied" + CRLF,
    "MIME-Version: 1.0" + CRLF,
    fold("Content-Type", `multipart/report; report-type=delivery-status; boundary="${boundary}"`),
  );
  // RFC 2045 6.4: a multipart's encoding is the widest of its parts'.
  if (eightBit) head.push("Content-Transfer-Encoding: 8bit" + CRLF);

  const chunks: Buffer[] = [Buffer.from(head.join("") + CRLF + "This is a delivery status notification in MIME format." + CRLF, "utf8")];
  for (const p of parts) {
    chunks.push(Buffer.from(`${CRLF}--${boundary}${CRLF}${p.headers.map((h) => h + CRLF).join("")}${CRLF}`, "ascii"), p.body);
  }
  chunks.push(Buffer.from(`${CRLF}--${boundary}--${CRLF}`, "ascii"));
  return { mailFrom: "", rcptTo: sender, message: Buffer.concat(chunks), eightBit };
}

/** RFC 3461 4.1, with the absent-NOTIFY default FAILURE,DELAY. */
export function notifyAllows(notify: readonly string[] | undefined, what: DsnNotify): boolean {
  if (notify === undefined || notify.length === 0) return what === "FAILURE" || what === "DELAY";
  const set = notify.map((n) => n.toUpperCase());
  return !set.includes("NEVER") && set.includes(what);
}

interface Part {
  headers: string[];
  body: Buffer;
  /** Why the original is not returned whole, for the human part. */
  note?: string | undefined;
}

// ---- the human-readable part ----

function humanPart(input: DsnInput, recipients: DsnRecipient[], note: string | undefined): Part {
  const failure = input.kind === "failure";
  const out: string[] = [`This is the mail system at ${clean(input.reportingMta)}.`, ""];
  out.push(failure ? "Your message could not be delivered to these recipients:" : "Delivery of your message to these recipients is delayed:", "");
  for (const r of recipients) {
    out.push(`  ${clean(r.address)}`);
    out.push(...wrap(`Status: ${validStatus(r)}`, "      "));
    if (r.diagnostic) out.push(...wrap(`Reason: ${clean(r.diagnostic)}`, "      "));
    if (r.remoteMta) out.push(...wrap(`Remote server: ${clean(r.remoteMta)}`, "      "));
    if (!failure && r.willRetryUntil) out.push(...wrap(`Will keep trying until: ${rfc5322Date(r.willRetryUntil)}`, "      "));
    out.push("");
  }
  if (input.humanReason) out.push(...wrap(clean(input.humanReason), ""), "");
  out.push(
    ...wrap(
      failure
        ? `The message arrived on ${rfc5322Date(input.arrivalDate)}. Delivery to the recipients above has been given up; recipients not listed here are not affected.`
        : `The message arrived on ${rfc5322Date(input.arrivalDate)}. No action is needed: the server keeps trying and will tell you if it gives up. Do not send the message again.`,
      "",
    ),
  );
  if (note) out.push("", ...wrap(note, ""));
  const text = out.join(CRLF) + CRLF;
  // Plain ASCII with short lines goes as is; anything else is quoted-printable,
  // so the human part never needs 8BITMIME.
  const plain = /^[\x20-\x7e\r\n]*$/.test(text) && text.split(CRLF).every((l) => l.length <= MAX_LINE);
  return {
    headers: ["Content-Type: text/plain; charset=utf-8", `Content-Transfer-Encoding: ${plain ? "7bit" : "quoted-printable"}`, "Content-Description: Notification"],
    body: Buffer.from(plain ? text : quotedPrintable(text), "ascii"),
  };
}

/** Word-wraps one paragraph at 76 columns, continuation lines indented by two more; a longer word stays whole (quoted-printable bounds it). */
function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ").filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > 76) {
      lines.push(line);
      line = (indent === "" ? "" : indent + "  ") + word;
    } else line = line === "" ? indent + word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** RFC 2045 6.7, lines of at most 76 characters, soft breaks between octets. */
export function quotedPrintable(text: string): string {
  return text
    .split(CRLF)
    .map((line) => {
      const bytes = Buffer.from(line, "utf8");
      const out: string[] = [];
      let cur = "";
      bytes.forEach((b, i) => {
        const literal = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && i < bytes.length - 1);
        const tok = literal ? String.fromCharCode(b) : "=" + b.toString(16).toUpperCase().padStart(2, "0");
        if (cur.length + tok.length > 75) {
          out.push(cur + "=");
          cur = "";
        }
        cur += tok;
      });
      out.push(cur);
      return out.join(CRLF);
    })
    .join(CRLF);
}

// ---- the machine-readable part (RFC 3464 §2, field order of its ABNF) ----

function deliveryStatus(input: DsnInput, recipients: DsnRecipient[]): string {
  const msg: string[] = [];
  if (input.envid) msg.push(fold("Original-Envelope-Id", ascii(xtextForDisplay(input.envid))));
  msg.push(fold("Reporting-MTA", `dns; ${hostName(input.reportingMta)}`), fold("Arrival-Date", rfc5322Date(input.arrivalDate)));
  const blocks = recipients.map((r) => {
    const f: string[] = [];
    if (r.orcpt) f.push(fold("Original-Recipient", originalRecipient(r.orcpt)));
    f.push(fold("Final-Recipient", finalRecipient(r.address)), `Action: ${r.action}${CRLF}`, `Status: ${validStatus(r)}${CRLF}`);
    if (r.remoteMta) f.push(fold("Remote-MTA", `dns; ${hostName(r.remoteMta)}`));
    if (r.diagnostic) f.push(fold("Diagnostic-Code", diagnosticCode(r.diagnostic)));
    if (r.lastAttemptAt) f.push(fold("Last-Attempt-Date", rfc5322Date(r.lastAttemptAt)));
    // Will-Retry-Until belongs to delayed recipients only (§2.3.8).
    if (r.action === "delayed" && r.willRetryUntil) f.push(fold("Will-Retry-Until", rfc5322Date(r.willRetryUntil)));
    return f.join("");
  });
  return [msg.join(""), ...blocks].join(CRLF);
}

/**
 * A malformed status would make the report unparseable, and a class that
 * contradicts the action misleading: "failed" takes 5.x.x or 4.x.x (a
 * transient error that outlived the message), "delayed" only 4.x.x. Anything
 * else becomes the generic code of the action's class.
 */
function validStatus(r: DsnRecipient): string {
  const classes = r.action === "failed" ? "45" : "4";
  const ok = /^\d\.\d{1,3}\.\d{1,3}$/.test(r.status) && classes.includes(r.status[0] as string);
  return ok ? r.status : r.action === "failed" ? "5.0.0" : "4.0.0";
}

function diagnosticCode(d: string): string {
  const text = ascii(clean(d));
  const m = /^([A-Za-z][A-Za-z0-9-]*)\s*;\s*(.*)$/.exec(text);
  if (m) return `${m[1]}; ${m[2]}`;
  return `${/^\d{3}([ -]|$)/.test(text) ? "smtp" : "x-sealpost"}; ${text}`;
}

/**
 * RFC 3464 §2.3.1: the address type and address of the ORCPT. The xtext is
 * decoded when that yields printable ASCII (what sendmail and Postfix show);
 * otherwise it stays encoded, which is still ASCII and loses nothing.
 */
function originalRecipient(orcpt: string): string {
  const semi = orcpt.indexOf(";");
  if (semi <= 0) return `unknown; ${ascii(clean(orcpt))}`;
  return `${ascii(clean(orcpt.slice(0, semi)))}; ${ascii(clean(xtextForDisplay(orcpt.slice(semi + 1).trim())))}`;
}

function xtextForDisplay(x: string): string {
  const decoded = x.replace(/\+([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return /^[\x21-\x7e]*$/.test(decoded) ? decoded : x;
}

/** rfc822 for an ASCII address; RFC 6533 "utf-8" type with its ASCII escape form (utf-8-addr-xtext) for an SMTPUTF8 one. */
function finalRecipient(address: string): string {
  const a = clean(address);
  if (/^[\x20-\x7e]*$/.test(a)) return `rfc822; ${a}`;
  let out = "";
  for (const ch of a) {
    const c = ch.codePointAt(0) as number;
    const qchar = c >= 0x21 && c <= 0x7e && c !== 0x2b && c !== 0x3d && c !== 0x5c;
    out += qchar ? ch : `\\x{${c.toString(16).toUpperCase()}}`;
  }
  return `utf-8; ${out}`;
}

// ---- the returned original ----

function returnedPart(input: DsnInput): Part {
  const msg = input.originalMessage;
  // RFC 3461 4.3: RET governs failure reports; a delay report returns the header only.
  const wantFull = input.kind === "failure" && input.ret !== "HDRS";
  let note: string | undefined;
  if (wantFull) {
    if (msg.length > MAX_RETURNED_MESSAGE) {
      note = `The original message (${Math.ceil(msg.length / 1024)} KB) is larger than ${MAX_RETURNED_MESSAGE / 1024} KB; only its header is attached.`;
    } else if (!wellFormedLines(msg)) {
      note = "The original message is not made of valid lines (bare CR or LF, NUL, or a line over 998 octets); only its header is attached.";
    } else {
      // message/global (RFC 6532 3.7) when the header itself is UTF-8.
      const global = has8bit(headerSection(msg));
      return { headers: [`Content-Type: message/${global ? "global" : "rfc822"}`, ...cte(msg), "Content-Description: Undelivered message"], body: msg };
    }
  }
  let headers = normalizeLines(headerSection(msg));
  if (headers.length > MAX_RETURNED_MESSAGE) {
    headers = headers.subarray(0, headers.lastIndexOf(CRLF, MAX_RETURNED_MESSAGE - 2) + 2);
    note = (note ? note + " " : "") + "The header is truncated.";
  }
  // message/global-headers (RFC 6533 6.3) when the header is UTF-8.
  const type = has8bit(headers) ? "message/global-headers" : "text/rfc822-headers";
  return { headers: [`Content-Type: ${type}`, ...cte(headers), "Content-Description: Undelivered message headers"], body: headers, note };
}

/** Only 7bit or 8bit are allowed for message/* and chosen here for the headers part too. */
const cte = (b: Buffer): string[] => (has8bit(b) ? ["Content-Transfer-Encoding: 8bit"] : []);

/** The header section, up to and including the CRLF that ends its last field (not the empty line). Tolerates bare LF. */
function headerSection(msg: Buffer): Buffer {
  if (msg[0] === 0x0a || (msg[0] === 0x0d && msg[1] === 0x0a)) return msg.subarray(0, 0);
  const ends = [msg.indexOf("\n\r\n"), msg.indexOf("\n\n")].filter((i) => i >= 0);
  return ends.length === 0 ? msg : msg.subarray(0, Math.min(...ends) + 1);
}

/** Lines end in CRLF only, no NUL, at most 998 octets each: safe to send as 8bit MIME. */
function wellFormedLines(b: Buffer): boolean {
  let lineStart = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0) return false;
    if (c === 0x0d) {
      if (b[i + 1] !== 0x0a) return false;
      if (i - lineStart > MAX_LINE) return false;
      lineStart = i + 2;
      i++;
    } else if (c === 0x0a) return false;
  }
  return b.length - lineStart <= MAX_LINE;
}

/** CRLF line ends, no NUL, long lines folded (a continuation starts with a space) without splitting a UTF-8 sequence. */
function normalizeLines(b: Buffer): Buffer {
  const lines = b.toString("latin1").replace(/\0/g, "").split(/\r\n|\r|\n/);
  if (lines.at(-1) === "") lines.pop();
  const out: string[] = [];
  for (let line of lines) {
    while (line.length > MAX_LINE) {
      let cut = MAX_LINE;
      while (cut > MAX_LINE - 8 && (line.charCodeAt(cut) & 0xc0) === 0x80) cut--;
      out.push(line.slice(0, cut));
      line = " " + line.slice(cut);
    }
    out.push(line);
  }
  return Buffer.from(out.map((l) => l + CRLF).join(""), "latin1");
}

// ---- header fields ----

function subjectFor(input: DsnInput): string {
  if (input.kind === "delay") return "Delivery Status Notification (Delay)";
  const subject = originalField(input.originalMessage, "subject");
  if (!subject) return "Undeliverable";
  // An ASCII subject (encoded-words included) is kept as written; raw 8-bit
  // text (SMTPUTF8 or legacy) becomes RFC 2047 encoded-words.
  return `Undeliverable: ${/^[\x20-\x7e]*$/.test(subject) ? subject : encodedWords(subject)}`;
}

function originalMessageId(msg: Buffer): string | undefined {
  const id = originalField(msg, "message-id");
  return id && /^<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>$/.test(id) ? id : undefined;
}

/** The unfolded value of the first field of that name: UTF-8 if it decodes as such, else Latin-1. */
function originalField(msg: Buffer, name: string): string | undefined {
  const f = parseHeaderFields(msg).find((h) => h.name.toLowerCase() === name);
  if (!f) return undefined;
  const raw = msg.subarray(f.start, f.end);
  const bytes = raw.subarray(raw.indexOf(0x3a) + 1);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = bytes.toString("latin1");
  }
  return clean(text) || undefined;
}

/** RFC 2047 B encoded-words of at most 75 characters, split between characters. */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = "";
  for (const ch of text) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = "";
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, "utf8").toString("base64")}?=`).join(" ");
}

/** "Name: value" CRLF, folded at spaces near 78 columns; a run without spaces longer than 998 octets is broken by force. */
function fold(name: string, value: string): string {
  const lines: string[] = [];
  let line = `${name}:`;
  for (const word of value.split(" ").filter((w) => w !== "")) {
    if (line.length + 1 + word.length > FOLD_AT && line.trim() !== `${name}:`) {
      lines.push(line);
      line = "";
    }
    line += ` ${word}`;
  }
  lines.push(line);
  const out: string[] = [];
  for (let l of lines) {
    while (Buffer.byteLength(l) > MAX_LINE) {
      out.push(l.slice(0, MAX_LINE));
      l = " " + l.slice(MAX_LINE);
    }
    out.push(l);
  }
  return out.join(CRLF) + CRLF;
}

/** One line of text: controls (CR and LF included, so no field can be injected) become spaces, runs collapse. */
function clean(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, " ").replace(/ {2,}/g, " ").trim();
}

/** US-ASCII only, for the delivery-status fields: anything else becomes "?". */
function ascii(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?");
}

/** A host name in ASCII: IDNs as A-labels, anything unusable neutralized. */
function hostName(h: string): string {
  const c = clean(h);
  if (/^[\x21-\x7e]*$/.test(c)) return c;
  return domainToASCII(c) || ascii(c);
}

function has8bit(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if ((b[i] as number) > 0x7f) return true;
  return false;
}

function newBoundary(): string {
  // "=_" cannot occur in quoted-printable text, and the random part in anything else.
  return `=_sealpost_report_${randomBytes(12).toString("hex")}`;
}
