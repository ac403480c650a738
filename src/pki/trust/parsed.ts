// A certificate parsed once for the trust layer: Node's X509Certificate for
// signatures and names, plus the extensions path validation needs, the
// strength of its key and signature, and what it costs to verify a
// signature with its key. Parsing is the costly part of a handshake's
// certificate work, so parsed certificates are memoized by their SHA-256
// (bounded).
import { X509Certificate, createHash, type KeyObject } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { NameConstraints, type Name as AsnName } from "@peculiar/asn1-x509";
import * as x509 from "../x509.js";
import { ensureCryptoEngine } from "../crypto-engine.js";
import { SealpostError } from "../../errors/errors.js";

export interface ParsedCert {
  der: Buffer;
  node: X509Certificate;
  sha1: string;
  sha256: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  selfIssued: boolean;
  isCa: boolean;
  pathLen?: number;
  /** undefined when the extension is absent */
  keyCertSign?: boolean;
  eku?: string[];
  dnsNames: string[];
  commonName?: string;
  aiaIssuerUrls: string[];
  nameConstraints?: ParsedNameConstraints;
  /** The subject DN, one normalized string per RDN (most general first), for directoryName constraints. */
  subjectDn: string[];
  /** Subject / authority key identifiers (lower-case hex), when present: a cheap issuer pre-check. */
  subjectKeyId?: string;
  authorityKeyId?: string;
  /** The subject public key; undefined when Node cannot load it (such a certificate issues nothing). */
  publicKey?: KeyObject;
  key: KeyInfo;
  signature: SignatureInfo;
}

/**
 * dNSName subtrees lower-cased without a trailing dot ("" = every name; a
 * leading "." = subdomains only); directoryName subtrees as normalized RDN
 * lists. Subtrees of other name types are not kept: Sealpost decides nothing
 * by e-mail addresses, IP addresses or URIs in certificates.
 */
export interface ParsedNameConstraints {
  permitted: string[];
  excluded: string[];
  permittedDirs: string[][];
  excludedDirs: string[][];
}

export interface KeyInfo {
  /** "RSA 2048-bit", "EC P-256", "Ed25519", "DSA 2048-bit", ... */
  description: string;
  /** Set when the key is below the floor (RSA-2048, P-256; DSA and unknown types always). */
  weak?: string;
  /**
   * What one signature verification with this key costs, in units of about
   * one RSA-2048 / P-256 verification; undefined when the key is never used
   * to verify (too costly to be a sensible CA key: RSA above 8192 bits or a
   * public exponent above 64 bits, DSA above 3072 bits, unknown types).
   */
  verifyCost?: number;
}

export interface SignatureInfo {
  /** "RSASSA-PKCS1-v1_5 with SHA-256", "ECDSA with SHA-1", "md5WithRSAEncryption", ... */
  algorithm: string;
  /** Set when the signature's hash is below SHA-256 or the algorithm is not recognized. */
  weak?: string;
}

const EKU_SERVER = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT = "1.3.6.1.5.5.7.3.2";
const EKU_ANY = "2.5.29.37.0";
export const EKU_OIDS = { server: EKU_SERVER, client: EKU_CLIENT, any: EKU_ANY };

const MEMO_MAX = 2048;
const memo = new Map<string, ParsedCert>();

/** Forgets every parsed certificate (benchmarks measure the parsing an attacker's fresh certificates cost). */
export function clearParsedMemo(): void {
  memo.clear();
}

const STRONG_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512", "SHA3-256", "SHA3-384", "SHA3-512"]);

