// OCSP (RFC 6960): build a request for one certificate, and read and verify a
// response: successful status, a BasicOCSPResponse signed by the issuing CA
// itself or by a delegated responder that the CA issued with id-kp-OCSPSigning
// (and that is included in the response), and a SingleResponse for exactly our
// CertID. Time checks are the caller's (the cache decides freshness).
import { createHash } from "node:crypto";
import {
  DerError,
  TAG,
  bitStringBytes,
  certFields,
  children,
  content,
  ctx,
  digest,
  encode,
  expect,
  hashName,
  integerKey,
  readOid,
  readTime,
  readWhole,
  verifySignature,
  whole,
  type CertFields,
  type Tlv,
} from "./revocation-der.js";
import { reasonName, sameName } from "./revocation-crl.js";

const OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1";
const EKU_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9";
const STATUS_NAMES: Record<number, string> = {
  1: "malformedRequest",
  2: "internalError",
  3: "tryLater",
  5: "sigRequired",
  6: "unauthorized",
};

/** OCSP CertID (SHA-1, as RFC 5019 profiles) for `cert` issued by `issuer`: DER, the cache key's source. */
export function buildCertId(cert: CertFields, issuer: CertFields): Buffer {
  const sha1 = (b: Buffer) => createHash("sha1").update(b).digest();
  const alg = encode(TAG.SEQUENCE, Buffer.from("06052b0e03021a", "hex"), encode(TAG.NULL));
  return encode(
    TAG.SEQUENCE,
    alg,
    encode(TAG.OCTET_STRING, sha1(cert.issuerDer)),
    encode(TAG.OCTET_STRING, sha1(issuer.keyBits)),
    encode(TAG.INTEGER, cert.serial),
  );
}

/** OCSPRequest { tbsRequest { requestList { Request { reqCert } } } } without nonce or signature. */
export function buildOcspRequest(certId: Buffer): Buffer {
  return encode(TAG.SEQUENCE, encode(TAG.SEQUENCE, encode(TAG.SEQUENCE, encode(TAG.SEQUENCE, certId))));
}

export interface OcspAnswer {
  status: "good" | "revoked" | "unknown";
  thisUpdate: Date;
  nextUpdate?: Date;
  producedAt: Date;
  revokedAt?: Date;
  reason?: string;
  /** "the issuing CA" or "the delegated responder <name>". */
  signer: string;
}

/** A response we must not use; the message is a phrase ("it is not signed by ..."). */
export class OcspRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OcspRefusal";
  }
}

interface Responder {
  byName?: Buffer;
  byKey?: Buffer;
}

function matchesResponder(r: Responder, c: CertFields): boolean {
  if (r.byName) return sameName(r.byName, c.subjectDer);
  if (r.byKey) return createHash("sha1").update(c.keyBits).digest().equals(r.byKey);
  return false;
}

interface Validity {
  now: Date;
  skewMs: number;
}

/** Why `c` may not answer for `issuer`'s certificates, or undefined when it is a valid delegated responder. */
function delegationProblem(c: CertFields, issuer: CertFields, v: Validity): string | undefined {
  const name = c.subjectText;
  if (!sameName(c.issuerDer, issuer.subjectDer) || !c.node.verify(issuer.node.publicKey)) {
    return `the responder certificate ${name} is not issued by ${issuer.subjectText}`;
  }
  const eku = c.node.keyUsage ?? [];
  if (!eku.includes(EKU_OCSP_SIGNING)) return `the responder certificate ${name} lacks the OCSPSigning extended key usage`;
  const t = v.now.getTime();
  if (new Date(c.node.validFrom).getTime() - v.skewMs > t || new Date(c.node.validTo).getTime() + v.skewMs < t) {
    return `the responder certificate ${name} is outside its validity period`;
  }
  return undefined;
}

