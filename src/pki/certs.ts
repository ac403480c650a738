// Reading certificates as administrators hand them over (PEM, a PEM chain,
// DER, PKCS#7 .p7b/.p7c, bare Base64) and describing them the way Exchange's
// Get-ExchangeCertificate does: thumbprint, subject, issuer, serial,
// validity, CertificateDomains.
import { X509Certificate as NodeX509, createHash } from "node:crypto";
import * as x509 from "./x509.js";
import { SealpostError } from "../errors/errors.js";
import { ensureCryptoEngine } from "./crypto-engine.js";
import { attributeName, formatDisplayName, type Rdn } from "./dn.js";
import { isValidDomain } from "./domain.js";

export interface PemBlock {
  label: string;
  der: Buffer;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 #]+)-----([\s\S]*?)-----END \1-----/g;

/** Splits PEM text into blocks; refuses damaged Base64 and a block cut off before its END line. */
export function parsePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const starts = new Set<number>();
  for (const m of text.matchAll(PEM_RE)) {
    starts.add(m.index);
    const body = (m[2] ?? "").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0 || body.length === 0) {
      throw new SealpostError("CERT_MALFORMED", `The PEM block '${m[1] ?? ""}' is damaged (its Base64 is not valid or is truncated).`);
    }
    blocks.push({ label: m[1] ?? "", der: Buffer.from(body, "base64") });
  }
  // A BEGIN line that no block starts with has no END line: the file was cut.
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 #]+)-----/g)) {
    if (!starts.has(m.index)) {
      throw new SealpostError("CERT_MALFORMED", `The PEM block '${m[1] ?? ""}' is truncated: it has no '-----END ${m[1] ?? ""}-----' line. Copy the whole file again.`);
    }
  }
  return blocks;
}

function looksLikeText(data: Buffer): boolean {
  const head = data.subarray(0, 64).toString("latin1");
  return /^[\s\x20-\x7e]*$/.test(head);
}

/** Decodes file contents that may be PEM, Base64 without armour, or DER. */
export function decodeInput(data: Buffer): { blocks: PemBlock[]; der?: Buffer } {
  if (looksLikeText(data)) {
    const text = data.toString("utf8");
    if (text.includes("-----BEGIN ")) return { blocks: parsePemBlocks(text) };
    const b64 = text.replace(/\s+/g, "");
    if (b64.length > 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(b64) && b64.length % 4 === 0) {
      return { blocks: [], der: Buffer.from(b64, "base64") };
    }
  }
  return { blocks: [], der: data };
}

/**
 * A certificate is returned only if everything later done with it works:
 * OpenSSL and @peculiar/x509 both parse it, its public key decodes, its
 * extensions read (describeCertificate). Node's parser alone accepts
 * certificates whose key or extensions fail on first use.
 */
function parseOneCertificate(der: Buffer): Buffer {
  describeCertificate(der);
  return der;
}

function parsePkcs7(der: Buffer): Buffer[] {
  ensureCryptoEngine();
  let certs: x509.X509Certificates;
  try {
    certs = new x509.X509Certificates(der);
  } catch (e) {
    throw new SealpostError("CERT_MALFORMED", "The file is neither a certificate nor a PKCS#7 certificate bundle (.p7b/.p7c).", { cause: e });
  }
  if (certs.length === 0) throw new SealpostError("CERT_MALFORMED", "The PKCS#7 bundle holds no certificate.");
  return certs.map((c) => parseOneCertificate(Buffer.from(c.rawData)));
}

function opensslReads(der: Buffer): boolean {
  try {
    new NodeX509(der);
    return true;
  } catch {
    return false;
  }
}

/** True when data starts with a DER SEQUENCE whose declared length runs past the end of data. */
function derIsTruncated(data: Buffer): boolean {
  if (data[0] !== 0x30 || data.length < 2) return false;
  const first = data[1] as number;
  if (first < 0x80) return 2 + first > data.length;
  const n = first & 0x7f;
  if (n === 0 || n > 4) return false; // indefinite, or a length no file has
  if (data.length < 2 + n) return true;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (data[2 + i] as number);
  return 2 + n + len > data.length;
}

