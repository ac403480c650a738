// CRLs (RFC 5280 §5): parse once into a map of revoked serials (O(1) lookup,
// built in one pass over the DER without per-entry objects), verify against
// the issuing CA, decide whether the CRL covers a certificate, and look a
// serial up. Pure functions over bytes: fetching and caching live elsewhere.
import * as x509 from "../x509.js";
import { ensureCryptoEngine } from "../crypto-engine.js";
import {
  DerError,
  TAG,
  bitStringBytes,
  children,
  content,
  ctx,
  expect,
  integerKey,
  isTime,
  readBoolean,
  readExtensions,
  readOid,
  readTime,
  readTlv,
  readWhole,
  verifySignature,
  whole,
  type CertFields,
  type Tlv,
} from "./revocation-der.js";

/** RFC 5280 CRLReason names, by code. */
const CRL_REASONS: Record<number, string> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "cACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  8: "removeFromCRL",
  9: "privilegeWithdrawn",
  10: "aACompromise",
};

export function reasonName(code: number): string {
  return CRL_REASONS[code] ?? `reason code ${code}`;
}

interface IssuingDistributionPoint {
  uris: string[];
  relativeName: boolean;
  onlyUser: boolean;
  onlyCa: boolean;
  someReasons: boolean;
  indirect: boolean;
  onlyAttribute: boolean;
}

export interface ParsedCrl {
  der: Buffer;
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate?: Date;
  /** Normalized serial (integerKey) -> offset of its revokedCertificates entry in `der`. */
  revoked: Map<string, number>;
  /** Why this CRL cannot be used at all (delta CRL, indirect CRL, unknown critical extension...). */
  unusable?: string;
  idp?: IssuingDistributionPoint;
  tbs: Tlv;
  innerAlg: Tlv;
  alg: Tlv;
  signature: Buffer;
}

const OID = {
  reasonCode: "2.5.29.21",
  invalidityDate: "2.5.29.24",
  holdInstruction: "2.5.29.23",
  certificateIssuer: "2.5.29.29",
  crlNumber: "2.5.29.20",
  deltaCrlIndicator: "2.5.29.27",
  idp: "2.5.29.28",
  aki: "2.5.29.35",
  freshestCrl: "2.5.29.46",
  issuerAltName: "2.5.29.18",
  expiredCertsOnCrl: "2.5.29.60",
  aia: "1.3.6.1.5.5.7.1.1",
};
const KNOWN_ENTRY_EXTENSIONS = new Set([OID.reasonCode, OID.invalidityDate, OID.holdInstruction]);

function parseIdp(value: Buffer): IssuingDistributionPoint {
  const idp: IssuingDistributionPoint = {
    uris: [], relativeName: false, onlyUser: false, onlyCa: false, someReasons: false, indirect: false, onlyAttribute: false,
  };
  const seq = readWhole(value, TAG.SEQUENCE);
  for (const f of children(value, seq)) {
    if (f.tag === ctx(0, true)) {
      const name = children(value, f)[0];
      if (name?.tag === ctx(0, true)) {
        for (const gn of children(value, name)) if (gn.tag === ctx(6, false)) idp.uris.push(content(value, gn).toString("latin1"));
      } else if (name?.tag === ctx(1, true)) idp.relativeName = true;
    } else if (f.tag === ctx(1, false)) idp.onlyUser = readBoolean(value, f);
    else if (f.tag === ctx(2, false)) idp.onlyCa = readBoolean(value, f);
    else if (f.tag === ctx(3, false)) idp.someReasons = true;
    else if (f.tag === ctx(4, false)) idp.indirect = readBoolean(value, f);
    else if (f.tag === ctx(5, false)) idp.onlyAttribute = readBoolean(value, f);
  }
  return idp;
}

