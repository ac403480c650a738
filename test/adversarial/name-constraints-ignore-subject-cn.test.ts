// Defect: name constraints did not cover the subject CN. A root the
// organization trusts only for fabrikam.com (nameConstraints permitted
// DNS:fabrikam.com) issued CN=woodgrovebank.com with SAN mail.fabrikam.com:
// inbound it was accepted and marked domain-secured for woodgrovebank.com,
// and outbound Woodgrove's mail was delivered to an MX presenting it. Path
// validation checked the constraints on the SAN dNSNames only, while the
// names the certificate was matched with also held the CN.
// The rule now: every name that can make a certificate match a domain
// satisfies every name constraint in its chain, or does not count as a name.
// The CN counts only when there is no SAN dNSName (RFC 6125 §6.4.4), and the
// constraints are checked on exactly the names that count, in the form the
// matching uses (A-labels), wildcards included, from every CA above.
// Reproduced with roots made by the OpenSSL command line, through the trust
// engine's verifyForDomain in both roles (client: an inbound partner's
// certificate; server: a partner MX's).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OpenSslCa, type NameConstraints } from "../helpers/openssl-ca.js";
import { readCertificates } from "../../src/pki/certs.js";
import { TrustEngine, type RevocationSource } from "../../src/pki/trust/engine.js";
import type { RevocationStatus } from "../../src/pki/trust/revocation.js";
import type { Verdict } from "../../src/pki/trust/verdict.js";

const der = (pem: string) => readCertificates(Buffer.from(pem))[0] as Buffer;
const good: RevocationSource = { check: async (): Promise<RevocationStatus> => ({ status: "good", source: "crl", url: "http://test.invalid/crl" }) };
const ROLES = ["client", "server"] as const;

const roots: OpenSslCa[] = [];
let fabrikamOnly: OpenSslCa;

async function root(name: string, nameConstraints: NameConstraints): Promise<OpenSslCa> {
  const r = await OpenSslCa.createRoot({ name, keyType: "ec-p256", nameConstraints });
  roots.push(r);
  return r;
}

async function verdicts(anchor: OpenSslCa, certs: Buffer[], domain: string): Promise<Verdict[]> {
  const e = new TrustEngine({ anchors: [der(anchor.certPem)], intermediates: [], revocation: good });
  return Promise.all(ROLES.map((role) => e.verifyForDomain(certs, domain, {}, { role })));
}

before(async () => {
  fabrikamOnly = await root("O=Fabrikam,CN=Fabrikam Constrained Root", { permitted: ["DNS:fabrikam.com"] });
});

after(() => {
  for (const r of roots) r.cleanup();
});

