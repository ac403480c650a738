// PKCS#12/PFX import and export (RFC 7292).
//
// Reading accepts what OpenSSL 3 writes by default (PBES2/AES-256-CBC with an
// HMAC-SHA256 MAC), what `-legacy`, OpenSSL 1.x and Windows write (3DES and
// RC2-40 with an HMAC-SHA1 MAC), and unencrypted certificate safes. Writing
// uses the OpenSSL 3 default layout and algorithms, so that OpenSSL and Node's
// TLS stack open the result.
import * as crypto from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { SealpostError } from "../errors/errors.js";
import { ensureCryptoEngine } from "./crypto-engine.js";
import { bagAttributes, OID, readAuthenticatedSafe, type FoundBags } from "./pfx-bags.js";
import { DecryptFailed, malformed, passwordForms, verifyMac, type PfxPassword } from "./pfx-crypto.js";

export interface PfxContents {
  keyPkcs8Der: Buffer; // the private key, unencrypted PKCS#8 DER
  certificatesDer: Buffer[]; // leaf first (the cert whose public key matches the key), then the others in file order
  friendlyName?: string; // from the leaf's or key's friendlyName attribute if present
}

// OpenSSL 3's defaults (PKCS12_DEFAULT_ITER, AES-256-CBC, HMAC-SHA256). The
// MAC's iterations bound the cost of guessing the password, so raising only
// the PBKDF2 count would add no strength.
const ITERATIONS = 2048;
const PBES2_PARAMS = {
  contentEncryptionAlgorithm: { name: "AES-CBC", length: 256 } as pkijs.ContentEncryptionAlgorithm,
  hmacHashAlgorithm: "SHA-256",
  iterationCount: ITERATIONS,
};

const BAD_PASSWORD_MESSAGE = "The PFX password is wrong (the file's integrity check failed).";

function badPassword(): SealpostError {
  return new SealpostError("PFX_BAD_PASSWORD", BAD_PASSWORD_MESSAGE);
}

// Skips the tag and length of one header. Indefinite lengths are allowed:
// PKCS#12 is BER, and pkijs itself writes them unless told otherwise.
function skipHeader(data: Buffer, off: number, tag: number): number {
  if (data[off] !== tag) return -1;
  const len = data[off + 1];
  if (len === undefined) return -1;
  if (len <= 0x80) return off + 2; // short form, or 0x80 = indefinite
  const lengthBytes = len & 0x7f;
  return lengthBytes > 4 ? -1 : off + 2 + lengthBytes;
}

const DATA_OID_DER = Buffer.from("06092a864886f70d010701", "hex");
const SIGNED_DATA_OID_DER = Buffer.from("06092a864886f70d010702", "hex");

/**
 * True when `data` starts like a PFX: SEQUENCE { INTEGER 3, SEQUENCE { OID
 * data|signedData ... } }. Only the first bytes are read, so a truncated PFX
 * still counts as one (and parsePfx then reports it as damaged).
 */
export function looksLikePfx(data: Buffer): boolean {
  let off = skipHeader(data, 0, 0x30);
  if (off < 0 || !data.subarray(off, off + 3).equals(Buffer.from([0x02, 0x01, 0x03]))) return false;
  off = skipHeader(data, off + 3, 0x30);
  if (off < 0) return false;
  const oid = data.subarray(off, off + DATA_OID_DER.length);
  return oid.equals(DATA_OID_DER) || oid.equals(SIGNED_DATA_OID_DER);
}

