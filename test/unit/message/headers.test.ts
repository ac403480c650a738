import { test } from "node:test";
import assert from "node:assert/strict";
import { authservIdOf, classifyAuthservId, domainSecureResults, parseAuthservId, parseHeaderFields, prependFields, receivedField, stripForgedHeaders } from "../../../src/message/headers.js";

const msg = Buffer.from(
  [
    "Authentication-Results: contoso.com; x-domain-secure=pass",
    "Authentication-Results: (forged)",
    "  MAIL1.contoso.com; spf=pass",
    "Authentication-Results: woodgrovebank.com; dkim=pass",
    "X-MS-Exchange-Organization-AuthAs: Partner",
    "x-ms-exchange-organization-authdomain:",
    "\twoodgrovebank.com",
    "Subject: hello",
    "",
    "Authentication-Results: contoso.com; in the body stays",
    "",
  ].join("\r\n"),
);

test("forged Authentication-Results and X-MS-Exchange-Organization-* fields are removed, folded lines too", () => {
  const { message, removed } = stripForgedHeaders(msg, ["contoso.com", "mail1.contoso.com"]);
  assert.deepEqual(removed, ["Authentication-Results", "Authentication-Results", "X-MS-Exchange-Organization-AuthAs", "x-ms-exchange-organization-authdomain"]);
  assert.equal(
    message.toString(),
    ["Authentication-Results: woodgrovebank.com; dkim=pass", "Subject: hello", "", "Authentication-Results: contoso.com; in the body stays", ""].join("\r\n"),
  );
});

test("a message with nothing to remove is returned as is", () => {
  const clean = Buffer.from("Subject: x\r\n\r\nbody\r\n");
  assert.equal(stripForgedHeaders(clean, ["contoso.com"]).message, clean);
  assert.deepEqual(parseHeaderFields(Buffer.from("\r\nbody")), []);
});

test("authserv-id parsing skips comments and versions", () => {
  assert.equal(authservIdOf("(c) Contoso.com 1; spf=pass"), "contoso.com");
  assert.equal(authservIdOf("contoso.com;none"), "contoso.com");
});

