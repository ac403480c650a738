// Framing: command lines (CRLF only, 1000-octet limit) and the DATA body
// (end only at <CRLF>.<CRLF>, dot-unstuffing, smuggling/NUL/long-line/size
// flaws), checked on examples and, for DATA, against an independent byte-by-
// byte model under arbitrary chunk splits.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CommandFramer, DataFlaw, DataReader, LineKind } from "../../../src/smtp/receive/framing.js";

const b = (s: string): Buffer => Buffer.from(s, "latin1");

function lines(f: CommandFramer): Array<[LineKind, string]> {
  const out: Array<[LineKind, string]> = [];
  for (let l = f.next(); l; l = f.next()) out.push([l.kind, l.line.toString("latin1")]);
  return out;
}

test("CommandFramer: CRLF lines, partial lines kept across chunks", () => {
  const f = new CommandFramer();
  f.push(b("EHLO a\r\nMAIL FR"));
  assert.deepEqual(lines(f), [[LineKind.Ok, "EHLO a"]]);
  assert.equal(f.buffered, 7);
  f.push(b("OM:<a@b>\r"));
  assert.deepEqual(lines(f), []);
  f.push(b("\nNOOP\r\n"));
  assert.deepEqual(lines(f), [
    [LineKind.Ok, "MAIL FROM:<a@b>"],
    [LineKind.Ok, "NOOP"],
  ]);
  assert.equal(f.buffered, 0);
});

test("CommandFramer: a line ended by a bare LF is reported, not returned as a command", () => {
  const f = new CommandFramer();
  f.push(b("NOOP\nQUIT\r\n\n"));
  assert.deepEqual(lines(f), [
    [LineKind.BareLf, "NOOP"],
    [LineKind.Ok, "QUIT"],
    [LineKind.BareLf, ""],
  ]);
});

test("CommandFramer: 1000 octets including CRLF pass, 1001 are too long (whole or split), the next line is fine", () => {
  const ok = "N".repeat(998) + "\r\n";
  const long = "X".repeat(999) + "\r\n";
  const f = new CommandFramer();
  f.push(b(ok + long + "NOOP\r\n"));
  const got = lines(f);
  assert.equal(got.length, 3);
  assert.deepEqual(got[0], [LineKind.Ok, "N".repeat(998)]);
  assert.equal(got[1]![0], LineKind.TooLong);
  assert.deepEqual(got[2], [LineKind.Ok, "NOOP"]);

  // A very long line arriving in pieces is dropped as it comes (bounded memory) and reported once.
  const g = new CommandFramer();
  for (let i = 0; i < 50; i++) {
    g.push(b("Y".repeat(700)));
    assert.deepEqual(lines(g), []);
    assert.ok(g.buffered < 1000, "buffer stays bounded");
  }
  g.push(b("\r\nRSET\r\n"));
  const after = lines(g);
  assert.equal(after.length, 2);
  assert.equal(after[0]![0], LineKind.TooLong);
  assert.ok(after[0]![1].startsWith("YYYY"));
  assert.deepEqual(after[1], [LineKind.Ok, "RSET"]);
});

test("CommandFramer: takeRest hands over unread input; discard drops it", () => {
  const f = new CommandFramer();
  f.push(b("DATA\r\nSubject: x\r\n"));
  assert.equal(f.next()?.line.toString(), "DATA");
  assert.equal(f.takeRest().toString(), "Subject: x\r\n");
  assert.equal(f.buffered, 0);
  f.push(b("STARTTLS\r\nMAIL FROM:<a@b.c>\r\n"));
  f.next();
  assert.equal(f.discard(), 19);
  assert.equal(f.next(), undefined);
});

/** Feeds chunks until the end; returns the end offset within the concatenated input (-1 if none). */
function runReader(chunks: Buffer[], max = 1 << 20): { end: number; message: string; flaws: number; size: number } {
  const r = new DataReader(max);
  let offset = 0;
  for (const c of chunks) {
    const end = r.feed(c);
    if (end >= 0) {
      const res = r.result();
      return { end: offset + end, message: res.message.toString("latin1"), flaws: res.flaws, size: res.size };
    }
    offset += c.length;
  }
  return { end: -1, message: "", flaws: 0, size: 0 };
}

test("DataReader: unstuffing, end of data, the rest belongs to the next commands", () => {
  const input = "Subject: t\r\n\r\n..leading dot\r\n...two\r\n.\r\nQUIT\r\n";
  const r = new DataReader(1000);
  const end = r.feed(b(input));
  assert.equal(b(input).subarray(end).toString(), "QUIT\r\n");
  const res = r.result();
  assert.equal(res.flaws, DataFlaw.None);
  assert.equal(res.message.toString(), "Subject: t\r\n\r\n.leading dot\r\n..two\r\n");
});

test("DataReader: '.' CRLF right after the 354 is an empty message", () => {
  const got = runReader([b(".\r\nNOOP\r\n")]);
  assert.deepEqual(got, { end: 3, message: "", flaws: 0, size: 0 });
});

