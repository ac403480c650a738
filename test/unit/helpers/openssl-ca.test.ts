import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { X509Certificate, createPrivateKey } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { OpenSslCa, opensslSha1, toOpensslSubject, type IssuedCert } from "../../helpers/openssl-ca.js";

const DAY = 86_400_000;

/** Runs openssl without throwing; returns exit status and stdout+stderr. */
function ossl(args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}) {
  const r = spawnSync("openssl", args, { input: opts.input, env: { ...process.env, ...opts.env } });
  return { status: r.status, out: `${r.stdout?.toString() ?? ""}${r.stderr?.toString() ?? ""}` };
}

function okOssl(args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): string {
  const r = ossl(args, opts);
  assert.equal(r.status, 0, `openssl ${args.join(" ")} failed:\n${r.out}`);
  return r.out;
}

function x509(cert: { certPem: string }): X509Certificate {
  return new X509Certificate(cert.certPem);
}

function certCount(pemText: string): number {
  return (pemText.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
}

describe("toOpensslSubject", () => {
  test("converts the comma form keeping the written order", () => {
    assert.equal(toOpensslSubject("C=US,O=Contoso,CN=x"), "/C=US/O=Contoso/CN=x");
    assert.equal(
      toOpensslSubject("DC=com,DC=Contoso,CN=mail1.contoso.com"),
      "/DC=com/DC=Contoso/CN=mail1.contoso.com",
    );
    assert.equal(toOpensslSubject("C=US, O=Contoso , CN=x"), "/C=US/O=Contoso/CN=x");
  });

  test("handles escapes, slashes, plus signs and multi-valued RDNs", () => {
    assert.equal(toOpensslSubject("O=Contoso\\, Ltd,CN=x"), "/O=Contoso, Ltd/CN=x");
    assert.equal(toOpensslSubject("O=A/B,CN=x"), "/O=A\\/B/CN=x");
    assert.equal(toOpensslSubject("O=A\\+B,CN=x"), "/O=A\\+B/CN=x");
    assert.equal(toOpensslSubject("CN=a+UID=b,O=c"), "/CN=a+UID=b/O=c");
    assert.equal(toOpensslSubject("CN=back\\\\slash"), "/CN=back\\\\slash");
  });

  test("passes the slash form through and rejects junk", () => {
    assert.equal(toOpensslSubject("/DC=com/CN=x"), "/DC=com/CN=x");
    assert.throws(() => toOpensslSubject("CN=x,nonsense"), /Bad subject part/);
    assert.throws(() => toOpensslSubject("=x"), /Bad subject part/);
  });
});

describe("OpenSslCa", () => {
  let root: OpenSslCa;
  let inter: OpenSslCa;
  let work: string;

  before(async () => {
    root = await OpenSslCa.createRoot({ name: "C=US,O=Sealpost Test,CN=Sealpost Test Root CA" });
    inter = await root.createIntermediate({
      name: "C=US,O=Sealpost Test,CN=Sealpost Test Issuing CA",
      keyType: "ec-p256",
      pathLen: 0,
      crlUrl: "http://127.0.0.1:8080/root.crl",
      aiaIssuerUrl: "http://127.0.0.1:8080/root.crt",
    });
    work = fs.mkdtempSync(path.join(os.tmpdir(), "sealpost-ca-test-"));
  });

  after(() => {
    const dir = root?.dir;
    root?.cleanup();
    if (dir) assert.equal(fs.existsSync(dir), false, "cleanup() removes the root directory");
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("root and intermediate are proper CA certificates", () => {
    const r = x509(root);
    assert.equal(r.subject, "C=US\nO=Sealpost Test\nCN=Sealpost Test Root CA");
    assert.equal(r.issuer, r.subject);
    assert.equal(r.ca, true);
    assert.equal(r.fingerprint.replace(/:/g, ""), root.sha1);
    assert.equal(r.serialNumber, root.serial);
    assert.equal(r.publicKey.asymmetricKeyType, "rsa");
    assert.ok(fs.statSync(root.indexPath).isFile());
    assert.ok(root.dir.startsWith(path.join(os.tmpdir(), "sealpost-ca-")));

    const i = x509(inter);
    assert.equal(i.ca, true);
    assert.ok(i.checkIssued(r));
    assert.ok(i.verify(r.publicKey));
    assert.equal(i.publicKey.asymmetricKeyType, "ec");
    assert.match(i.infoAccess ?? "", /CA Issuers - URI:http:\/\/127\.0\.0\.1:8080\/root\.crt/);
    const text = okOssl(["x509", "-in", inter.certPath, "-noout", "-text"]);
    assert.match(text, /CA:TRUE, pathlen:0/);
    assert.match(text, /URI:http:\/\/127\.0\.0\.1:8080\/root\.crl/);
    assert.match(text, /Certificate Sign, CRL Sign/);
    assert.equal(inter.parent, root);
    assert.ok(inter.dir.startsWith(root.dir + path.sep));
  });

  test("chainPem lists this CA then its parents up to the root", () => {
    const chain = inter.chainPem();
    assert.equal(certCount(chain), 2);
    assert.ok(chain.startsWith(inter.certPem.trim()));
    assert.ok(chain.trimEnd().endsWith(root.certPem.trim()));
    assert.equal(certCount(root.chainPem()), 1);
  });

  test("root -> intermediate -> leaf verifies with openssl verify", () => {
    const leaf = inter.issueLeaf({ subject: "C=US,O=Contoso,CN=mail.contoso.com", dnsNames: ["mail.contoso.com"] });
    const out = okOssl(["verify", "-CAfile", root.certPath, "-untrusted", inter.certPath, leaf.certPath]);
    assert.match(out, /: OK/);
    for (const purpose of ["sslserver", "sslclient"]) {
      okOssl(["verify", "-purpose", purpose, "-CAfile", root.certPath, "-untrusted", inter.certPath, leaf.certPath]);
    }
    const bad = ossl(["verify", "-CAfile", inter.certPath, leaf.certPath]);
    assert.notEqual(bad.status, 0, "intermediate alone is not a trust anchor");
    assert.ok(fs.existsSync(leaf.keyPath!));
    assert.match(leaf.keyPem!, /BEGIN PRIVATE KEY/);
  });

  test("Node's X509Certificate sees SAN, EKU, serial, AIA/OCSP, fingerprint", () => {
    const leaf = inter.issueLeaf({
      subject: "C=US,O=Contoso,CN=mail.contoso.com",
      keyType: "ec-p256",
      dnsNames: ["mail.contoso.com", "contoso.com"],
      ipAddresses: ["127.0.0.1"],
      eku: "serverAuth",
      crlUrl: "http://127.0.0.1:8080/issuing.crl",
      aiaIssuerUrl: "http://127.0.0.1:8080/issuing.crt",
      ocspUrl: "http://127.0.0.1:8081/",
    });
    const x = x509(leaf);
    assert.equal(x.subjectAltName, "DNS:mail.contoso.com, DNS:contoso.com, IP Address:127.0.0.1");
    assert.deepEqual(x.keyUsage, ["1.3.6.1.5.5.7.3.1"]); // Node's keyUsage is the EKU list
    assert.equal(x.serialNumber, leaf.serial);
    assert.match(leaf.serial, /^[0-9A-F]+$/);
    assert.match(leaf.sha1, /^[0-9A-F]{40}$/);
    assert.equal(x.fingerprint.replace(/:/g, ""), leaf.sha1);
    assert.equal(opensslSha1(leaf.certPath), leaf.sha1);
    assert.equal(opensslSha1(leaf.certPem), leaf.sha1);
    // The fixture reads thumbprints and serials in process; the openssl command line must print the same.
    for (const c of [leaf, root, inter]) {
      const out = okOssl(["x509", "-noout", "-fingerprint", "-sha1", "-serial", "-in", c.certPath]);
      assert.equal(/Fingerprint=([0-9A-F:]+)/.exec(out)?.[1]?.replace(/:/g, ""), c.sha1);
      assert.equal(/serial=([0-9A-F]+)/.exec(out)?.[1], c.serial);
    }
    assert.equal(x.ca, false);
    assert.equal(x.checkHost("contoso.com"), "contoso.com");
    assert.equal(x.checkIP("127.0.0.1"), "127.0.0.1");
    assert.match(x.infoAccess ?? "", /OCSP - URI:http:\/\/127\.0\.0\.1:8081\//);
    assert.match(x.infoAccess ?? "", /CA Issuers - URI:http:\/\/127\.0\.0\.1:8080\/issuing\.crt/);
    assert.ok(x.checkIssued(x509(inter)));
    const text = okOssl(["x509", "-in", leaf.certPath, "-noout", "-text"]);
    assert.match(text, /URI:http:\/\/127\.0\.0\.1:8080\/issuing\.crl/);
    assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /CA:FALSE/);
    assert.ok(leaf.certPath.endsWith(`${leaf.serial}.crt`));
  });

  test("EKU variants and default key usage by key type", () => {
    const eku = (e: Parameters<OpenSslCa["issueLeaf"]>[0]["eku"]) =>
      x509(inter.issueLeaf({ subject: "CN=eku.contoso.com", keyType: "ec-p256", eku: e })).keyUsage;
    assert.deepEqual(eku(undefined), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert.deepEqual(eku("both"), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert.deepEqual(eku("clientAuth"), ["1.3.6.1.5.5.7.3.2"]);
    assert.equal(eku("none"), undefined);
    assert.deepEqual(eku(["emailProtection", "1.3.6.1.5.5.7.3.1"]), ["1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.1"]);

    const rsa = inter.issueLeaf({ subject: "CN=rsa.contoso.com", keyType: "rsa2048" });
    assert.match(okOssl(["x509", "-in", rsa.certPath, "-noout", "-text"]), /Digital Signature, Key Encipherment/);
    const noKu = inter.issueLeaf({ subject: "CN=noku.contoso.com", keyType: "ec-p256", keyUsage: "none" });
    assert.doesNotMatch(okOssl(["x509", "-in", noKu.certPath, "-noout", "-text"]), /X509v3 Key Usage/);
    const clientOnly = inter.issueLeaf({ subject: "CN=client.contoso.com", keyType: "ec-p256", eku: "clientAuth" });
    const asServer = ossl(["verify", "-purpose", "sslserver", "-CAfile", root.certPath, "-untrusted", inter.certPath, clientOnly.certPath]);
    assert.notEqual(asServer.status, 0);
    assert.match(asServer.out, /unsuitable certificate purpose/);
  });

  test("key types", () => {
    const r3 = inter.issueLeaf({ subject: "CN=r3.contoso.com", keyType: "rsa3072" });
    const k3 = x509(r3).publicKey;
    assert.equal(k3.asymmetricKeyType, "rsa");
    assert.equal(k3.asymmetricKeyDetails?.modulusLength, 3072);
    const r2 = inter.issueLeaf({ subject: "CN=r2.contoso.com" });
    assert.equal(x509(r2).publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    const ec = inter.issueLeaf({ subject: "CN=ec.contoso.com", keyType: "ec-p256" });
    assert.equal(x509(ec).publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.ok(x509(ec).checkPrivateKey(require_key(ec)));

    // Re-using a key (renewal): same public key, new serial.
    const renewed = inter.issueLeaf({ subject: "CN=ec.contoso.com", keyPem: ec.keyPem! });
    assert.notEqual(renewed.serial, ec.serial);
    assert.equal(
      x509(renewed).publicKey.export({ format: "pem", type: "spki" }),
      x509(ec).publicKey.export({ format: "pem", type: "spki" }),
    );
  });

  test("validity: expired, not yet valid, explicit days, sha384 digest", () => {
    const now = Date.now();
    const expired = inter.issueLeaf({
      subject: "CN=expired.contoso.com",
      keyType: "ec-p256",
      startDate: new Date(now - 400 * DAY),
      endDate: new Date(now - 35 * DAY),
    });
    assert.ok(new Date(x509(expired).validTo).getTime() < now);
    const v1 = ossl(["verify", "-CAfile", root.certPath, "-untrusted", inter.certPath, expired.certPath]);
    assert.notEqual(v1.status, 0);
    assert.match(v1.out, /certificate has expired/);

    const future = inter.issueLeaf({ subject: "CN=future.contoso.com", keyType: "ec-p256", startDate: new Date(now + 10 * DAY), days: 30 });
    assert.ok(new Date(x509(future).validFrom).getTime() > now);
    assert.equal(new Date(x509(future).validTo).getTime() - new Date(x509(future).validFrom).getTime(), 30 * DAY);
    const v2 = ossl(["verify", "-CAfile", root.certPath, "-untrusted", inter.certPath, future.certPath]);
    assert.match(v2.out, /certificate is not yet valid/);

    const d = inter.issueLeaf({ subject: "CN=days.contoso.com", keyType: "ec-p256", days: 2, md: "sha384" });
    const x = x509(d);
    assert.ok(Math.abs(new Date(x.validTo).getTime() - (now + 2 * DAY)) < 60_000);
    assert.ok(new Date(x.validFrom).getTime() <= now - 3_000_000, "default notBefore is backdated an hour");
    assert.match(okOssl(["x509", "-in", d.certPath, "-noout", "-text"]), /ecdsa-with-SHA384/);

    const far = inter.issueLeaf({ subject: "CN=far.contoso.com", keyType: "ec-p256", endDate: new Date(Date.UTC(2051, 0, 2)) });
    assert.equal(new Date(x509(far).validTo).toISOString(), "2051-01-02T00:00:00.000Z");
  });

  test("subjects keep their written order; escaped commas survive", () => {
    const a = inter.issueLeaf({ subject: "DC=com,DC=Contoso,CN=mail1.contoso.com", keyType: "ec-p256" });
    assert.equal(x509(a).subject, "DC=com\nDC=Contoso\nCN=mail1.contoso.com");
    const b = inter.issueLeaf({ subject: "C=US,O=Contoso\\, Ltd,CN=x.contoso.com", keyType: "ec-p256" });
    assert.equal(x509(b).subject, "C=US\nO=Contoso\\, Ltd\nCN=x.contoso.com"); // Node escapes the comma
    const bs = okOssl(["x509", "-in", b.certPath, "-noout", "-subject", "-nameopt", "compat"]);
    assert.equal(bs.trim(), "subject=/C=US/O=Contoso, Ltd/CN=x.contoso.com");
    const c = inter.issueLeaf({ subject: "/CN=slash.contoso.com/O=Contoso", keyType: "ec-p256" });
    assert.equal(x509(c).subject, "CN=slash.contoso.com\nO=Contoso");
  });

  describe("signRequest", () => {
    let keyPath: string;
    let csrPem: string;
    let csrPemPath: string;
    let csrDerPath: string;

    before(() => {
      keyPath = path.join(work, "ext.key");
      csrPemPath = path.join(work, "ext.csr");
      csrDerPath = path.join(work, "ext.csr.der");
      okOssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPath]);
      okOssl([
        "req", "-new", "-key", keyPath, "-subj", "/DC=com/DC=Contoso/CN=mail1.contoso.com",
        "-addext", "subjectAltName=DNS:mail1.contoso.com,DNS:autodiscover.contoso.com",
        "-addext", "basicConstraints=critical,CA:TRUE", "-out", csrPemPath,
      ]);
      okOssl(["req", "-in", csrPemPath, "-outform", "DER", "-out", csrDerPath]);
      csrPem = fs.readFileSync(csrPemPath, "utf8");
    });

    test("keeps the request's subject order and copies its SAN", () => {
      for (const input of [csrPemPath, csrPem, csrDerPath, fs.readFileSync(csrDerPath)]) {
        const cert = inter.signRequest(input);
        const x = x509(cert);
        assert.equal(x.subject, "DC=com\nDC=Contoso\nCN=mail1.contoso.com");
        assert.equal(x.subjectAltName, "DNS:mail1.contoso.com, DNS:autodiscover.contoso.com");
        assert.equal(x.ca, false, "a CA:TRUE request does not make a CA");
        assert.equal(cert.keyPath, undefined);
        const subj = okOssl(["x509", "-in", cert.certPath, "-noout", "-subject", "-nameopt", "compat"]);
        assert.equal(subj.trim(), "subject=/DC=com/DC=Contoso/CN=mail1.contoso.com");
        okOssl(["verify", "-CAfile", root.certPath, "-untrusted", inter.certPath, cert.certPath]);
        assert.ok(x.checkPrivateKey(require_key({ keyPem: fs.readFileSync(keyPath, "utf8") })));
      }
    });

    test("dnsNames override the request's SAN; RSA key gets keyEncipherment", () => {
      const cert = inter.signRequest(csrPemPath, { dnsNames: ["other.contoso.com"], eku: "clientAuth", days: 10 });
      const x = x509(cert);
      assert.equal(x.subjectAltName, "DNS:other.contoso.com");
      assert.deepEqual(x.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
      assert.match(okOssl(["x509", "-in", cert.certPath, "-noout", "-text"]), /Digital Signature, Key Encipherment/);
    });

    test("rejects garbage", () => {
      assert.throws(() => inter.signRequest("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), /openssl req/);
    });
  });

  test("revoke + CRL: serial listed with reason, DER form, crl_check fails", async () => {
    const ca = await root.createIntermediate({ name: "CN=Revoking CA", keyType: "ec-p256" });
    const good = ca.issueLeaf({ subject: "CN=good.contoso.com", keyType: "ec-p256" });
    const bad = ca.issueLeaf({ subject: "CN=bad.contoso.com", keyType: "ec-p256" });
    const held = ca.issueLeaf({ subject: "CN=held.contoso.com", keyType: "ec-p256" });
    const plain = ca.issueLeaf({ subject: "CN=plain.contoso.com", keyType: "ec-p256" });
    ca.revoke(bad, "keyCompromise", { revokedAt: new Date(Date.UTC(2024, 4, 1, 12, 0, 0)) });
    ca.revoke(held, "certificateHold");
    ca.revoke(plain);
    assert.throws(() => ca.revoke(bad, "keyCompromise"), /Already revoked/);
    assert.throws(() => ca.revoke(inter.issueLeaf({ subject: "CN=foreign", keyType: "ec-p256" })), /not issued by/);

    const index = fs.readFileSync(ca.indexPath, "utf8");
    assert.match(index, new RegExp(`^R\\t\\d+Z\\t240501120000Z,keyCompromise\\t${bad.serial}\\t`, "m"));
    assert.match(index, new RegExp(`^V\\t\\d+Z\\t\\t${good.serial}\\t`, "m"));

    const lastUpdate = new Date(Date.now() - 60_000);
    const pem = ca.crl({ lastUpdate, hours: 2 });
    assert.match(pem.toString(), /BEGIN X509 CRL/);
    assert.deepEqual(fs.readFileSync(ca.crlPath), pem);
    const text = okOssl(["crl", "-noout", "-text"], { input: pem });
    assert.match(text, new RegExp(`Serial Number: ${bad.serial}\\s+Revocation Date: May  1 12:00:00 2024 GMT\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Key Compromise`));
    assert.match(text, new RegExp(`Serial Number: ${held.serial}[\\s\\S]*?Certificate Hold`));
    assert.match(text, new RegExp(`Serial Number: ${plain.serial}`));
    assert.doesNotMatch(text, new RegExp(`Serial Number: ${good.serial}`));
    assert.match(text, /X509v3 CRL Number:\s+4096/); // crlnumber starts at hex 1000
    const lu = /Last Update: (.+)/.exec(text)![1]!;
    const nu = /Next Update: (.+)/.exec(text)![1]!;
    assert.equal(new Date(lu).getTime(), Math.floor(lastUpdate.getTime() / 1000) * 1000);
    assert.equal(new Date(nu).getTime() - new Date(lu).getTime(), 2 * 3_600_000);

    const der = ca.crl({ der: true, days: 1 });
    assert.equal(der[0], 0x30);
    assert.match(okOssl(["crl", "-inform", "DER", "-noout", "-text"], { input: der }), /X509v3 CRL Number:\s+4097/);
    const fixed = ca.crl({ lastUpdate: new Date(Date.UTC(2023, 0, 1)), nextUpdate: new Date(Date.UTC(2023, 0, 2)) });
    const ft = okOssl(["crl", "-noout", "-text"], { input: fixed });
    assert.match(ft, /Last Update: Jan {2}1 00:00:00 2023 GMT\s+Next Update: Jan {2}2 00:00:00 2023 GMT/);

    ca.crl();
    const chainFile = path.join(work, "revoking-chain.pem");
    fs.writeFileSync(chainFile, ca.chainPem());
    const crlCheck = (c: IssuedCert) =>
      ossl(["verify", "-crl_check", "-CRLfile", ca.crlPath, "-CAfile", root.certPath, "-untrusted", ca.certPath, c.certPath]);
    assert.equal(crlCheck(good).status, 0, crlCheck(good).out);
    assert.match(crlCheck(bad).out, /certificate revoked/);

    // The root can revoke the intermediate (anything with certPath).
    root.revoke(ca, "cessationOfOperation");
    assert.match(okOssl(["crl", "-noout", "-text"], { input: root.crl() }), new RegExp(`Serial Number: ${ca.serial}`));
  });

  test("index.txt serves openssl ocsp (file mode, no network), ocspRespond", () => {
    const ok = inter.issueLeaf({ subject: "CN=ocsp-good.contoso.com", keyType: "ec-p256" });
    const gone = inter.issueLeaf({ subject: "CN=ocsp-revoked.contoso.com", keyType: "ec-p256" });
    const responder = inter.issueLeaf({ subject: "CN=Sealpost Test OCSP", keyType: "ec-p256", eku: ["OCSPSigning"] });
    inter.revoke(gone, "superseded");
    for (const [cert, status] of [[ok, "good"], [gone, "revoked"]] as const) {
      const req = path.join(work, `ocsp-${cert.serial}.req`);
      const resp = path.join(work, `ocsp-${cert.serial}.resp`);
      okOssl(["ocsp", "-issuer", inter.certPath, "-cert", cert.certPath, "-reqout", req]);
      // Plain openssl, straight from the index:
      okOssl(["ocsp", "-index", inter.indexPath, "-CA", inter.certPath, "-rsigner", inter.certPath, "-rkey", inter.keyPath, "-reqin", req, "-respout", resp]);
      assert.match(okOssl(["ocsp", "-respin", resp, "-resp_text", "-noverify"]), new RegExp(`Cert Status: ${status}`));
      // Through the helper, signed by the CA and by a delegated responder; verified against the root.
      for (const signer of [undefined, responder]) {
        fs.writeFileSync(resp, inter.ocspRespond(fs.readFileSync(req), { ...(signer ? { signer } : {}), minutes: 30 }));
        const out = okOssl(["ocsp", "-no_nonce", "-respin", resp, "-issuer", inter.certPath, "-cert", cert.certPath, "-CAfile", root.certPath, "-verify_other", inter.certPath]);
        assert.match(out, /Response verify OK/);
        assert.match(out, new RegExp(`${cert.certPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ${status}`));
        assert.match(out, /Next Update:/);
      }
    }
  });

  test("pfx opens with openssl pkcs12 -nodes (modern, chain, legacy, 3DES) and in Node", () => {
    const leaf = inter.issueLeaf({ subject: "CN=pfx.contoso.com", keyType: "ec-p256", dnsNames: ["pfx.contoso.com"] });
    const env = { P: "s3cret pass!" };
    const open = (pfx: Buffer, extra: string[] = []) => okOssl(["pkcs12", "-nodes", "-passin", "env:P", ...extra], { input: pfx, env });

    const modern = inter.pfx(leaf, env.P, { friendlyName: "sealpost" });
    const out = open(modern);
    assert.equal(certCount(out), 1);
    assert.match(out, /BEGIN PRIVATE KEY/);
    assert.match(out, /friendlyName: sealpost/);
    assert.match(open(modern, ["-info", "-nokeys"]), /AES-256-CBC/);
    tls.createSecureContext({ pfx: modern, passphrase: env.P });

    assert.equal(certCount(open(inter.pfx(leaf, env.P, { withChain: true }))), 3);

    const legacy = inter.pfx(leaf, env.P, { legacy: true });
    assert.match(open(legacy, ["-legacy", "-info"]), /pbeWithSHA1And40BitRC2-CBC/);
    const des = inter.pfx(leaf, env.P, { tripleDes: true });
    assert.match(open(des), /BEGIN PRIVATE KEY/);
    assert.match(open(des, ["-info", "-nokeys"]), /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/);
    tls.createSecureContext({ pfx: des, passphrase: env.P });

    assert.notEqual(ossl(["pkcs12", "-nodes", "-passin", "pass:wrong"], { input: modern }).status, 0);
    assert.throws(() => inter.pfx({ ...leaf, keyPath: undefined }, "x"), /keyPath/);
  });

  test("p7b parses with openssl pkcs7 -print_certs -inform DER", () => {
    const leaf = inter.issueLeaf({ subject: "CN=p7b.contoso.com", keyType: "ec-p256" });
    const p7b = inter.p7b([leaf.certPem, inter.certPem, root.certPem]);
    assert.equal(p7b[0], 0x30);
    const out = okOssl(["pkcs7", "-print_certs", "-inform", "DER"], { input: p7b });
    assert.equal(certCount(out), 3);
    assert.match(out, /subject=CN = p7b\.contoso\.com/);
    assert.match(out, /subject=C = US, O = Sealpost Test, CN = Sealpost Test Root CA/);
  });

  test("name constraints are enforced by openssl verify", async () => {
    const constrained = await OpenSslCa.createRoot({
      name: "CN=Constrained Root",
      keyType: "ec-p256",
      dir: path.join(work, "constrained"),
      nameConstraints: { permitted: ["contoso.com"], excluded: ["DNS:bad.contoso.com"] },
    });
    try {
      const ok = constrained.issueLeaf({ subject: "CN=mail.contoso.com", keyType: "ec-p256", dnsNames: ["mail.contoso.com"] });
      const out = constrained.issueLeaf({ subject: "CN=mail.fabrikam.com", keyType: "ec-p256", dnsNames: ["mail.fabrikam.com"] });
      const excl = constrained.issueLeaf({ subject: "CN=x.bad.contoso.com", keyType: "ec-p256", dnsNames: ["x.bad.contoso.com"] });
      okOssl(["verify", "-CAfile", constrained.certPath, ok.certPath]);
      assert.match(ossl(["verify", "-CAfile", constrained.certPath, out.certPath]).out, /permitted subtree violation/);
      assert.match(ossl(["verify", "-CAfile", constrained.certPath, excl.certPath]).out, /excluded subtree violation/);
      assert.match(okOssl(["x509", "-in", constrained.certPath, "-noout", "-text"]), /Name Constraints: critical/);
      await assert.rejects(OpenSslCa.createRoot({ name: "CN=x", dir: path.join(work, "constrained") }), /not empty/);
    } finally {
      constrained.cleanup();
    }
    assert.equal(fs.existsSync(path.join(work, "constrained")), false);
  });
});

function require_key(c: { keyPem?: string | undefined }) {
  assert.ok(c.keyPem);
  return createPrivateKey(c.keyPem);
}

describe("test keys (SEALPOST_TEST_KEY_POOL)", () => {
  /** A fresh process that writes `count` keys of each kind and prints them (as a test file of the same run would). */
  function keysOfAProcess(pool: string, out: string, count: number): { rsa: string[]; ec: string[] } {
    const config = new URL("../../../src/devtools/openssl-ca-config.js", import.meta.url).href;
    const script = `import { generateKey } from ${JSON.stringify(config)};
      import { readFileSync } from "node:fs";
      const read = (kind) => Array.from({ length: ${count} }, (_, i) => { const f = ${JSON.stringify(out)} + "-" + kind + i; generateKey(kind, f); return readFileSync(f, "utf8"); });
      console.log(JSON.stringify({ rsa: read("rsa2048"), ec: read("ec-p256") }));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, SEALPOST_TEST_KEY_POOL: pool }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { rsa: string[]; ec: string[] };
  }

  test("distinct within a process, each RSA key made once per run, EC keys always new, files 0600", () => {
    const pool = fs.mkdtempSync(path.join(os.tmpdir(), "sealpost-key-pool-"));
    try {
      const first = keysOfAProcess(pool, path.join(pool, "a"), 2);
      const second = keysOfAProcess(pool, path.join(pool, "b"), 1);
      assert.notEqual(first.rsa[0], first.rsa[1], "two keys of one process differ");
      assert.equal(second.rsa[0], first.rsa[0], "the next process's first RSA key is the pool's first");
      assert.notEqual(second.ec[0], first.ec[0]);
      assert.notEqual(first.ec[0], first.ec[1]);
      for (const pem of [...first.rsa, ...first.ec]) {
        assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
        createPrivateKey(pem);
      }
      assert.equal(createPrivateKey(first.rsa[0] as string).asymmetricKeyDetails?.modulusLength, 2048);
      assert.equal(createPrivateKey(first.ec[0] as string).asymmetricKeyDetails?.namedCurve, "prime256v1");
      assert.deepEqual(fs.readdirSync(pool).filter((f) => f.endsWith(".pem")).sort(), ["rsa2048-1.pem", "rsa2048-2.pem"]);
      for (const f of fs.readdirSync(pool)) assert.equal(fs.statSync(path.join(pool, f)).mode & 0o777, 0o600, f);
    } finally {
      fs.rmSync(pool, { recursive: true, force: true });
    }
  });
});
