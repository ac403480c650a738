import { test } from "node:test";
import assert from "node:assert/strict";
import { normalizeDomain, isValidDomain } from "../../../src/pki/domain.js";
import { isSealpostError } from "../../../src/errors/errors.js";

test("normalizes case, trailing dot and IDNA", () => {
  assert.equal(normalizeDomain("WoodgroveBank.COM."), "woodgrovebank.com");
  assert.equal(normalizeDomain("bücher.example"), "xn--bcher-kva.example");
  assert.equal(normalizeDomain("  mail.contoso.com "), "mail.contoso.com");
});

test("wildcards only where allowed, and only as the first label", () => {
  assert.equal(normalizeDomain("*.Example.com", { allowWildcard: true }), "*.example.com");
  assert.throws(() => normalizeDomain("*.example.com"), /wildcard is not allowed/);
  assert.throws(() => normalizeDomain("a.*.example.com", { allowWildcard: true }), /may only stand alone/);
});

test("refuses what is not a domain, with the reason", () => {
  const cases: Array<[string, RegExp]> = [
    ["woodgrove..com", /empty label/],
    ["user@woodgrovebank.com", /e-mail address/],
    ["https://woodgrovebank.com", /URL/],
    ["", /empty/],
    ["-bad.com", /label/],
    ["bad-.com", /label/],
    ["under_score.com", /label/],
    ["127.0.0.1", /numeric/],
    ["localhost", /two labels/],
    [`${"a".repeat(64)}.com`, /label/],
  ];
  for (const [input, why] of cases) {
    assert.throws(() => normalizeDomain(input), (e: unknown) => isSealpostError(e, "INVALID_DOMAIN") && why.test(e.message), input);
  }
  assert.equal(isValidDomain("edgea36", { allowSingleLabel: true }), true);
  assert.equal(isValidDomain("edgea36"), false);
});
