// The verdict cache and what was presented: a failure computed from one
// presentation (a resumed TLS 1.3 session sends the leaf alone) must not
// refuse another presentation of the same leaf (the partner's next full
// handshake, with its intermediate), while a partner repeating the very same
// bad presentation still costs one chain build per negative TTL, not one per
// connection.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OpenSslCa, type IssuedCert } from "../../helpers/openssl-ca.js";
import { TrustEngine, type LazyChain, type RevocationSource } from "../../../src/pki/trust/engine.js";
import { readCertificates } from "../../../src/pki/certs.js";
import type { RevocationStatus } from "../../../src/pki/trust/revocation.js";

const der = (pem: string) => readCertificates(Buffer.from(pem))[0] as Buffer;
const good: RevocationSource = { check: async (): Promise<RevocationStatus> => ({ status: "good", source: "crl", url: "http://test.invalid/crl" }) };

let root: OpenSslCa;
let inter: OpenSslCa;
let otherInter: OpenSslCa;

before(async () => {
  root = await OpenSslCa.createRoot({ name: "O=Test,CN=Cache Root", keyType: "ec-p256" });
  inter = await root.createIntermediate({ name: "O=Test,CN=Cache Issuing CA", keyType: "ec-p256" });
  otherInter = await root.createIntermediate({ name: "O=Test,CN=Other Issuing CA", keyType: "ec-p256" });
});

after(() => root.cleanup());

/** An engine that knows the root only: the intermediate must come from the peer (no store copy, no AIA). */
function engine(clock: { now: number }, negativeTtlMs = 60_000) {
  return new TrustEngine({ anchors: [der(root.certPem)], intermediates: [], revocation: good, now: () => new Date(clock.now), negativeTtlMs });
}

/** What a resumed TLS 1.3 session gives the engine: the leaf, and a "chain" that is the leaf alone. */
function resumed(leaf: IssuedCert): LazyChain & { reads: number } {
  const l = der(leaf.certPem);
  const lazy = {
    reads: 0,
    leaf: l,
    chain() {
      lazy.reads++;
      return [l];
    },
  };
  return lazy;
}

describe("the verdict cache and the presented chain", () => {
  test("a leaf-only failure does not refuse the next full presentation of the same leaf", async () => {
    const clock = { now: Date.now() };
    const e = engine(clock);
    const leaf = inter.issueLeaf({ subject: "CN=mx.woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });

    const alone = await e.verify(resumed(leaf), { role: "client" });
    assert.equal(alone.code, "CHAIN_UNTRUSTED", alone.reason);
    assert.equal(e.stats.chainBuilds, 1);

    // The same leaf, a second later, with its intermediate: built and accepted at once.
    clock.now += 1000;
    const full = await e.verifyForDomain([der(leaf.certPem), der(inter.certPem)], "woodgrovebank.com", {}, { role: "client" });
    assert.equal(full.code, "OK", full.reason);
    assert.equal(e.stats.chainBuilds, 2);

    // Once known good, a resumed session (leaf alone) is answered from the cache, without reading its chain.
    const again = resumed(leaf);
    assert.equal((await e.verify(again, { role: "client" })).code, "OK");
    assert.equal(again.reads, 0, "a cache hit on the leaf reads no chain");
    assert.equal(e.stats.chainBuilds, 2);
  });

  test("a wrong intermediate is its own failure: the right one still succeeds at once", async () => {
    const clock = { now: Date.now() };
    const e = engine(clock);
    const leaf = inter.issueLeaf({ subject: "CN=mx.fabrikam.com", dnsNames: ["fabrikam.com"], keyType: "ec-p256" });
    assert.equal((await e.verify([der(leaf.certPem), der(otherInter.certPem)], { role: "client" })).code, "CHAIN_UNTRUSTED");
    assert.equal((await e.verify([der(leaf.certPem), der(inter.certPem)], { role: "client" })).code, "OK");
    assert.equal(e.stats.chainBuilds, 2);
  });

  test("the same failing presentation repeated is built once per negative TTL", async () => {
    const clock = { now: Date.now() };
    const e = engine(clock, 60_000);
    const leaf = inter.issueLeaf({ subject: "CN=mx.tailspin.example", dnsNames: ["tailspin.example"], keyType: "ec-p256" });
    for (let i = 0; i < 5; i++) {
      assert.equal((await e.verify(resumed(leaf), { role: "client" })).code, "CHAIN_UNTRUSTED");
      assert.equal((await e.verify([der(leaf.certPem)], { role: "client" })).code, "CHAIN_UNTRUSTED", "an array of the same certificates is the same presentation");
      clock.now += 1000;
    }
    assert.equal(e.stats.chainBuilds, 1, "one build for ten identical presentations within the TTL");
    assert.equal(e.stats.cacheHits, 9);
    // other options in force are another entry
    await e.verify([der(leaf.certPem)], { role: "server" });
    assert.equal(e.stats.chainBuilds, 2);
    // after the negative TTL the failure is built again
    clock.now += 60_000;
    assert.equal((await e.verify([der(leaf.certPem)], { role: "client" })).code, "CHAIN_UNTRUSTED");
    assert.equal(e.stats.chainBuilds, 3);
  });
});
