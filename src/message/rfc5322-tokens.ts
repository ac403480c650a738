// Lexical tokens of structured header field bodies (RFC 5322 §3.2, RFC 2045
// §5.1), pure and linear-time: CFWS with nested comments and quoted-pairs
// inside them, quoted-strings with quoted-pairs, folding (CRLF followed by
// WSP, removed before lexing as RFC 5322 §2.2.3 says), and runs of token
// characters delimited by a caller's set of specials (MIME's tspecials for
// RFC 2045 `value`s, RFC 5322's specials for atoms). Comments and whitespace
// are skipped; anything the grammar does not allow is an error lexeme, after
// which the lexer stays in error. Octets of 0x80 and above are token,
// comment and quoted-string characters (RFC 6532), so a field decoded as
// Latin-1 (one character per octet) keeps its octets.

/** RFC 2045 §5.1 tspecials: the delimiters of a MIME `token`. */
export const MIME_TSPECIALS = '()<>@,;:\\"/[]?=';
/** RFC 5322 §3.2.3 specials: the delimiters of an `atom`. */
export const RFC5322_SPECIALS = '()<>[]:;@\\,."';

export type LexError =
  /** A comment that is still open at the end of the text. */
  | "unterminated-comment"
  /** A ")" outside any comment. */
  | "unbalanced-parenthesis"
  /** A quoted-string that is still open at the end of the text. */
  | "unterminated-quoted-string"
  /** A CR or LF that is not part of a fold (CRLF followed by WSP). */
  | "bare-line-break"
  /** An ASCII control character (other than HTAB) outside comments. */
  | "control-character";

export type Lexeme =
  | { kind: "token"; text: string; start: number; end: number }
  /** `text`: the content, quoted-pairs resolved, the quotes removed. */
  | { kind: "quoted-string"; text: string; start: number; end: number }
  | { kind: "special"; text: string; start: number; end: number }
  | { kind: "end"; start: number; end: number }
  | { kind: "error"; reason: LexError; start: number; end: number };

const isWsp = (c: number): boolean => c === 0x20 || c === 0x09;
const isCtl = (c: number): boolean => c < 0x20 || c === 0x7f;

const tables = new Map<string, Uint8Array>();

/** A lookup table of the ASCII delimiters: the specials given, and always "(", ")", '"' and "\\". */
function specialTable(specials: string): Uint8Array {
  let t = tables.get(specials);
  if (!t) {
    t = new Uint8Array(128);
    for (const c of `${specials}()"\\`) if (c.charCodeAt(0) < 0x80) t[c.charCodeAt(0)] = 1;
    if (tables.size < 16) tables.set(specials, t);
  }
  return t;
}

/** RFC 5322 §2.2.3 unfolding: every CRLF immediately followed by WSP is removed. */
export function unfold(s: string): string {
  return s.indexOf("\r\n") < 0 ? s : s.replace(/\r\n(?=[\t ])/g, "");
}

/**
 * Lexes a field body. Offsets (`start`, `end`) are in the unfolded text
 * (`lexer.text`). Each character is looked at once, whatever the nesting
 * depth of comments.
 */
export class Tokenizer {
  readonly text: string;
  private pos = 0;
  private readonly special: Uint8Array;
  private failed: Lexeme | undefined;

  constructor(body: string, specials: string = MIME_TSPECIALS) {
    this.text = unfold(body);
    this.special = specialTable(specials);
  }

  /** Position just after the last lexeme returned (or the CFWS skipped). */
  get position(): number {
    return this.pos;
  }

  /** The next lexeme after any CFWS. */
  next(): Lexeme {
    if (this.failed) return this.failed;
    const skipped = this.skipCfws();
    if (skipped) return (this.failed = skipped);
    const s = this.text;
    const start = this.pos;
    if (start >= s.length) return { kind: "end", start, end: start };
    const c = s.charCodeAt(start);
    if (c === 0x22) return this.quotedString();
    if (c === 0x29) return this.fail("unbalanced-parenthesis", start, start + 1);
    if (c === 0x0d || c === 0x0a) return this.fail("bare-line-break", start, start + 1);
    if (isCtl(c)) return this.fail("control-character", start, start + 1);
    if (c < 0x80 && this.special[c] === 1) {
      this.pos = start + 1;
      return { kind: "special", text: s[start] as string, start, end: start + 1 };
    }
    let i = start;
    while (i < s.length) {
      const d = s.charCodeAt(i);
      if (isWsp(d) || isCtl(d) || (d < 0x80 && this.special[d] === 1)) break;
      i++;
    }
    this.pos = i;
    return { kind: "token", text: s.slice(start, i), start, end: i };
  }

  /** Every lexeme up to and including the `end` or the first `error`. */
  all(): Lexeme[] {
    const out: Lexeme[] = [];
    for (;;) {
      const l = this.next();
      out.push(l);
      if (l.kind === "end" || l.kind === "error") return out;
    }
  }

  private fail(reason: LexError, start: number, end: number): Lexeme {
    this.pos = end;
    return (this.failed = { kind: "error", reason, start, end });
  }

  /** Skips WSP and comments (nested, with quoted-pairs); an error lexeme if a comment is broken. */
  private skipCfws(): Lexeme | undefined {
    const s = this.text;
    let i = this.pos;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (isWsp(c)) {
        i++;
        continue;
      }
      if (c !== 0x28) break;
      const open = i;
      let depth = 1;
      i++;
      while (depth > 0) {
        if (i >= s.length) return this.fail("unterminated-comment", open, s.length);
        const d = s.charCodeAt(i);
        if (d === 0x5c) {
          // quoted-pair: the next character, whatever it is (obs-qp included)
          if (i + 1 >= s.length) return this.fail("unterminated-comment", open, s.length);
          i += 2;
          continue;
        }
        if (d === 0x0d || d === 0x0a) return this.fail("bare-line-break", i, i + 1);
        if (d === 0x28) depth++;
        else if (d === 0x29) depth--;
        i++;
      }
    }
    this.pos = i;
    return undefined;
  }

  private quotedString(): Lexeme {
    const s = this.text;
    const start = this.pos;
    let i = start + 1;
    let text = "";
    let run = i;
    for (;;) {
      if (i >= s.length) return this.fail("unterminated-quoted-string", start, s.length);
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x0d || c === 0x0a) return this.fail("bare-line-break", i, i + 1);
      if (c === 0x5c) {
        if (i + 1 >= s.length) return this.fail("unterminated-quoted-string", start, s.length);
        text += s.slice(run, i) + s[i + 1];
        i += 2;
        run = i;
        continue;
      }
      i++;
    }
    text += s.slice(run, i);
    this.pos = i + 1;
    return { kind: "quoted-string", text, start, end: i + 1 };
  }
}

/** Lexes a whole field body (see `Tokenizer`). */
export function tokenize(body: string, specials: string = MIME_TSPECIALS): Lexeme[] {
  return new Tokenizer(body, specials).all();
}
