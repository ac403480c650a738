import { test } from "node:test";
import assert from "node:assert/strict";
import { selectCertificateFor, type SelectableCertificate } from "../../../src/certstore/select.js";

const now = new Date("2026-06-01T00:00:00Z");
function cert(over: Partial<SelectableCertificate> & { thumbprint: string }): SelectableCertificate {
  return {
    services: ["SMTP"],
    hasPrivateKey: true,
    certificateDomains: ["mail.contoso.com"],
    selfSigned: false,
    notBefore: new Date("2026-01-01T00:00:00Z"),
    notAfter: new Date("2027-01-01T00:00:00Z"),
    ...over,
  };
}

test("picks the SMTP-enabled certificate naming the FQDN; CA-issued first, then the newest", () => {
  const certs = [
    cert({ thumbprint: "SELF", selfSigned: true, notBefore: new Date("2026-05-01T00:00:00Z") }),
    cert({ thumbprint: "OLD" }),
    cert({ thumbprint: "NEW", notBefore: new Date("2026-03-01T00:00:00Z") }),
    cert({ thumbprint: "NOSMTP", services: [], notBefore: new Date("2026-04-01T00:00:00Z") }),
    cert({ thumbprint: "OTHER", certificateDomains: ["other.example"], notBefore: new Date("2026-04-01T00:00:00Z") }),
  ];
  assert.equal(selectCertificateFor("mail.contoso.com", certs, now)?.thumbprint, "NEW");
  assert.equal(selectCertificateFor("MAIL.contoso.com", certs.filter((c) => c.thumbprint !== "NEW" && c.thumbprint !== "OLD"), now)?.thumbprint, "SELF");
});

test("wildcards match one label; expired, future and keyless certificates are never chosen", () => {
  assert.equal(selectCertificateFor("mail.contoso.com", [cert({ thumbprint: "W", certificateDomains: ["*.contoso.com"] })], now)?.thumbprint, "W");
  assert.equal(selectCertificateFor("a.mail.contoso.com", [cert({ thumbprint: "W", certificateDomains: ["*.contoso.com"] })], now), undefined);
  assert.equal(selectCertificateFor("mail.contoso.com", [cert({ thumbprint: "E", notAfter: new Date("2026-05-01T00:00:00Z") })], now), undefined);
  assert.equal(selectCertificateFor("mail.contoso.com", [cert({ thumbprint: "F", notBefore: new Date("2026-07-01T00:00:00Z") })], now), undefined);
  assert.equal(selectCertificateFor("mail.contoso.com", [cert({ thumbprint: "K", hasPrivateKey: false })], now), undefined);
  assert.equal(selectCertificateFor("mail.contoso.com", [], now), undefined);
});
