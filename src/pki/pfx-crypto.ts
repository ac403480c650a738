// Password-based integrity and decryption for PKCS#12 (RFC 7292).
//
// pkijs decrypts only PBES2 and derives the MAC key from one password form, so
// the MAC check and the legacy pbeWithSHAAnd* ciphers are done here with
// node:crypto; PBES2 goes through pkijs. Passwords are encoded as OpenSSL 3
// does: PBES2 takes the UTF-8 bytes, the PKCS#12 KDF (MAC and legacy PBE) takes
// a NUL-terminated big-endian BMPString of the same characters.
import * as crypto from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { SealpostError } from "../errors/errors.js";
import { rc2CbcDecrypt } from "./pfx-rc2.js";

/** The password in each encoding a PKCS#12 file may have used. */
export interface PfxPassword {
  /** PBES2/PBKDF2 input. */
  utf8: Buffer;
  /** PKCS#12 KDF input; null is the "absent" password (no terminator). */
  bmp: Buffer | null;
}

// Bounds on work a hostile file can demand. The PKCS#12 KDF runs on the main
// thread (about 1.8 s per million SHA-1 rounds), so its bound is lower; real
// writers use 2000 (Windows), 2048 (OpenSSL) or 10000 (Java). PBKDF2 runs in
// WebCrypto's thread pool, and OWASP-style counts reach 600000.
const MAX_PKCS12_KDF_ITERATIONS = 100_000;
const MAX_PBKDF2_ITERATIONS = 2_000_000;

const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_PBKDF2 = "1.2.840.113549.1.5.12";

const MAC_HASHES: Record<string, { name: string; blockSize: number }> = {
  "1.3.14.3.2.26": { name: "sha1", blockSize: 64 },
  "2.16.840.1.101.3.4.2.4": { name: "sha224", blockSize: 64 },
  "2.16.840.1.101.3.4.2.1": { name: "sha256", blockSize: 64 },
  "2.16.840.1.101.3.4.2.2": { name: "sha384", blockSize: 128 },
  "2.16.840.1.101.3.4.2.3": { name: "sha512", blockSize: 128 },
};

const LEGACY_PBE: Record<string, { label: string; keyLen: number; cipher: "des-ede3-cbc" | "rc2" | null }> = {
  "1.2.840.113549.1.12.1.1": { label: "pbeWithSHAAnd128BitRC4", keyLen: 16, cipher: null },
  "1.2.840.113549.1.12.1.2": { label: "pbeWithSHAAnd40BitRC4", keyLen: 5, cipher: null },
  "1.2.840.113549.1.12.1.3": { label: "pbeWithSHAAnd3-KeyTripleDES-CBC", keyLen: 24, cipher: "des-ede3-cbc" },
  "1.2.840.113549.1.12.1.4": { label: "pbeWithSHAAnd2-KeyTripleDES-CBC", keyLen: 16, cipher: "des-ede3-cbc" },
  "1.2.840.113549.1.12.1.5": { label: "pbeWithSHAAnd128BitRC2-CBC", keyLen: 16, cipher: "rc2" },
  "1.2.840.113549.1.12.1.6": { label: "pbeWithSHAAnd40BitRC2-CBC", keyLen: 5, cipher: "rc2" },
};

// What WebCrypto (and so pkijs) can do inside PBES2.
const PBES2_CIPHERS = new Set(["2.16.840.1.101.3.4.1.2", "2.16.840.1.101.3.4.1.22", "2.16.840.1.101.3.4.1.42"]);
const PBES2_PRFS = new Set(["1.2.840.113549.2.7", "1.2.840.113549.2.9", "1.2.840.113549.2.10", "1.2.840.113549.2.11"]);

function toBmp(s: string): Buffer {
  const out = Buffer.alloc(s.length * 2 + 2);
  for (let i = 0; i < s.length; i++) out.writeUInt16BE(s.charCodeAt(i), i * 2);
  return out;
}

