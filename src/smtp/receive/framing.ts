// Byte-level framing of the SMTP input: command lines and the DATA body.
//
// Both readers work on Buffers with indexOf and never build strings byte by
// byte; they are the hot path of a benchmark against Postfix. Both are strict
// where leniency has been exploited:
//  - command lines end only in CRLF; a line ended by a bare LF is reported,
//    not executed (another MTA may split the same bytes differently);
//  - the message ends only at <CRLF>.<CRLF> (or ".<CRLF>" right after the 354),
//    and any bare CR or bare LF in the body is reported so that the session
//    refuses the whole message (SMTP smuggling, CVE-2023-51764 class).

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = Buffer.alloc(0);

/** RFC 5321 4.5.3.1.4: a command line is at most 512 octets; we allow 1000 including CRLF. */
export const MAX_COMMAND_LINE = 1000;
/** RFC 5322 2.1.1 / RFC 5321 4.5.3.1.6: 998 characters plus CRLF. */
export const MAX_TEXT_LINE = 1000;

export const enum LineKind {
  /** A line ended by CRLF; `line` excludes the CRLF. */
  Ok = 0,
  /** A line ended by LF without CR; `line` excludes the LF. */
  BareLf = 1,
  /** A line longer than the limit; `line` holds its first octets (for the log). */
  TooLong = 2,
}

export interface FramedLine {
  kind: LineKind;
  line: Buffer;
}

/**
 * Splits the command stream into lines. Input that is not yet a full line is
 * kept (PIPELINING clients send several commands per packet, slow ones send
 * half a command); an over-long line is dropped as it arrives and reported
 * once its end is seen, so memory stays bounded by the limit.
 */
export class CommandFramer {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private skipping: Buffer | undefined;

  constructor(private readonly maxLine: number = MAX_COMMAND_LINE) {}

  /** Octets received and not yet consumed. */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  push(chunk: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      // Only a partial line (or unprocessed pipelined commands) is copied.
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /** The next line, or undefined when more input is needed. */
  next(): FramedLine | undefined {
    const buf = this.buf;
    const start = this.pos;
    const lf = buf.indexOf(LF, start);
    if (lf === -1) {
      const avail = buf.length - start;
      // With `maxLine` octets and no LF yet, the line cannot end in time.
      if (avail >= this.maxLine || (this.skipping && avail > 0)) {
        this.skipping ??= Buffer.from(buf.subarray(start, start + 64));
        this.buf = EMPTY;
        this.pos = 0;
      }
      return undefined;
    }
    this.pos = lf + 1;
    if (this.skipping) {
      const head = this.skipping;
      this.skipping = undefined;
      return { kind: LineKind.TooLong, line: head };
    }
    if (lf + 1 - start > this.maxLine) return { kind: LineKind.TooLong, line: buf.subarray(start, start + 64) };
    if (lf === start || buf[lf - 1] !== CR) return { kind: LineKind.BareLf, line: buf.subarray(start, lf) };
    return { kind: LineKind.Ok, line: buf.subarray(start, lf - 1) };
  }

  /** Removes and returns all unconsumed input (handed to the DATA reader). */
  takeRest(): Buffer {
    const rest = this.pos === 0 ? this.buf : this.buf.subarray(this.pos);
    this.buf = EMPTY;
    this.pos = 0;
    return rest;
  }

  /** Drops all unconsumed input (STARTTLS: pipelined plaintext must never run); returns its length. */
  discard(): number {
    const n = this.buffered + (this.skipping ? 1 : 0);
    this.buf = EMPTY;
    this.pos = 0;
    this.skipping = undefined;
    return n;
  }
}

/** Defects found in a message body; any one refuses the message. */
export const enum DataFlaw {
  None = 0,
  BareLf = 1,
  BareCr = 2,
  Nul = 4,
  LongLine = 8,
  TooBig = 16,
}

export interface DataResult {
  /** The unstuffed message (empty when flaws is not None: nothing is kept then). */
  message: Buffer;
  /** Bitwise OR of DataFlaw. */
  flaws: number;
  /** Unstuffed octets seen (may exceed the maximum when TooBig). */
  size: number;
}

/**
 * Reads the DATA body. Chunks are kept as slices of the socket's own buffers
 * (one slice per chunk, split only where a stuffing dot is dropped) and joined
 * once at the end. After the first flaw nothing more is kept, but reading goes
 * on to the real end of the message so that the dialogue stays in step.
 */
export class DataReader {
  private parts: Buffer[] = [];
  private size = 0;
  private flaws = 0;
  /** Octets of the current line so far (unstuffed, including its CR/LF). */
  private lineLen = 0;
  /** At the start of a line: after CRLF, or the first octet after the 354. */
  private atLineStart = true;
  /** The previous chunk ended in CR: its meaning depends on the next octet. */
  private pendingCr = false;
  /** The previous chunk's last octet was that CR (tells whether an LF first in this chunk ends a CRLF). */
  private crBeforeFirst = false;
  /** "." or ".\r" at a line start at the end of a chunk: can't tell the end-of-data line yet. */
  private carry: Buffer | undefined;

