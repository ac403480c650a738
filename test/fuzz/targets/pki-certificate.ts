// Certificate import (src/pki/certs.ts readCertificates / describeCertificate)
// and the trust layer's parse (src/pki/trust/parsed.ts parseCert): whatever
// an administrator or a peer hands over (PEM, a PEM chain, DER, PKCS#7,
// bare Base64, or garbage).
//
// Invariants: only SealpostError comes out; a certificate that
// readCertificates returned is one describeCertificate and parseCert
// describe (or refuse with SealpostError), with a thumbprint that is the
// SHA-1 of its DER, validity dates that are dates (an unreadable one
// compares as NaN: "always valid") and names in the normalized form the
// matching code expects (lower case, no trailing dot).
import { createHash } from "node:crypto";
import { SealpostError } from "../../../src/errors/errors.js";
import { describeCertificate, readCertificates } from "../../../src/pki/certs.js";
import { parseCert } from "../../../src/pki/trust/parsed.js";
import { check, expectOnly } from "./support.js";

export function fuzz(data: Buffer): void {
  const certs = expectOnly(() => readCertificates(data), SealpostError);
  // The trust layer gets DER straight from TLS: try the input itself too.
  expectOnly(() => parseCert(Buffer.from(data)), SealpostError);
  for (const der of certs ?? []) {
    check(der.length > 0, "readCertificates returned an empty certificate");
    const info = expectOnly(() => describeCertificate(der), SealpostError);
    if (info) {
      check(info.thumbprint === createHash("sha1").update(der).digest("hex").toUpperCase(), "the thumbprint is not the SHA-1 of the DER");
      for (const n of info.certificateDomains) {
        check(n === n.toLowerCase() && !n.endsWith("."), () => `certificate name ${JSON.stringify(n)} is not normalized`);
      }
      check(!Number.isNaN(info.notBefore.getTime()) && !Number.isNaN(info.notAfter.getTime()), "a validity date is not a date");
    }
    const parsed = expectOnly(() => parseCert(der), SealpostError);
    if (parsed) {
      for (const n of parsed.dnsNames) check(n === n.toLowerCase(), () => `parseCert kept ${JSON.stringify(n)} in mixed case`);
      check(parsed.sha256 === createHash("sha256").update(der).digest("hex").toUpperCase(), "parseCert's SHA-256 is wrong");
      check(!Number.isNaN(parsed.notBefore.getTime()) && !Number.isNaN(parsed.notAfter.getTime()), "parseCert's validity date is not a date");
    }
  }
}