describe("the subject CN against the chain's name constraints", () => {
  test("as found: CN=woodgrovebank.com, SAN mail.fabrikam.com under a root permitted only fabrikam.com is no certificate for woodgrovebank.com", async () => {
    const leaf = fabrikamOnly.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["mail.fabrikam.com"], keyType: "ec-p256" });
    for (const [i, v] of (await verdicts(fabrikamOnly, [der(leaf.certPem)], "woodgrovebank.com")).entries()) {
      assert.equal(v.ok, false, `${ROLES[i]}: ${v.reason}`);
      assert.equal(v.code, "NAME_MISMATCH", `${ROLES[i]}: ${v.reason}`);
      assert.deepEqual(v.certificateNames, ["mail.fabrikam.com"], "with a SAN dNSName the CN is no name");
    }
    // The certificate is still good for the name its SAN carries, inside the constraint.
    for (const v of await verdicts(fabrikamOnly, [der(leaf.certPem)], "mail.fabrikam.com")) assert.equal(v.code, "OK", v.reason);
  });

  test("CN only, no SAN, the CN outside the constraint: NAME_CONSTRAINTS_VIOLATED", async () => {
    const leaf = fabrikamOnly.issueLeaf({ subject: "CN=woodgrovebank.com", keyType: "ec-p256" });
    for (const v of await verdicts(fabrikamOnly, [der(leaf.certPem)], "woodgrovebank.com")) {
      assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED", v.reason);
      assert.match(v.reason, /woodgrovebank\.com/);
    }
    const inside = fabrikamOnly.issueLeaf({ subject: "CN=mail.fabrikam.com", keyType: "ec-p256" });
    for (const v of await verdicts(fabrikamOnly, [der(inside.certPem)], "mail.fabrikam.com")) assert.equal(v.code, "OK", v.reason);
  });

  test("the constraints of a CA bind every certificate below it: root constrained, an intermediate between", async () => {
    const inter = await fabrikamOnly.createIntermediate({ name: "O=Fabrikam,CN=Fabrikam Issuing CA", keyType: "ec-p256" });
    const leaf = inter.issueLeaf({ subject: "CN=woodgrovebank.com", keyType: "ec-p256" });
    for (const v of await verdicts(fabrikamOnly, [der(leaf.certPem), der(inter.certPem)], "woodgrovebank.com")) {
      assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED", v.reason);
    }
  });

  test("a wildcard counts for every name it stands for", async () => {
    // permitted x.fabrikam.com only: *.fabrikam.com stands for any name one label below fabrikam.com
    const narrow = await root("CN=Narrow Root", { permitted: ["DNS:x.fabrikam.com"] });
    const wild = narrow.issueLeaf({ subject: "CN=wild", dnsNames: ["*.fabrikam.com"], keyType: "ec-p256" });
    for (const v of await verdicts(narrow, [der(wild.certPem)], "mail.fabrikam.com")) assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED", v.reason);
    // excluded secret.fabrikam.com: *.fabrikam.com would stand for it
    const holed = await root("CN=Holed Root", { excluded: ["DNS:secret.fabrikam.com"] });
    const wild2 = holed.issueLeaf({ subject: "CN=wild", dnsNames: ["*.fabrikam.com"], keyType: "ec-p256" });
    for (const v of await verdicts(holed, [der(wild2.certPem)], "secret.fabrikam.com")) assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED", v.reason);
    // permitted fabrikam.com: every name *.fabrikam.com stands for is inside
    const ok = fabrikamOnly.issueLeaf({ subject: "CN=wild", dnsNames: ["*.fabrikam.com"], keyType: "ec-p256" });
    for (const v of await verdicts(fabrikamOnly, [der(ok.certPem)], "mail.fabrikam.com")) assert.equal(v.code, "OK", v.reason);
  });

  test("an excluded subtree covers the CN, in any case, with a trailing dot, and in U-label form", async () => {
    const noWoodgrove = await root("CN=No Woodgrove Root", { excluded: ["DNS:woodgrovebank.com", "DNS:xn--bcher-kva.example"] });
    for (const cn of ["WoodgroveBank.COM", "mail.woodgrovebank.com."]) {
      const leaf = noWoodgrove.issueLeaf({ subject: `CN=${cn}`, keyType: "ec-p256" });
      for (const v of await verdicts(noWoodgrove, [der(leaf.certPem)], cn.toLowerCase().replace(/\.$/, ""))) {
        assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED", `${cn}: ${v.reason}`);
      }
    }
    // "bücher.example" is matched as xn--bcher-kva.example, so it is checked as that name
    const idn = noWoodgrove.issueLeaf({ subject: "CN=bücher.example", keyType: "ec-p256" });
    for (const v of await verdicts(noWoodgrove, [der(idn.certPem)], "xn--bcher-kva.example")) assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED", v.reason);
    // label boundaries: evilwoodgrovebank.com is not below woodgrovebank.com
    const other = noWoodgrove.issueLeaf({ subject: "CN=evilwoodgrovebank.com", keyType: "ec-p256" });
    for (const v of await verdicts(noWoodgrove, [der(other.certPem)], "evilwoodgrovebank.com")) assert.equal(v.code, "OK", v.reason);
  });

  test("constraints of other name types leave DNS names to the DNS rules; a directoryName subtree binds the subject", async () => {
    // permitted e-mail and IP subtrees only: DNS names are not constrained (RFC 5280), but the DNS subtree next to them is
    const mixed = await root("CN=Mixed Root", { permitted: ["email:fabrikam.com", "IP:10.0.0.0/255.0.0.0"] });
    const anyName = mixed.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });
    for (const v of await verdicts(mixed, [der(anyName.certPem)], "woodgrovebank.com")) assert.equal(v.code, "OK", v.reason);
    const mixedDns = await root("CN=Mixed DNS Root", { permitted: ["email:woodgrovebank.com", "IP:10.0.0.0/255.0.0.0", "DNS:fabrikam.com"] });
    const outside = mixedDns.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });
    for (const v of await verdicts(mixedDns, [der(outside.certPem)], "woodgrovebank.com")) assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED", v.reason);
    // a directoryName subtree: the subject must begin with O=Fabrikam
    const dir = await root("CN=Directory Root", { permitted: ["dirName:O=Fabrikam"] });
    const inDir = dir.issueLeaf({ subject: "O=Fabrikam,CN=woodgrovebank.com", keyType: "ec-p256" });
    for (const v of await verdicts(dir, [der(inDir.certPem)], "woodgrovebank.com")) assert.equal(v.code, "OK", v.reason);
    const outDir = dir.issueLeaf({ subject: "O=Woodgrove Bank,CN=woodgrovebank.com", keyType: "ec-p256" });
    for (const v of await verdicts(dir, [der(outDir.certPem)], "woodgrovebank.com")) assert.equal(v.code, "NAME_CONSTRAINTS_VIOLATED", v.reason);
  });
});
