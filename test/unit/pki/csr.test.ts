import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createRequest, createSelfSigned, csrToPem } from "../../../src/pki/csr.js";
import { describeCertificate, readCertificates, certToPem } from "../../../src/pki/certs.js";
import { parseKeySpec, describePrivateKey } from "../../../src/pki/keys.js";
import { runOpenssl } from "../../helpers/openssl-ca.js";

test("key specs: RSA 2048 default, 3072, 4096, ECDSA P-256; others refused", () => {
  assert.deepEqual(parseKeySpec(undefined), { algorithm: "RSA", size: 2048 });
  assert.deepEqual(parseKeySpec("4096"), { algorithm: "RSA", size: 4096 });
  assert.deepEqual(parseKeySpec("P-256"), { algorithm: "ECDSA", size: 256 });
  assert.throws(() => parseKeySpec(1024), /not supported/);
  assert.throws(() => parseKeySpec("P-384"), /not supported/);
});

for (const key of [parseKeySpec(2048), parseKeySpec("P-256")]) {
  test(`a ${key.algorithm} request OpenSSL verifies, subject order kept, SAN = CN + domain names`, async () => {
    const r = await createRequest({ subjectName: "DC=com,DC=Contoso,CN=mail1.contoso.com", domainNames: ["Mail.Contoso.com", "mail1.contoso.com"], key });
    const pem = csrToPem(r.csrDer);
    const text = runOpenssl(["req", "-noout", "-text", "-verify"], { input: pem }).toString();
    assert.match(text, /Subject: DC = com, DC = Contoso, CN = mail1\.contoso\.com/);
    assert.match(text, /DNS:mail1\.contoso\.com, DNS:mail\.contoso\.com/);
    // DC is encoded as IA5String (tag 0x16), as RFC 4519 requires
    const asn1 = runOpenssl(["asn1parse", "-inform", "DER"], { input: r.csrDer }).toString();
    assert.match(asn1, /domainComponent\s*\n.*IA5STRING\s*:com/);
    assert.deepEqual(describePrivateKey(r.keyPair.pkcs8Der), key);
  });
}

test("self-signed: server+client auth, the names given, thumbprint = SHA-1 of the DER", async () => {
  const s = await createSelfSigned({ subjectName: "CN=edge1.contoso.com", domainNames: ["mail.contoso.com"], key: parseKeySpec("P-256"), validityDays: 30 });
  const info = describeCertificate(s.certDer);
  const node = new X509Certificate(s.certDer);
  assert.equal(info.thumbprint, node.fingerprint.replace(/:/g, ""));
  assert.deepEqual(info.certificateDomains, ["edge1.contoso.com", "mail.contoso.com"]);
  assert.equal(info.selfSigned, true);
  assert.deepEqual(info.extendedKeyUsage, ["serverAuth", "clientAuth"]);
  assert.equal(Math.round((info.notAfter.getTime() - info.notBefore.getTime()) / 86_400_000), 30);
  // round trip through every input form
  const pem = certToPem(s.certDer);
  assert.deepEqual(readCertificates(Buffer.from(pem)), [s.certDer]);
  assert.deepEqual(readCertificates(s.certDer), [s.certDer]);
  assert.deepEqual(readCertificates(Buffer.from(s.certDer.toString("base64"))), [s.certDer]);
});

test("certificate names: SAN dNSNames plus a host-name CN, deduplicated", () => {
  const pem = runOpenssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null", "-subj", "/O=Corp/CN=Some Person", "-addext", "subjectAltName=DNS:a.example,DNS:A.example,DNS:*.b.example", "-days", "1"]).toString();
  const info = describeCertificate(readCertificates(Buffer.from(pem))[0] as Buffer);
  assert.deepEqual(info.certificateDomains, ["a.example", "*.b.example"], "a CN that is not a host name is not a certificate domain");
  assert.equal(info.subject, "CN=Some Person, O=Corp");
});