  constructor(
    private readonly maxSize: number,
    private readonly maxLine: number = MAX_TEXT_LINE,
  ) {}

  /**
   * Consumes chunk[from..]. Returns the offset just past the terminating
   * ".\r\n" (the rest belongs to the next commands), or -1 when the message
   * has not ended yet.
   */
  feed(chunk: Buffer, from = 0): number {
    let buf = chunk;
    let pos = from;
    let shift = 0; // offset in `buf` minus offset in `chunk`
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk.subarray(from)]);
      shift = this.carry.length - from;
      pos = 0;
      this.carry = undefined;
    }
    const end = buf.length;
    const first = pos;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (pos < end && buf[pos] !== LF) this.flaws |= DataFlaw.BareCr;
      if (pos >= end) this.pendingCr = true; // empty chunk: still undecided
    }
    let runStart = pos; // start of the octets to keep from this chunk
    let nextCr = buf.indexOf(CR, pos);
    let nextNul = buf.indexOf(0, pos);

    while (pos < end) {
      if (this.atLineStart) {
        if (buf[pos] === DOT) {
          const avail = end - pos;
          if (avail < 3 && (avail === 1 || buf[pos + 1] === CR)) {
            this.keep(buf, runStart, pos);
            this.carry = Buffer.from(buf.subarray(pos));
            return -1;
          }
          if (buf[pos + 1] === CR && buf[pos + 2] === LF) {
            this.keep(buf, runStart, pos);
            return pos + 3 - shift;
          }
          // Dot-stuffing (RFC 5321 4.5.2): drop the first dot of the line.
          this.keep(buf, runStart, pos);
          pos++;
          runStart = pos;
        }
        this.atLineStart = false;
      }
      const lf = buf.indexOf(LF, pos);
      const segEnd = lf === -1 ? end : lf + 1;
      // Every CR inside [pos, segEnd) must be directly followed by LF.
      while (nextCr !== -1 && nextCr < segEnd) {
        if (nextCr + 1 < end) {
          if (buf[nextCr + 1] !== LF) this.flaws |= DataFlaw.BareCr;
        } else {
          this.pendingCr = true; // decided by the next chunk's first octet
        }
        nextCr = buf.indexOf(CR, nextCr + 1);
      }
      while (nextNul !== -1 && nextNul < segEnd) {
        this.flaws |= DataFlaw.Nul;
        nextNul = buf.indexOf(0, nextNul + 1);
      }
      this.lineLen += segEnd - pos;
      this.size += segEnd - pos;
      if (this.lineLen > this.maxLine) this.flaws |= DataFlaw.LongLine;
      if (lf !== -1) {
        // A CR split from its LF by a chunk boundary was seen as pendingCr by the previous chunk.
        const crlf = lf > first ? buf[lf - 1] === CR : this.crBeforeFirst;
        if (!crlf) this.flaws |= DataFlaw.BareLf;
        // Only a real CRLF starts a line that may hold the end-of-data dot.
        this.atLineStart = crlf;
        this.lineLen = 0;
      }
      this.crBeforeFirst = false;
      pos = segEnd;
    }
    this.keep(buf, runStart, end);
    this.crBeforeFirst = this.pendingCr;
    return -1;
  }

  private keep(buf: Buffer, start: number, end: number): void {
    if (this.size > this.maxSize) this.flaws |= DataFlaw.TooBig;
    if (this.flaws !== DataFlaw.None) {
      if (this.parts.length) this.parts = [];
      return;
    }
    if (end > start) this.parts.push(buf.subarray(start, end));
  }

  result(): DataResult {
    if (this.size > this.maxSize) this.flaws |= DataFlaw.TooBig;
    const message = this.flaws === DataFlaw.None ? Buffer.concat(this.parts, this.size) : EMPTY;
    this.parts = [];
    return { message, flaws: this.flaws, size: this.size };
  }
}
