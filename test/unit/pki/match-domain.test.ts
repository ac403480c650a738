// matchesDomain (SPEC §2 "Certificate names"): a table of the rules, then
// properties over generated names.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { matchesDomain } from "../../../src/pki/names.js";
import { normalizeDomain } from "../../../src/pki/domain.js";
import { certificateNames } from "../../../src/pki/certs.js";

test("the rules, case by case", () => {
  const table: Array<[string[], string, Parameters<typeof matchesDomain>[2], boolean, string]> = [
    [["woodgrovebank.com"], "woodgrovebank.com", {}, true, "exact"],
    [["WoodgroveBank.COM"], "woodgrovebank.com", {}, true, "case-insensitive"],
    [["mail.woodgrovebank.com"], "woodgrovebank.com", {}, false, "a host name is not the domain under Exact"],
    [["*.woodgrovebank.com"], "mail.woodgrovebank.com", {}, true, "wildcard, one label"],
    [["*.woodgrovebank.com"], "a.b.woodgrovebank.com", {}, false, "wildcard, two labels"],
    [["*.woodgrovebank.com"], "woodgrovebank.com", {}, false, "wildcard does not cover the apex"],
    [["mail.woodgrovebank.com"], "woodgrovebank.com", { nameMatch: "Subdomains" }, true, "Subdomains: a host below D"],
    [["a.b.woodgrovebank.com"], "woodgrovebank.com", { nameMatch: "Subdomains" }, true, "Subdomains: any depth"],
    [["*.woodgrovebank.com"], "woodgrovebank.com", { nameMatch: "Subdomains" }, true, "Subdomains: a wildcard below D"],
    [["evilwoodgrovebank.com"], "woodgrovebank.com", { nameMatch: "Subdomains" }, false, "Subdomains needs a label boundary"],
    [["woodgrovebank.com.evil.net"], "woodgrovebank.com", { nameMatch: "Subdomains" }, false, "a suffix elsewhere is not below D"],
    [["mx.hosted.example"], "woodgrovebank.com", { certificateNames: ["mx.hosted.example"] }, true, "CertificateNames: extra name"],
    [["*.hosted.example"], "woodgrovebank.com", { certificateNames: ["mx.hosted.example"] }, true, "CertificateNames: wildcard certificate covers the extra name"],
    [["mx.hosted.example"], "woodgrovebank.com", { certificateNames: ["*.hosted.example"] }, true, "CertificateNames: wildcard entry"],
    [["mx.other.example"], "woodgrovebank.com", { certificateNames: ["mx.hosted.example"] }, false, "CertificateNames: other name"],
    [[normalizeDomain("bücher.example")], normalizeDomain("BÜCHER.example"), {}, true, "IDNA: both sides as A-labels"],
    [[], "woodgrovebank.com", { nameMatch: "Subdomains" }, false, "no names"],
  ];
  for (const [names, d, opts, expected, why] of table) assert.equal(matchesDomain(names, d, opts), expected, why);
});

test("CN and SAN both count; a CN that is not a host name does not", () => {
  assert.deepEqual(certificateNames(["mail.contoso.com"], "mail1.contoso.com"), ["mail1.contoso.com", "mail.contoso.com"]);
  assert.equal(matchesDomain(certificateNames([], "smi.extest.contoso.com"), "smi.extest.contoso.com"), true, "the seed's CN-only certificate");
  assert.deepEqual(certificateNames([], "Woodgrove Bank Mail"), []);
});

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
// The last label is never all digits: that is an address, not a domain, and matches nothing.
const tld = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
const domain = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), tld).map(([ls, t]) => [...ls, t].join("."));

test("property: a name always matches itself, in any letter case", () => {
  fc.assert(fc.property(domain, (d) => matchesDomain([d.toUpperCase()], d) && matchesDomain([d], d.toUpperCase())));
});

test("property: a wildcard matches exactly the names one label below its base", () => {
  fc.assert(
    fc.property(domain, label, label, (base, a, b) => {
      const wc = `*.${base}`;
      return matchesDomain([wc], `${a}.${base}`) && !matchesDomain([wc], base) && !matchesDomain([wc], `${a}.${b}.${base}`);
    }),
  );
});

test("property: Exact never accepts a different name; Subdomains accepts exactly names below D", () => {
  fc.assert(
    fc.property(domain, domain, (d, other) => {
      fc.pre(d !== other);
      const below = other.endsWith(`.${d}`);
      return !matchesDomain([other], d) && matchesDomain([other], d, { nameMatch: "Subdomains" }) === below;
    }),
  );
  fc.assert(fc.property(domain, label, (d, a) => matchesDomain([`${a}.${d}`], d, { nameMatch: "Subdomains" })));
});

test("property: extra CertificateNames never widen other partners' matches", () => {
  fc.assert(
    fc.property(domain, domain, domain, (d, certName, extra) => {
      fc.pre(certName !== extra && certName !== d);
      return matchesDomain([certName], d, { certificateNames: [extra] }) === false;
    }),
  );
});
