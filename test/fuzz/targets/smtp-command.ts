// SMTP command stream: the command line framer (src/smtp/receive/framing.ts)
// and the MAIL FROM / RCPT TO parsers (src/smtp/receive/parse.ts), fed the
// way the session feeds them.
//
// Invariants:
//  - the framer yields the same lines however the stream is split into
//    chunks (whole, one octet at a time, pseudo-random splits), loses and
//    duplicates no octet, and respects its line limits;
//  - the parsers never throw; a refusal is a valid 5xx reply;
//  - an accepted path holds no control character, re-parses to itself, is
//    ASCII unless SMTPUTF8 applies, and fits RFC 5321's length limits;
//  - accepted parameters are well-formed (SIZE within the maximum, ENVID
//    xtext, NOTIFY values).
import { isUtf8 } from "node:buffer";
import { CommandFramer, LineKind, MAX_COMMAND_LINE, type FramedLine } from "../../../src/smtp/receive/framing.js";
import { isXtext, parseMailFrom, parsePath, parseRcptTo, type Parsed } from "../../../src/smtp/receive/parse.js";
import { isValidReply } from "../../../src/smtp/receive/replies.js";
import { byteSplits, check, pseudoRandomSplits, show } from "./support.js";

const MAX_SIZE = 10 * 1024 * 1024;

interface Framed {
  lines: FramedLine[];
  rest: number;
}

function frame(chunks: Buffer[]): Framed {
  const f = new CommandFramer();
  const lines: FramedLine[] = [];
  for (const c of chunks) {
    f.push(c);
    for (let l = f.next(); l; l = f.next()) lines.push({ kind: l.kind, line: Buffer.from(l.line) });
  }
  return { lines, rest: f.buffered };
}

function sameFraming(a: Framed, b: Framed, how: string): void {
  check(a.lines.length === b.lines.length, () => `${how}: ${b.lines.length} lines instead of ${a.lines.length}`);
  a.lines.forEach((l, i) => {
    const m = b.lines[i] as FramedLine;
    check(l.kind === m.kind && l.line.equals(m.line), () => `${how}: line ${i} is ${m.kind}:${show(m.line)} instead of ${l.kind}:${show(l.line)}`);
  });
}

function checkFraming(data: Buffer, f: Framed): void {
  let tooLong = false;
  const parts: Buffer[] = [];
  for (const l of f.lines) {
    check(!l.line.includes(0x0a), () => `a framed line holds LF: ${show(l.line)}`);
    if (l.kind === LineKind.Ok) {
      check(l.line.length <= MAX_COMMAND_LINE - 2, () => `an accepted command line is ${l.line.length} octets long`);
      parts.push(l.line, Buffer.from("\r\n"));
    } else if (l.kind === LineKind.BareLf) {
      check(l.line.length <= MAX_COMMAND_LINE - 1, () => `a bare-LF line is ${l.line.length} octets long`);
      check(l.line.length === 0 || l.line[l.line.length - 1] !== 0x0d, "a line ended by CRLF was reported as bare LF");
      parts.push(l.line, Buffer.from("\n"));
    } else {
      check(l.line.length <= 64, "a too-long line's head is longer than 64 octets");
      tooLong = true;
    }
  }
  if (!tooLong) {
    // Without dropped lines, lines + terminators + what is still buffered is the input.
    const rebuilt = Buffer.concat(parts);
    check(rebuilt.length + f.rest === data.length, () => `the framer consumed ${rebuilt.length} + ${f.rest} octets of ${data.length}`);
    check(rebuilt.equals(data.subarray(0, rebuilt.length)), "the framed lines are not the input");
  }
}

/** The session's decoding of a command line (session.ts line()): undefined when it refuses the octets. */
function decode(b: Buffer): string | undefined {
  let ascii = true;
  for (const c of b) {
    if (c === 0x0d || c === 0) return undefined;
    if (c >= 0x80) ascii = false;
  }
  if (ascii) return b.toString("latin1");
  return isUtf8(b) ? b.toString("utf8") : undefined;
}

function checkAddress(address: string, nonAsciiAllowed: boolean, forward: boolean, where: string): void {
  check(!/[\x00-\x1f\x7f]/.test(address), () => `${where}: an accepted address holds a control character: ${show(address)}`);
  check(Buffer.byteLength(address) <= 254, () => `${where}: an accepted address is ${Buffer.byteLength(address)} octets long`);
  if (!nonAsciiAllowed) check(!/[^\x00-\x7f]/.test(address), () => `${where}: a non-ASCII address was accepted without SMTPUTF8: ${show(address)}`);
  const again = parsePath(`<${address}>`, 0, forward);
  check(again !== undefined, () => `${where}: the accepted address ${show(address)} does not parse again`);
  check(again.path.address === address && again.next === address.length + 2, () => `${where}: ${show(address)} parses again as ${show(again.path.address)}`);
}

function checkRefusal(r: Parsed<unknown>, where: string): void {
  if (r.ok) return;
  check(isValidReply(r.reply) && r.reply.code >= 500 && r.reply.code <= 599, () => `${where}: refusal is not a valid 5xx reply: ${JSON.stringify(r.reply)}`);
}

function commands(text: string): void {
  // session.ts command(): verb up to the first space, the argument trimmed.
  const sp = text.indexOf(" ");
  const arg = sp < 0 ? "" : text.slice(sp + 1).trim();
  for (const a of [arg, text]) {
    const mail = parseMailFrom(a, MAX_SIZE);
    checkRefusal(mail, "MAIL");
    if (mail.ok) {
      checkAddress(mail.address, mail.params.smtputf8 === true, false, "MAIL");
      const p = mail.params;
      if (p.size !== undefined) check(Number.isSafeInteger(p.size) && p.size >= 0 && p.size <= MAX_SIZE, `SIZE=${p.size} was accepted`);
      if (p.envid !== undefined) check(p.envid.length <= 100 && isXtext(p.envid), `ENVID=${p.envid} was accepted`);
    }
    for (const utf8 of [false, true]) {
      const rcpt = parseRcptTo(a, utf8);
      checkRefusal(rcpt, "RCPT");
      if (rcpt.ok) {
        check(rcpt.address !== "", "RCPT accepted the null path");
        checkAddress(rcpt.address, utf8, true, "RCPT");
        const n = rcpt.params.notify;
        if (n) check(n.length > 0 && (n.length === 1 || !n.includes("NEVER")), `NOTIFY=${n.join(",")} was accepted`);
        if (rcpt.params.orcpt !== undefined) check(rcpt.params.orcpt.indexOf(";") > 0, `ORCPT=${rcpt.params.orcpt} was accepted`);
      }
    }
  }
  // parsePath on its own, wherever a path could start.
  const lt = text.indexOf("<");
  if (lt >= 0) {
    for (const forward of [false, true]) {
      const p = parsePath(text, lt, forward);
      if (p) {
        check(p.next > lt && p.next <= text.length && text.charCodeAt(p.next - 1) === 0x3e, "parsePath returned an index not after a '>'");
        checkAddress(p.path.address, true, forward, "parsePath");
      }
    }
  }
}

export function fuzz(data: Buffer): void {
  const whole = frame([data]);
  checkFraming(data, whole);
  sameFraming(whole, frame(byteSplits(data)), "octet by octet");
  sameFraming(whole, frame(pseudoRandomSplits(data)), "random chunks");
  for (const l of whole.lines) {
    if (l.kind !== LineKind.Ok) continue;
    const text = decode(l.line);
    if (text !== undefined) commands(text);
  }
}
