// A small, strict DER reader (and the few encoders an OCSP request needs) for
// the revocation layer, plus signature verification with node:crypto.
//
// Why not asn1js/pkijs for CRLs: asn1js refuses inputs with more nodes than
// its default limit ("Maximum ASN.1 node count exceeded", reached by a CRL of
// about 20,000 entries) and pkijs needs ~0.3 s for a 1,000-entry CRL. This
// reader walks the bytes in place: a 10 MiB CRL is a few hundred milliseconds
// and no per-node objects beyond the ones we keep.
import { X509Certificate, constants, createHash, verify as cryptoVerify, type KeyObject } from "node:crypto";

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** One TLV: tag byte, header start, content start, end (exclusive). */
export interface Tlv {
  tag: number;
  start: number;
  vstart: number;
  end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tag byte: [n] constructed or primitive. */
export function ctx(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | n;
}

export function readTlv(buf: Buffer, off: number, limit: number = buf.length): Tlv {
  if (off + 2 > limit) throw new DerError("truncated DER");
  const tag = buf[off] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError("unsupported high tag number");
  let p = off + 1;
  let len = buf[p++] as number;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError("indefinite length is not DER");
    if (n > 4) throw new DerError("length too large");
    if (p + n > limit) throw new DerError("truncated DER");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p++] as number);
  }
  if (p + len > limit) throw new DerError("truncated DER");
  return { tag, start: off, vstart: p, end: p + len };
}

/** Reads the single TLV that must fill `buf` exactly. */
export function readWhole(buf: Buffer, tag: number): Tlv {
  const t = readTlv(buf, 0);
  if (t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  if (t.end !== buf.length) throw new DerError("trailing data after the DER object");
  return t;
}

export function children(buf: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.vstart; p < t.end; ) {
    const c = readTlv(buf, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

export function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`${what} is missing or malformed`);
  return t;
}

export function content(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.vstart, t.end);
}

export function whole(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}

export function readOid(buf: Buffer, t: Tlv): string {
  const b = content(buf, expect(t, TAG.OID, "an object identifier"));
  if (b.length === 0) throw new DerError("empty object identifier");
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    const byte = b[i] as number;
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    } else if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError("object identifier arc too large");
  }
  return parts.join(".");
}

export function readTime(buf: Buffer, t: Tlv): Date {
  const s = content(buf, t).toString("latin1");
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (t.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(s))) {
    year = Number(m[1]);
  } else throw new DerError("a time is malformed");
  const d = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  if (Number.isNaN(d.getTime())) throw new DerError("a time is malformed");
  return d;
}

export function isTime(t: Tlv | undefined): boolean {
  return t !== undefined && (t.tag === TAG.UTC_TIME || t.tag === TAG.GENERALIZED_TIME);
}

/** A key for an INTEGER's content bytes (serial numbers): hex without redundant leading zero bytes. */
export function integerKey(b: Buffer): string {
  const negative = b.length > 0 && ((b[0] as number) & 0x80) !== 0;
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return (negative ? "-" : "") + b.subarray(i).toString("hex");
}

export function readBoolean(buf: Buffer, t: Tlv): boolean {
  const b = content(buf, t);
  if (b.length !== 1) throw new DerError("a BOOLEAN is malformed");
  return b[0] !== 0;
}

/** BIT STRING content without the unused-bits byte (which must be 0). */
export function bitStringBytes(buf: Buffer, t: Tlv): Buffer {
  const b = content(buf, expect(t, TAG.BIT_STRING, "a BIT STRING"));
  if (b.length === 0 || b[0] !== 0) throw new DerError("a BIT STRING has unused bits");
  return b.subarray(1);
}

export interface Extension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

