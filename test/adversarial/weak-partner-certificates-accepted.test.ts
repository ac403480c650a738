// Defect: weak partner certificates were accepted. A SHA-1-signed leaf, an
// RSA-1024 leaf and an RSA-1024 intermediate from a trusted CA all passed,
// inbound (a partner's client certificate) and outbound (a partner MX's
// server certificate): path validation looked at signatures' validity, not
// at their strength.
// Now every certificate of the chain is held to a floor by default:
// signatures at least SHA-256 (a trust anchor's own self-signature is
// exempt, as it is never relied on) and keys at least RSA-2048 / EC P-256,
// no DSA (the anchor's key counts too). Refused with WEAK_SIGNATURE or
// WEAK_KEY naming the certificate and the algorithm or size;
// VerifyOptions.allowWeakCrypto (a partner's setting) turns each weakness
// into a warning in the verdict instead.
// Reproduced with a CA made by the OpenSSL command line (openssl ca -md sha1,
// genpkey rsa_keygen_bits:1024), through the trust engine's verifyForDomain
// in both roles.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OpenSslCa } from "../helpers/openssl-ca.js";
import { readCertificates } from "../../src/pki/certs.js";
import { TrustEngine, type RevocationSource } from "../../src/pki/trust/engine.js";
import type { RevocationStatus } from "../../src/pki/trust/revocation.js";

const der = (pem: string) => readCertificates(Buffer.from(pem))[0] as Buffer;
const good: RevocationSource = { check: async (): Promise<RevocationStatus> => ({ status: "good", source: "crl", url: "http://test.invalid/crl" }) };
const ROLES = ["client", "server"] as const;
const DOMAIN = "woodgrovebank.com";

let root: OpenSslCa;
let inter: OpenSslCa;
let weakInter: OpenSslCa;
let sha1Inter: OpenSslCa;
const cleanups: OpenSslCa[] = [];

before(async () => {
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Strong Root", keyType: "ec-p256" });
  cleanups.push(root);
  inter = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  weakInter = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove RSA-1024 CA", keyType: "rsa1024" });
  sha1Inter = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove SHA-1 CA", keyType: "ec-p256", md: "sha1" });
});

after(() => {
  for (const c of cleanups) c.cleanup();
});

function engine(anchor: OpenSslCa = root): TrustEngine {
  return new TrustEngine({ anchors: [der(anchor.certPem)], intermediates: [], revocation: good });
}

const cases: { name: string; code: "WEAK_SIGNATURE" | "WEAK_KEY"; reason: RegExp; certs: () => Buffer[] }[] = [
  {
    name: "a SHA-1-signed leaf",
    code: "WEAK_SIGNATURE",
    reason: /CN=woodgrovebank\.com.*SHA-1/,
    certs: () => [der(inter.issueLeaf({ subject: `CN=${DOMAIN}`, dnsNames: [DOMAIN], keyType: "ec-p256", md: "sha1" }).certPem), der(inter.certPem)],
  },
  {
    name: "an RSA-1024 leaf",
    code: "WEAK_KEY",
    reason: /CN=woodgrovebank\.com.*RSA 1024-bit/,
    certs: () => [der(inter.issueLeaf({ subject: `CN=${DOMAIN}`, dnsNames: [DOMAIN], keyType: "rsa1024" }).certPem), der(inter.certPem)],
  },
  {
    name: "an RSA-1024 intermediate",
    code: "WEAK_KEY",
    reason: /Woodgrove RSA-1024 CA.*RSA 1024-bit/,
    certs: () => [der(weakInter.issueLeaf({ subject: `CN=${DOMAIN}`, dnsNames: [DOMAIN], keyType: "ec-p256" }).certPem), der(weakInter.certPem)],
  },
  {
    name: "a SHA-1-signed intermediate",
    code: "WEAK_SIGNATURE",
    reason: /Woodgrove SHA-1 CA.*SHA-1/,
    certs: () => [der(sha1Inter.issueLeaf({ subject: `CN=${DOMAIN}`, dnsNames: [DOMAIN], keyType: "ec-p256" }).certPem), der(sha1Inter.certPem)],
  },
];

describe("weak keys and signatures in a partner's chain", () => {
  for (const c of cases) {
    test(`${c.name}: refused as client and as server; accepted with a warning when weak crypto is allowed`, async () => {
      const certs = c.certs();
      const e = engine();
      for (const role of ROLES) {
        const v = await e.verifyForDomain(certs, DOMAIN, {}, { role });
        assert.equal(v.ok, false, `${role}: accepted`);
        assert.equal(v.code, c.code, `${role}: ${v.reason}`);
        assert.match(v.reason, c.reason);
        // the same engine, the same leaf, the option set: another cache entry, and a warning
        const allowed = await e.verifyForDomain(certs, DOMAIN, {}, { role, allowWeakCrypto: true });
        assert.equal(allowed.code, "OK", `${role}: ${allowed.reason}`);
        assert.ok(allowed.warnings.some((w) => c.reason.test(w)), `${role}: warnings ${JSON.stringify(allowed.warnings)}`);
        // and without the option again, still refused (the allowed verdict is not reused)
        assert.equal((await e.verifyForDomain(certs, DOMAIN, {}, { role })).code, c.code);
      }
    });
  }

  test("the strong chain passes without warnings", async () => {
    const leaf = inter.issueLeaf({ subject: `CN=${DOMAIN}`, dnsNames: [DOMAIN], keyType: "ec-p256" });
    for (const role of ROLES) {
      const v = await engine().verifyForDomain([der(leaf.certPem), der(inter.certPem)], DOMAIN, {}, { role });
      assert.equal(v.code, "OK", v.reason);
      assert.deepEqual(v.warnings, []);
    }
  });

  test("a trust anchor's SHA-1 self-signature is exempt; an RSA-1024 anchor's key is not", async () => {
    const sha1Root = await OpenSslCa.createRoot({ name: "CN=SHA-1 Self-Signed Root", keyType: "ec-p256", md: "sha1" });
    cleanups.push(sha1Root);
    const leaf = sha1Root.issueLeaf({ subject: `CN=${DOMAIN}`, dnsNames: [DOMAIN], keyType: "ec-p256" });
    for (const role of ROLES) assert.equal((await engine(sha1Root).verifyForDomain([der(leaf.certPem)], DOMAIN, {}, { role })).code, "OK");
    const weakRoot = await OpenSslCa.createRoot({ name: "CN=RSA-1024 Root", keyType: "rsa1024" });
    cleanups.push(weakRoot);
    const leaf2 = weakRoot.issueLeaf({ subject: `CN=${DOMAIN}`, dnsNames: [DOMAIN], keyType: "ec-p256" });
    for (const role of ROLES) {
      const v = await engine(weakRoot).verifyForDomain([der(leaf2.certPem)], DOMAIN, {}, { role });
      assert.equal(v.code, "WEAK_KEY", v.reason);
      assert.match(v.reason, /RSA-1024 Root.*trusted root.*RSA 1024-bit/);
    }
  });
});
