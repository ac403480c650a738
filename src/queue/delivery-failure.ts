// Why a delivery attempt failed, as data: the kind of failure, the RFC 3463
// enhanced status it carries, the check that failed and the text an
// administrator reads (Get-Queue LastError, the report's reason). The queue
// keeps it per recipient and per next-hop queue; the non-delivery and delay
// reports choose their diagnostic type and status by the kind, never by
// reading the text.
//
// Stored as JSON in the `last_error` columns of outbound.db. Rows written
// before this type existed hold plain text: `readFailure` reads them as kind
// "unclassified" (their text kept), so an old queue stays readable.

export type DeliveryFailureKind =
  /** No send connector covers the domain. */
  | "no-route"
  /** A Domain Security partner's mail held: its connector cannot carry it (configuration). */
  | "held"
  /** The recipient domain is not a valid domain name. */
  | "invalid-domain"
  /** A DNS lookup failed for now. */
  | "dns"
  /** The domain does not exist. */
  | "no-such-domain"
  /** The domain accepts no mail (null MX, RFC 7505). */
  | "null-mx"
  /** No host answered, or the SMTP conversation broke before mail. */
  | "connection"
  /** TLS was required (RequireTLS) or a handshake failed, for mail to a non-partner. */
  | "tls-required"
  /** A partner's session could not be had as Domain Security demands (no STARTTLS, not encrypted, no certificate of ours). */
  | "domain-security"
  /** A partner's server certificate was refused by the trust layer (check: the verdict code). */
  | "certificate"
  /** The next hop refused the recipient or the message (5xx). */
  | "refused-by-peer"
  /** The next hop deferred the recipient (4xx). */
  | "deferred-by-peer"
  /** The session broke during the transaction. */
  | "session-broken"
  /** The message is larger than the send connector allows. */
  | "too-large"
  /** The message expired in the queue (`last`: the failure before it). */
  | "expired"
  /** An administrator removed the message with a report. */
  | "admin-removed"
  /** A reason stored as text by an older version. */
  | "unclassified";

export interface DeliveryFailure {
  kind: DeliveryFailureKind;
  /** RFC 3463 enhanced status, e.g. "4.4.1" or "5.7.5". */
  status: string;
  /** The check that failed: a session stage, a verdict code, "own-certificate", ... */
  check?: string;
  /** The host it happened with, when there was one. */
  host?: string;
  /** For the administrator and the report. */
  text: string;
  /** For "expired": the last failure before the message expired. */
  last?: DeliveryFailure;
}

/** The kinds that are a Domain Security (or TLS) failure: the report says x-domain-security. */
const DOMAIN_SECURITY_KINDS: ReadonlySet<DeliveryFailureKind> = new Set(["domain-security", "certificate", "tls-required"]);

export function isDomainSecurityFailure(f: DeliveryFailure): boolean {
  return DOMAIN_SECURITY_KINDS.has(f.kind) || (f.kind === "expired" && f.last !== undefined && isDomainSecurityFailure(f.last));
}

export function failure(kind: DeliveryFailureKind, status: string, text: string, more: { check?: string | undefined; host?: string | undefined; last?: DeliveryFailure | undefined } = {}): DeliveryFailure {
  return {
    kind,
    status,
    ...(more.check !== undefined ? { check: more.check } : {}),
    ...(more.host !== undefined ? { host: more.host } : {}),
    text,
    ...(more.last !== undefined ? { last: more.last } : {}),
  };
}

/** The stored form (JSON; texts shortened, one level of `last`, so a row stays small). */
export function storeFailure(f: DeliveryFailure): string {
  const cut = (x: DeliveryFailure, depth: number): DeliveryFailure =>
    failure(x.kind, x.status, x.text.slice(0, 2000), { check: x.check, host: x.host, last: depth > 0 && x.last ? cut(x.last, depth - 1) : undefined });
  return JSON.stringify(cut(f, 1));
}

const KINDS: ReadonlySet<string> = new Set<DeliveryFailureKind>([
  "no-route", "held", "invalid-domain", "dns", "no-such-domain", "null-mx", "connection", "tls-required", "domain-security",
  "certificate", "refused-by-peer", "deferred-by-peer", "session-broken", "too-large", "expired", "admin-removed", "unclassified",
]);

/** A stored value back: undefined for none (""), the failure for JSON, an "unclassified" failure for old plain text. */
export function readFailure(stored: string | null | undefined): DeliveryFailure | undefined {
  if (stored === null || stored === undefined || stored === "") return undefined;
  if (stored.startsWith("{")) {
    try {
      const v = JSON.parse(stored) as Partial<DeliveryFailure>;
      if (typeof v.kind === "string" && KINDS.has(v.kind) && typeof v.text === "string" && typeof v.status === "string") {
        const last = v.last !== undefined ? readFailure(JSON.stringify(v.last)) : undefined;
        return failure(v.kind, v.status, v.text, { check: typeof v.check === "string" ? v.check : undefined, host: typeof v.host === "string" ? v.host : undefined, last });
      }
    } catch {
      // not ours: plain text that starts with a brace
    }
  }
  return { kind: "unclassified", status: "4.0.0", text: stored };
}
