import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { isSealpostError } from "../../../src/errors/errors.js";
import { ensureCryptoEngine } from "../../../src/pki/crypto-engine.js";
import { createPfx, looksLikePfx, parsePfx } from "../../../src/pki/pfx.js";

const HOST = "mail.pfx-test.example";
const NON_ASCII = "pässwörd€";

let dir: string;

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `openssl pkcs12 -info` prints the algorithms on stderr. */
function pkcs12Info(pfxFile: string, password: string, extra: string[] = []): string {
  const r = spawnSync("openssl", ["pkcs12", ...extra, "-in", pfxFile, "-info", "-noout", "-passin", `pass:${password}`], {
    cwd: dir,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout + r.stderr;
}

function file(name: string): string {
  return path.join(dir, name);
}

interface Identity {
  keyFile: string;
  certFile: string;
  keyDer: Buffer; // PKCS#8, as Node exports it
  certDer: Buffer;
  certPem: string;
}

/** A key and a self-signed server certificate for HOST, made by the openssl CLI. */
function selfSigned(name: string, keyArgs: string[]): Identity {
  const keyFile = file(`${name}.key`);
  const certFile = file(`${name}.crt`);
  openssl(["genpkey", ...keyArgs, "-out", keyFile]);
  openssl([
    "req", "-x509", "-new", "-key", keyFile, "-out", certFile, "-days", "2", "-subj", `/CN=${HOST}`,
    "-addext", `subjectAltName=DNS:${HOST}`,
  ]);
  return identityOf(keyFile, certFile);
}

function identityOf(keyFile: string, certFile: string): Identity {
  const certPem = fs.readFileSync(certFile, "utf8");
  return {
    keyFile,
    certFile,
    keyDer: crypto.createPrivateKey(fs.readFileSync(keyFile)).export({ type: "pkcs8", format: "der" }),
    certDer: new crypto.X509Certificate(certPem).raw,
    certPem,
  };
}

function exportPfx(id: Identity, out: string, password: string, extra: string[] = []): Buffer {
  openssl(["pkcs12", "-export", "-inkey", id.keyFile, "-in", id.certFile, "-out", file(out), "-passout", `pass:${password}`, ...extra]);
  return fs.readFileSync(file(out));
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    assert.ok(isSealpostError(e), `expected a SealpostError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but the call succeeded`);
}

function pemToDer(pem: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`, "g");
  return [...pem.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

/** Serves `pfx` over TLS on loopback and returns the certificate a verifying client saw. */
async function tlsHandshake(pfx: Buffer, passphrase: string, caPem: string): Promise<{ authorized: boolean; fingerprint256: string }> {
  const server = tls.createServer({ pfx, passphrase }, (socket) => socket.end("hello"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ca: caPem, servername: HOST }, () => {
        const peer = socket.getPeerCertificate();
        resolve({ authorized: socket.authorized, fingerprint256: peer.fingerprint256 });
        socket.end();
      });
      socket.on("error", reject);
      socket.setTimeout(10_000, () => reject(new Error("TLS handshake timed out")));
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * A PFX written with pkijs directly, keeping the certificates in the order
 * given (openssl always moves the key's certificate first) and the key in an
 * unencrypted KeyBag after them.
 */
async function pfxInOrder(keyDer: Buffer, certsDer: Buffer[], password: string): Promise<Buffer> {
  ensureCryptoEngine();
  const safe = new pkijs.SafeContents({
    safeBags: [
      ...certsDer.map(
        (der) =>
          new pkijs.SafeBag({
            bagId: "1.2.840.113549.1.12.10.1.3",
            bagValue: new pkijs.CertBag({ certId: "1.2.840.113549.1.9.22.1", certValue: new asn1js.OctetString({ valueHex: der }) }),
          }),
      ),
      new pkijs.SafeBag({ bagId: "1.2.840.113549.1.12.10.1.1", bagValue: pkijs.KeyBag.fromBER(keyDer) }),
    ],
  });
  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    safeContents: [
      new pkijs.ContentInfo({ contentType: "1.2.840.113549.1.7.1", content: new asn1js.OctetString({ valueHex: safe.toSchema().toBER(false) }) }),
    ],
  });
  const pfx = new pkijs.PFX({ parsedValue: { integrityMode: 0, authenticatedSafe } });
  const pw = new Uint8Array(Buffer.from(password, "utf8")).buffer;
  await pfx.makeInternalValues({ password: pw, iterations: 2048, pbkdf2HashAlgorithm: "SHA-256", hmacHashAlgorithm: "SHA-256" });
  return Buffer.from(pfx.toSchema().toBER(false));
}

function supportsLegacy(): boolean {
  try {
    openssl(["list", "-cipher-algorithms", "-provider", "legacy"]);
    return true;
  } catch {
    return false;
  }
}

describe("PKCS#12/PFX", () => {
  let rsa: Identity;
  let ec: Identity;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sealpost-pfx-"));
    rsa = selfSigned("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    ec = selfSigned("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("parsePfx with files made by openssl", () => {
    for (const kind of ["rsa", "ec"] as const) {
      it(`reads an OpenSSL 3 default export (${kind})`, async () => {
        const id = kind === "rsa" ? rsa : ec;
        const pfx = exportPfx(id, `${kind}-default.pfx`, "s3cret", ["-name", `Sealpost ${kind}`]);
        assert.match(pkcs12Info(file(`${kind}-default.pfx`), "s3cret"), /AES-256-CBC/);
        const got = await parsePfx(pfx, "s3cret");
        assert.deepEqual(got.keyPkcs8Der, id.keyDer);
        assert.equal(got.certificatesDer.length, 1);
        assert.deepEqual(got.certificatesDer[0], id.certDer);
        assert.equal(got.friendlyName, `Sealpost ${kind}`);
      });
    }

    it("reads an -legacy export (3DES key, RC2-40 certificates, SHA-1 MAC)", async (t) => {
      if (!supportsLegacy()) return t.skip("the local openssl has no legacy provider");
      const pfx = exportPfx(rsa, "legacy.pfx", "s3cret", ["-legacy"]);
      const info = pkcs12Info(file("legacy.pfx"), "s3cret", ["-legacy"]);
      assert.match(info, /pbeWithSHA1And40BitRC2-CBC/);
      assert.match(info, /pbeWithSHA1And3-KeyTripleDES-CBC/);
      const got = await parsePfx(pfx, "s3cret");
      assert.deepEqual(got.keyPkcs8Der, rsa.keyDer);
      assert.deepEqual(got.certificatesDer, [rsa.certDer]);
      await rejectsWith(parsePfx(pfx, "wrong"), "PFX_BAD_PASSWORD");
    });

    it("reads every PKCS#12 PBE cipher but RC4, and other MAC hashes", async (t) => {
      if (!supportsLegacy()) return t.skip("the local openssl has no legacy provider");
      const variants: [string, string[], RegExp][] = [
        ["rc2-128", ["-legacy", "-certpbe", "PBE-SHA1-RC2-128", "-keypbe", "PBE-SHA1-RC2-128"], /pbeWithSHA1And128BitRC2-CBC/],
        ["2des", ["-legacy", "-certpbe", "PBE-SHA1-2DES", "-keypbe", "PBE-SHA1-2DES"], /pbeWithSHA1And2-KeyTripleDES-CBC/],
        ["aes128-sha512mac", ["-certpbe", "AES-128-CBC", "-keypbe", "AES-128-CBC", "-macalg", "sha512"], /MAC: sha512/],
        ["sha1mac-5000", ["-macalg", "sha1", "-iter", "5000"], /MAC: sha1, Iteration 5000/],
      ];
      for (const [name, args, expected] of variants) {
        const pfx = exportPfx(ec, `variant-${name}.pfx`, "s3cret", args);
        assert.match(pkcs12Info(file(`variant-${name}.pfx`), "s3cret", args.includes("-legacy") ? ["-legacy"] : []), expected);
        const got = await parsePfx(pfx, "s3cret");
        assert.deepEqual(got.keyPkcs8Der, ec.keyDer, name);
        assert.deepEqual(got.certificatesDer, [ec.certDer], name);
      }
      const rc4 = exportPfx(ec, "variant-rc4.pfx", "s3cret", ["-legacy", "-certpbe", "PBE-SHA1-RC4-128", "-keypbe", "PBE-SHA1-RC4-128"]);
      const err = await rejectsWith(parsePfx(rc4, "s3cret"), "PFX_MALFORMED");
      assert.match(err.message, /pbeWithSHAAnd128BitRC4.*Re-export it with AES-256/);
    });

    it("reads a file whose certificates are not encrypted", async () => {
      const pfx = exportPfx(ec, "plain-certs.pfx", "s3cret", ["-certpbe", "NONE"]);
      const got = await parsePfx(pfx, "s3cret");
      assert.deepEqual(got.keyPkcs8Der, ec.keyDer);
      assert.deepEqual(got.certificatesDer, [ec.certDer]);
    });

    it("reads a file without a MAC, and still rejects a wrong password", async () => {
      const pfx = exportPfx(rsa, "nomac.pfx", "s3cret", ["-nomac"]);
      assert.deepEqual((await parsePfx(pfx, "s3cret")).certificatesDer, [rsa.certDer]);
      await rejectsWith(parsePfx(pfx, "wrong"), "PFX_BAD_PASSWORD");
    });

    it("reads a file with an empty password", async () => {
      const pfx = exportPfx(ec, "empty.pfx", "");
      assert.deepEqual((await parsePfx(pfx, "")).keyPkcs8Der, ec.keyDer);
    });

    it("reads a non-ASCII password (default and -legacy)", async () => {
      const pfx = exportPfx(rsa, "nonascii.pfx", NON_ASCII);
      assert.deepEqual((await parsePfx(pfx, NON_ASCII)).keyPkcs8Der, rsa.keyDer);
      await rejectsWith(parsePfx(pfx, "passwörd€"), "PFX_BAD_PASSWORD");
      if (supportsLegacy()) {
        const legacy = exportPfx(rsa, "nonascii-legacy.pfx", NON_ASCII, ["-legacy"]);
        assert.deepEqual((await parsePfx(legacy, NON_ASCII)).certificatesDer, [rsa.certDer]);
      }
    });

    it("puts the leaf first in a file with a CA chain", async () => {
      const caKey = file("ca.key");
      openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", caKey]);
      openssl(["req", "-x509", "-new", "-key", caKey, "-out", file("ca.crt"), "-days", "2", "-subj", "/CN=PFX Test CA"]);
      openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file("leaf.key")]);
      openssl(["req", "-new", "-key", file("leaf.key"), "-out", file("leaf.csr"), "-subj", `/CN=${HOST}`]);
      openssl([
        "x509", "-req", "-in", file("leaf.csr"), "-CA", file("ca.crt"), "-CAkey", caKey, "-CAcreateserial",
        "-out", file("leaf.crt"), "-days", "2",
      ]);
      // The CA comes first in the input, so the leaf must be found by its key.
      fs.writeFileSync(file("chain.pem"), fs.readFileSync(file("ca.crt"), "utf8") + fs.readFileSync(file("leaf.crt"), "utf8"));
      const leaf = identityOf(file("leaf.key"), file("leaf.crt"));
      const caDer = new crypto.X509Certificate(fs.readFileSync(file("ca.crt"))).raw;
      openssl(["pkcs12", "-export", "-inkey", leaf.keyFile, "-in", file("chain.pem"), "-out", file("chain.pfx"), "-passout", "pass:s3cret"]);
      const got = await parsePfx(fs.readFileSync(file("chain.pfx")), "s3cret");
      assert.deepEqual(got.certificatesDer, [leaf.certDer, caDer]);
      assert.deepEqual(got.keyPkcs8Der, leaf.keyDer);

      // Leaf last in the file: it still comes first, the others keep file order.
      const reordered = await pfxInOrder(leaf.keyDer, [caDer, rsa.certDer, leaf.certDer], "s3cret");
      fs.writeFileSync(file("reordered.pfx"), reordered);
      const dump = openssl(["pkcs12", "-in", file("reordered.pfx"), "-nodes", "-passin", "pass:s3cret"]);
      assert.deepEqual(pemToDer(dump, "CERTIFICATE"), [caDer, rsa.certDer, leaf.certDer], "fixture order as openssl sees it");
      const fromReordered = await parsePfx(reordered, "s3cret");
      assert.deepEqual(fromReordered.certificatesDer, [leaf.certDer, caDer, rsa.certDer]);
      assert.deepEqual(fromReordered.keyPkcs8Der, leaf.keyDer);

      // Our own writer, given the CA first, also stores and returns the leaf first.
      const ours = await createPfx({ keyPkcs8Der: leaf.keyDer, certificatesDer: [caDer, leaf.certDer], password: "x" });
      assert.deepEqual((await parsePfx(ours, "x")).certificatesDer, [leaf.certDer, caDer]);
    });
  });

  describe("parsePfx errors", () => {
    it("reports a wrong password without revealing it", async () => {
      const pfx = exportPfx(rsa, "wrongpw.pfx", "s3cret");
      const attempt = "Tr0ub4dor&3-not-it";
      const err = await rejectsWith(parsePfx(pfx, attempt), "PFX_BAD_PASSWORD");
      assert.equal(err.message, "The PFX password is wrong (the file's integrity check failed).");
      assert.ok(!err.message.includes(attempt));
      assert.ok(!JSON.stringify(err).includes(attempt));
    });

    it("reports a truncated file as malformed", async () => {
      const pfx = exportPfx(rsa, "trunc.pfx", "s3cret");
      for (const size of [10, Math.floor(pfx.length / 2), pfx.length - 1]) {
        const err = await rejectsWith(parsePfx(pfx.subarray(0, size), "s3cret"), "PFX_MALFORMED");
        assert.match(err.message, /damaged or truncated|structure/);
      }
      assert.equal(looksLikePfx(pfx.subarray(0, 40)), true, "a truncated PFX still looks like one");
    });

    it("reports garbage as malformed", async () => {
      const garbage = crypto.randomBytes(512);
      garbage[0] = 0x04; // not a SEQUENCE, so never accidentally valid
      await rejectsWith(parsePfx(garbage, "s3cret"), "PFX_MALFORMED");
      await rejectsWith(parsePfx(Buffer.alloc(0), "s3cret"), "PFX_MALFORMED");
      await rejectsWith(parsePfx(Buffer.from(rsa.certPem), "s3cret"), "PFX_MALFORMED");
      // A certificate is DER but not a PFX.
      await rejectsWith(parsePfx(rsa.certDer, "s3cret"), "PFX_MALFORMED");
    });

    it("reports a file without a private key as PFX_NO_KEY", async () => {
      openssl(["pkcs12", "-export", "-nokeys", "-in", rsa.certFile, "-out", file("nokey.pfx"), "-passout", "pass:s3cret"]);
      await rejectsWith(parsePfx(fs.readFileSync(file("nokey.pfx")), "s3cret"), "PFX_NO_KEY");
    });
  });

  describe("looksLikePfx", () => {
    it("tells PFX files from other inputs", () => {
      assert.equal(looksLikePfx(exportPfx(ec, "looks.pfx", "s3cret")), true);
      assert.equal(looksLikePfx(rsa.certDer), false);
      assert.equal(looksLikePfx(Buffer.from(rsa.certPem)), false);
      assert.equal(looksLikePfx(rsa.keyDer), false);
      assert.equal(looksLikePfx(Buffer.alloc(0)), false);
      assert.equal(looksLikePfx(Buffer.from([0x30])), false);
      // BER with indefinite lengths, as some writers produce.
      assert.equal(looksLikePfx(Buffer.from("3080020103308006092a864886f70d010701", "hex")), true);
      assert.equal(looksLikePfx(Buffer.from("3080020102308006092a864886f70d010701", "hex")), false, "version 2");
    });
  });

  describe("createPfx", () => {
    for (const kind of ["rsa", "ec"] as const) {
      it(`writes a file that openssl, Node's TLS and parsePfx open (${kind})`, async () => {
        const id = kind === "rsa" ? rsa : ec;
        const password = "export-pw";
        const pfx = await createPfx({ keyPkcs8Der: id.keyDer, certificatesDer: [id.certDer], password, friendlyName: "Sealpost export" });
        assert.equal(looksLikePfx(pfx), true);
        fs.writeFileSync(file(`ours-${kind}.pfx`), pfx);

        const info = pkcs12Info(file(`ours-${kind}.pfx`), password);
        assert.match(info, /MAC: sha256, Iteration 2048/);
        assert.match(info, /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
        assert.match(info, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);

        const dump = openssl(["pkcs12", "-in", file(`ours-${kind}.pfx`), "-nodes", "-passin", `pass:${password}`]);
        assert.deepEqual(pemToDer(dump, "CERTIFICATE"), [id.certDer]);
        const [keyDer] = pemToDer(dump, "PRIVATE KEY");
        assert.ok(keyDer, "openssl printed no private key");
        assert.deepEqual(crypto.createPrivateKey({ key: keyDer, format: "der", type: "pkcs8" }).export({ type: "pkcs8", format: "der" }), id.keyDer);
        assert.match(dump, /friendlyName: Sealpost export/);
        // The key's and the certificate's localKeyID attributes must agree.
        const ids = [...dump.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1]!.trim());
        assert.equal(ids.length, 2);
        assert.equal(ids[0], ids[1]);

        tls.createSecureContext({ pfx, passphrase: password });
        const seen = await tlsHandshake(pfx, password, id.certPem);
        assert.equal(seen.authorized, true);
        assert.equal(seen.fingerprint256, new crypto.X509Certificate(id.certPem).fingerprint256);

        const back = await parsePfx(pfx, password);
        assert.deepEqual(back.keyPkcs8Der, id.keyDer);
        assert.deepEqual(back.certificatesDer, [id.certDer]);
        assert.equal(back.friendlyName, "Sealpost export");
      });
    }

    it("writes a non-ASCII password that openssl and Node accept", async () => {
      const pfx = await createPfx({ keyPkcs8Der: ec.keyDer, certificatesDer: [ec.certDer], password: NON_ASCII });
      fs.writeFileSync(file("ours-nonascii.pfx"), pfx);
      const dump = openssl(["pkcs12", "-in", file("ours-nonascii.pfx"), "-nodes", "-passin", `pass:${NON_ASCII}`]);
      assert.deepEqual(pemToDer(dump, "CERTIFICATE"), [ec.certDer]);
      assert.equal(pemToDer(dump, "PRIVATE KEY").length, 1);
      tls.createSecureContext({ pfx, passphrase: NON_ASCII });
      assert.deepEqual((await parsePfx(pfx, NON_ASCII)).keyPkcs8Der, ec.keyDer);
      await rejectsWith(parsePfx(pfx, "passwörd€"), "PFX_BAD_PASSWORD");
    });

    it("writes an empty password that openssl accepts", async () => {
      const pfx = await createPfx({ keyPkcs8Der: rsa.keyDer, certificatesDer: [rsa.certDer], password: "" });
      fs.writeFileSync(file("ours-empty.pfx"), pfx);
      const dump = openssl(["pkcs12", "-in", file("ours-empty.pfx"), "-nodes", "-passin", "pass:"]);
      assert.deepEqual(pemToDer(dump, "CERTIFICATE"), [rsa.certDer]);
      assert.deepEqual((await parsePfx(pfx, "")).certificatesDer, [rsa.certDer]);
    });

    it("refuses certificates that do not match the key", async () => {
      await rejectsWith(createPfx({ keyPkcs8Der: rsa.keyDer, certificatesDer: [ec.certDer], password: "x" }), "PFX_NO_KEY");
    });
  });
});
