// SafeBag reading and writing for PKCS#12: the bag walk of a decrypted
// AuthenticatedSafe, and the attributes (friendlyName, localKeyID) that tie
// a key to its certificate.
import * as crypto from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { DecryptFailed, decryptWithPassword, malformed, type PfxPassword } from "./pfx-crypto.js";

export const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  envelopedData: "1.2.840.113549.1.7.3",
  encryptedData: "1.2.840.113549.1.7.6",
  keyBag: "1.2.840.113549.1.12.10.1.1",
  shroudedKeyBag: "1.2.840.113549.1.12.10.1.2",
  certBag: "1.2.840.113549.1.12.10.1.3",
  safeContentsBag: "1.2.840.113549.1.12.10.1.6",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
} as const;

export interface FoundKey {
  key: crypto.KeyObject;
  friendlyName?: string | undefined;
}

export interface FoundCert {
  der: Buffer;
  friendlyName?: string | undefined;
}

export interface FoundBags {
  keys: FoundKey[];
  certs: FoundCert[];
}

function octets(node: unknown, what: string): Buffer {
  if (!(node instanceof asn1js.OctetString)) throw malformed(`The PFX file's ${what} is not an OCTET STRING.`);
  return Buffer.from(node.getValue());
}

function friendlyNameOf(bag: pkijs.SafeBag): string | undefined {
  for (const attr of bag.bagAttributes ?? []) {
    if (attr.type !== OID.friendlyName) continue;
    const value: unknown = attr.values[0];
    // BMPString by the standard; some writers use UTF8String.
    if (value instanceof asn1js.BmpString || value instanceof asn1js.Utf8String) return value.valueBlock.value;
  }
  return undefined;
}

/**
 * A decrypted payload that fails to parse is, without a verified MAC, the
 * mark of a wrong password (CBC padding matches by chance 1 time in 256).
 */
function parseDecrypted<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw new DecryptFailed("decrypted data does not parse", { cause: e });
  }
}

function parseSafeContents(der: Buffer, decrypted: boolean): pkijs.SafeContents {
  const parse = (): pkijs.SafeContents => pkijs.SafeContents.fromBER(der);
  if (decrypted) return parseDecrypted(parse);
  try {
    return parse();
  } catch (e) {
    throw malformed("The PFX file holds a malformed SafeContents structure.", e);
  }
}

function privateKeyFrom(der: Buffer): crypto.KeyObject {
  return crypto.createPrivateKey({ key: der, format: "der", type: "pkcs8" });
}

async function walkBags(safe: pkijs.SafeContents, form: PfxPassword, found: FoundBags, depth: number): Promise<void> {
  if (depth > 4) throw malformed("The PFX file nests SafeContents too deeply.");
  for (const bag of safe.safeBags) {
    const friendlyName = friendlyNameOf(bag);
    switch (bag.bagId) {
      case OID.keyBag: {
        const der = Buffer.from((bag.bagValue as pkijs.KeyBag).toSchema().toBER(false));
        let key: crypto.KeyObject;
        try {
          key = privateKeyFrom(der);
        } catch (e) {
          throw malformed("The PFX file holds a private key that cannot be read.", e);
        }
        found.keys.push({ key, friendlyName });
        break;
      }
      case OID.shroudedKeyBag: {
        const shrouded = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
        const der = await decryptWithPassword(shrouded.encryptionAlgorithm, octets(shrouded.encryptedData, "key bag"), form);
        found.keys.push({ key: parseDecrypted(() => privateKeyFrom(der)), friendlyName });
        break;
      }
      case OID.certBag: {
        const certBag = bag.bagValue as pkijs.CertBag;
        if (certBag.certId !== OID.x509Certificate) break; // SDSI and attribute certificates are of no use here
        found.certs.push({ der: octets(certBag.certValue, "certificate bag"), friendlyName });
        break;
      }
      case OID.safeContentsBag:
        await walkBags(bag.bagValue as pkijs.SafeContents, form, found, depth + 1);
        break;
      default:
        break; // CRL and secret bags carry nothing Sealpost keeps
    }
  }
}

/** Keys and certificates of an AuthenticatedSafe, decrypting with `form`. */
export async function readAuthenticatedSafe(authSafeDer: Buffer, form: PfxPassword): Promise<FoundBags> {
  let authSafe: pkijs.AuthenticatedSafe;
  try {
    authSafe = pkijs.AuthenticatedSafe.fromBER(authSafeDer);
  } catch (e) {
    throw malformed("The PFX file's AuthenticatedSafe could not be parsed.", e);
  }
  const found: FoundBags = { keys: [], certs: [] };
  for (const info of authSafe.safeContents) {
    switch (info.contentType) {
      case OID.data:
        await walkBags(parseSafeContents(octets(info.content, "SafeContents"), false), form, found, 0);
        break;
      case OID.encryptedData: {
        let eci: pkijs.EncryptedContentInfo;
        let data: Buffer;
        try {
          eci = new pkijs.EncryptedData({ schema: info.content }).encryptedContentInfo;
          data = Buffer.from(eci.getEncryptedContent());
        } catch (e) {
          throw malformed("The PFX file holds a malformed EncryptedData structure.", e);
        }
        const plain = await decryptWithPassword(eci.contentEncryptionAlgorithm, data, form);
        await walkBags(parseSafeContents(plain, true), form, found, 0);
        break;
      }
      case OID.envelopedData:
        throw malformed("The PFX file is encrypted to a recipient certificate (public-key privacy mode), which Sealpost cannot read.");
      default:
        throw malformed(`The PFX file holds content of unknown type ${info.contentType}.`);
    }
  }
  return found;
}

function attribute(type: string, value: asn1js.BaseBlock): pkijs.Attribute {
  return new pkijs.Attribute({ type, values: [value] });
}

/** Bag attributes in DER SET OF order (sorted by their encodings). */
export function bagAttributes(localKeyId: Buffer | undefined, friendlyName: string | undefined): pkijs.Attribute[] | undefined {
  const attrs: pkijs.Attribute[] = [];
  if (friendlyName !== undefined) attrs.push(attribute(OID.friendlyName, new asn1js.BmpString({ value: friendlyName })));
  if (localKeyId) attrs.push(attribute(OID.localKeyId, new asn1js.OctetString({ valueHex: localKeyId })));
  if (attrs.length === 0) return undefined;
  const der = (a: pkijs.Attribute): Buffer => Buffer.from(a.toSchema().toBER(false));
  return attrs.sort((a, b) => Buffer.compare(der(a), der(b)));
}
