import { test } from "node:test";
import assert from "node:assert/strict";
import { matchesCertificateName } from "../../../src/pki/names.js";

test("exact names match case-insensitively", () => {
  assert.equal(matchesCertificateName("Mail.Contoso.com", "mail.contoso.com"), true);
  assert.equal(matchesCertificateName("mail.contoso.com.", "mail.contoso.com"), true);
  assert.equal(matchesCertificateName("mail.contoso.com", "contoso.com"), false);
});

test("a wildcard stands for exactly one label (RFC 6125)", () => {
  assert.equal(matchesCertificateName("*.contoso.com", "mail.contoso.com"), true);
  assert.equal(matchesCertificateName("*.contoso.com", "a.mail.contoso.com"), false);
  assert.equal(matchesCertificateName("*.contoso.com", "contoso.com"), false);
  assert.equal(matchesCertificateName("*.com", "contoso.com"), false);
});
