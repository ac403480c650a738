import { test } from "node:test";
import assert from "node:assert/strict";
import { commonName, formatDisplayName, formatSubjectInput, parseSubject } from "../../../src/pki/dn.js";
import { isSealpostError } from "../../../src/errors/errors.js";

test("keeps the order written (Exchange's DC form)", () => {
  const rdns = parseSubject("DC=com,DC=Contoso,CN=mail1.contoso.com");
  assert.deepEqual(rdns.map((r) => r.map((a) => `${a.name}=${a.value}`).join("+")), ["DC=com", "DC=Contoso", "CN=mail1.contoso.com"]);
  assert.equal(commonName(rdns), "mail1.contoso.com");
  assert.equal(formatDisplayName(rdns), "CN=mail1.contoso.com, DC=Contoso, DC=com");
  assert.equal(formatSubjectInput(rdns), "DC=com,DC=Contoso,CN=mail1.contoso.com");
});

test("quoting, escaping, aliases, multi-valued RDNs", () => {
  const rdns = parseSubject('C=us, S=WA, L=Spokane, O="Contoso, Ltd", OU=Mail\\+Edge, CN=x.contoso.com+SERIALNUMBER=42');
  assert.deepEqual(
    rdns.map((r) => r.map((a) => [a.name, a.value])),
    [[["C", "US"]], [["S", "WA"]], [["L", "Spokane"]], [["O", "Contoso, Ltd"]], [["OU", "Mail+Edge"]], [["CN", "x.contoso.com"], ["SERIALNUMBER", "42"]]],
  );
  assert.equal(rdns[3]?.[0]?.oid, "2.5.4.10");
  assert.match(formatDisplayName(rdns), /O="Contoso, Ltd"/);
  assert.equal(parseSubject("2.5.4.3=by-oid.example")[0]?.[0]?.name, "CN");
});

test("refuses malformed subjects with a reason naming the problem", () => {
  const cases: Array<[string, RegExp]> = [
    ["", /empty/],
    ["CN", /no '='/],
    ["XX=foo", /attribute 'XX' is not known/],
    ["CN=", /empty value/],
    ['CN="open', /not closed/],
    ["C=USA", /two letters/],
    ["CN=a,", /ends with a separator/],
    ["=x", /attribute name is missing/],
    ["CN=a=b", /must be escaped/],
    [`CN=${"x".repeat(65)}`, /longer than 64/],
  ];
  for (const [input, why] of cases) {
    assert.throws(() => parseSubject(input), (e: unknown) => isSealpostError(e, "INVALID_SUBJECT") && why.test(e.message), input);
  }
});