/** Reads and verifies a DER OCSPResponse for `cert` (CertID `certId`), issued by `issuer`. Throws OcspRefusal or DerError. */
export function verifyOcspResponse(der: Buffer, cert: CertFields, issuer: CertFields, v: Validity): OcspAnswer {
  const top = children(der, readWhole(der, TAG.SEQUENCE));
  const statusBytes = content(der, expect(top[0], TAG.ENUMERATED, "the response status"));
  const status = statusBytes.length === 1 ? (statusBytes[0] as number) : -1;
  if (status !== 0) {
    throw new OcspRefusal(`the responder refused to answer (status ${STATUS_NAMES[status] ?? String(status)})`);
  }
  const rb = children(der, expect(children(der, expect(top[1], ctx(0, true), "responseBytes"))[0], TAG.SEQUENCE, "responseBytes"));
  if (readOid(der, rb[0] as Tlv) !== OCSP_BASIC) throw new OcspRefusal("it is not a basic OCSP response");
  const basic = Buffer.from(content(der, expect(rb[1], TAG.OCTET_STRING, "the basic response")));

  const parts = children(basic, readWhole(basic, TAG.SEQUENCE));
  const tbs = expect(parts[0], TAG.SEQUENCE, "tbsResponseData");
  const alg = expect(parts[1], TAG.SEQUENCE, "the signature algorithm");
  const signature = bitStringBytes(basic, parts[2] as Tlv);
  const included: CertFields[] = [];
  if (parts[3]?.tag === ctx(0, true)) {
    const seq = expect(children(basic, parts[3])[0], TAG.SEQUENCE, "the response certificates");
    for (const c of children(basic, seq).slice(0, 8)) {
      try {
        included.push(certFields(Buffer.from(whole(basic, c))));
      } catch {
        // an unreadable extra certificate cannot be the signer; ignore it
      }
    }
  }

  const f = children(basic, tbs);
  let i = 0;
  if (f[0]?.tag === ctx(0, true)) i++;
  const rid = f[i++] as Tlv;
  const responder: Responder = {};
  if (rid?.tag === ctx(1, true)) responder.byName = Buffer.from(whole(basic, expect(children(basic, rid)[0], TAG.SEQUENCE, "the responder name")));
  else if (rid?.tag === ctx(2, true)) responder.byKey = Buffer.from(content(basic, expect(children(basic, rid)[0], TAG.OCTET_STRING, "the responder key hash")));
  else throw new DerError("the responder ID is malformed");
  const producedAt = readTime(basic, expect(f[i++], TAG.GENERALIZED_TIME, "producedAt"));
  const responses = children(basic, expect(f[i++], TAG.SEQUENCE, "the responses"));

  // Who signed: the CA itself, or a delegated responder included in the response.
  const tbsBytes = whole(basic, tbs);
  let signer: string | undefined;
  let problem = "no certificate in the response matches its responder ID";
  if (matchesResponder(responder, issuer)) {
    if (verifySignature(basic, alg, tbsBytes, signature, issuer.node.publicKey)) signer = "the issuing CA";
    else problem = "its signature does not verify with the CA's key";
  }
  for (const c of included) {
    if (signer) break;
    if (!matchesResponder(responder, c)) continue;
    const why = delegationProblem(c, issuer, v);
    if (why) problem = why;
    else if (verifySignature(basic, alg, tbsBytes, signature, c.node.publicKey)) signer = `the delegated responder ${c.subjectText}`;
    else problem = `its signature does not verify with the key of ${c.subjectText}`;
  }
  if (!signer) throw new OcspRefusal(`it is not signed by ${issuer.subjectText} or a responder it authorised (${problem})`);

  for (const r of responses) {
    const sf = children(basic, expect(r, TAG.SEQUENCE, "a single response"));
    if (!certIdMatches(basic, expect(sf[0], TAG.SEQUENCE, "a CertID"), cert, issuer)) continue;
    const st = sf[1] as Tlv;
    const thisUpdate = readTime(basic, expect(sf[2], TAG.GENERALIZED_TIME, "thisUpdate"));
    const answer: OcspAnswer = { status: "unknown", thisUpdate, producedAt, signer };
    if (sf[3]?.tag === ctx(0, true)) {
      answer.nextUpdate = readTime(basic, expect(children(basic, sf[3])[0], TAG.GENERALIZED_TIME, "nextUpdate"));
    }
    if (st?.tag === ctx(0, false)) answer.status = "good";
    else if (st?.tag === ctx(1, true)) {
      answer.status = "revoked";
      const info = children(basic, st);
      answer.revokedAt = readTime(basic, expect(info[0], TAG.GENERALIZED_TIME, "the revocation time"));
      if (info[1]?.tag === ctx(0, true)) {
        const code = content(basic, expect(children(basic, info[1])[0], TAG.ENUMERATED, "the revocation reason"));
        if (code.length === 1) answer.reason = reasonName(code[0] as number);
      }
    } else if (st?.tag !== ctx(2, false)) throw new DerError("a certificate status is malformed");
    return answer;
  }
  throw new OcspRefusal("it does not answer for this certificate (no matching CertID)");
}

/** CertID in the response equals ours, under whatever hash algorithm the responder used. */
function certIdMatches(buf: Buffer, idT: Tlv, cert: CertFields, issuer: CertFields): boolean {
  const f = children(buf, idT);
  const algOid = readOid(buf, children(buf, expect(f[0], TAG.SEQUENCE, "the CertID hash algorithm"))[0] as Tlv);
  const hash = hashName(algOid);
  if (!hash) return false;
  const nameHash = content(buf, expect(f[1], TAG.OCTET_STRING, "issuerNameHash"));
  const keyHash = content(buf, expect(f[2], TAG.OCTET_STRING, "issuerKeyHash"));
  const serial = content(buf, expect(f[3], TAG.INTEGER, "the serial number"));
  return (
    integerKey(serial) === cert.serialKey &&
    digest(hash, cert.issuerDer).equals(nameHash) &&
    digest(hash, issuer.keyBits).equals(keyHash)
  );
}
