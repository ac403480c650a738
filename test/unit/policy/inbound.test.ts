// The inbound Domain Security decision, case by case (SPEC §2 "Inbound").
import { test } from "node:test";
import assert from "node:assert/strict";
import { decideMailFrom, partnerEntry, senderDomain, verdictNeeded, type MailFromInput } from "../../../src/policy/inbound.js";
import type { Verdict } from "../../../src/pki/trust/verdict.js";

const ok: Verdict = { ok: true, code: "OK", reason: "fine", warnings: [], checks: [], chain: [], thumbprint: "AB" };
const revoked: Verdict = { ...ok, ok: false, code: "CERT_REVOKED", reason: "The certificate CN=x (serial 01) is revoked." };
const base: MailFromInput = {
  sender: "alice@woodgrovebank.com",
  connector: { domainSecureEnabled: true, tlsAuth: true },
  receiveList: ["woodgrovebank.com", "*.fabrikam.com"],
  refusal: "Temporary",
  tls: true,
  mode: "Enforce",
  verdict: ok,
};
const line = (d: ReturnType<typeof decideMailFrom>) => `${d.reply.code} ${d.reply.enhanced} ${d.reply.text}`;

test("a partner over verified mutual TLS is accepted and domain-secured", () => {
  const d = decideMailFrom(base);
  assert.equal(d.action, "accept");
  assert.equal(d.domainSecured, true);
  assert.equal(d.partner, "woodgrovebank.com");
  assert.equal(line(d), "250 2.1.0 Sender OK");
});

test("a partner without TLS: 451 4.7.3, or 530 5.7.0 in Permanent mode", () => {
  assert.equal(line(decideMailFrom({ ...base, tls: false, verdict: undefined })), "451 4.7.3 Must issue a STARTTLS command first");
  assert.equal(line(decideMailFrom({ ...base, tls: false, verdict: undefined, refusal: "Permanent" })), "530 5.7.0 Must issue a STARTTLS command first");
});

test("a partner with a failing verdict: 451 4.7.5 Domain security: <reason>, or 550 5.7.1", () => {
  const d = decideMailFrom({ ...base, verdict: revoked });
  assert.equal(d.action, "refuse");
  assert.equal(d.code, "CERT_REVOKED");
  assert.equal(line(d), "451 4.7.5 Domain security: The certificate CN=x (serial 01) is revoked.");
  assert.equal(line(decideMailFrom({ ...base, verdict: revoked, refusal: "Permanent" })), "550 5.7.1 Domain security: The certificate CN=x (serial 01) is revoked.");
  assert.equal(line(decideMailFrom({ ...base, verdict: undefined })), "451 4.7.5 Domain security: no client certificate was presented");
});

test("ReportOnly accepts unmarked and records what Enforce would have done", () => {
  const d = decideMailFrom({ ...base, verdict: revoked, mode: "ReportOnly" });
  assert.equal(d.action, "accept");
  assert.equal(d.domainSecured, false);
  assert.equal(d.wouldRefuse, true);
  assert.equal(d.code, "CERT_REVOKED");
  const plain = decideMailFrom({ ...base, tls: false, mode: "ReportOnly", verdict: undefined });
  assert.equal(plain.action, "accept");
  assert.equal(plain.code, "TLS_REQUIRED");
});

test("non-partners are normal mail with or without TLS; connectors without Domain Security never check", () => {
  for (const tls of [true, false]) {
    const d = decideMailFrom({ ...base, sender: "bob@example.org", tls, verdict: undefined });
    assert.equal(d.action, "accept");
    assert.equal(d.domainSecured, false);
    assert.equal(d.code, "NOT_A_PARTNER");
  }
  const off = decideMailFrom({ ...base, tls: false, connector: { domainSecureEnabled: false, tlsAuth: true } });
  assert.equal(off.code, "NOT_DOMAIN_SECURE_CONNECTOR");
  assert.equal(off.action, "accept");
  assert.equal(decideMailFrom({ ...base, tls: false, connector: { domainSecureEnabled: true, tlsAuth: false } }).action, "accept");
});

test("the null reverse-path is decided by the session's certificate", () => {
  const marked = decideMailFrom({ ...base, sender: "", nullPathPartner: "woodgrovebank.com" });
  assert.equal(marked.domainSecured, true);
  assert.equal(marked.partner, "woodgrovebank.com");
  const unmarked = decideMailFrom({ ...base, sender: "", tls: false, verdict: undefined });
  assert.equal(unmarked.action, "accept");
  assert.equal(unmarked.domainSecured, false);
  assert.equal(decideMailFrom({ ...base, sender: "", verdict: revoked, nullPathPartner: "woodgrovebank.com" }).domainSecured, false);
});

test("list entries: exact domains, and *.P for subdomains only; what needs a verdict", () => {
  assert.equal(partnerEntry(senderDomain("a@WoodgroveBank.com") as string, base.receiveList), "woodgrovebank.com");
  assert.equal(partnerEntry("a.b.eu.fabrikam.com", base.receiveList), "*.fabrikam.com", "a list entry covers any depth");
  assert.equal(partnerEntry("mail.woodgrovebank.com", base.receiveList), undefined);
  assert.equal(partnerEntry("eu.fabrikam.com", base.receiveList), "*.fabrikam.com");
  assert.equal(partnerEntry("fabrikam.com", base.receiveList), undefined);
  assert.deepEqual(verdictNeeded("a@eu.fabrikam.com", base.connector, base.receiveList, true), { domain: "eu.fabrikam.com", partner: "*.fabrikam.com" });
  assert.equal(verdictNeeded("a@woodgrovebank.com", base.connector, base.receiveList, false), undefined);
  assert.equal(verdictNeeded("", base.connector, base.receiveList, true), "null-path");
  assert.equal(verdictNeeded("a@example.org", base.connector, base.receiveList, true), undefined);
});
