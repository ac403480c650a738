// The outbound session's requirements, case by case: one row per kind of
// mail and connector, with everything the session must be.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultSendConnector, type SendConnector } from "../../../src/org/model.js";
import { defaultPartnerOptions } from "../../../src/org/store.js";
import { sessionRequirements, type SessionFacts, type SessionRequirements } from "../../../src/outbound/requirements.js";

const THUMB = "A".repeat(40);
const dnsDs = defaultSendConnector("Internet", { domainSecureEnabled: true });
const dnsPlain = defaultSendConnector("Plain");
const requireTls = defaultSendConnector("Strict", { requireTLS: true });
const ignoreTls = defaultSendConnector("NoTls", { ignoreSTARTTLS: true });
const ignoreTlsDs = defaultSendConnector("NoTlsDs", { ignoreSTARTTLS: true, domainSecureEnabled: true });
const smartHost = defaultSendConnector("Relay", { dnsRoutingEnabled: false, smartHosts: ["relay.contoso.com"] });
const withFqdn = defaultSendConnector("Named", { domainSecureEnabled: true, fqdn: "out.contoso.com" });

const woodgrove = { entry: "woodgrovebank.com", options: defaultPartnerOptions("woodgrovebank.com") };
const reportOnly = { entry: "woodgrovebank.com", options: { ...defaultPartnerOptions("woodgrovebank.com"), mode: "ReportOnly" as const } };
const wildcard = { entry: "*.fabrikam.com", options: { ...defaultPartnerOptions("*.fabrikam.com"), nameMatch: "Subdomains" as const } };

function facts(connector: SendConnector, o: Partial<SessionFacts> = {}): SessionFacts {
  return { domain: o.partner ? o.partner.entry.replace(/^\*\./, "eu.") : "example.org", connector, serverName: "mail1.contoso.com", certificate: THUMB, plaintextFallback: false, ...o };
}

const secured = (partner: typeof woodgrove, domain = partner.entry, ehloName = "mail1.contoso.com"): SessionRequirements => ({
  kind: "session",
  ehloName,
  tls: "required",
  presentCertificate: THUMB,
  verifyPeer: { domain, partner: partner.entry, options: partner.options },
  plaintextFallback: false,
  requireEncrypted: true,
});
const plain = (tls: "required" | "opportunistic" | "none", o: { fallback?: boolean; cert?: string | undefined } = {}): SessionRequirements => ({
  kind: "session",
  ehloName: "mail1.contoso.com",
  tls,
  presentCertificate: "cert" in o ? o.cert : THUMB,
  verifyPeer: undefined,
  plaintextFallback: o.fallback ?? false,
  requireEncrypted: tls === "required",
});

const rows: Array<[string, SessionFacts, SessionRequirements | { kind: "refuse"; check: string; reason: RegExp }]> = [
  ["partner over a Domain Security DNS connector: TLS required, our certificate, the peer verified for the domain, never in clear", facts(dnsDs, { partner: woodgrove }), secured(woodgrove)],
  ["partner: PlaintextFallback on changes nothing", facts(dnsDs, { partner: woodgrove, plaintextFallback: true }), secured(woodgrove)],
  ["partner in ReportOnly mode: exactly as in Enforce", facts(dnsDs, { partner: reportOnly }), secured(reportOnly)],
  ["partner by a wildcard entry: verified for the recipient domain, with the entry's options", facts(dnsDs, { partner: wildcard }), secured(wildcard, "eu.fabrikam.com")],
  ["partner: the connector's FQDN is the EHLO name", facts(withFqdn, { partner: woodgrove }), secured(woodgrove, "woodgrovebank.com", "out.contoso.com")],
  ["partner without our certificate: no session", facts(dnsDs, { partner: woodgrove, certificate: undefined }), { kind: "refuse", check: "own-certificate", reason: /no SMTP-enabled certificate on this server names mail1\.contoso\.com \(the send connector Internet's FQDN\)/ }],
  ["partner through a smart host: no session", facts(smartHost, { partner: woodgrove }), { kind: "refuse", check: "connector", reason: /routes through a smart host, not DNS/ }],
  ["partner through IgnoreSTARTTLS: no session", facts(ignoreTlsDs, { partner: woodgrove }), { kind: "refuse", check: "connector", reason: /ignores STARTTLS/ }],
  ["partner through a connector without DomainSecureEnabled: no session", facts(dnsPlain, { partner: woodgrove }), { kind: "refuse", check: "connector", reason: /does not have DomainSecureEnabled/ }],
  ["non-partner: STARTTLS when offered, our certificate presented, nothing verified", facts(dnsDs), plain("opportunistic")],
  ["non-partner with PlaintextFallback: clear after a failed handshake", facts(dnsPlain, { plaintextFallback: true }), plain("opportunistic", { fallback: true })],
  ["non-partner without a certificate of ours: sent, none presented", facts(dnsPlain, { certificate: undefined }), plain("opportunistic", { cert: undefined })],
  ["non-partner, RequireTLS: TLS required, no fallback", facts(requireTls, { plaintextFallback: true }), plain("required")],
  ["non-partner, IgnoreSTARTTLS: no TLS, no fallback", facts(ignoreTls, { plaintextFallback: true }), plain("none")],
  ["non-partner through a smart host: as the connector says", facts(smartHost, { plaintextFallback: true }), plain("opportunistic", { fallback: true })],
];

for (const [name, input, want] of rows) {
  test(name, () => {
    const got = sessionRequirements(input);
    if ("reason" in want && want.reason instanceof RegExp) {
      assert.equal(got.kind, "refuse");
      assert.equal((got as { check: string }).check, want.check);
      assert.match((got as { reason: string }).reason, want.reason);
    } else {
      assert.deepEqual(got, want);
    }
  });
}

test("no row lets a partner's mail go in clear or unverified", () => {
  for (const c of [dnsDs, dnsPlain, requireTls, ignoreTls, ignoreTlsDs, smartHost, withFqdn]) {
    for (const fallback of [false, true]) {
      for (const certificate of [THUMB, undefined]) {
        const r = sessionRequirements(facts(c, { partner: woodgrove, plaintextFallback: fallback, certificate }));
        if (r.kind === "refuse") continue;
        assert.equal(r.tls, "required");
        assert.equal(r.plaintextFallback, false);
        assert.equal(r.requireEncrypted, true);
        assert.equal(r.presentCertificate, THUMB);
        assert.equal(r.verifyPeer?.domain, "woodgrovebank.com");
      }
    }
  }
});
