// Test-Mailflow: one probe message through the real send path — the same
// connector choice, DNS lookups, session, TLS and Domain Security checks as
// the queue manager (it uses the same routing, hosts.ts and the delivery's connect()) — and
// a report of what happened: the next hop, TLS version and cipher, the
// server's certificate, each check with its result, whether the delivery was
// domain-secured, the time it took, and, when something failed, which check
// and what to fix.
import { normalizeAddress } from "../org/validate.js";
import { randomBytes } from "node:crypto";
import type { CertificateStore } from "../certstore/certstore.js";
import type { DataDir } from "../config/datadir.js";
import type { Db } from "../store/sqlite.js";
import { rfc5322Date } from "../message/headers.js";
import { certificateNames } from "../pki/certs.js";
import { parseCert } from "../pki/trust/parsed.js";
import type { Check, VerdictCode } from "../pki/trust/verdict.js";
import { planOutbound } from "../policy/outbound.js";
import { ProtocolLog } from "../protolog/protocol-log.js";
import { MessageTracking } from "../protolog/tracking.js";
import { OutboundStore } from "../queue/outbound-store.js";
import type { OutboundContext } from "./context.js";
import { SessionDelivery, type HostAttempt, type Verified } from "./delivery.js";
import { defaultResolver, targetsFor } from "./hosts.js";
import { Reports } from "./reports.js";
import { outboundSettings } from "./settings.js";

export interface MailflowCheck {
  Check: string;
  Result: "Pass" | "Fail" | "Skipped";
  Detail: string;
}

export interface MailflowReport {
  TargetEmailAddress: string;
  Result: "Success" | "Failure";
  /** One sentence: what happened, or which check failed. */
  Message: string;
  /** What to do about a failure ("" on success). */
  Fix: string;
  SendConnector: string;
  DomainSecurePartner: string | null;
  NextHopDomain: string;
  NextHop: string;
  TlsVersion: string;
  Cipher: string;
  ServerCertificateSubject: string;
  ServerCertificateIssuer: string;
  ServerCertificateThumbprint: string;
  ServerCertificateNames: string[];
  OurCertificateThumbprint: string;
  Checks: MailflowCheck[];
  DomainSecured: boolean;
  Response: string;
  LatencyMs: number;
  Transcript?: string[];
}

const FIXES: Partial<Record<VerdictCode, (domain: string) => string>> = {
  NAME_MISMATCH: (d) => `The partner's certificate must name ${d}: ask the partner for one, or accept its names with Set-DomainSecurePartner ${d} -NameMatch Subdomains or -CertificateNames <name>.`,
  CHAIN_UNTRUSTED: () => "Trust the partner's root CA (Add-TrustedRootCertificate -Path <root.cer>) or add its issuing CA (Add-IntermediateCertificate), or ask the partner to send its full chain.",
  CERT_SELF_SIGNED: () => "The partner presents a self-signed certificate: it needs one issued by a CA you trust (Domain Security does not accept self-signed certificates).",
  CERT_EXPIRED: () => "The partner's certificate (or one of its issuers) has expired: the partner must renew it.",
  CERT_NOT_YET_VALID: () => "The partner's certificate is not valid yet: check both servers' clocks, or wait for its start date.",
  CERT_REVOKED: () => "The partner's certificate has been revoked: the partner must install a new one.",
  REVOCATION_UNKNOWN: (d) => `The revocation status could not be checked: make the CRL or OCSP address in the certificate reachable from this server, or (weaker) Set-DomainSecurePartner ${d} -RevocationMode Soft.`,
  ISSUER_NOT_ALLOWED: (d) => `The certificate's issuer is not among the partner's allowed issuers: update Set-DomainSecurePartner ${d} -AllowedIssuers, or ask the partner which CA it now uses.`,
  EKU_MISSING: () => "The partner's certificate is not issued for TLS servers (serverAuth extended key usage): the partner needs a suitable certificate.",
  NAME_CONSTRAINTS_VIOLATED: () => "A CA in the partner's chain is not allowed to issue for these names (name constraints): the partner needs a certificate from a CA allowed to issue them.",
};


function checksOf(list: Check[]): MailflowCheck[] {
  return list.map((c) => ({ Check: c.name, Result: c.ok === true ? "Pass" : c.ok === false ? "Fail" : "Skipped", Detail: c.detail }));
}

/** The sender of the probe: postmaster at an authoritative domain our certificate names, if there is one. */
async function defaultSender(ctx: MailflowContext, certNames: string[]): Promise<string> {
  const domains = (await ctx.org.listAcceptedDomains()).filter((d) => d.domainType === "Authoritative" && !d.domainName.startsWith("*."));
  const named = domains.find((d) => certNames.includes(d.domainName));
  return `postmaster@${(named ?? domains[0])?.domainName ?? ctx.serverName}`;
}

