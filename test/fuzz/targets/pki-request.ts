// Certificate requests (src/pki/csr.ts createRequest, with the subject
// parser src/pki/dn.ts and the domain rules src/pki/domain.ts): the
// -SubjectName and -DomainName values New-ExchangeCertificate takes. The
// input's first line is the subject, the next lines domain names. An input
// that is DER or PEM (a request someone made elsewhere) goes to the
// certificate importer, which must refuse it as not a certificate.
//
// Invariants: only SealpostError comes out; a parsed subject has no empty
// value or control character, survives formatSubjectInput -> parseSubject
// unchanged; a request that was made verifies, carries exactly that subject
// (per RDN, as sets: DER sorts a SET OF) and exactly the SAN names
// requestDnsNames chose, all in normalized form.
import { SealpostError } from "../../../src/errors/errors.js";
import { readCertificates } from "../../../src/pki/certs.js";
import { createRequest } from "../../../src/pki/csr.js";
import { formatDisplayName, formatSubjectInput, parseSubject, type Rdn } from "../../../src/pki/dn.js";
import * as x509 from "../../../src/pki/x509.js";
import { check, expectOnly, expectOnlyAsync, show } from "./support.js";

const rdnKey = (r: Rdn): string => JSON.stringify(r.map((a) => [a.oid, a.value]).sort());

function checkSubject(rdns: Rdn[], input: string): void {
  check(rdns.length > 0, "an accepted subject has no RDN");
  for (const a of rdns.flat()) {
    check(a.value !== "" && !/[\x00-\x1f\x7f]/.test(a.value), () => `an accepted subject value is empty or holds a control character: ${show(a.value)}`);
  }
  const written = formatSubjectInput(rdns);
  const again = expectOnly(() => parseSubject(written), SealpostError);
  check(again !== undefined, () => `the subject ${show(input)} written back as ${show(written)} does not parse`);
  check(JSON.stringify(again) === JSON.stringify(rdns), () => `the subject ${show(input)} written back as ${show(written)} parses differently`);
  formatDisplayName(rdns);
}

async function checkRequest(subject: string, domains: string[]): Promise<void> {
  const req = await expectOnlyAsync(() => createRequest({ subjectName: subject, domainNames: domains, key: { algorithm: "ECDSA", size: 256 } }), SealpostError);
  if (!req) return;
  const csr = new x509.Pkcs10CertificateRequest(req.csrDer);
  check(await csr.verify(), "the request's signature does not verify");
  // The subject, RDN by RDN, as the request encodes it.
  const got: string[] = [];
  for (const rdn of csr.subjectName.toJSON()) {
    const attrs: Array<[string, string]> = [];
    for (const [type, values] of Object.entries(rdn)) for (const v of values) attrs.push([type, v]);
    got.push(JSON.stringify(attrs.map(([, v]) => v).sort()));
  }
  const want = req.subjectRdns.map((r) => JSON.stringify(r.map((a) => a.value).sort()));
  check(JSON.stringify(got) === JSON.stringify(want), () => `the request's subject ${JSON.stringify(got)} is not the one asked for ${JSON.stringify(want)}`);
  check(req.subjectRdns.map(rdnKey).join() === parseSubject(subject).map(rdnKey).join(), "createRequest used another subject than parseSubject reads");
  const sanRaw = csr.extensions.find((e) => e.type === "2.5.29.17");
  const san = sanRaw ? new x509.SubjectAlternativeNameExtension(sanRaw.rawData) : undefined;
  const sanNames = san ? san.names.items.filter((n) => n.type === "dns").map((n) => n.value) : [];
  check(JSON.stringify(sanNames) === JSON.stringify(req.dnsNames), () => `SAN ${JSON.stringify(sanNames)} instead of ${JSON.stringify(req.dnsNames)}`);
  for (const n of req.dnsNames) check(n === n.toLowerCase() && !n.endsWith(".") && /^[\x21-\x7e]+$/.test(n), () => `SAN name ${show(n)} is not a normalized A-label`);
  check(new Set(req.dnsNames).size === req.dnsNames.length, "the SAN lists a name twice");
  // A request is not a certificate.
  check(expectOnly(() => readCertificates(req.csrDer), SealpostError) === undefined, "readCertificates took a request for a certificate");
}

export async function fuzz(data: Buffer): Promise<void> {
  if (data[0] === 0x30 || data.includes("-----BEGIN")) {
    expectOnly(() => readCertificates(data), SealpostError);
    return;
  }
  const [subject = "", ...domains] = data.toString("utf8").split("\n");
  const rdns = expectOnly(() => parseSubject(subject), SealpostError);
  if (rdns) checkSubject(rdns, subject);
  await checkRequest(subject, domains.slice(0, 16));
}
