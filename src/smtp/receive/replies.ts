// The one table of replies the engine itself produces (hooks produce the
// others). Keeping them here means one place to review enhanced codes
// (RFC 3463, RFC 5248 registry) and one wire formatter, so every reply on the
// wire has the same shape:
//   single line  "<code> <enhanced> <text>"
//   multi-line   "<code>-<enhanced> line1" ... "<code> <enhanced> last"
//   no enhanced  "<code> <text>" (greeting, 354, EHLO/HELO replies: RFC 2034 section 4)
import type { Reply } from "./types.js";

const r = (code: number, enhanced: string | undefined, text: string, close?: boolean): Readonly<Reply> =>
  Object.freeze(enhanced === undefined ? { code, text, ...(close ? { close } : {}) } : { code, enhanced, text, ...(close ? { close } : {}) });

/** Replies that do not depend on the server name. Frozen: they are shared by all sessions. */
export const REPLY = {
  ok: r(250, "2.0.0", "OK"),
  resetOk: r(250, "2.0.0", "Reset OK"),
  startData: r(354, undefined, "Start mail input; end with <CRLF>.<CRLF>"),
  tlsReady: r(220, "2.0.0", "Ready to start TLS"),
  vrfy: r(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"),
  help: r(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS"),

  // 500/501/502/503: the command, its syntax or its place in the dialogue is wrong.
  unrecognized: r(500, "5.5.2", "Syntax error, command unrecognized"),
  lineTooLong: r(500, "5.5.2", "Line too long"),
  bareLf: r(500, "5.5.2", "Syntax error: command line must end with <CRLF>"),
  badOctets: r(500, "5.5.2", "Syntax error: CR, NUL or invalid UTF-8 in the command line"),
  notImplemented: r(502, "5.5.1", "Command not implemented"),
  startTlsNotOffered: r(502, "5.5.1", "STARTTLS not offered"),
  heloSyntax: r(501, "5.5.4", "Syntax: EHLO hostname"),
  mailSyntax: r(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]"),
  rcptSyntax: r(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]"),
  noArguments: r(501, "5.5.4", "Syntax error: no parameters allowed"),
  vrfySyntax: r(501, "5.5.4", "Syntax: VRFY address"),
  badSender: r(501, "5.1.7", "Bad sender address syntax"),
  badRecipient: r(501, "5.1.3", "Bad recipient address syntax"),
  badParamValue: r(501, "5.5.4", "Syntax error in parameters"),
  duplicateParam: r(501, "5.5.4", "Duplicate parameter"),
  unknownParam: r(555, "5.5.4", "Unsupported MAIL FROM or RCPT TO parameter"),
  utf8Required: r(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"),
  needHelo: r(503, "5.5.1", "Bad sequence of commands: send EHLO or HELO first"),
  needMail: r(503, "5.5.1", "Bad sequence of commands: need MAIL before RCPT or DATA"),
  needRcpt: r(503, "5.5.1", "Bad sequence of commands: need RCPT before DATA"),
  nestedMail: r(503, "5.5.1", "Bad sequence of commands: sender already specified"),
  inTransaction: r(503, "5.5.1", "Bad sequence of commands: mail transaction in progress"),
  alreadySecure: r(503, "5.5.1", "Bad sequence of commands: TLS already active"),
  noValidRecipients: r(554, "5.5.1", "No valid recipients"),

  // Transaction limits and message content.
  tooManyRecipients: r(452, "4.5.3", "Too many recipients"),
  sizeExceeded: r(552, "5.3.4", "Message size exceeds fixed maximum message size"),
  smuggling: r(550, "5.6.11", "Message refused: bare CR or LF in the message (SMTP smuggling protection)"),
  nulOctet: r(550, "5.6.0", "Message refused: NUL octet in the message"),
  longLine: r(550, "5.6.0", "Message refused: line longer than 998 characters (RFC 5322)"),

  // Local trouble: never the hook's error text (it may name internals).
  temporaryError: r(451, "4.3.0", "Temporary server error, try again later"),
  tlsUnavailable: r(454, "4.7.0", "TLS not available due to temporary reason"),
} as const;

/** Replies that name the server (RFC 5321 4.2: 220/221/421 start with the domain). */
export const greeting = (fqdn: string): Reply => ({ code: 220, text: `${fqdn} Sealpost ESMTP ready` });
export const bye = (fqdn: string): Reply => ({ code: 221, enhanced: "2.0.0", text: `${fqdn} Service closing transmission channel`, close: true });
export const timeout = (fqdn: string): Reply => ({ code: 421, enhanced: "4.4.2", text: `${fqdn} Timeout; closing connection`, close: true });
export const tooManyConnections = (fqdn: string): Reply => ({ code: 421, enhanced: "4.7.0", text: `${fqdn} Too many connections, try again later`, close: true });
export const tooManyErrors = (fqdn: string): Reply => ({ code: 421, enhanced: "4.7.0", text: `${fqdn} Too many unrecognized commands, closing connection`, close: true });
export const shuttingDown = (fqdn: string): Reply => ({ code: 421, enhanced: "4.3.2", text: `${fqdn} Service shutting down, try again later`, close: true });
export const tlsTooOld = (fqdn: string, min: string): Reply => ({ code: 421, enhanced: "4.7.0", text: `${fqdn} TLS protocol below the minimum ${min}; closing connection`, close: true });
export const connectError = (fqdn: string): Reply => ({ code: 421, enhanced: "4.3.0", text: `${fqdn} Temporary server error, try again later`, close: true });

/** The EHLO reply; STARTTLS only while it can be used (RFC 3207: not after TLS). */
export function ehloReply(fqdn: string, remote: string, maxSize: number, startTls: boolean): Reply {
  const lines = [
    `${fqdn} Hello ${addressLiteral(remote)}`,
    `SIZE ${maxSize}`,
    "PIPELINING",
    "8BITMIME",
    "ENHANCEDSTATUSCODES",
    "DSN",
    "SMTPUTF8",
  ];
  if (startTls) lines.push("STARTTLS");
  return { code: 250, text: lines };
}

export function heloReply(fqdn: string, remote: string): Reply {
  return { code: 250, text: `${fqdn} Hello ${addressLiteral(remote)}` };
}

/** RFC 5321 4.1.3 address literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]". */
function addressLiteral(ip: string): string {
  return ip.includes(":") ? `[IPv6:${ip}]` : `[${ip}]`;
}

/**
 * The reply's wire lines (without CRLF). Text is sanitized: a hook's CR or LF
 * would otherwise let it (or whatever data it echoes) inject extra replies.
 */
export function replyLines(reply: Reply): string[] {
  const texts = typeof reply.text === "string" ? [reply.text] : reply.text.length ? reply.text : [""];
  const enh = reply.enhanced ? `${reply.enhanced} ` : "";
  const last = texts.length - 1;
  const out = new Array<string>(texts.length);
  for (let i = 0; i <= last; i++) {
    let t = texts[i] ?? "";
    if (t.includes("\r") || t.includes("\n")) t = t.replace(/[\r\n]+/g, " ");
    out[i] = `${reply.code}${i === last ? " " : "-"}${enh}${t}`;
  }
  return out;
}

/** The reply as sent: lines joined and terminated with CRLF. */
export function formatReply(reply: Reply): string {
  return replyLines(reply).join("\r\n") + "\r\n";
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}$/;

/** A hook's reply is used only when well formed; anything else becomes 451 4.3.0. */
export function isValidReply(x: unknown): x is Reply {
  if (typeof x !== "object" || x === null) return false;
  const rep = x as Reply;
  if (!Number.isInteger(rep.code) || rep.code < 200 || rep.code > 599) return false;
  if (rep.enhanced !== undefined && (typeof rep.enhanced !== "string" || !ENHANCED.test(rep.enhanced))) return false;
  if (typeof rep.text === "string") return true;
  return Array.isArray(rep.text) && rep.text.every((t) => typeof t === "string");
}
