// An incremental RFC 4180 reader for the protocol logs: text goes in as it is
// read (any chunk boundaries), whole records come out. A quoted field may hold
// commas, doubled quotes, CR and LF; a record ends at CRLF, LF or CR outside
// quotes. Lines starting with "#" (Exchange's header lines) come out as
// comments, blank lines are skipped.
//
// Written for logs, which may be cut or damaged: a stray quote inside an
// unquoted field is kept as text, a record longer than maxRecordChars is
// dropped up to the next LF (so one unterminated quote cannot pull the rest of
// a large file into memory), and an unterminated quoted field at the very end
// (a line still being written) is dropped.

export type CsvItem = { kind: "record"; fields: string[] } | { kind: "comment"; text: string };

const enum S {
  RecordStart,
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted field: a doubled quote or the field's end. */
  QuoteInQuoted,
  Comment,
  /** Dropping an over-long record up to the next LF. */
  Skip,
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
const HASH = 0x23;

export const DEFAULT_MAX_RECORD_CHARS = 1024 * 1024;

export class CsvParser {
  private state = S.RecordStart;
  private fields: string[] = [];
  private field = "";
  private comment = "";
  /** A CR ended the last record: an LF right after it belongs to the same line end. */
  private afterCr = false;
  private chars = 0;

  constructor(private readonly maxRecordChars = DEFAULT_MAX_RECORD_CHARS) {}

  /** Parses a chunk; complete records and comments are passed to `emit` in order. */
  push(chunk: string, emit: (item: CsvItem) => void): void {
    const len = chunk.length;
    let i = 0;
    while (i < len) {
      const c = chunk.charCodeAt(i);
      if (this.afterCr) {
        this.afterCr = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      switch (this.state) {
        case S.RecordStart:
          if (c === HASH) {
            this.state = S.Comment;
            this.comment = "#";
            i++;
          } else if (c === CR || c === LF) {
            this.afterCr = c === CR;
            i++;
          } else {
            this.state = S.FieldStart;
          }
          break;
        case S.FieldStart:
          if (c === QUOTE) {
            this.state = S.Quoted;
            i++;
          } else {
            this.state = S.Unquoted;
          }
          break;
        case S.Unquoted: {
          let j = i;
          while (j < len) {
            const d = chunk.charCodeAt(j);
            if (d === COMMA || d === CR || d === LF) break;
            j++;
          }
          i = this.take(chunk, i, j);
          if (i < len && this.state === S.Unquoted) {
            this.delimiter(chunk.charCodeAt(i), emit);
            i++;
          }
          break;
        }
        case S.Quoted: {
          const j = chunk.indexOf('"', i);
          i = this.take(chunk, i, j < 0 ? len : j);
          if (j >= 0 && this.state === S.Quoted) {
            this.state = S.QuoteInQuoted;
            i++;
          }
          break;
        }
        case S.QuoteInQuoted:
          if (c === QUOTE) {
            this.state = S.Quoted;
            i = this.take(chunk, i, i + 1);
          } else if (c === COMMA || c === CR || c === LF) {
            this.delimiter(c, emit);
            i++;
          } else {
            // "abc"x: not RFC 4180; keep the text rather than lose the row.
            this.state = S.Unquoted;
          }
          break;
        case S.Comment: {
          let j = i;
          while (j < len) {
            const d = chunk.charCodeAt(j);
            if (d === CR || d === LF) break;
            j++;
          }
          if (this.comment.length < this.maxRecordChars) this.comment += chunk.slice(i, Math.min(j, i + this.maxRecordChars));
          i = j;
          if (i < len) {
            this.afterCr = chunk.charCodeAt(i) === CR;
            emit({ kind: "comment", text: this.comment });
            this.comment = "";
            this.state = S.RecordStart;
            i++;
          }
          break;
        }
        case S.Skip: {
          const j = chunk.indexOf("\n", i);
          if (j < 0) {
            i = len;
          } else {
            this.state = S.RecordStart;
            i = j + 1;
          }
          break;
        }
      }
    }
  }

  /** The end of the text: a last record without a line end is emitted, a cut-off quoted field is not. */
  end(emit: (item: CsvItem) => void): void {
    if (this.state === S.Comment) emit({ kind: "comment", text: this.comment });
    else if (this.state === S.Unquoted || this.state === S.QuoteInQuoted || (this.state === S.FieldStart && this.fields.length > 0)) this.endRecord(emit);
    this.reset();
    this.state = S.RecordStart;
    this.afterCr = false;
  }

  /**
   * Adds chunk[from, to) to the field and returns `to`; when that would make
   * the record too long, drops the record and returns where skipping starts.
   */
  private take(chunk: string, from: number, to: number): number {
    const room = this.maxRecordChars - this.chars;
    if (to - from > room) {
      this.reset();
      this.state = S.Skip;
      return from + Math.max(0, room);
    }
    this.field += chunk.slice(from, to);
    this.chars += to - from;
    return to;
  }

  private delimiter(c: number, emit: (item: CsvItem) => void): void {
    if (c === COMMA) {
      this.fields.push(this.field);
      this.field = "";
      this.state = S.FieldStart;
      return;
    }
    this.endRecord(emit);
    this.afterCr = c === CR;
    this.state = S.RecordStart;
  }

  private endRecord(emit: (item: CsvItem) => void): void {
    this.fields.push(this.field);
    const fields = this.fields;
    this.reset();
    emit({ kind: "record", fields });
  }

  private reset(): void {
    this.fields = [];
    this.field = "";
    this.chars = 0;
  }
}

/** Parses a whole text (records and comments). */
export function parseCsv(text: string, maxRecordChars?: number): CsvItem[] {
  const out: CsvItem[] = [];
  const p = new CsvParser(maxRecordChars);
  p.push(text, (item) => out.push(item));
  p.end((item) => out.push(item));
  return out;
}