/**
 * Checks a CRL entry's Extensions SEQUENCE as lookupSerial will read it
 * (each extension well-formed, a reasonCode an ENUMERATED), so that a CRL
 * parseCrl accepted is one lookupSerial can read. Returns the OID of the
 * first critical extension not in `known`, if any.
 */
function unknownCritical(buf: Buffer, seq: Tlv, known: Set<string>): string | undefined {
  for (let p = seq.vstart; p < seq.end; ) {
    const ext = expect(readTlv(buf, p, seq.end), TAG.SEQUENCE, "an extension");
    p = ext.end;
    const oidT = readTlv(buf, ext.vstart, ext.end);
    const oid = readOid(buf, oidT);
    if (oidT.end >= ext.end) throw new DerError("an extension is malformed");
    let next = readTlv(buf, oidT.end, ext.end);
    let critical = false;
    if (next.tag === TAG.BOOLEAN) {
      critical = readBoolean(buf, next);
      next = readTlv(buf, next.end, ext.end);
    }
    const value = content(buf, expect(next, TAG.OCTET_STRING, "an extension value"));
    if (next.end !== ext.end) throw new DerError("an extension has unexpected fields");
    if (oid === OID.reasonCode) readWhole(value, TAG.ENUMERATED);
    if (critical && !known.has(oid)) return oid;
  }
  return undefined;
}

/** Entries indexed between two yields of parseSteps (about 10 ms of work). */
const SLICE = 4096;

