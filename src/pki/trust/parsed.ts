// A certificate parsed once for the trust layer: Node's X509Certificate for
// signatures, names, dates and the key, plus the extensions path validation
// needs (read with the trust layer's strict DER reader, revocation-der.ts),
// the strength of its key and signature, and what it costs to verify a
// signature with its key. A peer chooses how many certificates it sends,
// so parsing is kept cheap (about a quarter of what going through
// @peculiar/x509's certificate object cost) and memoized by SHA-256
// (bounded).
import { X509Certificate, createHash, type KeyObject } from "node:crypto";
import { children, content, ctx, DerError, expect, readBoolean, readExtensions, readOid, readWhole, TAG, type Tlv } from "./revocation-der.js";
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
const OID_CN = "2.5.4.3";
export const EKU_OIDS = { server: EKU_SERVER, client: EKU_CLIENT, any: EKU_ANY };

const MEMO_MAX = 2048;
const memo = new Map<string, ParsedCert>();

/** Forgets every parsed certificate (benchmarks measure the parsing an attacker's fresh certificates cost). */
export function clearParsedMemo(): void {
  memo.clear();
}

/** Signature algorithms by OID: [name, at least SHA-256]. */
const SIGNATURE_OIDS: Record<string, [string, boolean]> = {
  "1.2.840.113549.1.1.2": ["md2WithRSAEncryption", false],
  "1.2.840.113549.1.1.3": ["md4WithRSAEncryption", false],
  "1.2.840.113549.1.1.4": ["md5WithRSAEncryption", false],
  "1.2.840.113549.1.1.5": ["sha1WithRSAEncryption (SHA-1)", false],
  "1.3.14.3.2.29": ["sha1WithRSASignature (SHA-1)", false],
  "1.2.840.113549.1.1.14": ["sha224WithRSAEncryption", false],
  "1.2.840.113549.1.1.11": ["sha256WithRSAEncryption", true],
  "1.2.840.113549.1.1.12": ["sha384WithRSAEncryption", true],
  "1.2.840.113549.1.1.13": ["sha512WithRSAEncryption", true],
  "1.2.840.10045.4.1": ["ecdsa-with-SHA1 (SHA-1)", false],
  "1.2.840.10045.4.3.1": ["ecdsa-with-SHA224", false],
  "1.2.840.10045.4.3.2": ["ecdsa-with-SHA256", true],
  "1.2.840.10045.4.3.3": ["ecdsa-with-SHA384", true],
  "1.2.840.10045.4.3.4": ["ecdsa-with-SHA512", true],
  "1.2.840.10040.4.3": ["dsa-with-sha1 (SHA-1)", false],
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
const RSASSA_PSS = "1.2.840.113549.1.1.10";
const STRONG_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);
const FLOOR = "below the floor of SHA-256";

function signatureInfo(oid: string, der: Buffer): SignatureInfo {
  const known = SIGNATURE_OIDS[oid];
  if (known) return known[1] ? { algorithm: known[0] } : { algorithm: known[0], weak: FLOOR };
  if (oid === RSASSA_PSS) {
    // The hash is in the parameters (SHA-1 when they are absent); rare enough to read through @peculiar/x509.
    let hash: unknown;
    try {
      ensureCryptoEngine();
      hash = (new x509.X509Certificate(der).signatureAlgorithm as { hash?: { name?: unknown } }).hash?.name ?? "SHA-1";
    } catch {
      hash = undefined;
    }
    if (typeof hash !== "string") return { algorithm: "RSASSA-PSS with unreadable parameters", weak: "not recognized" };
    return STRONG_HASHES.has(hash) ? { algorithm: `RSASSA-PSS with ${hash}` } : { algorithm: `RSASSA-PSS with ${hash}`, weak: FLOOR };
  }
  return { algorithm: `the signature algorithm ${oid}`, weak: "not recognized" };
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

const STRING_TAGS: Record<number, (b: Buffer) => string> = {
  0x0c: (b) => b.toString("utf8"), // UTF8String
  0x13: (b) => b.toString("latin1"), // PrintableString
  0x14: (b) => b.toString("latin1"), // TeletexString (as Latin-1, as most readers do)
  0x16: (b) => b.toString("latin1"), // IA5String
  0x1c: (b) => String.fromCodePoint(...Array.from({ length: b.length >> 2 }, (_, i) => b.readUInt32BE(i * 4))), // UniversalString
  0x1e: (b) => Buffer.from(b).swap16().toString("utf16le"), // BMPString
};

/** An attribute value as text: a string type decoded, anything else as "#" and its DER in hex. */
function attributeText(buf: Buffer, t: Tlv): string {
  const decode = STRING_TAGS[t.tag];
  if (decode && (t.tag !== 0x1e || (t.end - t.vstart) % 2 === 0) && (t.tag !== 0x1c || (t.end - t.vstart) % 4 === 0)) return decode(content(buf, t));
  return `#${buf.subarray(t.start, t.end).toString("hex")}`;
}

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }: [type, text] per attribute, per RDN. */
function readName(buf: Buffer, t: Tlv): [string, string][][] {
  return children(buf, expect(t, TAG.SEQUENCE, "a name")).map((rdn) =>
    children(buf, expect(rdn, TAG.SET, "a relative distinguished name")).map((ava) => {
      const [type, value] = children(buf, expect(ava, TAG.SEQUENCE, "an attribute"));
      if (!value) throw new DerError("an attribute has no value");
      return [readOid(buf, type as Tlv), attributeText(buf, value)];
    }),
  );
}

