// Key pairs for certificates: RSA 2048 (Exchange's default), 3072, 4096 and
// ECDSA P-256. Keys leave this module as unencrypted PKCS#8 (the certificate
// store writes them to files of mode 0600) and as WebCrypto keys for signing.
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from "node:crypto";
import { SealpostError } from "../errors/errors.js";

export type KeyAlgorithm = "RSA" | "ECDSA";

export interface KeySpec {
  algorithm: KeyAlgorithm;
  /** RSA modulus bits; 256 for P-256. */
  size: number;
}

export interface GeneratedKeyPair {
  spec: KeySpec;
  privateKey: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
  pkcs8Der: Buffer;
  /** The signing algorithm our requests and certificates use with this key. */
  signingAlgorithm: RsaHashedImportParams | EcdsaParams;
}

type RsaHashedImportParams = { name: "RSASSA-PKCS1-v1_5"; hash: "SHA-256" };
type EcdsaParams = { name: "ECDSA"; hash: "SHA-256" };

export const RSA_SIZES = [2048, 3072, 4096] as const;

/** Parses "-KeySize"-style input: 2048/3072/4096 for RSA, or "P-256"/"ECDSA"/"EC". */
export function parseKeySpec(input: string | number | undefined): KeySpec {
  if (input === undefined || input === "") return { algorithm: "RSA", size: 2048 };
  const text = String(input).trim().toUpperCase();
  if (["ECDSA", "EC", "P-256", "P256", "ECDSA-P256", "ECDSA_P256", "256"].includes(text)) {
    return { algorithm: "ECDSA", size: 256 };
  }
  const n = Number(text);
  if ((RSA_SIZES as readonly number[]).includes(n)) return { algorithm: "RSA", size: n };
  throw new SealpostError(
    "KEY_UNSUPPORTED",
    `Key size '${String(input)}' is not supported: use 2048, 3072 or 4096 for RSA, or P-256 for ECDSA.`,
  );
}

function signingAlgorithmFor(spec: KeySpec): RsaHashedImportParams | EcdsaParams {
  return spec.algorithm === "RSA"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
    : { name: "ECDSA", hash: "SHA-256" };
}

export async function generateKeyPair(spec: KeySpec): Promise<GeneratedKeyPair> {
  const subtle = webcrypto.subtle;
  const params =
    spec.algorithm === "RSA"
      ? { name: "RSASSA-PKCS1-v1_5", modulusLength: spec.size, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
      : { name: "ECDSA", namedCurve: "P-256" };
  const pair = (await subtle.generateKey(params, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const pkcs8Der = Buffer.from(await subtle.exportKey("pkcs8", pair.privateKey));
  return { spec, privateKey: pair.privateKey, publicKey: pair.publicKey, pkcs8Der, signingAlgorithm: signingAlgorithmFor(spec) };
}

/** Describes a private key held as PKCS#8 DER; refuses key types we do not serve. */
export function describePrivateKey(pkcs8Der: Buffer): KeySpec {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pkcs8Der, format: "der", type: "pkcs8" });
  } catch (e) {
    throw new SealpostError("KEY_UNSUPPORTED", "The private key could not be read (not PKCS#8, or damaged).", { cause: e });
  }
  return describeKeyObject(key);
}

export function describeKeyObject(key: KeyObject): KeySpec {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") return { algorithm: "RSA", size: d.modulusLength ?? 0 };
  if (key.asymmetricKeyType === "ec") {
    if (d.namedCurve !== "prime256v1") {
      throw new SealpostError("KEY_UNSUPPORTED", `The EC curve ${d.namedCurve ?? "(unknown)"} is not supported; use P-256.`);
    }
    return { algorithm: "ECDSA", size: 256 };
  }
  throw new SealpostError("KEY_UNSUPPORTED", `Key type ${key.asymmetricKeyType ?? "(unknown)"} is not supported; use RSA or ECDSA P-256.`);
}

/** Imports a stored PKCS#8 key for signing with WebCrypto. */
export async function importSigningKey(pkcs8Der: Buffer): Promise<{ privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey; spec: KeySpec; signingAlgorithm: RsaHashedImportParams | EcdsaParams }> {
  const spec = describePrivateKey(pkcs8Der);
  const algo = spec.algorithm === "RSA" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } : { name: "ECDSA", namedCurve: "P-256" };
  const privateKey = await webcrypto.subtle.importKey("pkcs8", pkcs8Der, algo, true, ["sign"]);
  const spki = createPublicKey(createPrivateKey({ key: pkcs8Der, format: "der", type: "pkcs8" })).export({ format: "der", type: "spki" });
  const publicKey = await webcrypto.subtle.importKey("spki", spki, algo, true, ["verify"]);
  return { privateKey, publicKey, spec, signingAlgorithm: signingAlgorithmFor(spec) };
}

/** DER SubjectPublicKeyInfo of a private key, to bind certificates to keys. */
export function publicKeySpkiOfPrivate(pkcs8Der: Buffer): Buffer {
  return createPublicKey(createPrivateKey({ key: pkcs8Der, format: "der", type: "pkcs8" })).export({ format: "der", type: "spki" });
}

export function pkcs8ToPem(pkcs8Der: Buffer): string {
  return derToPem(pkcs8Der, "PRIVATE KEY");
}

export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}