function decodePfx(data: Buffer): pkijs.PFX {
  if (data.length === 0) throw malformed("The PFX file is empty.");
  let asn1: ReturnType<typeof asn1js.fromBER>;
  try {
    asn1 = asn1js.fromBER(data);
  } catch (e) {
    // asn1js reports most damage as offset -1 but throws for some (a GeneralizedTime that is not a time).
    throw malformed("The file is not a valid PKCS#12/PFX file: its ASN.1 structure is damaged or truncated.", e);
  }
  if (asn1.offset === -1) {
    throw malformed("The file is not a valid PKCS#12/PFX file: its ASN.1 structure is damaged or truncated.");
  }
  let pfx: pkijs.PFX;
  try {
    pfx = new pkijs.PFX({ schema: asn1.result });
  } catch (e) {
    throw malformed("The file is not a PKCS#12/PFX file: its structure does not match PKCS#12.", e);
  }
  if (pfx.version !== 3) throw malformed(`The PFX file has version ${pfx.version}; only version 3 is supported.`);
  if (pfx.authSafe.contentType === OID.signedData) {
    throw malformed("The PFX file is signed with a key (public-key integrity mode), which Sealpost cannot read.");
  }
  if (pfx.authSafe.contentType !== OID.data) throw malformed(`The PFX file has content of unknown type ${pfx.authSafe.contentType}.`);
  if (!(pfx.authSafe.content instanceof asn1js.OctetString)) throw malformed("The PFX file's content is not an OCTET STRING.");
  return pfx;
}

/** Decrypts with the MAC-verified password form, or without a MAC tries each form. */
async function readBags(pfx: pkijs.PFX, authSafeDer: Buffer, password: string): Promise<FoundBags> {
  const forms = passwordForms(password);
  let candidates: PfxPassword[] = forms;
  if (pfx.macData) {
    const form = verifyMac(pfx.macData, authSafeDer, forms);
    if (!form) throw badPassword();
    candidates = [form];
  }
  for (const form of candidates) {
    try {
      return await readAuthenticatedSafe(authSafeDer, form);
    } catch (e) {
      if (!(e instanceof DecryptFailed)) throw e;
      if (pfx.macData) {
        throw malformed(
          "Part of the PFX file could not be decrypted although its integrity check passed; " +
            "the file may be damaged or use a separate encryption password.",
          e,
        );
      }
    }
  }
  throw badPassword();
}

function parseCertificate(der: Buffer, index: number): crypto.X509Certificate {
  try {
    return new crypto.X509Certificate(der);
  } catch (e) {
    throw new SealpostError("CERT_MALFORMED", `Certificate ${index + 1} in the PFX file could not be parsed.`, { cause: e });
  }
}