/**
 * Candidate encodings, most likely first. The empty password also has the
 * "absent" form (Windows exports without a password); a non-ASCII password
 * also has the byte-per-character form that OpenSSL before 1.1.0 wrote.
 */
export function passwordForms(password: string): PfxPassword[] {
  const utf8 = Buffer.from(password, "utf8");
  const forms: PfxPassword[] = [{ utf8, bmp: toBmp(password) }];
  if (password === "") forms.push({ utf8, bmp: null });
  if (/[^\x00-\x7f]/.test(password)) forms.push({ utf8, bmp: toBmp(utf8.toString("latin1")) });
  return forms;
}

export function malformed(message: string, cause?: unknown): SealpostError {
  return new SealpostError("PFX_MALFORMED", message, cause === undefined ? undefined : { cause });
}

function unsupported(what: string): SealpostError {
  return malformed(
    `The PFX file uses ${what}, which Sealpost cannot read. ` +
      "Re-export it with AES-256 encryption (for example `openssl pkcs12 -export` without `-legacy`).",
  );
}

function checkIterations(n: number, max: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw malformed(`The PFX file asks for ${n} key-derivation iterations; at most ${max} are accepted.`);
  }
}

/** RFC 7292 appendix B.2: id 1 = key, 2 = IV, 3 = MAC key. */
function pkcs12Kdf(hash: string, blockSize: number, password: Buffer | null, salt: Buffer, id: number, iterations: number, size: number): Buffer {
  const v = blockSize;
  const fill = (src: Buffer): Buffer => {
    const out = Buffer.alloc(src.length === 0 ? 0 : v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const d = Buffer.alloc(v, id);
  const i = Buffer.concat([fill(salt), fill(password ?? Buffer.alloc(0))]);
  const blocks: Buffer[] = [];
  let produced = 0;
  while (produced < size) {
    let a = crypto.createHash(hash).update(d).update(i).digest();
    for (let n = 1; n < iterations; n++) a = crypto.createHash(hash).update(a).digest();
    blocks.push(a);
    produced += a.length;
    if (produced >= size) break;
    const b = Buffer.alloc(v);
    for (let n = 0; n < v; n++) b[n] = a[n % a.length]!;
    // I_j = (I_j + B + 1) mod 2^(8v), big-endian, for each v-byte block of I.
    for (let off = 0; off < i.length; off += v) {
      let carry = 1;
      for (let n = v - 1; n >= 0; n--) {
        const sum = i[off + n]! + b[n]! + carry;
        i[off + n] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, size);
}

/** The password form that the MAC accepts, or null when none does. */
export function verifyMac(macData: pkijs.MacData, authSafeContent: Buffer, forms: PfxPassword[]): PfxPassword | null {
  const oid = macData.mac.digestAlgorithm.algorithmId;
  const hash = MAC_HASHES[oid];
  if (!hash) throw unsupported(`the integrity (MAC) algorithm ${oid}`);
  const iterations = macData.iterations ?? 1;
  checkIterations(iterations, MAX_PKCS12_KDF_ITERATIONS);
  const salt = Buffer.from(macData.macSalt.valueBlock.valueHexView);
  const expected = Buffer.from(macData.mac.digest.valueBlock.valueHexView);
  const size = crypto.createHash(hash.name).digest().length;
  for (const form of forms) {
    const key = pkcs12Kdf(hash.name, hash.blockSize, form.bmp, salt, 3, iterations, size);
    const mac = crypto.createHmac(hash.name, key).update(authSafeContent).digest();
    if (mac.length === expected.length && crypto.timingSafeEqual(mac, expected)) return form;
  }
  return null;
}

/**
 * Ciphertext that would not decrypt (bad padding) or plaintext that would not
 * parse: almost surely a wrong password. Unsupported or malformed algorithms
 * raise SealpostError(PFX_MALFORMED) instead.
 */
export class DecryptFailed extends Error {}

function legacyDecrypt(oid: string, params: unknown, data: Buffer, form: PfxPassword): Buffer {
  const alg = LEGACY_PBE[oid]!;
  if (!alg.cipher) throw unsupported(`the legacy encryption algorithm ${alg.label}`);
  const [saltNode, iterNode] = params instanceof asn1js.Sequence ? params.valueBlock.value : [];
  if (!(saltNode instanceof asn1js.OctetString) || !(iterNode instanceof asn1js.Integer)) {
    throw malformed(`The PFX file has malformed ${alg.label} parameters.`);
  }
  const salt = Buffer.from(saltNode.valueBlock.valueHexView);
  const iterations = iterNode.valueBlock.valueDec;
  checkIterations(iterations, MAX_PKCS12_KDF_ITERATIONS);
  const key = pkcs12Kdf("sha1", 64, form.bmp, salt, 1, iterations, alg.keyLen);
  const iv = pkcs12Kdf("sha1", 64, form.bmp, salt, 2, iterations, 8);
  try {
    if (alg.cipher === "rc2") return rc2CbcDecrypt(key, alg.keyLen * 8, iv, data);
    // Two-key 3DES is three-key 3DES with K3 = K1.
    const key3 = alg.keyLen === 16 ? Buffer.concat([key, key.subarray(0, 8)]) : key;
    const decipher = crypto.createDecipheriv("des-ede3-cbc", key3, iv);
    return Buffer.concat([decipher.update(data), decipher.final()]);
  } catch (e) {
    throw new DecryptFailed("legacy decryption failed", { cause: e });
  }
}

function checkPbes2(params: unknown): void {
  let pbes2: pkijs.PBES2Params;
  let kdf: pkijs.PBKDF2Params;
  try {
    pbes2 = new pkijs.PBES2Params({ schema: params });
    if (pbes2.keyDerivationFunc.algorithmId !== OID_PBKDF2) {
      throw unsupported(`the key-derivation function ${pbes2.keyDerivationFunc.algorithmId}`);
    }
    kdf = new pkijs.PBKDF2Params({ schema: pbes2.keyDerivationFunc.algorithmParams });
  } catch (e) {
    if (e instanceof SealpostError) throw e;
    throw malformed("The PFX file has malformed PBES2 parameters.", e);
  }
  if (!PBES2_CIPHERS.has(pbes2.encryptionScheme.algorithmId)) {
    throw unsupported(`the PBES2 cipher ${pbes2.encryptionScheme.algorithmId}`);
  }
  if (kdf.prf && !PBES2_PRFS.has(kdf.prf.algorithmId)) throw unsupported(`the PBKDF2 function ${kdf.prf.algorithmId}`);
  checkIterations(kdf.iterationCount, MAX_PBKDF2_ITERATIONS);
}

/**
 * Decrypts one password-encrypted blob (a shrouded key bag or an encrypted
 * SafeContents). Throws DecryptFailed when the password does not fit, and
 * SealpostError(PFX_MALFORMED) when the algorithm is unknown or unsupported.
 */
export async function decryptWithPassword(alg: pkijs.AlgorithmIdentifier, data: Buffer, form: PfxPassword): Promise<Buffer> {
  const oid = alg.algorithmId;
  if (LEGACY_PBE[oid]) return legacyDecrypt(oid, alg.algorithmParams, data, form);
  if (oid !== OID_PBES2) throw unsupported(`the encryption algorithm ${oid}`);
  checkPbes2(alg.algorithmParams);
  const encrypted = new pkijs.EncryptedData({
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: pkijs.ContentInfo.DATA,
      contentEncryptionAlgorithm: alg,
      encryptedContent: new asn1js.OctetString({ valueHex: data }),
      disableSplit: true,
    }),
  });
  try {
    const password = new Uint8Array(form.utf8).buffer;
    return Buffer.from(await encrypted.decrypt({ password }));
  } catch (e) {
    throw new DecryptFailed("PBES2 decryption failed", { cause: e });
  }
}