/** One normalized string per RDN (attribute OIDs, values trimmed, spaces collapsed, lower case, sorted). */
function normalizedDn(name: [string, string][][]): string[] {
  return name.map((rdn) =>
    rdn
      .map(([type, v]) => `${type}=${v.trim().replace(/\s+/g, " ").toLowerCase()}`)
      .sort()
      .join("+"),
  );
}

const GN_DNS = 0x82; // [2] IA5String
const GN_URI = 0x86; // [6] IA5String
const GN_DIRECTORY = ctx(4, true); // [4] EXPLICIT Name

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] OPTIONAL, excludedSubtrees [1] OPTIONAL } of GeneralSubtree { base, ... }. */
function parseNameConstraints(value: Buffer): ParsedNameConstraints {
  const top = readWhole(value, TAG.SEQUENCE);
  const out: ParsedNameConstraints = { permitted: [], excluded: [], permittedDirs: [], excludedDirs: [] };
  for (const part of children(value, top)) {
    const permitted = part.tag === ctx(0, true);
    if (!permitted && part.tag !== ctx(1, true)) throw new DerError("name constraints are malformed");
    for (const subtree of children(value, part)) {
      const base = children(value, expect(subtree, TAG.SEQUENCE, "a general subtree"))[0];
      if (!base) throw new DerError("a general subtree has no base");
      if (base.tag === GN_DNS) {
        (permitted ? out.permitted : out.excluded).push(content(value, base).toString("latin1").trim().toLowerCase().replace(/\.$/, ""));
      } else if (base.tag === GN_DIRECTORY) {
        const name = children(value, base)[0];
        (permitted ? out.permittedDirs : out.excludedDirs).push(normalizedDn(readName(value, expect(name, TAG.SEQUENCE, "a directory name"))));
      }
      // Other name types (e-mail, IP, URI, ...) constrain names Sealpost does not use.
    }
  }
  return out;
}

/** The extensions, each at most once (a repeated one is malformed: readers would disagree on which counts). */
function extensionMap(buf: Buffer, tbs: Tlv[]): Map<string, Buffer> {
  const wrapped = tbs.find((t) => t.tag === ctx(3, true));
  const map = new Map<string, Buffer>();
  if (!wrapped) return map;
  for (const e of readExtensions(buf, expect(children(buf, wrapped)[0], TAG.SEQUENCE, "extensions"))) {
    if (map.has(e.oid)) throw new DerError(`the extension ${e.oid} appears twice`);
    map.set(e.oid, e.value);
  }
  return map;
}

/** Each general name of a GeneralNames value with the given (primitive) tag, as Latin-1 text. */
function generalNames(value: Buffer, tag: number): string[] {
  return children(value, readWhole(value, TAG.SEQUENCE))
    .filter((g) => g.tag === tag)
    .map((g) => content(value, g).toString("latin1"));
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
  let parsed: ParsedCert;
  try {
    parsed = parse(der, sha256);
  } catch (e) {
    // Anything unreadable (an extension included) is a malformed certificate, never "no extension".
    throw new SealpostError("CERT_MALFORMED", "A certificate could not be parsed.", { cause: e });
  }
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value as string);
  memo.set(sha256, parsed);
  byBuffer.set(der, parsed);
  return parsed;
}

