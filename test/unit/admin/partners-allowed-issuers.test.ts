// Set-DomainSecurePartner -AllowedIssuers through the admin API on a real
// data folder: what an entry may be (a CA certificate, a trusted
// certificate's thumbprint), what is refused with a clear error (a name, a
// key fingerprint to add, an unknown thumbprint, a file with several
// certificates, a certificate that is not a CA's) and that a refused edit
// changes nothing; removal by certificate, thumbprint, key and name.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, opensslSha1 } from "../../helpers/openssl-ca.js";
import { AdminApi } from "../../../src/admin/api.js";
import { isSealpostError, type ErrorCode } from "../../../src/errors/errors.js";
import { readCertificates } from "../../../src/pki/certs.js";
import { spkiSha256OfDer } from "../../../src/pki/trust/issuers.js";

let work: string;
let root: OpenSslCa;
let issuing: OpenSslCa;
let other: OpenSslCa;
let api: AdminApi;
const D = "woodgrovebank.com";
const key = (pem: string) => spkiSha256OfDer(readCertificates(Buffer.from(pem))[0] as Buffer);

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-pins-"));
  root = await OpenSslCa.createRoot({ name: "O=Woodgrove Bank,CN=Woodgrove Root CA", keyType: "ec-p256" });
  issuing = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  other = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Other CA", keyType: "ec-p256" });
  api = AdminApi.open(path.join(work, "data"));
  await api.trust.add("root", Buffer.from(root.certPem));
});

after(async () => {
  await api.close();
  root.cleanup();
  rmSync(work, { recursive: true, force: true });
});

async function refused(p: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  const before = await api.partners.get(D);
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSealpostError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
  assert.deepEqual(await api.partners.get(D), before, "a refused edit changes nothing");
}

describe("-AllowedIssuers entries", () => {
  test("a CA certificate (PEM or DER) and a trusted root's thumbprint are pinned by key; duplicates collapse", async () => {
    const der = readCertificates(Buffer.from(issuing.certPem))[0] as Buffer;
    const v = await api.partners.set(D, { allowedIssuers: { replace: [Buffer.from(issuing.certPem), der, opensslSha1(root.certPem).toLowerCase().replace(/(..)/g, "$1:").slice(0, -1)] } });
    assert.deepEqual(v?.AllowedIssuers, [
      `CN=Woodgrove Issuing CA, O=Woodgrove Bank (key SHA-256 ${key(issuing.certPem)}; thumbprint ${opensslSha1(issuing.certPem)})`,
      `CN=Woodgrove Root CA, O=Woodgrove Bank (key SHA-256 ${key(root.certPem)}; thumbprint ${opensslSha1(root.certPem)})`,
    ]);
    const stored = await api.ctx.org.getPartner(D);
    assert.deepEqual(stored?.allowedIssuers, [
      { spkiSha256: key(issuing.certPem), subject: "CN=Woodgrove Issuing CA, O=Woodgrove Bank", thumbprint: opensslSha1(issuing.certPem) },
      { spkiSha256: key(root.certPem), subject: "CN=Woodgrove Root CA, O=Woodgrove Bank", thumbprint: opensslSha1(root.certPem) },
    ]);
  });

  test("refused, changing nothing: a name, a key to add, an unknown thumbprint, several certificates, a leaf, garbage; one bad value refuses the whole edit", async () => {
    await refused(api.partners.set(D, { allowedIssuers: { add: ["CN=Woodgrove Root CA, O=Woodgrove Bank"], remove: [] } }), "INVALID_ARGUMENT", new RegExp(`is a name, and a name does not identify a CA.*Trusted certificates with that name: ${opensslSha1(root.certPem)} \\(root\\)`));
    await refused(api.partners.set(D, { allowedIssuers: { add: [key(other.certPem)], remove: [] } }), "INVALID_ARGUMENT", /a key fingerprint alone can only remove an entry/);
    await refused(api.partners.set(D, { allowedIssuers: { add: [opensslSha1(other.certPem)], remove: [] } }), "NOT_FOUND", /no trusted root or intermediate certificate has the thumbprint/);
    await refused(api.partners.set(D, { allowedIssuers: { add: [Buffer.from(issuing.certPem + other.certPem)], remove: [] } }), "INVALID_ARGUMENT", /holds 2 certificates/);
    const leaf = issuing.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });
    await refused(api.partners.set(D, { allowedIssuers: { add: [Buffer.from(leaf.certPem)], remove: [] } }), "INVALID_ARGUMENT", /is not a CA certificate/);
    await refused(api.partners.set(D, { allowedIssuers: { add: [Buffer.from("not a certificate")], remove: [] } }), "CERT_MALFORMED", /./);
    await refused(api.partners.set(D, { allowedIssuers: { add: ["not-a-thing"], remove: [] } }), "INVALID_ARGUMENT", /give the issuing CA's certificate/);
    await refused(api.partners.set(D, { allowedIssuers: { replace: [Buffer.from(other.certPem), "CN=Woodgrove Other CA"] } }), "INVALID_ARGUMENT", /is a name/);
    await refused(api.partners.set(D, { allowWeakCrypto: "sometimes" }), "INVALID_ARGUMENT", /AllowWeakCrypto 'sometimes' is not valid/);
  });

  test("removal by certificate, by thumbprint, by key fingerprint and by name", async () => {
    const all = () => ({ replace: [Buffer.from(issuing.certPem), Buffer.from(other.certPem), opensslSha1(root.certPem)] });
    const subjects = async () => (await api.ctx.org.getPartner(D))?.allowedIssuers.map((e) => e.subject);
    for (const remove of [Buffer.from(other.certPem), opensslSha1(other.certPem), key(other.certPem), "O=Woodgrove Bank, CN=Woodgrove Other CA"]) {
      await api.partners.set(D, { allowedIssuers: all() });
      assert.equal((await subjects())?.length, 3);
      await api.partners.set(D, { allowedIssuers: { add: [], remove: [remove] } });
      assert.deepEqual(await subjects(), ["CN=Woodgrove Issuing CA, O=Woodgrove Bank", "CN=Woodgrove Root CA, O=Woodgrove Bank"], `removed by ${Buffer.isBuffer(remove) ? "certificate" : remove}`);
    }
    await api.partners.set(D, { allowedIssuers: { replace: [] } });
    assert.deepEqual(await subjects(), []);
  });
});