/** Signature algorithms @peculiar/x509 reports by OID only: [name, strong]. */
const SIGNATURE_OIDS: Record<string, [string, boolean]> = {
  "1.2.840.113549.1.1.2": ["md2WithRSAEncryption", false],
  "1.2.840.113549.1.1.3": ["md4WithRSAEncryption", false],
  "1.2.840.113549.1.1.4": ["md5WithRSAEncryption", false],
  "1.2.840.113549.1.1.5": ["sha1WithRSAEncryption", false],
  "1.3.14.3.2.29": ["sha1WithRSASignature", false],
  "1.2.840.113549.1.1.14": ["sha224WithRSAEncryption", false],
  "1.2.840.10045.4.1": ["ecdsa-with-SHA1", false],
  "1.2.840.10045.4.3.1": ["ecdsa-with-SHA224", false],
  "1.2.840.10040.4.3": ["dsa-with-sha1", false],
  "2.16.840.1.101.3.4.3.1": ["dsa-with-sha224", false],
  "2.16.840.1.101.3.4.3.2": ["dsa-with-sha256", true],
  "2.16.840.1.101.3.4.3.9": ["ecdsa-with-SHA3-224", false],
  "2.16.840.1.101.3.4.3.10": ["ecdsa-with-SHA3-256", true],
  "2.16.840.1.101.3.4.3.11": ["ecdsa-with-SHA3-384", true],
  "2.16.840.1.101.3.4.3.12": ["ecdsa-with-SHA3-512", true],
  "2.16.840.1.101.3.4.3.13": ["sha3-224WithRSAEncryption", false],
  "2.16.840.1.101.3.4.3.14": ["sha3-256WithRSAEncryption", true],
  "2.16.840.1.101.3.4.3.15": ["sha3-384WithRSAEncryption", true],
  "2.16.840.1.101.3.4.3.16": ["sha3-512WithRSAEncryption", true],
  "1.3.101.112": ["Ed25519", true],
  "1.3.101.113": ["Ed448", true],
};

const FLOOR = "below the floor of SHA-256";

function signatureInfo(cert: x509.X509Certificate): SignatureInfo {
  let alg: { name?: unknown; hash?: unknown; namedCurve?: unknown };
  try {
    alg = cert.signatureAlgorithm as typeof alg;
  } catch {
    return { algorithm: "an unreadable signature algorithm", weak: "not recognized" };
  }
  const name = typeof alg.name === "string" ? alg.name : "?";
  if (name === "Ed25519" || name === "Ed448") return { algorithm: name };
  if (name === "EdDSA" && (alg.namedCurve === "Ed448" || alg.namedCurve === "Ed25519")) return { algorithm: alg.namedCurve };
  const byOid = SIGNATURE_OIDS[name];
  if (byOid) return byOid[1] ? { algorithm: byOid[0] } : { algorithm: byOid[0], weak: FLOOR };
  const hashName = (alg.hash as { name?: unknown } | undefined)?.name;
  if (name === "RSA-PSS" && hashName === undefined) return { algorithm: "RSASSA-PSS with SHA-1 (default parameters)", weak: FLOOR };
  if (typeof hashName === "string") {
    const hash = SIGNATURE_OIDS[hashName]?.[0] ?? hashName;
    const algorithm = `${name === "RSA-PSS" ? "RSASSA-PSS" : name} with ${hash}`;
    return STRONG_HASHES.has(hashName) ? { algorithm } : { algorithm, weak: FLOOR };
  }
  return { algorithm: `the signature algorithm ${name}`, weak: "not recognized" };
}

/** EC curves of at least 256 bits (Node's names) and their verification cost. */
const STRONG_CURVES: Record<string, [string, number]> = {
  prime256v1: ["P-256", 1],
  secp384r1: ["P-384", 6],
  secp521r1: ["P-521", 12],
  secp256k1: ["secp256k1", 6],
  brainpoolP256r1: ["brainpoolP256r1", 6],
  brainpoolP256t1: ["brainpoolP256t1", 6],
  brainpoolP320r1: ["brainpoolP320r1", 8],
  brainpoolP320t1: ["brainpoolP320t1", 8],
  brainpoolP384r1: ["brainpoolP384r1", 10],
  brainpoolP384t1: ["brainpoolP384t1", 10],
  brainpoolP512r1: ["brainpoolP512r1", 14],
  brainpoolP512t1: ["brainpoolP512t1", 14],
};

const KEY_FLOOR = "below the floor of RSA-2048 / EC P-256";