/** What Test-Mailflow needs from the server (the admin context satisfies it). */
export type MailflowContext = Omit<OutboundContext, "certs" | "dir"> & {
  certs: Pick<CertificateStore, "tlsCredentialsFor" | "get" | "certificateFor">;
  dir: Pick<DataDir, "root" | "maildirRoot" | "trackingLogDir" | "protocolLogDir">;
  db: Db;
};

export async function testMailflow(ctx: MailflowContext, target: string, opts: { detailed?: boolean; from?: string } = {}): Promise<MailflowReport> {
  const started = Date.now();
  // Administrator's input: UTS #46 mapping (fullwidth, case) to the A-label the queue uses too.
  const { domain } = normalizeAddress("TargetEmailAddress", target);
  const transcript: string[] = [];
  const attempts: HostAttempt[] = [];
  const report: MailflowReport = {
    TargetEmailAddress: target,
    Result: "Failure",
    Message: "",
    Fix: "",
    SendConnector: "",
    DomainSecurePartner: null,
    NextHopDomain: domain,
    NextHop: "",
    TlsVersion: "",
    Cipher: "",
    ServerCertificateSubject: "",
    ServerCertificateIssuer: "",
    ServerCertificateThumbprint: "",
    ServerCertificateNames: [],
    OurCertificateThumbprint: "",
    Checks: [],
    DomainSecured: false,
    Response: "",
    LatencyMs: 0,
  };
  const done = (r: Partial<MailflowReport>): MailflowReport => {
    Object.assign(report, r, { LatencyMs: Date.now() - started });
    if (opts.detailed) report.Transcript = transcript;
    return report;
  };
  const root = ctx.dir.root;
  const store = OutboundStore.inDataDir(root);
  const tracking = new MessageTracking({ dir: ctx.dir.trackingLogDir });
  const protocolLog = new ProtocolLog({ dir: ctx.dir.protocolLogDir("send"), kind: "send" });
  const quiet = (): void => undefined;
  const delivery = new SessionDelivery({ ctx, store, tracking, protocolLog, reports: new Reports({ ctx, store, tracking, log: quiet }), log: quiet });
  let verified: Verified | undefined;
  try {
    const settings = outboundSettings(ctx.db);
    const [org, connectors] = await Promise.all([ctx.org.getSettings(), ctx.org.listSendConnectors()]);
    const plan = planOutbound(domain, org.tlsSendDomainSecureList, connectors, ctx.serverName);
    if (plan.kind === "no-route") return done({ Message: plan.reason, Fix: `Create a send connector whose address space covers ${domain} (New-SendConnector -AddressSpaces "SMTP:${domain};1") or check that "Internet" is enabled.` });
    if (plan.kind === "held") {
      const c = connectors.find((x) => x.name === plan.connector);
      const fix =
        c && (!c.dnsRoutingEnabled || c.smartHosts.length > 0)
          ? `The send connector ${plan.connector} routes ${domain}'s mail through a smart host, which cannot carry domain-secured mail: remove ${domain} from its address spaces (or remove the connector) so that a DNS-routed connector with DomainSecureEnabled takes it.`
          : c?.ignoreSTARTTLS
            ? `Set-SendConnector ${plan.connector} -IgnoreSTARTTLS:$false -DomainSecureEnabled:$true`
            : `Set-SendConnector ${plan.connector} -DomainSecureEnabled:$true (or remove the connector that takes ${domain}'s mail).`;
      return done({ SendConnector: plan.connector, DomainSecurePartner: plan.partner, Message: plan.reason, Fix: `Mail for a Domain Security partner leaves only through a send connector with DomainSecureEnabled, DNS routing and STARTTLS. ${fix}` });
    }
    const connector = plan.route.connector;
    report.SendConnector = connector.name;
    report.DomainSecurePartner = plan.kind === "domain-secure" ? plan.partner : null;
    const fqdn = connector.fqdn ?? ctx.serverName;
    const own = ctx.certs.certificateFor(fqdn, ctx.now());
    report.OurCertificateThumbprint = own?.thumbprint ?? "";
    const targets = await targetsFor(domain, plan.route, defaultResolver(settings.externalDnsServers));
    if (targets.kind !== "ok") return done({ Message: targets.reason, Fix: targets.kind === "temporary" ? "Check the DNS servers this server uses (Get-TransportServer | FL ExternalDNSServers) and the domain's MX records." : `${domain} cannot receive mail (${targets.reason}).` });
    transcript.push(`* hosts: ${targets.targets.map((t) => `${t.name} [${t.addresses.join(", ")}]:${t.port}`).join("; ")}`);
    const got = await delivery.connect(domain, plan, targets.targets, settings, { transcript: (e, d, c) => transcript.push(`${e} ${d}${c ? ` (${c})` : ""}`), attempts });
    const last = attempts[attempts.length - 1];
    if (last) {
      report.NextHop = `${last.host} [${last.address}]:${last.port}`;
      if (last.tls) {
        report.TlsVersion = last.tls.protocol;
        report.Cipher = last.tls.cipher;
        const leaf = last.tls.peerCertificates[0];
        if (leaf) {
          try {
            const c = parseCert(leaf);
            Object.assign(report, { ServerCertificateSubject: c.subject, ServerCertificateIssuer: c.issuer, ServerCertificateThumbprint: c.sha1, ServerCertificateNames: certificateNames(c.dnsNames, c.commonName) });
          } catch {
            report.ServerCertificateSubject = "(unreadable)";
          }
        }
      }
      if (last.verdict) report.Checks = checksOf(last.verdict.checks);
    }
    if ("failure" in got) {
      const verdict = last?.verdict;
      let fix = "";
      if (plan.kind === "domain-secure" && !own) fix = `Import and enable (Enable-ExchangeCertificate -Services SMTP) a certificate naming ${fqdn}, the send connector's FQDN.`;
      else if (verdict && !verdict.ok) fix = (FIXES[verdict.code] ?? (() => verdict.reason))(domain);
      else if (last?.stage === "starttls") fix = `The server of ${domain} does not offer STARTTLS (or something between you strips it): Domain Security cannot be had with it; the partner must enable TLS.`;
      else if (last?.stage === "connect") fix = `Check that ${domain}'s mail servers are reachable on port ${last.port} from this server.`;
      else if (last?.stage === "tls") fix = "The TLS handshake failed: check that the partner accepts TLS 1.2 or later and a certificate from this server.";
      return done({ Message: verdict && !verdict.ok ? `Domain Security check failed: ${verdict.code}: ${verdict.reason}` : got.failure.text, Fix: fix });
    }
    verified = got;
    // The probe itself.
    const sender = opts.from ?? (await defaultSender(ctx, own?.certificateDomains ?? []));
    const id = randomBytes(8).toString("hex");
    const body = Buffer.from(
      [
        `From: Sealpost Test-Mailflow <${sender}>`,
        `To: <${target}>`,
        `Subject: Test-Mailflow probe from ${ctx.serverName} (${id})`,
        `Date: ${rfc5322Date(new Date())}`,
        `Message-ID: <${id}.mailflow@${ctx.serverName}>`,
        "Auto-Submitted: auto-generated",
        `X-Sealpost-Probe: ${id}`,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        `This message was sent by Test-Mailflow on ${ctx.serverName} to check mail flow to ${domain}.`,
        "It needs no answer.",
        "",
      ].join("\r\n"),
    );
    const result = await got.session.send({ from: sender, to: [target], size: body.length }, body);
    const r = result.recipients[0];
    const ok = r?.ok === true;
    const domainSecured = ok && plan.kind === "domain-secure" && got.verdict?.ok === true;
    tracking.write({
      eventId: ok ? "SEND" : "FAIL",
      messageId: `<${id}.mailflow@${ctx.serverName}>`,
      internalId: "",
      sender,
      recipients: [target],
      connector: connector.name,
      sessionId: got.sessionId,
      serverHostname: ctx.serverName,
      clientIp: got.address,
      ...(got.session.tls ? { tls: { protocol: got.session.tls.protocol, cipher: got.session.tls.cipher, ...(report.ServerCertificateSubject ? { certSubject: report.ServerCertificateSubject, certThumbprint: report.ServerCertificateThumbprint } : {}) } } : {}),
      ...(plan.kind === "domain-secure" && got.verdict ? { domainSecure: { verdict: domainSecured ? "domain-secured" : got.verdict.code, partner: plan.partner, reason: got.verdict.reason } } : {}),
      detail: `Test-Mailflow probe: ${r?.response ?? result.response}`,
    });
    return done({
      Result: ok ? "Success" : "Failure",
      DomainSecured: domainSecured,
      Response: r?.response ?? result.response,
      Message: ok
        ? domainSecured
          ? `Delivered to ${report.NextHop} domain-secured: mutual TLS, the server's certificate verified for ${domain}.`
          : `Delivered to ${report.NextHop}${got.session.tls ? ` over ${got.session.tls.protocol}` : " without TLS"} (${domain} is not a Domain Security partner of this organization).`
        : `The server refused the probe: ${r?.response ?? result.response}`,
      Fix: ok ? "" : "See the server's reply; for a Domain Security refusal (451 4.7.x), the partner's receive list must include the sender's domain and trust this server's certificate.",
    });
  } finally {
    verified?.session.close();
    await Promise.all([tracking.close(), protocolLog.close()]);
    store.close();
  }
}