/**
 * Reads every certificate in a file: PEM (one or a chain, PKCS#7 blocks too),
 * DER, PKCS#7 DER, or Base64 text. Throws CERT_MALFORMED for anything else.
 */
export function readCertificates(data: Buffer): Buffer[] {
  if (data.length === 0) throw new SealpostError("CERT_MALFORMED", "The certificate file is empty.");
  const { blocks, der } = decodeInput(data);
  if (der) {
    // A DER certificate starts SEQUENCE { SEQUENCE (tbs) ...; PKCS#7 starts SEQUENCE { OID.
    try {
      return [parseOneCertificate(der)];
    } catch (asCertificate) {
      try {
        return parsePkcs7(der);
      } catch (e) {
        if (derIsTruncated(der)) {
          throw new SealpostError("CERT_MALFORMED", "The file is damaged or truncated: its DER data ends before the structure it starts is complete. Copy the whole file again.", { cause: e });
        }
        // A certificate OpenSSL reads but that cannot be used: say why, not "not PKCS#7".
        if (opensslReads(der)) throw asCertificate;
        throw e;
      }
    }
  }
  const out: Buffer[] = [];
  for (const b of blocks) {
    if (b.label === "CERTIFICATE" || b.label === "X509 CERTIFICATE" || b.label === "TRUSTED CERTIFICATE") {
      out.push(parseOneCertificate(b.der));
    } else if (b.label === "PKCS7" || b.label === "CMS") {
      out.push(...parsePkcs7(b.der));
    }
  }
  if (out.length === 0) throw new SealpostError("CERT_MALFORMED", "The file holds no certificate (no CERTIFICATE or PKCS7 block).");
  return out;
}

export interface CertificateInfo {
  /** SHA-1 over the DER, upper-case hex without separators (Exchange's Thumbprint). */
  thumbprint: string;
  sha256: string;
  subject: string;
  issuer: string;
  subjectRdns: Rdn[];
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** SAN dNSNames plus the subject CN when it is a host name. */
  certificateDomains: string[];
  dnsNames: string[];
  commonName?: string;
  keyAlgorithm: string;
  keySize: number;
  selfSigned: boolean;
  isCa: boolean;
  extendedKeyUsage: string[];
}

export function thumbprintOf(der: Buffer): string {
  return createHash("sha1").update(der).digest("hex").toUpperCase();
}

// The short names @peculiar/x509 uses in Name#toJSON for the types it knows.
const X509_NAME_OIDS: Record<string, string> = {
  CN: "2.5.4.3", L: "2.5.4.7", ST: "2.5.4.8", O: "2.5.4.10", OU: "2.5.4.11", C: "2.5.4.6",
  DC: "0.9.2342.19200300.100.1.25", E: "1.2.840.113549.1.9.1", G: "2.5.4.42", I: "2.5.4.43",
  SN: "2.5.4.4", T: "2.5.4.12",
};

function rdnsOf(name: x509.Name): Rdn[] {
  const rdns: Rdn[] = [];
  for (const rdn of name.toJSON()) {
    const out: Rdn = [];
    for (const [type, values] of Object.entries(rdn)) {
      const oid = /^[\d.]+$/.test(type) ? type : (X509_NAME_OIDS[type] ?? type);
      for (const v of values) out.push({ oid, name: attributeName(oid), value: v });
    }
    rdns.push(out);
  }
  return rdns;
}

const EKU_NAMES: Record<string, string> = {
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "2.5.29.37.0": "anyExtendedKeyUsage",
};

/** Certificate names as Exchange lists them (CertificateDomains). */
export function certificateNames(dnsNames: string[], commonName: string | undefined): string[] {
  const names: string[] = [];
  const add = (n: string) => {
    let end = n.length;
    while (end > 0 && n.charCodeAt(end - 1) === 0x2e) end--; // every trailing dot (no regex: names come from peers)
    const v = n.slice(0, end).toLowerCase();
    if (v !== "" && !names.includes(v)) names.push(v);
  };
  if (commonName && isValidDomain(commonName, { allowSingleLabel: true, allowWildcard: true })) add(commonName);
  for (const n of dnsNames) add(n);
  return names;
}

