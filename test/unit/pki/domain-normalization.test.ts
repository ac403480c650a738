// One domain type (pki/domain.ts): every spelling of a listed domain is the
// same partner in every path, what is not a valid IDNA domain is refused
// with a reason, and the two wildcard rules (list entry: any depth;
// certificate: one label) differ as specified.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { domainToASCII } from "node:url";
import { matchListEntry, normalizeDomain, parseDomain, parseWireDomain } from "../../../src/pki/domain.js";
import { matchesCertificateName, matchesDomain } from "../../../src/pki/names.js";
import { addressDomain } from "../../../src/message/address.js";
import { decideMailFrom, partnerEntry, verdictNeeded } from "../../../src/policy/inbound.js";
import { sendPartnerEntry } from "../../../src/policy/outbound.js";
import { acceptedDomainFor } from "../../../src/policy/recipient.js";

test("administrators' spellings map to one A-label (UTS #46 with mapping)", () => {
  for (const s of ["bücher.example", "BÜCHER.EXAMPLE", "xn--bcher-kva.example", "XN--BCHER-KVA.example", "ｂüｃｈｅｒ.example", "bücher.example."]) {
    assert.equal(normalizeDomain(s), "xn--bcher-kva.example", s);
  }
  assert.equal(normalizeDomain("ｗｏｏｄｇｒｏｖｅｂａｎｋ.com"), "woodgrovebank.com");
  assert.equal(normalizeDomain("*.Bücher.example", { allowWildcard: true }), "*.xn--bcher-kva.example");
});

test("peers' spellings: A-labels or IDNA2008 U-labels in NFC only; mapping is refused", () => {
  for (const s of ["bücher.example", "xn--bcher-kva.example", "XN--BCHER-KVA.EXAMPLE", "Mail.Bücher.Example"]) {
    const r = parseWireDomain(s);
    assert.ok(r.ok, s);
    assert.match(r.domain, /xn--bcher-kva\.example$/);
  }
  for (const s of ["BÜCHER.EXAMPLE", "ｗｏｏｄｇｒｏｖｅｂａｎｋ.com", "woodgrovebank。com", "bu\u0308cher.example", "😀.example", "xn--ls8h.example", "xn--zz.example", "a_b.example", "-a.example", "a..example", "1.2.3.4", "", "[192.0.2.1]"]) {
    const r = parseWireDomain(s);
    assert.equal(r.ok, false, s);
    if (!r.ok) assert.ok(r.reason.length > 0);
  }
  // Administrators get a reason too, never a silent "other domain".
  assert.equal(parseDomain("😀.example").ok, false);
  assert.throws(() => normalizeDomain("xn--zz.example"), /not a valid/);
});

test("addresses: the domain after the last @, normalized; literals and none are no domain; invalid is invalid", () => {
  assert.deepEqual(addressDomain("x@bücher.example"), { kind: "domain", domain: "xn--bcher-kva.example" });
  assert.deepEqual(addressDomain("x@[192.0.2.1]"), { kind: "literal", literal: "[192.0.2.1]" });
  assert.deepEqual(addressDomain("Postmaster"), { kind: "none" });
  assert.equal(addressDomain("x@ｗｏｏｄｇｒｏｖｅｂａｎｋ.com").kind, "invalid");
});

test("a sender whose domain cannot be normalized is refused 501 5.1.7, on every connector, never 'not a partner'", () => {
  for (const domainSecureEnabled of [true, false]) {
    const d = decideMailFrom({ sender: "x@ｗｏｏｄｇｒｏｖｅｂａｎｋ.com", connector: { domainSecureEnabled, tlsAuth: true }, receiveList: ["woodgrovebank.com"], refusal: "Temporary", tls: false, mode: "Enforce" });
    assert.equal(d.action, "refuse");
    assert.equal(d.code, "INVALID_SENDER_DOMAIN");
    assert.deepEqual([d.reply.code, d.reply.enhanced], [501, "5.1.7"]);
  }
});

