// DATA framing (src/smtp/receive/framing.ts): dot-stuffing, the end of the
// message, and the bare CR / bare LF / NUL / line length / size flaws that
// refuse a message (SMTP smuggling protection).
//
// The input is used twice:
//  1. as the octets after the 354 reply, fed to DataReader and compared with
//     a reference written from RFC 5321 4.5.2 and the rules in framing.ts:
//     the message ends at the first ".<CRLF>" that starts the stream or
//     follows a real CRLF; the body before it is unstuffed (a leading dot is
//     removed from each line that starts after a CRLF); flaws are judged on
//     that body. An accepted message, relayed (stuffed again and followed
//     by ".<CRLF>"), is read by that same reference as exactly one message,
//     equal to it: nothing in it can end the message early at the next hop
//     or smuggle a second one.
//  2. as a whole session stream: commands, "DATA", the body, more commands,
//     the way session.ts hands the octets between CommandFramer and
//     DataReader.
// Both must give the same result however the octets are split into chunks
// (whole, one octet at a time, pseudo-random chunks, a chunk read from an
// offset).
import { CommandFramer, DataFlaw, DataReader, LineKind, type DataResult } from "../../../src/smtp/receive/framing.js";
import { byteSplits, check, pseudoRandomSplits, show } from "./support.js";

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

interface Limits {
  maxSize: number;
  maxLine: number;
}
const LIMITS: Limits[] = [
  { maxSize: 10 * 1024 * 1024, maxLine: 1000 },
  { maxSize: 300, maxLine: 40 },
];

interface Reference {
  /** Offset just past the terminating ".<CRLF>", or -1. */
  end: number;
  message: Buffer;
  flaws: number;
  size: number;
}

function reference(w: Buffer, lim: Limits): Reference {
  let e = -1;
  for (let i = 0; i + 3 <= w.length; i++) {
    if (w[i] === DOT && w[i + 1] === CR && w[i + 2] === LF && (i === 0 || (w[i - 2] === CR && w[i - 1] === LF))) {
      e = i;
      break;
    }
  }
  if (e < 0) return { end: -1, message: Buffer.alloc(0), flaws: 0, size: 0 };
  const body = w.subarray(0, e);
  const realLineStart = (p: number): boolean => p === 0 || (body[p - 2] === CR && body[p - 1] === LF);
  let flaws = 0;
  const kept: number[] = [];
  let lineLen = 0;
  for (let p = 0; p < body.length; p++) {
    const c = body[p] as number;
    if (c === CR && body[p + 1] !== LF) flaws |= DataFlaw.BareCr;
    if (c === LF && body[p - 1] !== CR) flaws |= DataFlaw.BareLf;
    if (c === 0) flaws |= DataFlaw.Nul;
    if (c === DOT && realLineStart(p)) continue; // the stuffing dot
    kept.push(c);
    lineLen++;
    if (lineLen > lim.maxLine) flaws |= DataFlaw.LongLine;
    if (c === LF) lineLen = 0;
  }
  if (kept.length > lim.maxSize) flaws |= DataFlaw.TooBig;
  return { end: e + 3, message: flaws ? Buffer.alloc(0) : Buffer.from(kept), flaws, size: kept.length };
}

/** RFC 5321 4.5.2 transparency, the sender's side. */
function stuff(message: Buffer): Buffer {
  const out: Buffer[] = [];
  let start = true;
  for (let p = 0; p < message.length; p++) {
    if (start && message[p] === DOT) out.push(Buffer.from("."));
    out.push(message.subarray(p, p + 1));
    start = message[p] === LF && message[p - 1] === CR;
  }
  return Buffer.concat(out);
}

interface Fed {
  end: number;
  result?: DataResult;
}

/** Feeds chunks in order; `end` is the offset in the whole stream where the reader said the message ended. */
function feedChunks(chunks: Buffer[], lim: Limits, from = 0): Fed {
  const r = new DataReader(lim.maxSize, lim.maxLine);
  let offset = 0;
  for (const [i, c] of chunks.entries()) {
    const skip = i === 0 ? from : 0;
    const end = r.feed(c, skip);
    if (end >= 0) {
      check(end >= skip && end <= c.length, () => `feed returned ${end} for a chunk of ${c.length} octets read from ${skip}`);
      return { end: offset + end - from, result: r.result() };
    }
    offset += c.length;
  }
  return { end: -1 };
}

