// Certificate sets for measuring and testing chain building, made in
// process with @peculiar/x509 over WebCrypto (fast enough to make thousands:
// keys are made once and reused across certificates). Used by the chain
// cost benchmark (chain-cost.ts) and the chain-building property test; the
// integration tests' certificates come from the OpenSSL command line instead.
import { webcrypto } from "node:crypto";
import * as x509 from "../pki/x509.js";
import { ensureCryptoEngine } from "../pki/crypto-engine.js";

export type Curve = "P-256" | "P-384" | "P-521";
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export interface BenchKey {
  pair: CryptoKeyPair;
  curve: Curve;
}

export async function makeKeys(n: number, curve: Curve = "P-256"): Promise<BenchKey[]> {
  ensureCryptoEngine();
  const out: BenchKey[] = [];
  for (let i = 0; i < n; i++) {
    const pair = (await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"])) as CryptoKeyPair;
    out.push({ pair, curve });
  }
  return out;
}

export interface CertSpec {
  /** "CN=..." */
  subject: string;
  issuer: string;
  /** The certified key (its public half goes into the certificate). */
  key: BenchKey;
  /** The key that signs (the issuer's). */
  signer: BenchKey;
  ca: boolean;
  /** Subject and authority key identifiers (default true). */
  keyIds?: boolean;
  dnsNames?: string[];
  notBefore?: Date;
  notAfter?: Date;
  serial?: string;
}

let serialCounter = 1;

const HASH: Record<Curve, string> = { "P-256": "SHA-256", "P-384": "SHA-384", "P-521": "SHA-512" };

/** One DER certificate as the spec says. */
export async function makeCert(spec: CertSpec): Promise<Buffer> {
  ensureCryptoEngine();
  const now = Date.now();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(spec.ca, undefined, true),
    new x509.KeyUsagesExtension(spec.ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature, true),
  ];
  if (spec.keyIds !== false) {
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(spec.key.pair.publicKey));
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(spec.signer.pair.publicKey));
  }
  if (spec.dnsNames?.length) extensions.push(new x509.SubjectAlternativeNameExtension(spec.dnsNames.map((value) => ({ type: "dns" as const, value }))));
  if (!spec.ca) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]));
  const cert = await x509.X509CertificateGenerator.create({
      serialNumber: spec.serial ?? (0x10000000 + serialCounter++).toString(16),
      subject: spec.subject,
      issuer: spec.issuer,
      notBefore: spec.notBefore ?? new Date(now - 3_600_000),
      notAfter: spec.notAfter ?? new Date(now + 30 * 86_400_000),
      publicKey: spec.key.pair.publicKey,
      signingKey: spec.signer.pair.privateKey,
      signingAlgorithm: { name: "ECDSA", hash: HASH[spec.signer.curve] },
      extensions,
    });
  return Buffer.from(cert.rawData);
}

/** A self-signed CA certificate. */
export function makeRoot(subject: string, key: BenchKey): Promise<Buffer> {
  return makeCert({ subject, issuer: subject, key, signer: key, ca: true });
}

export interface CrossSet {
  /** leaf first, then the 2N CA certificates, interleaved A, B, A, B... */
  presented: Buffer[];
  /** A self-signed root named A with A's key: trusting it makes the leaf valid. */
  rootA: Buffer;
}

/**
 * The attack on path building: a leaf issued by "A" and N certificates
 * named A issued by B plus N named B issued by A. With `keyPerPair` false,
 * A and B each have one key, so every A issued every B and back (every path
 * through them is real); with true, each pair has its own keys and no key
 * identifiers, so every same-named candidate must be tried by signature.
 */
export async function crossSignedSet(n: number, opts: { keyPerPair?: boolean; curve?: Curve } = {}): Promise<CrossSet> {
  const curve = opts.curve ?? "P-256";
  const pairs = opts.keyPerPair ? n : 1;
  const keys = await makeKeys(2 * pairs + 1, curve);
  const keyA = (i: number) => keys[2 * (opts.keyPerPair ? i : 0)] as BenchKey;
  const keyB = (i: number) => keys[2 * (opts.keyPerPair ? i : 0) + 1] as BenchKey;
  const leafKey = keys[keys.length - 1] as BenchKey;
  const A = "CN=Cross A, O=Attacker";
  const B = "CN=Cross B, O=Attacker";
  const keyIds = !opts.keyPerPair;
  const presented = [await makeCert({ subject: "CN=mail.woodgrovebank.com", issuer: A, key: leafKey, signer: keyA(0), ca: false, dnsNames: ["woodgrovebank.com"], keyIds })];
  for (let i = 0; i < n; i++) {
    presented.push(await makeCert({ subject: A, issuer: B, key: keyA(i), signer: keyB(i), ca: true, keyIds }));
    presented.push(await makeCert({ subject: B, issuer: A, key: keyB(i), signer: keyA(i), ca: true, keyIds }));
  }
  return { presented, rootA: await makeRoot(A, keyA(0)) };
}

/** leaf, `depth - 2` intermediates and a root: a valid chain of `depth` certificates. */
export async function straightChain(depth: number, curve: Curve = "P-256"): Promise<{ presented: Buffer[]; root: Buffer }> {
  const keys = await makeKeys(depth, curve);
  const name = (i: number) => (i === depth - 1 ? "CN=Chain Root" : `CN=Chain CA ${i}`);
  const root = await makeRoot(name(depth - 1), keys[depth - 1] as BenchKey);
  const presented: Buffer[] = [];
  for (let i = 0; i < depth - 1; i++) {
    const subject = i === 0 ? "CN=mail.woodgrovebank.com" : name(i);
    presented.push(await makeCert({ subject, issuer: name(i + 1), key: keys[i] as BenchKey, signer: keys[i + 1] as BenchKey, ca: i > 0, ...(i === 0 ? { dnsNames: ["woodgrovebank.com"] } : {}) }));
  }
  return { presented, root };
}