test("DataReader: smuggling forms never end the message and are flagged", () => {
  const cases: Array<[string, string, number]> = [
    ["LF.LF", "a\n.\nMAIL FROM:<x@y.z>\r\n", DataFlaw.BareLf],
    ["CRLF.LF", "a\r\n.\nMAIL FROM:<x@y.z>\r\n", DataFlaw.BareLf],
    ["LF.CRLF", "a\n.\r\nMAIL FROM:<x@y.z>\r\n", DataFlaw.BareLf],
    ["bare LF", "a\nb\r\n", DataFlaw.BareLf],
    ["bare CR", "a\rb\r\n", DataFlaw.BareCr],
    ["CR.CR", "a\r.\rMAIL FROM:<x@y.z>\r\n", DataFlaw.BareCr],
    ["CRLF.CR", "a\r\n.\rMAIL FROM:<x@y.z>\r\n", DataFlaw.BareCr],
  ];
  for (const [name, body, flaw] of cases) {
    const input = body + "tail\r\n.\r\n";
    const got = runReader([b(input)]);
    assert.equal(got.end, input.length, `${name}: ends only at the real <CRLF>.<CRLF>`);
    assert.equal(got.flaws & flaw, flaw, `${name}: flagged`);
    assert.equal(got.message, "", `${name}: nothing kept`);
  }
});

test("DataReader: a CRLF and the end-of-data line split across chunks at every position", () => {
  const input = "one\r\n..two\r\nthree\r\n.\r\nQUIT\r\n";
  const endAt = input.indexOf("\r\n.\r\n") + 5;
  for (let i = 1; i < input.length; i++) {
    for (let j = i; j < input.length; j++) {
      const got = runReader([b(input.slice(0, i)), b(input.slice(i, j)), b(input.slice(j))]);
      assert.equal(got.end, endAt, `split ${i},${j}`);
      assert.equal(got.flaws, 0, `split ${i},${j}`);
      assert.equal(got.message, "one\r\n.two\r\nthree\r\n", `split ${i},${j}`);
    }
  }
});

test("DataReader: NUL, over-long line and size are flagged, the end is still found", () => {
  assert.equal(runReader([b("a\0b\r\n.\r\n")]).flaws, DataFlaw.Nul);
  const line998 = "x".repeat(998) + "\r\n";
  assert.equal(runReader([b(line998 + ".\r\n")]).flaws, 0);
  // A stuffed line of 998 characters is 999 on the wire: still within the limit once unstuffed.
  assert.equal(runReader([b("." + "." + "x".repeat(997) + "\r\n.\r\n")]).flaws, 0);
  const long = runReader([b("y".repeat(999) + "\r\n.\r\n")]);
  assert.equal(long.flaws, DataFlaw.LongLine);
  assert.equal(long.end, 1004);
  const big = runReader([b("0123456789\r\n".repeat(10)), b("0123456789\r\n.\r\nQUIT\r\n")], 100);
  assert.equal(big.flaws, DataFlaw.TooBig);
  assert.equal(big.size, 132);
  assert.equal(big.message, "");
  assert.equal(big.end, 120 + 12 + 3);
  const exact = runReader([b("x".repeat(98) + "\r\n.\r\n")], 100);
  assert.deepEqual([exact.flaws, exact.size], [0, 100]);
});

/** Independent byte-at-a-time model of the DATA rules (whole input at once). */
function model(input: Buffer, max: number): { end: number; message: string; flaws: number } {
  const out: number[] = [];
  let flaws = 0;
  let atLineStart = true;
  let lineLen = 0;
  for (let i = 0; i < input.length; i++) {
    if (atLineStart) {
      atLineStart = false;
      if (input[i] === 0x2e) {
        if (input[i + 1] === 0x0d && input[i + 2] === 0x0a) {
          if (out.length > max) flaws |= DataFlaw.TooBig;
          return { end: i + 3, message: flaws ? "" : Buffer.from(out).toString("latin1"), flaws };
        }
        i++;
        if (i >= input.length) break;
      }
    }
    const c = input[i]!;
    out.push(c);
    lineLen++;
    if (c === 0) flaws |= DataFlaw.Nul;
    if (c === 0x0d && i + 1 < input.length && input[i + 1] !== 0x0a) flaws |= DataFlaw.BareCr;
    if (c === 0x0a) {
      const crlf = i > 0 && input[i - 1] === 0x0d;
      if (!crlf) flaws |= DataFlaw.BareLf;
      if (lineLen > 1000) flaws |= DataFlaw.LongLine;
      lineLen = 0;
      atLineStart = crlf;
    } else if (lineLen > 1000) flaws |= DataFlaw.LongLine;
  }
  return { end: -1, message: "", flaws };
}

test("DataReader agrees with the byte-by-byte model under any chunking (property)", () => {
  const token = fc.constantFrom("a", "bc", ".", "..", "\r", "\n", "\r\n", "\r\n.", "\0", "\r\n.\r\n", "\r\n..\r\n", "x".repeat(300));
  fc.assert(
    fc.property(fc.array(token, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), fc.integer({ min: 1, max: 400 }), (tokens, cuts, max) => {
      const input = b(tokens.join("") + "\r\n.\r\nNEXT\r\n");
      const expected = model(input, max);
      const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((x, y) => x - y);
      const chunks: Buffer[] = [];
      let prev = 0;
      for (const p of points) {
        chunks.push(input.subarray(prev, p));
        prev = p;
      }
      chunks.push(input.subarray(prev));
      const got = runReader(chunks, max);
      assert.equal(got.end, expected.end);
      assert.equal(got.flaws, expected.flaws);
      assert.equal(got.message, expected.message);
    }),
    { numRuns: 3000 },
  );
});
