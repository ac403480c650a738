import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CsvParser, parseCsv, type CsvItem } from "../../../src/protolog/csv.js";
import { csvField } from "../../../src/protolog/protocol-log.js";

const records = (items: CsvItem[]): string[][] => items.filter((i) => i.kind === "record").map((i) => (i as { fields: string[] }).fields);

/** Parses text fed in the given chunk sizes (cycling). */
function chunked(text: string, sizes: number[]): CsvItem[] {
  const out: CsvItem[] = [];
  const p = new CsvParser();
  let i = 0;
  let k = 0;
  while (i < text.length) {
    const n = Math.max(1, sizes[k++ % sizes.length] ?? 1);
    p.push(text.slice(i, i + n), (x) => out.push(x));
    i += n;
  }
  p.end((x) => out.push(x));
  return out;
}

test("plain fields, empty fields and CRLF / LF / CR line ends", () => {
  assert.deepEqual(records(parseCsv("a,b,c\r\n1,,3\n,x,\r")), [
    ["a", "b", "c"],
    ["1", "", "3"],
    ["", "x", ""],
  ]);
  // A last line without its line end still counts.
  assert.deepEqual(records(parseCsv("a,b\r\nc,d")), [
    ["a", "b"],
    ["c", "d"],
  ]);
  assert.deepEqual(records(parseCsv("a,\r\n")), [["a", ""]]);
});

test("RFC 4180 quoting: commas, doubled quotes, CR and LF inside quoted fields", () => {
  const text = '2026-11-29T06:00:00.000Z,Inet,1,"a,b","say ""hi""","line1\r\nline2","x\ny",""\r\nnext,row\r\n';
  assert.deepEqual(records(parseCsv(text)), [
    ["2026-11-29T06:00:00.000Z", "Inet", "1", "a,b", 'say "hi"', "line1\r\nline2", "x\ny", ""],
    ["next", "row"],
  ]);
});

test("'#' lines are comments only at the start of a record; blank lines are skipped", () => {
  const items = parseCsv('#Software: Sealpost\r\n#Fields: a,b\r\n\r\n\r\nx,#y\r\n"#z",1\r\n#last');
  assert.deepEqual(items, [
    { kind: "comment", text: "#Software: Sealpost" },
    { kind: "comment", text: "#Fields: a,b" },
    { kind: "record", fields: ["x", "#y"] },
    { kind: "record", fields: ["#z", "1"] },
    { kind: "comment", text: "#last" },
  ]);
});

test("the same records whatever the chunk boundaries (CRLF and quotes split across chunks)", () => {
  const text = '#Date: x\r\na,"b,""c""\r\nd",e\r\n"",f\r\ng,h\r\n';
  const whole = parseCsv(text);
  for (const sizes of [[1], [2], [3], [1, 2, 5], [7]]) assert.deepEqual(chunked(text, sizes), whole, `chunks ${sizes.join(",")}`);
});

test("damage: a stray quote in an unquoted field is kept, text after a closing quote is kept, an unterminated quote at the end is dropped", () => {
  assert.deepEqual(records(parseCsv('ab"c,d\r\n"x"y,z\r\n')), [
    ['ab"c', "d"],
    ["xy", "z"],
  ]);
  assert.deepEqual(records(parseCsv('ok,1\r\n"cut off, still being writ')), [["ok", "1"]]);
});

test("an over-long record is dropped up to the next LF and parsing goes on", () => {
  const long = `"${"x".repeat(5000)}`; // never closed
  const items = parseCsv(`a,b\r\n${long}\r\nc,d\r\n`, 1000);
  assert.deepEqual(records(items), [
    ["a", "b"],
    ["c", "d"],
  ]);
});

test("property: whatever the fields, csvField + the parser give them back, in any chunking", () => {
  const field = fc.string({ unit: fc.constantFrom("a", "b", ",", '"', "\r", "\n", " ", "#", "é", "x") });
  fc.assert(
    fc.property(fc.array(fc.array(field, { minLength: 2, maxLength: 6 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }), (rows, sizes) => {
      // A row is never a comment or blank line in the log: its first field is a timestamp.
      const withTs = rows.map((r) => ["2026-11-29T00:00:00.000Z", ...r]);
      const text = withTs.map((r) => `${r.map(csvField).join(",")}\r\n`).join("");
      assert.deepEqual(records(chunked(text, sizes)), withTs);
    }),
    { numRuns: 300 },
  );
});
