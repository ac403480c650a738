// What an outbound session must be, decided before any socket is opened, as
// one pure function of the facts (SPEC §2 "Outbound"): TLS required,
// opportunistic or off; the certificate we present; whose name the server's
// certificate must carry (a Domain Security partner only); whether a failed
// handshake may be retried in clear; whether a session that ends up
// unencrypted may carry mail at all. The delivery of one session
// (outbound/session.ts) only carries out what this returns, so every rule is
// tested here case by case (test/unit/outbound/requirements.test.ts).
//
// The rules: a partner's mail is sent only over TLS with our certificate
// presented and the server's certificate accepted by the trust layer for the
// recipient domain, never in clear and never through a connector that cannot
// do that (a smart host, IgnoreSTARTTLS, no DomainSecureEnabled: the policy
// holds such mail first; this refuses it again). A partner in ReportOnly
// mode is sent exactly as in Enforce (SPEC: never less securely). Other mail
// follows the connector: IgnoreSTARTTLS → no TLS; RequireTLS → TLS required;
// else STARTTLS when offered, and (PlaintextFallback) in clear after a failed
// handshake. We present our certificate whenever we have one.
import type { PartnerOptions } from "../org/store.js";
import type { SendConnector } from "../org/model.js";
import { domainSecureBlocker } from "../policy/outbound.js";

export type TlsRequirement = "required" | "opportunistic" | "none";

export interface SessionFacts {
  /** The next-hop domain (A-labels, the queue's key). */
  domain: string;
  /** The send-list entry that makes the domain a partner, with its options; undefined: not a partner. */
  partner?: { entry: string; options: PartnerOptions } | undefined;
  /** The send connector that carries the mail. */
  connector: SendConnector;
  /** This server's FQDN (the EHLO name when the connector has none). */
  serverName: string;
  /** The thumbprint of our SMTP certificate for the EHLO name, or undefined when there is none. */
  certificate?: string | undefined;
  /** Set-TransportServer PlaintextFallback: non-partner mail may be retried in clear after a failed handshake. */
  plaintextFallback: boolean;
}

/** The server's certificate must be accepted by the trust layer for this domain, with the partner's options. */
export interface PeerVerification {
  domain: string;
  partner: string;
  options: PartnerOptions;
}

export type SessionRequirements =
  | {
      kind: "session";
      /** EHLO name, and the name our certificate must carry. */
      ehloName: string;
      tls: TlsRequirement;
      /** The certificate we present (thumbprint), if any. */
      presentCertificate: string | undefined;
      /** For a partner: the check before any MAIL command. */
      verifyPeer: PeerVerification | undefined;
      /** A failed TLS handshake may be retried without TLS. */
      plaintextFallback: boolean;
      /** A session that is not encrypted may not carry this mail. */
      requireEncrypted: boolean;
    }
  | {
      /** No session may be opened for this mail: the check that failed and why. */
      kind: "refuse";
      check: "connector" | "own-certificate";
      reason: string;
    };

export function sessionRequirements(f: SessionFacts): SessionRequirements {
  const c = f.connector;
  const ehloName = c.fqdn ?? f.serverName;
  if (f.partner) {
    const blocker = domainSecureBlocker(c);
    if (blocker) return { kind: "refuse", check: "connector", reason: `${f.domain} is a Domain Security partner but ${blocker}` };
    if (f.certificate === undefined) {
      return {
        kind: "refuse",
        check: "own-certificate",
        reason: `no SMTP-enabled certificate on this server names ${ehloName} (the send connector ${c.name}'s FQDN): domain-secured mail cannot be sent without one`,
      };
    }
    return {
      kind: "session",
      ehloName,
      tls: "required",
      presentCertificate: f.certificate,
      verifyPeer: { domain: f.domain, partner: f.partner.entry, options: f.partner.options },
      plaintextFallback: false,
      requireEncrypted: true,
    };
  }
  const tls: TlsRequirement = c.ignoreSTARTTLS ? "none" : c.requireTLS ? "required" : "opportunistic";
  return {
    kind: "session",
    ehloName,
    tls,
    presentCertificate: f.certificate,
    verifyPeer: undefined,
    plaintextFallback: tls === "opportunistic" && f.plaintextFallback,
    // (With TLS required the session itself fails without it; said here too.)
    requireEncrypted: tls === "required",
  };
}