export async function parsePfx(data: Buffer, password: string): Promise<PfxContents> {
  ensureCryptoEngine();
  const pfx = decodePfx(data);
  const authSafeDer = Buffer.from((pfx.authSafe.content as asn1js.OctetString).getValue());
  const found = await readBags(pfx, authSafeDer, password);
  if (found.keys.length === 0) throw new SealpostError("PFX_NO_KEY", "The PFX file holds no private key.");
  const certs = found.certs.map((c, i) => ({ ...c, x509: parseCertificate(c.der, i) }));
  for (const key of found.keys) {
    const leaf = certs.find((c) => c.x509.checkPrivateKey(key.key));
    if (!leaf) continue;
    const others: Buffer[] = [];
    for (const c of certs) {
      if (!c.der.equals(leaf.der) && !others.some((o) => o.equals(c.der))) others.push(c.der);
    }
    const contents: PfxContents = {
      keyPkcs8Der: key.key.export({ format: "der", type: "pkcs8" }),
      certificatesDer: [leaf.der, ...others],
    };
    const friendlyName = leaf.friendlyName ?? key.friendlyName;
    if (friendlyName !== undefined) contents.friendlyName = friendlyName;
    return contents;
  }
  throw new SealpostError(
    "PFX_NO_KEY",
    certs.length === 0
      ? "The PFX file holds a private key but no certificate."
      : "None of the certificates in the PFX file matches its private key.",
  );
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

/** PBES2 encryption through pkijs, returning the algorithm and the raw ciphertext. */
async function pbes2Encrypt(plain: Buffer, password: ArrayBuffer): Promise<{ alg: pkijs.AlgorithmIdentifier; ciphertext: ArrayBuffer }> {
  const enc = new pkijs.EncryptedData();
  await enc.encrypt({ ...PBES2_PARAMS, password, contentToEncrypt: toArrayBuffer(plain) });
  const eci = enc.encryptedContentInfo;
  return { alg: eci.contentEncryptionAlgorithm, ciphertext: eci.getEncryptedContent() };
}

export async function createPfx(opts: {
  keyPkcs8Der: Buffer;
  certificatesDer: Buffer[];
  password: string;
  friendlyName?: string;
}): Promise<Buffer> {
  ensureCryptoEngine();
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: opts.keyPkcs8Der, format: "der", type: "pkcs8" });
  } catch (e) {
    throw new SealpostError("INVALID_ARGUMENT", "The private key is not valid unencrypted PKCS#8 DER.", { cause: e });
  }
  const certs = opts.certificatesDer.map((der, i) => ({ der, x509: parseCertificate(der, i) }));
  const leaf = certs.find((c) => c.x509.checkPrivateKey(key));
  if (!leaf) throw new SealpostError("PFX_NO_KEY", "None of the certificates matches the private key.");
  const ordered = [leaf, ...certs.filter((c) => c !== leaf)];
  const password = toArrayBuffer(Buffer.from(opts.password, "utf8"));
  // OpenSSL's choice of localKeyID; any value shared by the two bags works.
  const localKeyId = crypto.createHash("sha1").update(leaf.der).digest();

  const certSafe = new pkijs.SafeContents({
    safeBags: ordered.map(
      (c) =>
        new pkijs.SafeBag({
          bagId: OID.certBag,
          bagValue: new pkijs.CertBag({ certId: OID.x509Certificate, certValue: new asn1js.OctetString({ valueHex: c.der }) }),
          ...withAttributes(c === leaf ? bagAttributes(localKeyId, opts.friendlyName) : undefined),
        }),
    ),
  });
  const certsEncrypted = await pbes2Encrypt(Buffer.from(certSafe.toSchema().toBER(false)), password);

  const keyDer = key.export({ format: "der", type: "pkcs8" });
  const keyEncrypted = await pbes2Encrypt(keyDer, password);
  const keySafe = new pkijs.SafeContents({
    safeBags: [
      new pkijs.SafeBag({
        bagId: OID.shroudedKeyBag,
        bagValue: new pkijs.PKCS8ShroudedKeyBag({
          encryptionAlgorithm: keyEncrypted.alg,
          encryptedData: new asn1js.OctetString({ valueHex: keyEncrypted.ciphertext }),
        }),
        ...withAttributes(bagAttributes(localKeyId, opts.friendlyName)),
      }),
    ],
  });

  // pkijs would split the ciphertext into a constructed, indefinite-length
  // OCTET STRING (BER); disableSplit keeps the output DER, as OpenSSL writes it.
  const certsInfo = new pkijs.EncryptedData({
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: OID.data,
      contentEncryptionAlgorithm: certsEncrypted.alg,
      encryptedContent: new asn1js.OctetString({ valueHex: certsEncrypted.ciphertext }),
      disableSplit: true,
    }),
  });
  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    safeContents: [
      new pkijs.ContentInfo({ contentType: OID.encryptedData, content: certsInfo.toSchema() }),
      new pkijs.ContentInfo({ contentType: OID.data, content: new asn1js.OctetString({ valueHex: keySafe.toSchema().toBER(false) }) }),
    ],
  });

  const pfx = new pkijs.PFX({ parsedValue: { integrityMode: 0, authenticatedSafe } });
  await pfx.makeInternalValues({ password, iterations: ITERATIONS, pbkdf2HashAlgorithm: "SHA-256", hmacHashAlgorithm: "SHA-256" });
  // OpenSSL writes the MAC's digest AlgorithmIdentifier with NULL parameters;
  // the MAC covers only the AuthenticatedSafe, so this leaves it valid.
  if (pfx.macData) pfx.macData.mac.digestAlgorithm.algorithmParams = new asn1js.Null();
  return Buffer.from(pfx.toSchema().toBER(false));
}

/** A SafeBag's attributes, when there are any (pkijs takes the property absent, not undefined). */
function withAttributes(attrs: pkijs.Attribute[] | undefined): { bagAttributes?: pkijs.Attribute[] } {
  return attrs ? { bagAttributes: attrs } : {};
}
