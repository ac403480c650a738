import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { deliverToMaildir, encodeLocalPart, isNormalizedDomain, maildirRoot, MAX_ENCODED_LOCAL_PART } from "../../../src/delivery/maildir.js";
import { isSealpostError } from "../../../src/errors/errors.js";

const HOSTILE = [
  "..",
  ".",
  "...",
  "../../x",
  '"../../x"',
  "..\\..\\x",
  "/etc/passwd",
  "a/../../b",
  "a\\b",
  "a\0b",
  "\0",
  ".hidden",
  "",
  " ",
  "tmp",
  "new/../..",
  "%2e%2e",
  "%2F",
  "_",
  "=",
  "Ünïcödé",
  "用户",
  "\u202e..",
  "ǅ",
  "x".repeat(300),
  "/".repeat(300),
  "a@b",
  "CON",
  "\r\n",
];

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), "sealpost-maildir-"));
}

test("encodeLocalPart yields one safe, non-empty path component for any string", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom(...HOSTILE)), (s) => {
      const e = encodeLocalPart(s);
      assert.ok(e.length > 0 && Buffer.byteLength(e) <= 255);
      assert.match(e, /^[a-z0-9_+%=-][a-z0-9._+%=A-F-]*$/);
      assert.ok(!e.startsWith("."));
      assert.equal(path.posix.basename(e), e);
      assert.equal(path.win32.basename(e), e);
      assert.equal(path.dirname(path.join("/r/d", e)), "/r/d");
    }),
    { numRuns: 2000 },
  );
});

test("encodeLocalPart is injective on lower-cased input and leaves ordinary names readable", () => {
  assert.equal(encodeLocalPart("John.Smith+tag"), "john.smith+tag");
  assert.equal(encodeLocalPart(".x"), "%2Ex");
  assert.equal(encodeLocalPart("a/b"), "a%2Fb");
  assert.equal(encodeLocalPart("%2F"), "%252f");
  assert.equal(encodeLocalPart(""), "=");
  assert.equal(encodeLocalPart("="), "%3D");
  assert.equal(encodeLocalPart("a_b"), "a_b");
  const long = encodeLocalPart("x".repeat(300));
  assert.ok(long.length <= MAX_ENCODED_LOCAL_PART && long.includes("="));
  assert.notEqual(long, encodeLocalPart("x".repeat(301)));
  fc.assert(
    fc.property(fc.string(), fc.string(), (a, b) => {
      const [la, lb] = [a.normalize("NFC").toLowerCase(), b.normalize("NFC").toLowerCase()];
      assert.equal(encodeLocalPart(a) === encodeLocalPart(b), la === lb);
    }),
    { numRuns: 2000 },
  );
});

test("domains must be normalized", () => {
  for (const d of ["example.com", "a.b-c.d", "xn--bcher-kva.example", "localhost", "1.2.3.4"]) assert.ok(isNormalizedDomain(d), d);
  for (const d of ["", ".", "..", "../x", "Example.com", "a..b", ".a", "a.", "-a.com", "a-.com", "a_b.com", "a/b", "a\\b", "bü.de", "a b", `${"a".repeat(64)}.com`]) {
    assert.ok(!isNormalizedDomain(d), d);
  }
});

test("hostile local parts all land inside DIR/maildir/<domain>/, with exact content and an empty tmp/", async () => {
  const dir = tmp();
  try {
    const root = maildirRoot(dir);
    const domainDir = path.join(root, "example.com");
    const seen = new Set<string>();
    for (const local of HOSTILE) {
      const msg = Buffer.from(`Subject: ${JSON.stringify(local)}\r\n\r\nbody\r\n`);
      const prepend = Buffer.from("Delivered-To: x@example.com\r\n");
      const file = await deliverToMaildir(root, "example.com", local, msg, { prepend });
      const real = realpathSync(file);
      assert.ok(real.startsWith(realpathSync(domainDir) + path.sep), `${JSON.stringify(local)} escaped to ${real}`);
      const box = path.dirname(path.dirname(real));
      assert.equal(path.dirname(box), realpathSync(domainDir));
      assert.equal(path.basename(path.dirname(real)), "new");
      assert.deepEqual(readFileSync(file), Buffer.concat([prepend, msg]));
      assert.deepEqual(readdirSync(path.join(box, "tmp")), []);
      assert.ok(existsSync(path.join(box, "cur")));
      assert.equal(statSync(box).mode & 0o777, 0o700);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      seen.add(`${box}|${local.toLowerCase()}`);
    }
    // Nothing was created outside the domain folder.
    assert.deepEqual(readdirSync(root), ["example.com"]);
    assert.deepEqual(readdirSync(dir), ["maildir"]);
    assert.equal(seen.size, new Set(HOSTILE.map((h) => h.toLowerCase())).size);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a non-normalized domain is refused before anything is written", async () => {
  const dir = tmp();
  try {
    for (const d of ["..", "../evil", "Example.com", "a/b", ""]) {
      await assert.rejects(deliverToMaildir(maildirRoot(dir), d, "user", Buffer.from("x")), (e) => isSealpostError(e, "INVALID_DOMAIN"));
    }
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("concurrent deliveries to one mailbox get unique names and all arrive", async () => {
  const dir = tmp();
  try {
    const root = maildirRoot(dir);
    const files = await Promise.all(Array.from({ length: 100 }, (_, i) => deliverToMaildir(root, "example.com", "user", Buffer.from(`message ${i}\r\n`))));
    assert.equal(new Set(files).size, 100);
    const box = path.join(root, "example.com", "user");
    const names = readdirSync(path.join(box, "new"));
    assert.equal(names.length, 100);
    for (const n of names) assert.match(n, /^\d+\.M\d+P\d+Q\d+\..+$/);
    const bodies = new Set(files.map((f) => readFileSync(f, "utf8")));
    assert.equal(bodies.size, 100);
    assert.deepEqual(readdirSync(path.join(box, "tmp")), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a mailbox removed while the server runs is created again", async () => {
  const dir = tmp();
  try {
    const root = maildirRoot(dir);
    await deliverToMaildir(root, "example.com", "user", Buffer.from("one\r\n"));
    rmSync(path.join(root, "example.com"), { recursive: true });
    const file = await deliverToMaildir(root, "example.com", "user", Buffer.from("two\r\n"));
    assert.equal(readFileSync(file, "utf8"), "two\r\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