/** Parses a DER (or PEM) CRL. Throws DerError when it is not one. */
export function parseCrl(input: Buffer): ParsedCrl {
  const steps = parseSteps(input);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** parseCrl that lets the event loop run between slices of a large revocation list. */
export async function parseCrlAsync(input: Buffer): Promise<ParsedCrl> {
  const steps = parseSteps(input);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function* parseSteps(input: Buffer): Generator<void, ParsedCrl> {
  const der = pemToDer(input);
  const top = readWhole(der, TAG.SEQUENCE);
  const parts = children(der, top);
  if (parts.length !== 3) throw new DerError("a CRL has three parts");
  const tbs = expect(parts[0], TAG.SEQUENCE, "tbsCertList");
  const alg = expect(parts[1], TAG.SEQUENCE, "the signature algorithm");
  const signature = Buffer.from(bitStringBytes(der, parts[2] as Tlv));
  const f = children(der, tbs);
  let i = 0;
  if (f[0]?.tag === TAG.INTEGER) i++;
  const innerAlg = expect(f[i++], TAG.SEQUENCE, "the inner signature algorithm");
  const issuerDer = Buffer.from(whole(der, expect(f[i++], TAG.SEQUENCE, "the issuer name")));
  if (!isTime(f[i])) throw new DerError("thisUpdate is missing");
  const thisUpdate = readTime(der, f[i++] as Tlv);
  const nextUpdate = isTime(f[i]) ? readTime(der, f[i++] as Tlv) : undefined;
  const revoked = new Map<string, number>();
  let unusable: string | undefined;
  if (f[i]?.tag === TAG.SEQUENCE) {
    const list = f[i++] as Tlv;
    for (let p = list.vstart; p < list.end; ) {
      const entry = readTlv(der, p, list.end);
      if (entry.tag !== TAG.SEQUENCE) throw new DerError("a revoked certificate entry is malformed");
      p = entry.end;
      const serial = expect(readTlv(der, entry.vstart, entry.end), TAG.INTEGER, "a revoked serial number");
      revoked.set(integerKey(content(der, serial)), entry.start);
      if (revoked.size % SLICE === 0) yield;
      const date = readTlv(der, serial.end, entry.end);
      if (!isTime(date)) throw new DerError("a revocation date is malformed");
      readTime(der, date); // lookupSerial reads it: a CRL accepted here must be one it can read
      if (date.end < entry.end) {
        const exts = expect(readTlv(der, date.end, entry.end), TAG.SEQUENCE, "CRL entry extensions");
        const bad = unusable ? undefined : unknownCritical(der, exts, KNOWN_ENTRY_EXTENSIONS);
        if (bad) {
          unusable = bad === OID.certificateIssuer
            ? "it is an indirect CRL (entries name other issuers), which Sealpost does not use"
            : `an entry carries the critical extension ${bad}, which Sealpost does not understand`;
        }
      }
    }
  }
  let idp: IssuingDistributionPoint | undefined;
  if (f[i]?.tag === ctx(0, true)) {
    const extsT = children(der, f[i++] as Tlv)[0];
    for (const ext of readExtensions(der, extsT as Tlv)) {
      if (ext.oid === OID.deltaCrlIndicator) unusable = "it is a delta CRL, which cannot be used without its base CRL";
      else if (ext.oid === OID.idp) idp = parseIdp(ext.value);
      else if (ext.critical && ![OID.crlNumber, OID.aki, OID.freshestCrl, OID.issuerAltName, OID.expiredCertsOnCrl, OID.aia].includes(ext.oid)) {
        unusable ??= `it carries the critical extension ${ext.oid}, which Sealpost does not understand`;
      }
    }
  }
  if (i !== f.length) throw new DerError("tbsCertList has unexpected fields");
  if (idp?.indirect) unusable ??= "it is an indirect CRL, which Sealpost does not use";
  if (idp?.someReasons) unusable ??= "it covers only some revocation reasons";
  if (idp?.onlyAttribute) unusable ??= "it covers only attribute certificates";
  const crl: ParsedCrl = { der, issuerDer, thisUpdate, revoked, tbs, innerAlg, alg, signature };
  if (nextUpdate) crl.nextUpdate = nextUpdate;
  if (unusable) crl.unusable = unusable;
  if (idp) crl.idp = idp;
  return crl;
}

function pemToDer(input: Buffer): Buffer {
  const head = input.subarray(0, 64).toString("latin1");
  if (!head.includes("-----BEGIN")) return input;
  const m = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----/.exec(input.toString("latin1"));
  if (!m) throw new DerError("the PEM text holds no X509 CRL block");
  return Buffer.from((m[1] as string).replace(/\s+/g, ""), "base64");
}

function looseName(der: Buffer): string {
  ensureCryptoEngine();
  return new x509.Name(der).toString().toLowerCase().replace(/\s+/g, " ");
}

export function nameOf(der: Buffer): string {
  try {
    ensureCryptoEngine();
    return new x509.Name(der).toString().replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  } catch {
    return "an unreadable name";
  }
}

/** Same X.500 name: byte-equal, else equal after case and whitespace folding (PrintableString vs UTF8String). */
export function sameName(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  try {
    return looseName(a) === looseName(b);
  } catch {
    return false;
  }
}

/** Does the CA certificate allow CRL signing? (No keyUsage extension means no restriction.) */
function allowsCrlSign(issuer: CertFields): boolean {
  ensureCryptoEngine();
  const ku = new x509.X509Certificate(issuer.der).getExtension(x509.KeyUsagesExtension);
  return !ku || (ku.usages & x509.KeyUsageFlags.cRLSign) !== 0;
}

/**
 * Why `issuer` did not sign this CRL for certificates whose issuer name is `certIssuerDer`,
 * or undefined when it did (names match and the signature verifies with the issuer's key).
 */
export function crlSignatureProblem(crl: ParsedCrl, issuer: CertFields, certIssuerDer: Buffer): string | undefined {
  if (!sameName(crl.issuerDer, certIssuerDer)) return `it names ${nameOf(crl.issuerDer)} as its issuer`;
  if (!whole(crl.der, crl.innerAlg).equals(whole(crl.der, crl.alg))) return "its two signature algorithm fields differ";
  if (!verifySignature(crl.der, crl.alg, whole(crl.der, crl.tbs), crl.signature, issuer.node.publicKey)) {
    return "its signature does not verify with that CA's key";
  }
  if (!allowsCrlSign(issuer)) return "that CA's certificate does not allow CRL signing (no cRLSign key usage)";
  return undefined;
}

/** Why this CRL does not cover the certificate, or undefined when it does. */
export function crlScopeProblem(crl: ParsedCrl, certIsCa: boolean, certCdpUris: string[]): string | undefined {
  if (crl.unusable) return crl.unusable;
  const idp = crl.idp;
  if (!idp) return undefined;
  if (idp.onlyUser && certIsCa) return "it covers only end-entity certificates and this is a CA certificate";
  if (idp.onlyCa && !certIsCa) return "it covers only CA certificates";
  if (idp.relativeName) return "its issuing distribution point is a relative name, which Sealpost does not match";
  if (idp.uris.length && !idp.uris.some((u) => certCdpUris.includes(u))) {
    return "its issuing distribution point names a different distribution point than the certificate";
  }
  return undefined;
}

export interface CrlRevocation {
  revokedAt: Date;
  reason?: string;
}

/** The revocation entry for a serial (CertFields.serialKey), or undefined when the CRL does not list it. */
export function lookupSerial(crl: ParsedCrl, serialKey: string): CrlRevocation | undefined {
  const off = crl.revoked.get(serialKey);
  if (off === undefined) return undefined;
  const der = crl.der;
  const entry = readTlv(der, off);
  const serial = readTlv(der, entry.vstart, entry.end);
  const date = readTlv(der, serial.end, entry.end);
  const out: CrlRevocation = { revokedAt: readTime(der, date) };
  if (date.end < entry.end) {
    for (const ext of readExtensions(der, readTlv(der, date.end, entry.end))) {
      if (ext.oid !== OID.reasonCode) continue;
      const e = readWhole(ext.value, TAG.ENUMERATED);
      const v = content(ext.value, e);
      if (v.length === 1) out.reason = reasonName(v[0] as number);
    }
  }
  // removeFromCRL belongs to delta CRLs (which are refused); in a base CRL it cannot mean "revoked".
  if (out.reason === "removeFromCRL") return undefined;
  return out;
}

/** http(s)/ldap/... URLs of the certificate's CRL distribution points and OCSP responders. */
export interface RevocationPointers {
  /** Full-name URIs of every distribution point (to match a CRL's issuing distribution point). */
  cdpUris: string[];
  crlHttp: string[];
  crlLdap: string[];
  crlOther: string[];
  /** Distribution points skipped because they are partitioned or indirect. */
  crlSkipped: number;
  ocspHttp: string[];
  ocspOther: string[];
}

export function revocationPointers(der: Buffer): RevocationPointers {
  ensureCryptoEngine();
  const cert = new x509.X509Certificate(der);
  const p: RevocationPointers = { cdpUris: [], crlHttp: [], crlLdap: [], crlOther: [], crlSkipped: 0, ocspHttp: [], ocspOther: [] };
  const cdp = cert.getExtension(x509.CRLDistributionPointsExtension);
  for (const dp of cdp?.distributionPoints ?? []) {
    const uris = (dp.distributionPoint?.fullName ?? []).flatMap((n) => (n.uniformResourceIdentifier ? [n.uniformResourceIdentifier] : []));
    p.cdpUris.push(...uris);
    if (dp.cRLIssuer || dp.reasons) {
      p.crlSkipped++;
      continue;
    }
    for (const u of uris) {
      const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(u)?.[1]?.toLowerCase();
      if (scheme === "http") p.crlHttp.push(u);
      else if (scheme === "ldap" || scheme === "ldaps") p.crlLdap.push(u);
      else p.crlOther.push(u);
    }
  }
  const aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
  for (const n of aia?.ocsp ?? []) {
    if (n.type !== "url") continue;
    if (/^http:/i.test(n.value)) p.ocspHttp.push(n.value);
    else p.ocspOther.push(n.value);
  }
  return p;
}