function sameResult(ref: Reference, got: Fed, how: string, w: Buffer): void {
  check(got.end === ref.end, () => `${how}: the message ended at ${got.end}, the reference at ${ref.end}, in ${show(w)}`);
  if (ref.end < 0 || !got.result) return;
  const r = got.result;
  check(r.flaws === ref.flaws, () => `${how}: flaws ${r.flaws}, the reference ${ref.flaws}, in ${show(w)}`);
  check(r.size === ref.size, () => `${how}: size ${r.size}, the reference ${ref.size}`);
  check(r.message.equals(ref.message), () => `${how}: message ${show(r.message)}, the reference ${show(ref.message)}`);
}

/** The message relayed to a next hop that reads like the reference: one message, the same. */
function relaysIntact(message: Buffer, how: string): void {
  const wire = Buffer.concat([stuff(message), Buffer.from(".\r\nQUIT\r\n")]);
  const next = reference(wire, { maxSize: Number.MAX_SAFE_INTEGER, maxLine: Number.MAX_SAFE_INTEGER });
  check(next.end === wire.length - 6, () => `${how}: the accepted message ${show(message)} relayed ends at ${next.end} of ${wire.length - 6}`);
  check(next.flaws === DataFlaw.None && next.message.equals(message), () => `${how}: the accepted message ${show(message)} relayed reads as ${show(next.message)} (flaws ${next.flaws})`);
}

function body(w: Buffer): void {
  for (const lim of LIMITS) {
    const ref = reference(w, lim);
    sameResult(ref, feedChunks([w], lim), "one chunk", w);
    sameResult(ref, feedChunks(byteSplits(w), lim), "octet by octet", w);
    sameResult(ref, feedChunks(pseudoRandomSplits(w, lim.maxLine), lim), "random chunks", w);
    // A chunk read from an offset (the part before it belongs to the commands).
    const k = w.length % 7;
    const junk = Buffer.alloc(k, 0x41);
    sameResult(ref, feedChunks([Buffer.concat([junk, w])], lim, k), `one chunk from offset ${k}`, w);
    const fed = feedChunks([w], lim);
    if (fed.result && fed.result.flaws === DataFlaw.None) relaysIntact(fed.result.message, "one chunk");
  }
}

// ---- the session stream --------------------------------------------------

type Event = string;

/** session.ts pump(): command lines until DATA, then the body, then commands again. */
function session(chunks: Buffer[]): Event[] {
  const framer = new CommandFramer();
  const events: Event[] = [];
  let reader: DataReader | undefined;
  const pump = (): void => {
    for (;;) {
      if (reader) {
        if (framer.buffered === 0) return;
        const chunk = framer.takeRest();
        const end = reader.feed(chunk);
        if (end < 0) return;
        if (end < chunk.length) framer.push(chunk.subarray(end));
        const r = reader.result();
        events.push(`data ${r.flaws} ${r.size} ${r.message.toString("latin1")}`);
        reader = undefined;
      } else {
        const fl = framer.next();
        if (!fl) return;
        events.push(`line ${fl.kind} ${fl.line.toString("latin1")}`);
        if (fl.kind === LineKind.Ok && fl.line.toString("latin1").toUpperCase() === "DATA") reader = new DataReader(1000, 100);
      }
    }
  };
  for (const c of chunks) {
    framer.push(c);
    pump();
  }
  events.push(reader ? "in data" : `buffered ${framer.buffered}`);
  return events;
}

function stream(data: Buffer): void {
  const whole = session([data]);
  for (const [how, chunks] of [
    ["octet by octet", byteSplits(data)],
    ["random chunks", pseudoRandomSplits(data, 1)],
  ] as const) {
    const got = session(chunks);
    check(got.length === whole.length && got.every((e, i) => e === whole[i]), () => {
      const i = got.findIndex((e, j) => e !== whole[j]);
      return `session stream ${how}: event ${i} is ${show(got[i] ?? "(none)")} instead of ${show(whole[i] ?? "(none)")}`;
    });
  }
}

export function fuzz(data: Buffer): void {
  body(data);
  stream(data);
}
