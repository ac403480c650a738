import { test } from "node:test";
import assert from "node:assert/strict";
import { MIME_TSPECIALS, RFC5322_SPECIALS, tokenize, Tokenizer, unfold, type Lexeme } from "../../../src/message/rfc5322-tokens.js";

/** Lexemes as short strings: t:token q:quoted-string s:special end err:<reason>. */
function lex(body: string, specials = MIME_TSPECIALS): string[] {
  return tokenize(body, specials).map((l: Lexeme) => {
    switch (l.kind) {
      case "token":
        return `t:${l.text}`;
      case "quoted-string":
        return `q:${l.text}`;
      case "special":
        return `s:${l.text}`;
      case "end":
        return "end";
      case "error":
        return `err:${l.reason}`;
    }
  });
}

test("tokens and specials, whitespace skipped", () => {
  assert.deepEqual(lex(" contoso.com 1; spf=pass"), ["t:contoso.com", "t:1", "s:;", "t:spf", "s:=", "t:pass", "end"]);
  assert.deepEqual(lex("\tcontoso.com;none"), ["t:contoso.com", "s:;", "t:none", "end"]);
  assert.deepEqual(lex(""), ["end"]);
  assert.deepEqual(lex("   "), ["end"]);
});

test("comments are skipped: nested, with quoted-pairs, escaped parentheses", () => {
  assert.deepEqual(lex("(a (b) c) contoso.com;"), ["t:contoso.com", "s:;", "end"]);
  assert.deepEqual(lex("(x\\) y) contoso.com;"), ["t:contoso.com", "s:;", "end"]);
  assert.deepEqual(lex("(a\\(b) contoso.com;"), ["t:contoso.com", "s:;", "end"]);
  assert.deepEqual(lex("(c\\\\) contoso.com;"), ["t:contoso.com", "s:;", "end"], "an escaped backslash does not escape the parenthesis");
  assert.deepEqual(lex("((((deep) (er)))) x (y)(z) 1 (v);"), ["t:x", "t:1", "s:;", "end"]);
  assert.deepEqual(lex('("not a string) x;'), ["t:x", "s:;", "end"], "a quote inside a comment is a comment character");
  assert.deepEqual(lex("contoso(c)1;"), ["t:contoso", "t:1", "s:;", "end"], "a comment delimits tokens");
  assert.deepEqual(lex("(\u00fcber \xff) x;"), ["t:x", "s:;", "end"], "8-bit comment text");
});

test("quoted-strings: quoted-pairs resolved, specials and comments inside are text", () => {
  assert.deepEqual(lex('"contoso.com"; x'), ["q:contoso.com", "s:;", "t:x", "end"]);
  assert.deepEqual(lex('"cont\\oso.com";'), ["q:contoso.com", "s:;", "end"]);
  assert.deepEqual(lex('"a\\"b" ;'), ['q:a"b', "s:;", "end"]);
  assert.deepEqual(lex('"(c) ;x";'), ["q:(c) ;x", "s:;", "end"]);
  assert.deepEqual(lex('"a\\\\";'), ["q:a\\", "s:;", "end"]);
  assert.deepEqual(lex('""'), ["q:", "end"]);
});

test("folding: CRLF followed by WSP is removed wherever whitespace may be, inside comments and quoted-strings too", () => {
  assert.equal(unfold("a\r\n b\r\n\tc\r\nd"), "a b\tc\r\nd");
  assert.deepEqual(lex("\r\n\t(c)\r\n contoso.com\r\n\t1 (v\r\n w)\r\n ;"), ["t:contoso.com", "t:1", "s:;", "end"]);
  assert.deepEqual(lex('"conto\r\n so.com";'), ["q:conto so.com", "s:;", "end"]);
  assert.deepEqual(lex("(a\\\r\n b) x;"), ["t:x", "s:;", "end"], "a quoted-pair before a fold escapes the WSP");
});

test("what the grammar does not allow is an error, and the lexer stays in error", () => {
  assert.deepEqual(lex("(unbalanced contoso.com;"), ["err:unterminated-comment"]);
  assert.deepEqual(lex("((a) contoso.com;"), ["err:unterminated-comment"]);
  assert.deepEqual(lex("(a\\"), ["err:unterminated-comment"]);
  assert.deepEqual(lex('"contoso.com;'), ["err:unterminated-quoted-string"]);
  assert.deepEqual(lex('"a\\'), ["err:unterminated-quoted-string"]);
  assert.deepEqual(lex("a) b"), ["t:a", "err:unbalanced-parenthesis"]);
  assert.deepEqual(lex("a\nb"), ["t:a", "err:bare-line-break"]);
  assert.deepEqual(lex("a\r\nb"), ["t:a", "err:bare-line-break"], "CRLF without WSP is not a fold");
  assert.deepEqual(lex("(a\rb) c"), ["err:bare-line-break"]);
  assert.deepEqual(lex('"a\nb"'), ["err:bare-line-break"]);
  assert.deepEqual(lex("a\x01b"), ["t:a", "err:control-character"]);
  const t = new Tokenizer("(x");
  const e = t.next();
  assert.equal(e.kind, "error");
  assert.equal(t.next(), e);
});

test("specials are the caller's: MIME tspecials or RFC 5322 specials", () => {
  assert.deepEqual(lex("a.b/c=d"), ["t:a.b", "s:/", "t:c", "s:=", "t:d", "end"]);
  assert.deepEqual(lex("a.b/c=d", RFC5322_SPECIALS), ["t:a", "s:.", "t:b/c=d", "end"]);
  assert.deepEqual(lex("a\\b"), ["t:a", "s:\\", "t:b", "end"], "a backslash outside quotes is a special, not an escape");
});

test("offsets are in the unfolded text", () => {
  const t = new Tokenizer(" (c)\r\n abc ;");
  assert.equal(t.text, " (c) abc ;");
  const l = t.next();
  assert.deepEqual(l, { kind: "token", text: "abc", start: 5, end: 8 });
  assert.equal(t.position, 8);
});

test("a megabyte of nested comments is lexed (no recursion, one pass)", () => {
  const n = 512 * 1024;
  assert.deepEqual(lex(`${"(".repeat(n)}x${")".repeat(n)} contoso.com;`), ["t:contoso.com", "s:;", "end"]);
  assert.deepEqual(lex(`${"(".repeat(n)}x${")".repeat(n - 1)} contoso.com;`), ["err:unterminated-comment"]);
  assert.deepEqual(lex(`${"(\\)".repeat(n / 2)}`), ["err:unterminated-comment"]);
});
