// Chain building and path validation against CAs made with the OpenSSL
// command line, with the clock injected. Revocation is covered in
// revocation.test.ts and trust-engine.test.ts; here a source that answers
// "good" keeps these cases about the chain alone.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { OpenSslCa } from "../../helpers/openssl-ca.js";
import { TrustEngine, type RevocationSource } from "../../../src/pki/trust/engine.js";
import { readCertificates } from "../../../src/pki/certs.js";
import { spkiSha256OfDer } from "../../../src/pki/trust/issuers.js";
import type { RevocationStatus } from "../../../src/pki/trust/revocation.js";

const der = (pem: string) => readCertificates(Buffer.from(pem))[0] as Buffer;
const good: RevocationSource = { check: async (): Promise<RevocationStatus> => ({ status: "good", source: "crl", url: "http://test.invalid/crl" }) };

let root: OpenSslCa;
let inter: OpenSslCa;
let aiaServer: http.Server;
let aiaUrl: string;
let aiaHits = 0;

before(async () => {
  root = await OpenSslCa.createRoot({ name: "O=Test,CN=Chain Root", keyType: "ec-p256" });
  inter = await root.createIntermediate({ name: "O=Test,CN=Chain Issuing CA", keyType: "ec-p256" });
  aiaServer = http.createServer((_req, res) => {
    aiaHits++;
    res.end(der(inter.certPem));
  });
  await new Promise<void>((r) => aiaServer.listen(0, "127.0.0.1", r));
  aiaUrl = `http://127.0.0.1:${(aiaServer.address() as AddressInfo).port}/issuing.cer`;
});

after(() => {
  aiaServer.close();
  root.cleanup();
});

function engine(opts: { intermediates?: Buffer[]; anchors?: Buffer[]; now?: Date; fetch?: boolean } = {}) {
  return new TrustEngine({
    anchors: opts.anchors ?? [der(root.certPem)],
    intermediates: opts.intermediates ?? [],
    revocation: good,
    now: () => opts.now ?? new Date(),
    ...(opts.fetch
      ? {
          fetchIssuer: async (url: string) => {
            const res = await fetch(url);
            return readCertificates(Buffer.from(await res.arrayBuffer()));
          },
        }
      : {}),
  });
}

describe("building the chain", () => {
  test("valid chain sent whole", async () => {
    const leaf = inter.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });
    const v = await engine().verify([der(leaf.certPem), der(inter.certPem)], { role: "client" });
    assert.equal(v.code, "OK", v.reason);
    assert.deepEqual(v.chain.map((c) => c.source), ["peer", "peer", "anchor"]);
    assert.equal(v.chain[0]?.thumbprint, leaf.sha1);
    // RFC 6125 §6.4.4: with a SAN dNSName present, the CN is no name the certificate can match.
    assert.deepEqual(v.certificateNames, ["woodgrovebank.com"]);
  });

  test("leaf only: the intermediate is fetched over AIA", async () => {
    const leaf = inter.issueLeaf({ subject: "CN=aia.woodgrovebank.com", dnsNames: ["aia.woodgrovebank.com"], aiaIssuerUrl: aiaUrl });
    const before = aiaHits;
    const v = await engine({ fetch: true }).verify([der(leaf.certPem)], { role: "client" });
    assert.equal(v.code, "OK", v.reason);
    assert.deepEqual(v.chain.map((c) => c.source), ["peer", "aia", "anchor"]);
    assert.equal(aiaHits, before + 1);
    // without a fetcher (or without AIA) the same leaf alone is untrusted
    const alone = await engine().verify([der(leaf.certPem)], { role: "client" });
    assert.equal(alone.code, "CHAIN_UNTRUSTED");
    assert.match(alone.reason, /Chain Issuing CA/);
  });

  test("leaf only: the intermediate known to the store", async () => {
    const leaf = inter.issueLeaf({ subject: "CN=store.woodgrovebank.com", dnsNames: ["store.woodgrovebank.com"] });
    const v = await engine({ intermediates: [der(inter.certPem)] }).verify([der(leaf.certPem)], { role: "client" });
    assert.equal(v.code, "OK", v.reason);
    assert.deepEqual(v.chain.map((c) => c.source), ["peer", "store", "anchor"]);
  });
});

