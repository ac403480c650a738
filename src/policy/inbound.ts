// Inbound Domain Security (SPEC §2 "Inbound") as a pure decision: inputs are
// the lists, the connector, the session's TLS facts and the trust layer's
// verdict; the output is a decision with a stable code, a reason, and the
// SMTP reply to send. One place maps decisions to replies.
import { addressDomain } from "../message/address.js";
import { matchListEntry } from "../pki/domain.js";
import type { Verdict, VerdictCode } from "../pki/trust/verdict.js";

export type RefusalMode = "Temporary" | "Permanent";

export interface PolicyReply {
  code: number;
  enhanced: string;
  text: string;
}

export type DecisionCode = "INVALID_SENDER_DOMAIN" | "NOT_DOMAIN_SECURE_CONNECTOR" | "NOT_A_PARTNER" | "NULL_SENDER" | "TLS_REQUIRED" | VerdictCode;

export interface InboundDecision {
  action: "accept" | "refuse";
  /** The message is domain-secured (marked, counted) for `partner`. */
  domainSecured: boolean;
  /** The receive-list entry the sender matched (a partner), if any. */
  partner?: string;
  code: DecisionCode;
  reason: string;
  /** ReportOnly: accepted unmarked, but Enforce would have refused with `code`. */
  wouldRefuse?: boolean;
  reply: PolicyReply;
}

export interface ConnectorFacts {
  domainSecureEnabled: boolean;
  /** AuthMechanism includes TLS */
  tlsAuth: boolean;
}

/** The receive-list entry that makes `domain` (A-labels) a partner: exact, or "*.P" for any subdomain of P. */
export function partnerEntry(domain: string, list: string[]): string | undefined {
  return matchListEntry(domain, list);
}

/** The sender's domain in A-label form ("" for none or an address literal); undefined when it is not a valid domain. */
export function senderDomain(address: string): string | undefined {
  const d = addressDomain(address);
  return d.kind === "domain" ? d.domain : d.kind === "invalid" ? undefined : "";
}

const ACCEPT: PolicyReply = { code: 250, enhanced: "2.1.0", text: "Sender OK" };

function accept(code: DecisionCode, reason: string, extra: Partial<InboundDecision> = {}): InboundDecision {
  return { action: "accept", domainSecured: false, code, reason, reply: ACCEPT, ...extra };
}

export function refusalReply(kind: "tls" | "verdict", mode: RefusalMode, reason: string): PolicyReply {
  if (kind === "tls") {
    return mode === "Permanent"
      ? { code: 530, enhanced: "5.7.0", text: "Must issue a STARTTLS command first" }
      : { code: 451, enhanced: "4.7.3", text: "Must issue a STARTTLS command first" };
  }
  return mode === "Permanent"
    ? { code: 550, enhanced: "5.7.1", text: `Domain security: ${reason}` }
    : { code: 451, enhanced: "4.7.5", text: `Domain security: ${reason}` };
}

export interface MailFromInput {
  /** "" for the null reverse-path */
  sender: string;
  connector: ConnectorFacts;
  receiveList: string[];
  refusal: RefusalMode;
  /** The session is under TLS. */
  tls: boolean;
  /** The sender's partner mode (only consulted for partners). */
  mode: "Enforce" | "ReportOnly";
  /**
   * The trust verdict of the session's client certificate for the partner
   * (sender's domain), or for the null reverse-path: the first receive
   * partner the certificate validly matches (undefined when none does).
   */
  verdict?: Verdict | undefined;
  /** Null reverse-path only: the partner the verdict is for. */
  nullPathPartner?: string;
}

/** Which partner domain a verdict is needed for (the caller computes it before deciding). */
export function verdictNeeded(sender: string, connector: ConnectorFacts, receiveList: string[], tls: boolean): { domain: string; partner: string } | "null-path" | undefined {
  if (!connector.domainSecureEnabled || !connector.tlsAuth || !tls) return undefined;
  if (sender === "") return "null-path";
  const domain = senderDomain(sender);
  if (!domain) return undefined;
  const partner = partnerEntry(domain, receiveList);
  return partner ? { domain, partner } : undefined;
}

export function decideMailFrom(i: MailFromInput): InboundDecision {
  const d = addressDomain(i.sender);
  if (d.kind === "invalid") {
    // Never "not a partner": the same name might be a partner in another spelling.
    const reason = `the sender's domain is not a valid domain name (${d.reason})`;
    return { action: "refuse", domainSecured: false, code: "INVALID_SENDER_DOMAIN", reason, reply: { code: 501, enhanced: "5.1.7", text: `Bad sender address syntax: ${reason}` } };
  }
  if (!i.connector.domainSecureEnabled || !i.connector.tlsAuth) {
    return accept("NOT_DOMAIN_SECURE_CONNECTOR", "Domain Security is not enabled on this connector.");
  }
  if (i.sender === "") {
    if (i.tls && i.verdict?.ok && i.nullPathPartner) {
      return accept("OK", `Null reverse-path from ${i.nullPathPartner}'s verified certificate.`, { domainSecured: true, partner: i.nullPathPartner });
    }
    return accept("NULL_SENDER", "Null reverse-path without a partner certificate: normal mail.");
  }
  const domain = d.kind === "domain" ? d.domain : "";
  const partner = domain ? partnerEntry(domain, i.receiveList) : undefined;
  if (!partner) return accept("NOT_A_PARTNER", `${domain} is not a Domain Security partner: normal mail.`);
  const refuse = (kind: "tls" | "verdict", code: DecisionCode, reason: string): InboundDecision => {
    if (i.mode === "ReportOnly") {
      return accept(code, `ReportOnly: would refuse: ${reason}`, { partner, wouldRefuse: true });
    }
    return { action: "refuse", domainSecured: false, partner, code, reason, reply: refusalReply(kind, i.refusal, reason) };
  };
  if (!i.tls) return refuse("tls", "TLS_REQUIRED", `${domain} is a Domain Security partner and the session is not under TLS.`);
  const v = i.verdict;
  if (!v) return refuse("verdict", "CERT_MISSING", "no client certificate was presented");
  if (!v.ok) return refuse("verdict", v.code, v.code === "CERT_MISSING" ? "no client certificate was presented" : v.reason);
  return accept("OK", `Mutual TLS verified for ${domain}.`, { domainSecured: true, partner });
}