/** Extensions ::= SEQUENCE OF SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
export function readExtensions(buf: Buffer, seq: Tlv): Extension[] {
  expect(seq, TAG.SEQUENCE, "extensions");
  return children(buf, seq).map((e) => {
    const f = children(buf, expect(e, TAG.SEQUENCE, "an extension"));
    const oid = readOid(buf, f[0] as Tlv);
    let i = 1;
    let critical = false;
    if (f[i]?.tag === TAG.BOOLEAN) critical = readBoolean(buf, f[i++] as Tlv);
    const value = content(buf, expect(f[i], TAG.OCTET_STRING, "an extension value"));
    return { oid, critical, value };
  });
}

// ---- encoding (OCSP requests) ----

export function encode(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  let header: Buffer;
  if (n < 0x80) header = Buffer.from([tag, n]);
  else {
    const lenBytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v & 0xff);
    header = Buffer.from([tag, 0x80 | lenBytes.length, ...lenBytes]);
  }
  return Buffer.concat([header, body]);
}

// ---- hashes and signatures ----

const HASH_OIDS: Record<string, string> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

export function hashName(oid: string): string | undefined {
  return HASH_OIDS[oid];
}

export function digest(alg: string, data: Buffer): Buffer {
  return createHash(alg).update(data).digest();
}

const SIG_HASH: Record<string, string | null> = {
  "1.2.840.113549.1.1.5": "sha1",
  "1.2.840.113549.1.1.14": "sha224",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.1": "sha1",
  "1.2.840.10045.4.3.1": "sha224",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.3.101.112": null, // Ed25519
  "1.3.101.113": null, // Ed448
};
const RSA_PSS = "1.2.840.113549.1.1.10";
const MGF1 = "1.2.840.113549.1.1.8";

/** RSASSA-PSS-params: hash (default SHA-1), MGF1 over the same hash, salt length (default 20). */
function pssParams(buf: Buffer, params: Tlv | undefined): { hash: string; saltLength: number } {
  let hash = "sha1";
  let mgfHash = "sha1";
  let saltLength = 20;
  if (params && params.tag === TAG.SEQUENCE) {
    for (const f of children(buf, params)) {
      const inner = children(buf, f)[0];
      if (f.tag === ctx(0, true)) {
        const h = hashName(readOid(buf, children(buf, expect(inner, TAG.SEQUENCE, "a PSS hash"))[0] as Tlv));
        if (!h) throw new DerError("unsupported PSS hash");
        hash = h;
      } else if (f.tag === ctx(1, true)) {
        const mgf = children(buf, expect(inner, TAG.SEQUENCE, "a PSS mask generation function"));
        if (readOid(buf, mgf[0] as Tlv) !== MGF1) throw new DerError("unsupported PSS mask generation function");
        const h = hashName(readOid(buf, children(buf, expect(mgf[1], TAG.SEQUENCE, "an MGF1 hash"))[0] as Tlv));
        if (!h) throw new DerError("unsupported MGF1 hash");
        mgfHash = h;
      } else if (f.tag === ctx(2, true)) {
        const v = content(buf, expect(inner, TAG.INTEGER, "a PSS salt length"));
        if (v.length > 2) throw new DerError("PSS salt length too large");
        saltLength = v.readUIntBE(0, v.length);
      }
    }
  }
  if (mgfHash !== hash) throw new DerError("PSS with a different MGF1 hash is not supported");
  return { hash, saltLength };
}

/**
 * Verifies `signature` over `data` with `key`, under the AlgorithmIdentifier `alg` (a TLV in `buf`).
 * False for a wrong signature, an algorithm that does not fit the key, or an unsupported algorithm.
 */
export function verifySignature(buf: Buffer, alg: Tlv, data: Buffer, signature: Buffer, key: KeyObject): boolean {
  try {
    const f = children(buf, expect(alg, TAG.SEQUENCE, "a signature algorithm"));
    const oid = readOid(buf, f[0] as Tlv);
    if (oid === RSA_PSS) {
      const { hash, saltLength } = pssParams(buf, f[1]);
      return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
    }
    const hash = SIG_HASH[oid];
    if (hash === undefined) return false;
    return cryptoVerify(hash, data, key, signature);
  } catch {
    return false;
  }
}

// ---- certificates ----

/** What the revocation layer needs from a certificate. */
export interface CertFields {
  der: Buffer;
  node: X509Certificate;
  /** INTEGER content bytes of the serial number. */
  serial: Buffer;
  serialKey: string;
  issuerDer: Buffer;
  subjectDer: Buffer;
  /** subjectPublicKey BIT STRING content (without the unused-bits byte): what OCSP's issuerKeyHash hashes. */
  keyBits: Buffer;
  /** "C=US, O=Test, CN=Test CA" (for messages). */
  subjectText: string;
}

export function certFields(der: Buffer): CertFields {
  const node = new X509Certificate(der);
  const cert = readWhole(der, TAG.SEQUENCE);
  const tbs = expect(children(der, cert)[0], TAG.SEQUENCE, "tbsCertificate");
  const f = children(der, tbs);
  let i = 0;
  if (f[0]?.tag === ctx(0, true)) i++;
  const serialT = expect(f[i], TAG.INTEGER, "the serial number");
  const issuerT = expect(f[i + 2], TAG.SEQUENCE, "the issuer name");
  const subjectT = expect(f[i + 4], TAG.SEQUENCE, "the subject name");
  const spki = children(der, expect(f[i + 5], TAG.SEQUENCE, "the public key"));
  const serial = Buffer.from(content(der, serialT));
  return {
    der,
    node,
    serial,
    serialKey: integerKey(serial),
    issuerDer: Buffer.from(whole(der, issuerT)),
    subjectDer: Buffer.from(whole(der, subjectT)),
    keyBits: Buffer.from(bitStringBytes(der, spki[1] as Tlv)),
    subjectText: nameText(node.subject),
  };
}

/** Node's multi-line name ("C=US\nCN=x") as one printable line. */
export function nameText(nodeName: string): string {
  return nodeName
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean)
    .join(", ")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}