function keyInfo(key: KeyObject | undefined): KeyInfo {
  if (!key) return { description: "a key Node cannot load", weak: "not supported" };
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa":
    case "rsa-pss": {
      const bits = d.modulusLength ?? 0;
      const e = d.publicExponent ?? 0n;
      const description = `${key.asymmetricKeyType === "rsa" ? "RSA" : "RSASSA-PSS"} ${bits}-bit`;
      // A large modulus or exponent makes every verification costly: such a key issues nothing.
      const verifyCost = bits > 8192 || e.toString(2).length > 64 ? undefined : bits > 4096 ? 4 : 1;
      return { description, ...(bits < 2048 ? { weak: KEY_FLOOR } : {}), ...(verifyCost !== undefined ? { verifyCost } : {}) };
    }
    case "ec": {
      const curve = d.namedCurve ?? "unknown";
      const strong = STRONG_CURVES[curve];
      if (strong) return { description: `EC ${strong[0]}`, verifyCost: strong[1] };
      return { description: `EC ${curve}`, weak: KEY_FLOOR, verifyCost: 12 };
    }
    case "ed25519":
      return { description: "Ed25519", verifyCost: 2 };
    case "ed448":
      return { description: "Ed448", verifyCost: 2 };
    case "dsa": {
      const bits = d.modulusLength ?? 0;
      return { description: `DSA ${bits}-bit`, weak: "DSA keys are not accepted", ...(bits <= 3072 ? { verifyCost: 8 } : {}) };
    }
    default:
      return { description: `a ${String(key.asymmetricKeyType)} key`, weak: "not a key type accepted for signatures" };
  }
}

/** One normalized string per RDN: its attributes sorted, values trimmed, spaces collapsed, lower case. */
function normalizedDn(name: x509.Name): string[] {
  return name.toJSON().map((rdn) =>
    Object.entries(rdn)
      .flatMap(([type, values]) => values.map((v) => `${type.toLowerCase()}=${v.trim().replace(/\s+/g, " ").toLowerCase()}`))
      .sort()
      .join("+"),
  );
}

function parseNameConstraints(value: ArrayBuffer): ParsedNameConstraints {
  const nc = AsnConvert.parse(value, NameConstraints);
  const dns = (subtrees: typeof nc.permittedSubtrees) =>
    (subtrees ?? [])
      .map((s) => s.base.dNSName)
      .filter((v): v is string => typeof v === "string")
      .map((v) => v.trim().toLowerCase().replace(/\.$/, ""));
  const dirs = (subtrees: typeof nc.permittedSubtrees) =>
    (subtrees ?? [])
      .map((s) => s.base.directoryName)
      .filter((v): v is AsnName => v !== undefined)
      .map((v) => normalizedDn(new x509.Name(v)));
  return { permitted: dns(nc.permittedSubtrees), excluded: dns(nc.excludedSubtrees), permittedDirs: dirs(nc.permittedSubtrees), excludedDirs: dirs(nc.excludedSubtrees) };
}

/** Node prints multi-line DNs ("CN=x\nO=y", most general first); show them as Windows does. */
function displayName(nodeName: string): string {
  return nodeName.split("\n").filter(Boolean).reverse().join(", ");
}

/** The same Buffer object again (a TLS session's leaf, checked for every message) skips even the hash. */
const byBuffer = new WeakMap<Buffer, ParsedCert>();