const CA_ISSUERS = "1.3.6.1.5.5.7.48.2";
const EXT = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  nameConstraints: "2.5.29.30",
};

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature } */
function parse(der: Buffer, sha256: string): ParsedCert {
  const node = new X509Certificate(der);
  const [tbsTlv, sigAlg] = children(der, readWhole(der, TAG.SEQUENCE));
  const tbs = children(der, expect(tbsTlv, TAG.SEQUENCE, "the to-be-signed certificate"));
  // version [0] (optional), serial, signature, issuer, validity, subject, ...
  const subjectTlv = tbs[(tbs[0]?.tag === ctx(0, true) ? 1 : 0) + 4];
  const subject = readName(der, expect(subjectTlv, TAG.SEQUENCE, "the subject"));
  const ext = extensionMap(der, tbs);

  let isCa = false;
  let pathLen: number | undefined;
  const bc = ext.get(EXT.basicConstraints);
  if (bc) {
    for (const f of children(bc, readWhole(bc, TAG.SEQUENCE))) {
      if (f.tag === TAG.BOOLEAN) isCa = readBoolean(bc, f);
      else if (f.tag === TAG.INTEGER) {
        const v = content(bc, f);
        if (v.length === 0 || v.length > 4 || ((v[0] as number) & 0x80) !== 0) throw new DerError("a path length is malformed");
        pathLen = v.readUIntBE(0, v.length);
      }
    }
  }
  let keyCertSign: boolean | undefined;
  const ku = ext.get(EXT.keyUsage);
  if (ku) {
    const bits = content(ku, readWhole(ku, TAG.BIT_STRING));
    if (bits.length === 0) throw new DerError("a key usage is malformed");
    keyCertSign = bits.length > 1 && ((bits[1] as number) & 0x04) !== 0; // bit 5
  }
  const ekuValue = ext.get(EXT.extKeyUsage);
  const eku = ekuValue ? children(ekuValue, readWhole(ekuValue, TAG.SEQUENCE)).map((t) => readOid(ekuValue, t)) : undefined;
  const san = ext.get(EXT.subjectAltName);
  const aia = ext.get(EXT.authorityInfoAccess);
  const aiaIssuerUrls: string[] = [];
  if (aia) {
    for (const d of children(aia, readWhole(aia, TAG.SEQUENCE))) {
      const [method, location] = children(aia, expect(d, TAG.SEQUENCE, "an access description"));
      if (readOid(aia, method as Tlv) === CA_ISSUERS && location?.tag === GN_URI) aiaIssuerUrls.push(content(aia, location).toString("latin1"));
    }
  }
  const ski = ext.get(EXT.subjectKeyId);
  const subjectKeyId = ski ? content(ski, readWhole(ski, TAG.OCTET_STRING)).toString("hex") : undefined;
  const aki = ext.get(EXT.authorityKeyId);
  const akiKeyId = aki ? children(aki, readWhole(aki, TAG.SEQUENCE)).find((f) => f.tag === 0x80) : undefined;
  const authorityKeyId = aki && akiKeyId ? content(aki, akiKeyId).toString("hex") : undefined;
  const ncValue = ext.get(EXT.nameConstraints);
  const nameConstraints = ncValue ? parseNameConstraints(ncValue) : undefined;
  const sigOid = readOid(der, children(der, expect(sigAlg, TAG.SEQUENCE, "the signature algorithm"))[0] as Tlv);

  let publicKey: KeyObject | undefined;
  try {
    publicKey = node.publicKey;
  } catch {
    publicKey = undefined;
  }
  const cn = subject.flat().find(([type]) => type === OID_CN)?.[1];
  // OpenSSL parses a certificate whose notBefore/notAfter it cannot print ("Bad time value"):
  // such a date must refuse the certificate, never compare as NaN (always "within validity").
  const notBefore = new Date(node.validFrom);
  const notAfter = new Date(node.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) throw new DerError("the validity dates cannot be read");
  return {
    der,
    node,
    sha1: createHash("sha1").update(der).digest("hex").toUpperCase(),
    sha256,
    subject: displayName(node.subject),
    issuer: displayName(node.issuer),
    serial: node.serialNumber.toUpperCase(),
    notBefore,
    notAfter,
    selfIssued: node.subject === node.issuer,
    isCa,
    ...(pathLen !== undefined ? { pathLen } : {}),
    ...(keyCertSign !== undefined ? { keyCertSign } : {}),
    ...(eku ? { eku } : {}),
    dnsNames: san ? generalNames(san, GN_DNS).map((n) => n.toLowerCase()) : [],
    ...(cn !== undefined ? { commonName: cn } : {}),
    aiaIssuerUrls,
    ...(nameConstraints ? { nameConstraints } : {}),
    subjectDn: normalizedDn(subject),
    ...(subjectKeyId ? { subjectKeyId } : {}),
    ...(authorityKeyId ? { authorityKeyId } : {}),
    ...(publicKey ? { publicKey } : {}),
    key: keyInfo(publicKey),
    signature: signatureInfo(sigOid, der),
  };
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