test("marks: Received with TLS facts, and the Authentication-Results line in the given syntax", () => {
  const r = receivedField({ heloName: "mail.woodgrovebank.com", remoteAddress: "127.0.0.1", byName: "mail1.contoso.com", id: "0A1B", date: new Date("2026-11-29T06:00:00Z"), protocol: "ESMTPS", tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", clientSubject: "CN=woodgrovebank.com", clientIssuer: "CN=Woodgrove Issuing CA", verified: true } });
  assert.match(r, /^Received: from mail\.woodgrovebank\.com \(\[127\.0\.0\.1\]\)\r\n\tby mail1\.contoso\.com \(Sealpost\) with ESMTPS id 0A1B/);
  assert.match(r, /using TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384/);
  assert.match(r, /client certificate subject "CN=woodgrovebank\.com", issuer "CN=Woodgrove Issuing CA", verified OK/);
  assert.match(r, /;\r\n\tSun, 29 Nov 2026 06:00:00 \+0000\r\n$/);
  assert.equal(domainSecureResults("contoso.com", "woodgrovebank.com", "AB12"), "Authentication-Results: contoso.com; x-domain-secure=pass smtp.mailfrom=woodgrovebank.com x-domain-secure.cert=AB12\r\n");
  assert.equal(prependFields(Buffer.from("S: x\r\n\r\n"), ["A: 1\r\n", "B: 2\r\n"]).toString(), "A: 1\r\nB: 2\r\nS: x\r\n\r\n");
});

const OWN = ["contoso.com", "mail1.contoso.com"];
/** Whether stripForgedHeaders removes the field (given with its CRLF) from a message around it. */
function removes(field: string, ownIds = OWN): boolean {
  const before = Buffer.from(`From: a@example.net\r\n${field}Subject: s\r\n\r\nbody\r\n`, "latin1");
  const { message } = stripForgedHeaders(before, ownIds);
  if (message.equals(before)) return false;
  assert.equal(message.toString("latin1"), "From: a@example.net\r\nSubject: s\r\n\r\nbody\r\n", "the field goes whole, nothing else");
  return true;
}
const utf8Field = (s: string) => Buffer.from(s, "utf8").toString("latin1");

test("the attack as found: the authserv-id behind nested comments, an escaped parenthesis, or quoted", () => {
  assert.ok(removes("Authentication-Results: (a (b) c) contoso.com; x-domain-secure=pass\r\n"));
  assert.ok(removes("Authentication-Results: (x\\) y) contoso.com; x-domain-secure=pass\r\n"));
  assert.ok(removes('Authentication-Results: "contoso.com"; x-domain-secure=pass\r\n'));
});

test("authserv-id syntax: CFWS, quoted-pairs, folding, a version", () => {
  for (const f of [
    'Authentication-Results: "cont\\oso.com"; x-domain-secure=pass\r\n',
    "Authentication-Results: (c\\\\) contoso.com; x-domain-secure=pass\r\n",
    "Authentication-Results:\r\n (c)\r\n\tcontoso.com\r\n 1\r\n (v) ; x-domain-secure=pass\r\n",
    "Authentication-Results: contoso.com(c)1(d);x-domain-secure=pass\r\n",
    'Authentication-Results: "mail1.contoso.com" 1; none\r\n',
  ]) {
    assert.ok(removes(f), f);
  }
  assert.deepEqual(parseAuthservId(' (a) "x\\"y" 12 (b) ; none'), { id: 'x"y', quoted: true, version: "12" });
  assert.deepEqual(parseAuthservId("example.net;"), { id: "example.net", quoted: false });
});

test("the authserv-id is compared as a domain: case, trailing dots, UTS #46 spellings", () => {
  for (const id of ["CONTOSO.COM", "contoso.com.", "Contoso.Com..", "\uff43\uff4f\uff4e\uff54\uff4f\uff53\uff4f\uff0e\uff43\uff4f\uff4d", "contoso\u3002com", "contoso\uff61com", "con\u00adtoso.com", "contoso.com\u200b", "xn--contoso-.com", "MAIL1.contoso.com", "contoso%2ecom", "contoso.com\u00a0"]) {
    assert.ok(removes(utf8Field(`Authentication-Results: ${id.includes("\u00a0") ? `"${id}"` : id}; x-domain-secure=pass\r\n`)), id);
  }
  // Internationalized own ids: the A-label and the U-label are the same id.
  assert.equal(classifyAuthservId(utf8Field("b\u00fccher.example"), ["xn--bcher-kva.example"]), "own");
  assert.equal(classifyAuthservId("XN--BCHER-KVA.example", ["b\u00fccher.example"]), "own");
  assert.equal(classifyAuthservId(utf8Field("B\u00dcCHER.example."), ["b\u00fccher.example"]), "own");
  // Transitional readers map ß to ss.
  assert.equal(classifyAuthservId(utf8Field("stra\u00dfe.example"), ["strasse.example"]), "own");
  // Read as Latin-1, ª is "a" to UTS #46.
  assert.equal(classifyAuthservId("cont\u00aaso.com", ["contaso.com"]), "unknown", "not UTF-8: cannot be shown to differ");
  assert.equal(classifyAuthservId(utf8Field("caf\u00e9.example"), OWN), "foreign");
  assert.equal(classifyAuthservId(utf8Field("\u0441ontoso.com"), OWN), "foreign", "a Cyrillic look-alike is another domain");
});

test("an authserv-id that cannot be parsed or compared is removed, never passed", () => {
  for (const f of [
    "Authentication-Results: (unbalanced contoso.com; x-domain-secure=pass\r\n",
    "Authentication-Results: ((a) foreign.example; x-domain-secure=pass\r\n",
    'Authentication-Results: "foreign.example; x-domain-secure=pass\r\n',
    "Authentication-Results: ; x-domain-secure=pass\r\n",
    "Authentication-Results:\r\n",
    "Authentication-Results: x-domain-secure=pass\r\n",
    "Authentication-Results: foreign.example\r\n",
    "Authentication-Results: foreign.example contoso.com; x-domain-secure=pass\r\n",
    "Authentication-Results: contoso . com; x-domain-secure=pass\r\n",
    "Authentication-Results: foreign.example) ; x=y\r\n",
    "Authentication-Results: foreign.example 1.0; x=y\r\n",
    'Authentication-Results: "" ; none\r\n',
    'Authentication-Results: "contoso.com " ; none\r\n',
    'Authentication-Results: "a@contoso.com" ; none\r\n',
    "Authentication-Results: \xffcontoso.com; none\r\n",
    "Authentication-Results: contoso.com\u200d; none\r\n",
    `Authentication-Results: ${"a".repeat(2000)}.example; none\r\n`,
  ]) {
    assert.ok(removes(f), JSON.stringify(f.slice(0, 80)));
  }
});

test("foreign authserv-ids are kept, however they are written", () => {
  for (const f of [
    "Authentication-Results: woodgrovebank.com; spf=pass smtp.mailfrom=contoso.com\r\n",
    "Authentication-Results: (a (contoso.com) c) woodgrovebank.com 1; dkim=pass\r\n",
    'Authentication-Results: "mx.woodgrovebank.com"; none\r\n',
    "Authentication-Results:\r\n (x\\) y)\r\n woodgrovebank.com\r\n ; none\r\n",
    "Authentication-Results: sub.contoso.com; none\r\n",
    "Authentication-Results: contoso.com.example; none\r\n",
    utf8Field("Authentication-Results: b\u00fccher.example; none\r\n"),
  ]) {
    assert.ok(!removes(f), f);
  }
});

test("field names: case, whitespace before the colon, a folded name, X-MS-Exchange-Organization-* alike", () => {
  for (const f of [
    "authentication-RESULTS: contoso.com; x-domain-secure=pass\r\n",
    "Authentication-Results \t: contoso.com; x-domain-secure=pass\r\n",
    "Authentication-Results\r\n : contoso.com; x-domain-secure=pass\r\n",
    "Authentication-\r\n Results: contoso.com; x-domain-secure=pass\r\n",
    "X-MS-Exchange-Organization-AuthAs\r\n : Partner\r\n",
    "x-ms-exchange-organization-authdomain \t:\r\n woodgrovebank.com\r\n",
    "X-MS-EXCHANGE-ORGANIZATION-SCL: -1\r\n",
  ]) {
    assert.ok(removes(f), f);
  }
  for (const f of ["X-Authentication-Results: contoso.com; none\r\n", "Authentication-Results-X: contoso.com; none\r\n", "X-MS-Exchange-Organization: x\r\n", "Subject: Authentication-Results: contoso.com; x\r\n"]) {
    assert.ok(!removes(f), f);
  }
  assert.deepEqual(
    parseHeaderFields(Buffer.from("Subject\r\n : a\r\nX  :b\r\nno colon\r\n\r\n")).map((f) => f.name),
    ["Subject", "X", ""],
  );
});

test("a field at the very start of the message, after a byte-order mark, or as a leading folded line", () => {
  const strip = (s: string) => stripForgedHeaders(Buffer.from(s, "latin1"), OWN).message.toString("latin1");
  assert.equal(strip("Authentication-Results: (a (b) c) contoso.com; x=pass\r\nSubject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
  assert.equal(strip("\xef\xbb\xbfAuthentication-Results: contoso.com; x=pass\r\nSubject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
  assert.equal(strip(" Authentication-Results: contoso.com; x=pass\r\nSubject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
  assert.equal(strip("Authentication-Results: contoso.com; x=pass\r\n\r\nb"), "\r\nb");
  assert.equal(strip("Authentication-Results: contoso.com; x=pass"), "");
  // A malformed line: a reader that takes its folded line for a field start finds no mark.
  assert.equal(strip("garbage without a colon\r\n Authentication-Results: contoso.com; x=pass\r\nSubject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
});

test("bare LF and bare CR line ends: read as line ends too; the CRLF field goes whole, so nothing new is joined", () => {
  const strip = (s: string) => stripForgedHeaders(Buffer.from(s, "latin1"), OWN).message.toString("latin1");
  assert.equal(strip("From: a\nAuthentication-Results: contoso.com; x=pass\r\nSubject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
  assert.equal(strip("Authentication-Results: foreign.example; x\nAuthentication-Results: contoso.com; y\r\nSubject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
  assert.equal(strip("Authentication-Results: (\n) contoso.com; x=pass\r\nSubject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
  assert.equal(strip("From: a\rX-MS-Exchange-Organization-AuthAs: Partner\r\nSubject: s\r\n\r\nb"), "Subject: s\r\n\r\nb");
  assert.equal(strip("From: a\n\tx\nAuthentication-Results: woodgrovebank.com; x\r\n\r\nb"), "From: a\n\tx\nAuthentication-Results: woodgrovebank.com; x\r\n\r\nb");
  // Removing the X-MS field must not turn "\r" + "\r\n" into a line end and
  // the body's first line into a header field.
  const out = strip("A: 1\rX-MS-Exchange-Organization-AuthAs: Partner\r\n\r\nAuthentication-Results: contoso.com; x-domain-secure=pass\r\n\r\nbody");
  assert.equal(out, "\r\nAuthentication-Results: contoso.com; x-domain-secure=pass\r\n\r\nbody");
  assert.deepEqual(parseHeaderFields(Buffer.from(out)), [], "the header section is empty; the rest is body");
});

test("a megabyte header block: nested comments, many fields, long lines, correct (and linear)", () => {
  const n = 512 * 1024;
  const nested = Buffer.from(`Authentication-Results: ${"(".repeat(n)}x${")".repeat(n)} contoso.com; x=pass\r\nSubject: s\r\n\r\nb`);
  assert.equal(stripForgedHeaders(nested, OWN).message.toString(), "Subject: s\r\n\r\nb");
  const foreignNested = Buffer.from(`Authentication-Results: ${"(".repeat(n)}contoso.com${")".repeat(n)} foreign.example; x=pass\r\n\r\nb`);
  assert.equal(stripForgedHeaders(foreignNested, OWN).message, foreignNested);
  const open = Buffer.from(`Authentication-Results: ${"(".repeat(2 * n)} foreign.example; x=pass\r\n\r\nb`);
  assert.equal(stripForgedHeaders(open, OWN).message.toString(), "\r\nb");
  const folded = Buffer.from(`Authentication-Results: ${"(a\r\n ".repeat(n / 4)}${")".repeat(n / 4)} contoso.com; x=pass\r\n\r\nb`);
  assert.equal(stripForgedHeaders(folded, OWN).message.toString(), "\r\nb");
  const count = 16 * 1024; // 1 MiB of fields
  const many = Buffer.from(`${"Authentication-Results: (a (b) c) contoso.com; x=pass\r\nX: y\r\n".repeat(count)}\r\nb`);
  const r = stripForgedHeaders(many, OWN);
  assert.equal(r.removed.length, count);
  assert.equal(r.message.toString(), `${"X: y\r\n".repeat(count)}\r\nb`);
  const noColon = Buffer.from(`${"no colon here\r\n".repeat(n / 15)}Authentication-Results: contoso.com; x\r\n\r\nb`);
  assert.equal(stripForgedHeaders(noColon, OWN).removed.length, 1);
});
