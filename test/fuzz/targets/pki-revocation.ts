// Revocation data from the network: CRLs (src/pki/trust/revocation-crl.ts
// parseCrl, on the DER reader revocation-der.ts) and OCSP responses
// (revocation-ocsp.ts verifyOcspResponse), checked against the issuing CA
// and leaves in test/fuzz/fixtures/ (made by make-seeds.sh, like the seeds).
// Every input goes to both.
//
// Invariants: parseCrl throws only DerError; on a CRL it accepted, the
// functions the revocation checker calls next without a try
// (crlSignatureProblem, crlScopeProblem, and in a usable CRL lookupSerial
// of every listed serial) do not throw; verifyOcspResponse throws only OcspRefusal or
// DerError; dates that come out are dates.
import * as fs from "node:fs";
import { X509Certificate } from "node:crypto";
import { crlScopeProblem, crlSignatureProblem, lookupSerial, parseCrl } from "../../../src/pki/trust/revocation-crl.js";
import { DerError, certFields } from "../../../src/pki/trust/revocation-der.js";
import { OcspRefusal, verifyOcspResponse } from "../../../src/pki/trust/revocation-ocsp.js";
import { check, expectOnly } from "./support.js";

const FIXTURES = new URL("../../../../test/fuzz/fixtures/", import.meta.url);
const der = (name: string): Buffer => Buffer.from(new X509Certificate(fs.readFileSync(new URL(name, FIXTURES))).raw);

const issuer = certFields(der("issuing-ca.pem"));
const leaves = [certFields(der("mail1.pem")), certFields(der("revoked.pem"))];
// A moment inside every fixture's validity.
const validity = { now: new Date(new Date(leaves[0]!.node.validFrom).getTime() + 86_400_000), skewMs: 5 * 60_000 };
const CDP = ["http://crl.example.test/issuing.crl"];

const isDate = (d: Date | undefined): boolean => d === undefined || (d instanceof Date && !Number.isNaN(d.getTime()));

function crl(data: Buffer): void {
  const c = expectOnly(() => parseCrl(data), DerError);
  if (!c) return;
  check(isDate(c.thisUpdate) && isDate(c.nextUpdate), "a CRL date is not a date");
  for (const leaf of leaves) crlSignatureProblem(c, issuer, leaf.issuerDer);
  crlScopeProblem(c, false, CDP);
  crlScopeProblem(c, true, []);
  // The checker looks serials up only in a usable CRL (crlScopeProblem returns `unusable` first).
  if (c.unusable) return;
  for (const serial of c.revoked.keys()) {
    const hit = lookupSerial(c, serial);
    if (hit) check(isDate(hit.revokedAt), "a revocation date is not a date");
  }
  for (const leaf of leaves) lookupSerial(c, leaf.serialKey);
}

function ocsp(data: Buffer): void {
  for (const leaf of leaves) {
    const a = expectOnly(() => verifyOcspResponse(data, leaf, issuer, validity), OcspRefusal, DerError);
    if (!a) continue;
    check(["good", "revoked", "unknown"].includes(a.status), `status ${a.status}`);
    check(isDate(a.thisUpdate) && isDate(a.nextUpdate) && isDate(a.producedAt) && isDate(a.revokedAt), "an OCSP date is not a date");
  }
}

export function fuzz(data: Buffer): void {
  crl(data);
  ocsp(data);
}