export function parseCert(der: Buffer): ParsedCert {
  const known = byBuffer.get(der);
  if (known) return known;
  const sha256 = createHash("sha256").update(der).digest("hex").toUpperCase();
  const hit = memo.get(sha256);
  if (hit) {
    byBuffer.set(der, hit);
    return hit;
  }
  ensureCryptoEngine();
  let node: X509Certificate;
  let cert: x509.X509Certificate;
  let bc: x509.BasicConstraintsExtension | null;
  let ku: x509.KeyUsagesExtension | null;
  let eku: x509.ExtendedKeyUsageExtension | null;
  let san: x509.SubjectAlternativeNameExtension | null;
  let aia: x509.AuthorityInfoAccessExtension | null;
  let ski: x509.SubjectKeyIdentifierExtension | null;
  let akid: x509.AuthorityKeyIdentifierExtension | null;
  let ncExt: x509.Extension | undefined;
  try {
    node = new X509Certificate(der);
    cert = new x509.X509Certificate(der);
    // @peculiar/x509 decodes every extension on first access: a damaged one throws here.
    bc = cert.getExtension(x509.BasicConstraintsExtension);
    ku = cert.getExtension(x509.KeyUsagesExtension);
    eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
    ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    akid = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
    ncExt = cert.extensions.find((e) => e.type === "2.5.29.30");
  } catch (e) {
    throw new SealpostError("CERT_MALFORMED", "A certificate could not be parsed.", { cause: e });
  }
  let nameConstraints: ParsedCert["nameConstraints"];
  let subjectDn: string[];
  try {
    if (ncExt) nameConstraints = parseNameConstraints(ncExt.value);
    subjectDn = normalizedDn(cert.subjectName);
  } catch (e) {
    // Constraints that cannot be read must not be read as "none".
    throw new SealpostError("CERT_MALFORMED", "A certificate's name constraints or subject could not be parsed.", { cause: e });
  }
  let publicKey: KeyObject | undefined;
  try {
    publicKey = node.publicKey;
  } catch {
    publicKey = undefined;
  }
  const cn = cert.subjectName.getField("CN")[0];
  const parsed: ParsedCert = {
    der,
    node,
    sha1: createHash("sha1").update(der).digest("hex").toUpperCase(),
    sha256,
    subject: displayName(node.subject),
    issuer: displayName(node.issuer),
    serial: node.serialNumber.toUpperCase(),
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
    selfIssued: node.subject === node.issuer,
    isCa: bc?.ca ?? false,
    ...(bc?.pathLength !== undefined ? { pathLen: bc.pathLength } : {}),
    ...(ku ? { keyCertSign: (ku.usages & x509.KeyUsageFlags.keyCertSign) !== 0 } : {}),
    ...(eku ? { eku: Array.from(eku.usages, (u) => String(u)) } : {}),
    dnsNames: san ? san.names.items.filter((n) => n.type === "dns").map((n) => n.value.toLowerCase()) : [],
    ...(cn !== undefined ? { commonName: cn } : {}),
    aiaIssuerUrls: aia ? aia.caIssuers.filter((g) => g.type === "url").map((g) => g.value) : [],
    ...(nameConstraints ? { nameConstraints } : {}),
    subjectDn,
    ...(ski?.keyId ? { subjectKeyId: ski.keyId.toLowerCase() } : {}),
    ...(akid?.keyId ? { authorityKeyId: akid.keyId.toLowerCase() } : {}),
    ...(publicKey ? { publicKey } : {}),
    key: keyInfo(publicKey),
    signature: signatureInfo(cert),
  };
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value as string);
  memo.set(sha256, parsed);
  byBuffer.set(der, parsed);
  return parsed;
}

/**
 * Whether `issuer` may have issued `cert` without checking the signature:
 * the names chain, and the key identifiers do not contradict each other.
 */
export function mayBeIssuedBy(cert: ParsedCert, issuer: ParsedCert): boolean {
  if (cert.node.issuer !== issuer.node.subject) return false;
  return !(cert.authorityKeyId && issuer.subjectKeyId && cert.authorityKeyId !== issuer.subjectKeyId);
}

/** The signature check alone (no name check); false when the issuer's key is never used to verify. */
export function signatureVerifies(cert: ParsedCert, issuer: ParsedCert): boolean {
  if (!issuer.publicKey || issuer.key.verifyCost === undefined) return false;
  try {
    return cert.node.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** True when `issuer` issued `cert`: names chain and the signature verifies. */
export function isIssuedBy(cert: ParsedCert, issuer: ParsedCert): boolean {
  return mayBeIssuedBy(cert, issuer) && signatureVerifies(cert, issuer);
}
