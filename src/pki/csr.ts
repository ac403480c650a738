// PKCS#10 requests and self-signed certificates, as New-ExchangeCertificate
// makes them. The subject keeps the order written; SAN dNSNames carry the
// -DomainName values and the subject CN (TLS clients ignore the CN when a
// SAN is present, so a CN left out of the SAN would not be verifiable).
import { randomBytes } from "node:crypto";
import * as x509 from "./x509.js";
import { SealpostError } from "../errors/errors.js";
import { ensureCryptoEngine } from "./crypto-engine.js";
import { commonName, parseSubject, type Rdn } from "./dn.js";
import { isValidDomain, normalizeDomain } from "./domain.js";
import { derToPem, generateKeyPair, type GeneratedKeyPair, type KeySpec } from "./keys.js";

export interface RequestOptions {
  /** Exchange-style subject, e.g. "DC=com,DC=Contoso,CN=mail1.contoso.com". */
  subjectName: string;
  /** -DomainName values (SAN dNSNames). */
  domainNames?: string[];
  key: KeySpec;
}

export interface GeneratedRequest {
  keyPair: GeneratedKeyPair;
  csrDer: Buffer;
  subjectRdns: Rdn[];
  dnsNames: string[];
}

function nameParams(rdns: Rdn[]): x509.Name {
  const json: x509.JsonNameParams = rdns.map((rdn) => {
    const item: Record<string, x509.JsonAttributeObject[]> = {};
    for (const a of rdn) {
      const ia5 = a.name === "DC" || a.name === "E";
      const printable = a.name === "C" || (!ia5 && /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(a.value));
      const v: x509.JsonAttributeObject = ia5 ? { ia5String: a.value } : printable ? { printableString: a.value } : { utf8String: a.value };
      (item[a.oid] ??= []).push(v);
    }
    return item;
  });
  return new x509.Name(json);
}

/** SAN list for a request: the CN when it is a host name, then -DomainName values. */
export function requestDnsNames(rdns: Rdn[], domainNames: string[] = []): string[] {
  const names: string[] = [];
  const cn = commonName(rdns);
  if (cn && isValidDomain(cn, { allowSingleLabel: true, allowWildcard: true })) {
    names.push(normalizeDomain(cn, { allowSingleLabel: true, allowWildcard: true }));
  }
  for (const d of domainNames) {
    const n = normalizeDomain(d, { allowSingleLabel: true, allowWildcard: true });
    if (!names.includes(n)) names.push(n);
  }
  return names;
}

function sanExtension(dnsNames: string[]): x509.Extension[] {
  if (dnsNames.length === 0) return [];
  return [new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: "dns" as const, value })), false)];
}

function keyUsageFor(spec: KeySpec): x509.KeyUsagesExtension {
  const flags =
    spec.algorithm === "RSA"
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  return new x509.KeyUsagesExtension(flags, true);
}

export async function createRequest(opts: RequestOptions): Promise<GeneratedRequest> {
  ensureCryptoEngine();
  const subjectRdns = parseSubject(opts.subjectName);
  const dnsNames = requestDnsNames(subjectRdns, opts.domainNames);
  const keyPair = await generateKeyPair(opts.key);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: nameParams(subjectRdns),
    keys: { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey },
    signingAlgorithm: keyPair.signingAlgorithm,
    extensions: [...sanExtension(dnsNames), keyUsageFor(opts.key)],
  });
  return { keyPair, csrDer: Buffer.from(csr.rawData), subjectRdns, dnsNames };
}

export function csrToPem(der: Buffer): string {
  return derToPem(der, "CERTIFICATE REQUEST");
}

export interface SelfSignedOptions extends RequestOptions {
  notBefore?: Date;
  notAfter?: Date;
  /** Days of validity when notAfter is not given. */
  validityDays?: number;
}

export interface GeneratedSelfSigned {
  keyPair: GeneratedKeyPair;
  certDer: Buffer;
}

/** A self-signed certificate for server and client authentication. */
export async function createSelfSigned(opts: SelfSignedOptions): Promise<GeneratedSelfSigned> {
  ensureCryptoEngine();
  const subjectRdns = parseSubject(opts.subjectName);
  const dnsNames = requestDnsNames(subjectRdns, opts.domainNames);
  const keyPair = await generateKeyPair(opts.key);
  // Back-date a little so a peer whose clock runs slightly behind accepts it.
  const notBefore = opts.notBefore ?? new Date(Date.now() - 5 * 60_000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + (opts.validityDays ?? 5 * 365) * 86_400_000);
  if (notAfter <= notBefore) throw new SealpostError("INVALID_ARGUMENT", "A certificate must end after it begins.");
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f; // positive INTEGER
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString("hex"),
    name: nameParams(subjectRdns),
    notBefore,
    notAfter,
    keys: { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey },
    signingAlgorithm: keyPair.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      keyUsageFor(opts.key),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      ...sanExtension(dnsNames),
      await x509.SubjectKeyIdentifierExtension.create(keyPair.publicKey),
    ],
  });
  return { keyPair, certDer: Buffer.from(cert.rawData) };
}