/** What Get-ExchangeCertificate shows of a certificate; CERT_MALFORMED when any part of it cannot be read. */
export function describeCertificate(der: Buffer): CertificateInfo {
  try {
    return describe(der);
  } catch (e) {
    if (e instanceof SealpostError) throw e;
    throw new SealpostError("CERT_MALFORMED", "A certificate could not be parsed (damaged or truncated DER, or a public key or extension that cannot be read).", { cause: e });
  }
}

/**
 * A validity date as OpenSSL prints it. OpenSSL parses certificates whose
 * notBefore/notAfter it cannot print ("Bad time value"); such a date must
 * refuse the certificate, never read as "no limit".
 */
function validityDate(text: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new SealpostError("CERT_MALFORMED", "A certificate's validity dates cannot be read (its notBefore or notAfter is malformed).");
  return d;
}

function describe(der: Buffer): CertificateInfo {
  ensureCryptoEngine();
  const node = new NodeX509(der);
  const cert = new x509.X509Certificate(der);
  const subjectRdns = rdnsOf(cert.subjectName);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const dnsNames = san ? san.names.items.filter((n) => n.type === "dns").map((n) => n.value) : [];
  const cn = subjectRdns.flat().find((a) => a.oid === "2.5.4.3")?.value;
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const pub = node.publicKey;
  const details = pub.asymmetricKeyDetails ?? {};
  return {
    thumbprint: thumbprintOf(der),
    sha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
    subject: formatDisplayName(subjectRdns),
    issuer: formatDisplayName(rdnsOf(cert.issuerName)),
    subjectRdns,
    serialNumber: node.serialNumber.toUpperCase(),
    notBefore: validityDate(node.validFrom),
    notAfter: validityDate(node.validTo),
    certificateDomains: certificateNames(dnsNames, cn),
    dnsNames,
    ...(cn !== undefined ? { commonName: cn } : {}),
    keyAlgorithm: pub.asymmetricKeyType === "ec" ? "ECDSA" : (pub.asymmetricKeyType ?? "unknown").toUpperCase(),
    keySize: details.modulusLength ?? (details.namedCurve === "prime256v1" ? 256 : 0),
    // checkIssued would demand keyCertSign, which a self-signed server certificate lacks.
    selfSigned: node.subject === node.issuer && node.verify(pub),
    isCa: bc?.ca ?? false,
    extendedKeyUsage: eku ? Array.from(eku.usages, (u) => EKU_NAMES[String(u)] ?? String(u)) : [],
  };
}

/** DER SubjectPublicKeyInfo of a certificate, to find the key it belongs to. */
export function certificateSpki(der: Buffer): Buffer {
  return new NodeX509(der).publicKey.export({ format: "der", type: "spki" });
}

/** Orders certificates leaf first, then each issuer after its subject; unlinked ones follow. */
export function orderChain(leaf: Buffer, others: Buffer[]): Buffer[] {
  const linked = issuerPath(leaf, others);
  const rest = others.filter((c) => !c.equals(leaf) && !linked.some((l) => l.equals(c)));
  return [leaf, ...linked, ...rest];
}

/** The issuers of `leaf` found in `pool`, nearest first, stopping at a self-signed one. */
export function issuerPath(leaf: Buffer, pool: Buffer[]): Buffer[] {
  const path: Buffer[] = [];
  const remaining = pool.filter((c) => !c.equals(leaf));
  let current = new NodeX509(leaf);
  for (;;) {
    if (current.subject === current.issuer && current.verify(current.publicKey)) break;
    const cur = current;
    const idx = remaining.findIndex((c) => {
      const cand = new NodeX509(c);
      return cur.checkIssued(cand) && cur.verify(cand.publicKey);
    });
    if (idx < 0) break;
    const next = remaining.splice(idx, 1)[0] as Buffer;
    path.push(next);
    current = new NodeX509(next);
  }
  return path;
}

export function certToPem(der: Buffer): string {
  const b64 = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}
