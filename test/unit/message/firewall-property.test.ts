// Properties of the header firewall (stripForgedHeaders): any RFC 5322 /
// RFC 8601 wrapping of one of our ids (CFWS with nested comments and
// quoted-pairs, quoting, folding, a version, the name spelled loosely, a
// UTS #46 spelling of the id) is removed; a foreign id so wrapped is kept;
// nothing throws on arbitrary bytes; and a second pass finds nothing to
// remove (removing a field never makes a new one).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { classifyAuthservId, parseAuthservId, stripForgedHeaders } from "../../../src/message/headers.js";
import { tokenize } from "../../../src/message/rfc5322-tokens.js";

const OWN = ["contoso.com", "mail1.contoso.com", "edge-2.contoso.com"];

const wsp = fc.constantFrom(" ", "\t", "  ");
const fold = fc.constantFrom("\r\n ", "\r\n\t", " \r\n  ");
/** ctext: printable ASCII but "(", ")" and "\", plus some 8-bit text; and our ids, which a comment may name. */
const ctext = fc.oneof(
  fc.stringMatching(/^[!-'*-[\]-~]{1,6}$/),
  fc.constantFrom("\u00fcber", "\uff43", "contoso.com", '"', ";", "x-domain-secure=pass"),
);
const quotedPair = fc.constantFrom("\\(", "\\)", "\\\\", "\\a", '\\"', "\\ ");

const comment: fc.Arbitrary<string> = fc.letrec<{ comment: string }>((tie) => ({
  comment: fc
    .array(fc.oneof({ depthSize: "small", withCrossShrink: true }, ctext, quotedPair, wsp, fold, tie("comment")), { maxLength: 5 })
    .map((parts) => `(${parts.join("")})`),
})).comment;

/** CFWS, possibly empty. */
const cfws = fc.array(fc.oneof(wsp, fold, comment), { maxLength: 4 }).map((p) => p.join(""));
/** CFWS that separates two tokens: at least a space, or a comment. */
const sep = fc.tuple(cfws, fc.oneof(wsp, fold, comment), cfws).map((p) => p.join(""));

const DOTS = ["\uff0e", "\u3002", "\uff61"];
/** A spelling of an own id that is the same id as a domain: case, fullwidth forms, other dots, soft hyphens, trailing dots. */
function spelled(id: string): fc.Arbitrary<string> {
  return fc
    .tuple(fc.array(fc.integer({ min: 0, max: 7 }), { minLength: id.length, maxLength: id.length }), fc.integer({ min: 0, max: 2 }))
    .map(([choices, dots]) => {
      let out = "";
      [...id].forEach((ch, i) => {
        const k = choices[i] as number;
        if (k === 1) out += ch.toUpperCase();
        else if (k === 2 && /[a-z0-9-]/.test(ch)) out += String.fromCharCode(ch.charCodeAt(0) + 0xfee0);
        else if (k >= 3 && k <= 5 && ch === ".") out += DOTS[k - 3];
        else if (k === 6 && /[a-z]/.test(ch)) out += `${ch}\u00ad`;
        else out += ch;
      });
      return out + ".".repeat(dots);
    });
}

/** As a token (when it can be one) or as a quoted-string with some characters quoted-paired. */
function written(id: string): fc.Arbitrary<string> {
  const quoted = fc.array(fc.boolean(), { minLength: id.length, maxLength: id.length }).map((esc) => `"${[...id].map((c, i) => (esc[i] ? `\\${c}` : c)).join("")}"`);
  return /^[^\s()<>@,;:\\"/[\]?=]+$/.test(id) ? fc.oneof(fc.constant(id), quoted) : quoted;
}

const fieldName = fc
  .tuple(fc.array(fc.boolean(), { minLength: 22, maxLength: 22 }), fc.constantFrom("", " ", "\t ", "\r\n "))
  .map(([up, before]) => `${[..."authentication-results"].map((c, i) => (up[i] ? c.toUpperCase() : c)).join("")}${before}:`);

/** A whole Authentication-Results field (UTF-8, CRLF-terminated) for an authserv-id as written. */
function arField(id: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(fieldName, cfws, id, fc.option(fc.tuple(sep, fc.stringMatching(/^[0-9]{1,3}$/)).map(([s, v]) => s + v), { nil: "" }), cfws, fc.constantFrom(" x-domain-secure=pass", "none", " spf=pass smtp.mailfrom=contoso.com"))
    .map(([name, pre, idText, version, post, rest]) => `${name}${pre}${idText}${version}${post};${rest}\r\n`);
}

const others = fc.array(fc.constantFrom("From: a@example.net\r\n", "Subject: s\r\n", "X-Folded: a\r\n b\r\n", "Authentication-Results: example.net; none\r\n", "Received: from x\r\n\tby y; Sun, 29 Nov 2026 06:00:00 +0000\r\n"), { maxLength: 4 });

function message(before: string[], field: string, after: string[]): { with: Buffer; without: Buffer } {
  const head = before.join("");
  const tail = `${after.join("")}\r\nbody\r\n`;
  return { with: Buffer.from(head + field + tail, "utf8"), without: Buffer.from(head + tail, "utf8") };
}

test("any CFWS / comment / quoting / folding wrapping of an own id, in any domain spelling: the field is removed", () => {
  const ownId = fc.constantFrom(...OWN).chain(spelled).chain(written);
  fc.assert(
    fc.property(others, arField(ownId), others, (before, field, after) => {
      const m = message(before, field, after);
      const out = stripForgedHeaders(m.with, OWN);
      assert.equal(out.message.toString("latin1"), m.without.toString("latin1"), JSON.stringify(field));
    }),
    { numRuns: 400 },
  );
});

test("any such wrapping of a foreign id: the field is kept as written", () => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
  const foreign = fc
    .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.constantFrom("example", "woodgrovebank.com", "contoso.com.example", "com"))
    .map(([ls, tld]) => `${ls.join(".")}.${tld}`)
    .filter((d) => !OWN.includes(d))
    .chain((d) => fc.tuple(fc.array(fc.boolean(), { minLength: d.length, maxLength: d.length }), fc.constant(d)))
    .map(([up, d]) => [...d].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(""))
    .chain(written);
  fc.assert(
    fc.property(others, arField(foreign), others, (before, field, after) => {
      const m = message(before, field, after);
      const out = stripForgedHeaders(m.with, OWN);
      assert.equal(out.message, m.with, JSON.stringify(field));
    }),
    { numRuns: 400 },
  );
});

/** Arbitrary header sections: lines of field-like text, marks among them, any line ends. */
const messyMessage = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.constantFrom("Authentication-Results: contoso.com; x=pass", "Authentication-Results: (a (b) ", "x) contoso.com; x", "X-MS-Exchange-Organization-AuthAs: Partner", " : Partner", "Authentication-Results", "Subject: s", "", " ", '"contoso.com"', "\xef\xbb\xbf"),
      ),
      fc.constantFrom("\r\n", "\r\n", "\n", "\r", "\r\n ", ""),
    ),
    { maxLength: 12 },
  )
  .map((lines) => Buffer.from(lines.map(([l, e]) => l + e).join(""), "latin1"));