describe("each failure has its own code", () => {
  const now = new Date();
  const minutes = (m: number) => new Date(now.getTime() + m * 60_000);

  test("expired, not yet valid, and within the clock-skew margin", async () => {
    const expired = inter.issueLeaf({ subject: "CN=old.example.com", startDate: minutes(-60 * 24 * 10), endDate: minutes(-60) });
    const future = inter.issueLeaf({ subject: "CN=new.example.com", startDate: minutes(60), endDate: minutes(60 * 24) });
    const skewed = inter.issueLeaf({ subject: "CN=skew.example.com", startDate: minutes(3), endDate: minutes(60 * 24) });
    const e = engine({ intermediates: [der(inter.certPem)], now });
    assert.equal((await e.verify([der(expired.certPem)], { role: "client" })).code, "CERT_EXPIRED");
    assert.equal((await e.verify([der(future.certPem)], { role: "client" })).code, "CERT_NOT_YET_VALID");
    assert.equal((await e.verify([der(skewed.certPem)], { role: "client" })).code, "OK", "3 minutes early is within ±5 minutes");
  });

  test("untrusted root and self-signed", async () => {
    const other = await OpenSslCa.createRoot({ name: "CN=Unknown Root", keyType: "ec-p256" });
    try {
      const leaf = other.issueLeaf({ subject: "CN=x.example.com", dnsNames: ["x.example.com"] });
      const v = await engine().verify([der(leaf.certPem), der(other.certPem)], { role: "client" });
      assert.equal(v.code, "CHAIN_UNTRUSTED");
      assert.match(v.reason, /Unknown Root/);
    } finally {
      other.cleanup();
    }
    const self = await OpenSslCa.createRoot({ name: "CN=self.example.com", keyType: "ec-p256" });
    try {
      const v = await engine().verify([der(self.certPem)], { role: "client" });
      assert.equal(v.code, "CERT_SELF_SIGNED");
      // trusted explicitly, the same certificate is fine
      assert.equal((await engine({ anchors: [der(self.certPem)] }).verify([der(self.certPem)], { role: "server" })).code, "OK");
    } finally {
      self.cleanup();
    }
  });

  test("extended key usage: server needs serverAuth; a client may use either; a setting demands clientAuth", async () => {
    const clientOnly = inter.issueLeaf({ subject: "CN=c.example.com", eku: "clientAuth" });
    const serverOnly = inter.issueLeaf({ subject: "CN=s.example.com", eku: "serverAuth" });
    const none = inter.issueLeaf({ subject: "CN=n.example.com", eku: "none" });
    const email = inter.issueLeaf({ subject: "CN=m.example.com", eku: ["emailProtection"] });
    const e = engine({ intermediates: [der(inter.certPem)] });
    assert.equal((await e.verify([der(clientOnly.certPem)], { role: "server" })).code, "EKU_MISSING");
    assert.equal((await e.verify([der(serverOnly.certPem)], { role: "client" })).code, "OK");
    assert.equal((await e.verify([der(serverOnly.certPem)], { role: "client", requireClientAuthEku: true })).code, "EKU_MISSING");
    assert.equal((await e.verify([der(none.certPem)], { role: "server" })).code, "OK");
    assert.equal((await e.verify([der(email.certPem)], { role: "client" })).code, "EKU_MISSING");
  });

  test("name constraints and path length are enforced", async () => {
    const constrained = await OpenSslCa.createRoot({ name: "CN=Constrained Root", keyType: "ec-p256", nameConstraints: { permitted: ["woodgrovebank.com"] } });
    try {
      const okLeaf = constrained.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["mail.woodgrovebank.com"] });
      const bad = constrained.issueLeaf({ subject: "CN=mail.fabrikam.com", dnsNames: ["mail.fabrikam.com"] });
      const e = engine({ anchors: [der(constrained.certPem)] });
      assert.equal((await e.verify([der(okLeaf.certPem)], { role: "client" })).code, "OK");
      const v = await e.verify([der(bad.certPem)], { role: "client" });
      assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED");
      assert.match(v.reason, /mail\.fabrikam\.com/);
    } finally {
      constrained.cleanup();
    }
    const shortRoot = await OpenSslCa.createRoot({ name: "CN=Short Root", keyType: "ec-p256", pathLen: 0 });
    try {
      const sub = await shortRoot.createIntermediate({ name: "CN=Too Deep CA", keyType: "ec-p256" });
      const leaf = sub.issueLeaf({ subject: "CN=deep.example.com" });
      const v = await engine({ anchors: [der(shortRoot.certPem)] }).verify([der(leaf.certPem), der(sub.certPem)], { role: "client" });
      assert.equal(v.code, "PATH_LENGTH_EXCEEDED");
    } finally {
      shortRoot.cleanup();
    }
  });

  test("no certificate, and garbage", async () => {
    assert.equal((await engine().verify([], { role: "client" })).code, "CERT_MISSING");
    assert.equal((await engine().verify([Buffer.from("not a certificate")], { role: "client" })).code, "CERT_MALFORMED");
  });
});

