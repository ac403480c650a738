// A certificate parsed once for the trust layer: Node's X509Certificate for
// signatures and names, plus the extensions path validation needs. Parsing
// is the costly part of a handshake's certificate work, so parsed
// certificates are memoized by their SHA-256 (bounded).
import { X509Certificate, createHash } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { NameConstraints } from "@peculiar/asn1-x509";
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
  nameConstraints?: { permitted: string[]; excluded: string[] };
}

const EKU_SERVER = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT = "1.3.6.1.5.5.7.3.2";
const EKU_ANY = "2.5.29.37.0";
export const EKU_OIDS = { server: EKU_SERVER, client: EKU_CLIENT, any: EKU_ANY };

const MEMO_MAX = 2048;
const memo = new Map<string, ParsedCert>();

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
  try {
    node = new X509Certificate(der);
    cert = new x509.X509Certificate(der);
  } catch (e) {
    throw new SealpostError("CERT_MALFORMED", "A certificate could not be parsed.", { cause: e });
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
  const ncExt = cert.extensions.find((e) => e.type === "2.5.29.30");
  let nameConstraints: ParsedCert["nameConstraints"];
  if (ncExt) {
    const nc = AsnConvert.parse(ncExt.value, NameConstraints);
    const dns = (subtrees: typeof nc.permittedSubtrees) =>
      (subtrees ?? []).map((s) => s.base.dNSName).filter((v): v is string => typeof v === "string").map((v) => v.toLowerCase());
    nameConstraints = { permitted: dns(nc.permittedSubtrees), excluded: dns(nc.excludedSubtrees) };
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
  };
  if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value as string);
  memo.set(sha256, parsed);
  byBuffer.set(der, parsed);
  return parsed;
}

/** True when `issuer` issued `cert`: names chain and the signature verifies. */
export function isIssuedBy(cert: ParsedCert, issuer: ParsedCert): boolean {
  if (cert.node.issuer !== issuer.node.subject) return false;
  try {
    return cert.node.verify(issuer.node.publicKey);
  } catch {
    return false;
  }
}