/**
 * What a reader that takes CRLF, a bare LF or a bare CR for a line end sees
 * as marks of ours: X-MS-Exchange-Organization-* fields, and
 * Authentication-Results fields whose authserv-id is not provably foreign.
 */
function lenientMarks(msg: Buffer): string[] {
  const fields: string[] = [];
  for (const line of msg.toString("latin1").split(/\r\n|\r|\n/)) {
    if (line === "") break;
    if ((line.startsWith(" ") || line.startsWith("\t")) && fields.length) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  return fields.filter((f) => {
    const colon = f.indexOf(":");
    if (colon < 0) return false;
    const name = f.slice(0, colon).trim().toLowerCase();
    if (name.startsWith("x-ms-exchange-organization-")) return true;
    if (name !== "authentication-results") return false;
    const r = parseAuthservId(f.slice(colon + 1));
    return !("id" in r) || classifyAuthservId(r.id, OWN) !== "foreign";
  });
}

test("arbitrary bytes: nothing throws, the result is the input less whole fields, a second pass removes nothing, and a reader taking bare CR or LF for line ends finds no mark", () => {
  fc.assert(
    fc.property(fc.oneof(messyMessage, fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a))), (msg) => {
      const once = stripForgedHeaders(msg, OWN);
      const twice = stripForgedHeaders(once.message, OWN);
      assert.deepEqual(twice.removed, [], JSON.stringify(msg.toString("latin1")));
      assert.ok(once.message.length <= msg.length);
      assert.deepEqual(lenientMarks(once.message), [], JSON.stringify(msg.toString("latin1")));
      // What is left is the input's bytes in order (only whole fields were cut out).
      const rest = once.message.toString("latin1");
      const all = msg.toString("latin1");
      let j = 0;
      for (let i = 0; i < rest.length; i++) {
        j = all.indexOf(rest[i] as string, j);
        assert.ok(j >= 0);
        j++;
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 60 }), (s) => {
      const r = parseAuthservId(s);
      assert.ok("id" in r || typeof r.error === "string");
      const lx = tokenize(s);
      assert.ok(["end", "error"].includes((lx[lx.length - 1] as { kind: string }).kind));
    }),
    { numRuns: 2000 },
  );
});
