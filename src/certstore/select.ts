// Which certificate a connector presents: the SMTP-enabled one whose names
// include the connector's FQDN; among several, CA-issued before self-signed,
// then the latest NotBefore. Certificates outside their validity and ones
// without a private key are never chosen. "None" is an answer callers handle.
import { matchesCertificateName } from "../pki/names.js";

export interface SelectableCertificate {
  thumbprint: string;
  services: string[];
  hasPrivateKey: boolean;
  certificateDomains: string[];
  selfSigned: boolean;
  notBefore: Date;
  notAfter: Date;
}

export function selectCertificateFor<T extends SelectableCertificate>(fqdn: string, certs: T[], now: Date): T | undefined {
  const candidates = certs.filter(
    (c) =>
      c.services.includes("SMTP") &&
      c.hasPrivateKey &&
      c.notBefore.getTime() <= now.getTime() &&
      c.notAfter.getTime() > now.getTime() &&
      c.certificateDomains.some((n) => matchesCertificateName(n, fqdn)),
  );
  candidates.sort((a, b) => {
    if (a.selfSigned !== b.selfSigned) return a.selfSigned ? 1 : -1;
    return b.notBefore.getTime() - a.notBefore.getTime();
  });
  return candidates[0];
}