describe("the verdict cache", () => {
  test("a second verdict for the same leaf does no chain work", async () => {
    const leaf = inter.issueLeaf({ subject: "CN=cache.example.com", dnsNames: ["cache.example.com"], aiaIssuerUrl: aiaUrl });
    const e = engine({ fetch: true });
    const hits = aiaHits;
    assert.equal((await e.verify([der(leaf.certPem)], { role: "client" })).code, "OK");
    assert.equal(e.stats.chainBuilds, 1);
    assert.equal((await e.verify([der(leaf.certPem)], { role: "client" })).code, "OK");
    assert.equal((await e.verifyForDomain([der(leaf.certPem)], "cache.example.com", {}, { role: "client" })).code, "OK");
    assert.equal(e.stats.chainBuilds, 1, "no second chain build");
    assert.equal(aiaHits, hits + 1, "no second AIA fetch");
    // other options in force are another entry
    await e.verify([der(leaf.certPem)], { role: "server" });
    assert.equal(e.stats.chainBuilds, 2);
  });
});

describe("partner rules", () => {
  test("allowed issuers and name matching", async () => {
    const leaf = inter.issueLeaf({ subject: "CN=mx1.woodgrovebank.com", dnsNames: ["mx1.woodgrovebank.com"] });
    const e = engine({ intermediates: [der(inter.certPem)] });
    const certs = [der(leaf.certPem)];
    assert.equal((await e.verifyForDomain(certs, "woodgrovebank.com", {}, { role: "client" })).code, "NAME_MISMATCH");
    assert.equal((await e.verifyForDomain(certs, "woodgrovebank.com", { nameMatch: "Subdomains" }, { role: "client" })).code, "OK");
    assert.equal((await e.verifyForDomain(certs, "woodgrovebank.com", { certificateNames: ["mx1.woodgrovebank.com"] }, { role: "client" })).code, "OK");
    const pin = (pem: string, subject: string) => ({ spkiSha256: spkiSha256OfDer(der(pem)), subject });
    const pinnedOk = await e.verifyForDomain(certs, "mx1.woodgrovebank.com", { allowedIssuers: [pin(inter.certPem, "CN=Chain Issuing CA, O=Test")] }, { role: "client" });
    assert.equal(pinnedOk.code, "OK", pinnedOk.reason);
    const pinnedRoot = await e.verifyForDomain(certs, "mx1.woodgrovebank.com", { allowedIssuers: [pin(root.certPem, "CN=Chain Root, O=Test")] }, { role: "client" });
    assert.equal(pinnedRoot.code, "OK", "pinning the root's key also passes");
    const other = await OpenSslCa.createRoot({ name: "O=Fabrikam,CN=Fabrikam Issuing CA", keyType: "ec-p256" });
    try {
      const pinnedBad = await e.verifyForDomain(certs, "mx1.woodgrovebank.com", { allowedIssuers: [pin(other.certPem, "CN=Fabrikam Issuing CA, O=Fabrikam")] }, { role: "client" });
      assert.equal(pinnedBad.code, "ISSUER_NOT_ALLOWED");
      assert.match(pinnedBad.reason, /Fabrikam Issuing CA/);
      // The right name with another key is no pin; an unresolved (name-only) entry matches nothing.
      const sameName = await e.verifyForDomain(certs, "mx1.woodgrovebank.com", { allowedIssuers: [pin(other.certPem, "CN=Chain Issuing CA, O=Test")] }, { role: "client" });
      assert.equal(sameName.code, "ISSUER_NOT_ALLOWED");
      assert.match(sameName.reason, /bears an allowed issuer's name but another key/);
      const nameOnly = await e.verifyForDomain(certs, "mx1.woodgrovebank.com", { allowedIssuers: [{ spkiSha256: "", subject: "CN=Chain Issuing CA, O=Test", unresolved: true }] }, { role: "client" });
      assert.equal(nameOnly.code, "ISSUER_NOT_ALLOWED");
    } finally {
      other.cleanup();
    }
  });
});