test("the two wildcard rules differ: a list entry covers any depth, a certificate wildcard one label", () => {
  assert.equal(matchListEntry("a.b.fabrikam.com", ["*.fabrikam.com"]), "*.fabrikam.com");
  assert.equal(matchListEntry("b.fabrikam.com", ["*.fabrikam.com"]), "*.fabrikam.com");
  assert.equal(matchListEntry("fabrikam.com", ["*.fabrikam.com"]), undefined);
  assert.equal(matchesCertificateName("*.fabrikam.com", "b.fabrikam.com"), true);
  assert.equal(matchesCertificateName("*.fabrikam.com", "a.b.fabrikam.com"), false);
  assert.equal(matchesCertificateName("*.fabrikam.com", "fabrikam.com"), false);
  // The most specific list entry wins.
  assert.equal(matchListEntry("a.eu.fabrikam.com", ["*.fabrikam.com", "*.eu.fabrikam.com"]), "*.eu.fabrikam.com");
});

// Labels with letters that need IDNA, and plain ones.
const uchar = fc.constantFrom("ü", "é", "ß", "ø", "ç", "я", "д", "中", "文", "ω", "a", "b", "k", "0", "7");
const ulabel = fc.array(uchar, { minLength: 1, maxLength: 8 }).map((cs) => cs.join("")).filter((l) => domainToASCII(l) !== "" && !/^[0-9]+$/.test(l));
const udomain = fc.array(ulabel, { minLength: 2, maxLength: 4 }).map((ls) => ls.join(".")).filter((d) => parseWireDomain(d).ok);

/** Spellings that name the same domain: U-labels, A-labels, ASCII upper case, a trailing dot, mixed labels. */
function spellings(d: string): string[] {
  const ascii = domainToASCII(d);
  const mixed = d.split(".").map((l, i) => (i % 2 === 0 ? domainToASCII(l) : l)).join(".");
  return [d, ascii, ascii.toUpperCase(), `${d}.`, mixed, d.replace(/[a-z]/g, (c) => c.toUpperCase())];
}

test("property: every spelling of a listed domain is the same partner in every path", () => {
  fc.assert(
    fc.property(udomain, (d) => {
      const key = normalizeDomain(d);
      const list = [key];
      for (const s of spellings(d)) {
        const wire = parseWireDomain(s);
        assert.ok(wire.ok, `${s} is a valid peer spelling`);
        assert.equal(wire.domain, key, s);
        assert.equal(normalizeDomain(s), key, s);
        // inbound policy, outbound planning, accepted domains, certificate names
        assert.equal(partnerEntry(wire.domain, list), key);
        assert.equal(sendPartnerEntry(wire.domain, list), key);
        assert.equal(acceptedDomainFor([{ name: "x", domainName: key, domainType: "Authoritative" }], wire.domain)?.domainName, key);
        assert.equal(matchesDomain([s], key), true, `certificate name ${s}`);
        const need = verdictNeeded(`x@${s.replace(/\.$/, "")}`, { domainSecureEnabled: true, tlsAuth: true }, list, true);
        assert.deepEqual(need, { domain: key, partner: key });
      }
      // Subdomains: a list entry *.P covers them at any depth; a certificate wildcard only one label.
      const wc = `*.${key}`;
      assert.equal(matchListEntry(`a.${key}`, [wc]), wc);
      assert.equal(matchListEntry(`a.b.${key}`, [wc]), wc);
      assert.equal(matchesCertificateName(wc, `a.${key}`), true);
      assert.equal(matchesCertificateName(wc, `a.b.${key}`), false);
    }),
    { numRuns: 200 },
  );
});

test("property: spellings that need mapping are refused on the wire but mapped for administrators", () => {
  const fullwidth = (s: string) => s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x61 + 0xff41));
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z]{2,10}\.[a-z]{2,6}$/), (d) => {
      const fw = fullwidth(d);
      assert.equal(parseWireDomain(fw).ok, false);
      assert.equal(addressDomain(`x@${fw}`).kind, "invalid");
      assert.equal(normalizeDomain(fw), d);
    }),
  );
});
