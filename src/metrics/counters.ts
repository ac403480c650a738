// The server's counters as Prometheus metrics (prom-client). Each worker
// process counts in its own registry; the primary aggregates them for
// /metrics (AggregatorRegistry). The three Domain-Secured counters keep the
// names Exchange gives them under "MSExchange Secure Mail Transport" for
// Get-Counter. Every metric is listed in docs/metrics.md.
import client from "prom-client";

// The global registry: prom-client's cluster aggregation collects it from every worker.
export const registry = client.register;

const counter = (name: string, help: string, labelNames: string[] = []) =>
  new client.Counter({ name, help, labelNames, registers: [registry] });

/**
 * A counter whose `reason` label is normalized (tlsFailureReason) whoever
 * increments it, so the label keeps few, readable values.
 */
function reasonCounter(name: string, help: string): client.Counter<"reason"> {
  const c = new client.Counter({ name, help, labelNames: ["reason"], registers: [registry] });
  const inc = c.inc.bind(c);
  c.inc = ((labels?: client.LabelValues<"reason"> | number, value?: number) =>
    typeof labels === "object" ? inc({ reason: tlsFailureReason(String(labels.reason ?? "")) }, value) : inc(labels)) as typeof c.inc;
  return c;
}

export const metrics = {
  domainSecuredReceived: counter("sealpost_domain_secured_messages_received_total", "Domain-Secured Messages Received", ["partner"]),
  messagesReceived: counter("sealpost_messages_received_total", "Messages accepted (durable) on receive connectors", ["connector"]),
  messagesRefused: counter("sealpost_messages_refused_total", "Messages or senders refused, by reason", ["connector", "reason"]),
  messagesDelivered: counter("sealpost_messages_delivered_total", "Local deliveries to mailboxes"),
  sessions: counter("sealpost_inbound_sessions_total", "Inbound SMTP sessions", ["connector"]),
  tlsHandshakeFailures: reasonCounter("sealpost_inbound_tls_handshake_failures_total", "Inbound TLS handshakes (STARTTLS) that failed, by reason"),
  verdicts: counter("sealpost_inbound_verdicts_total", "Domain Security decisions at MAIL FROM, by code", ["code"]),
  wouldRefuse: counter("sealpost_domain_secure_would_refuse_total", "ReportOnly partners: messages Enforce would have refused", ["partner", "code"]),
};

// What runs in one process only, the primary (the outbound queue manager,
// edge sync, the certificate store's expiry): its metrics live in a registry
// of their own, served next to the workers' aggregate (a metric must not
// appear in both).
export const primaryRegistry = new client.Registry();
/** The former name of `primaryRegistry` (the same object). */
export const outboundRegistry = primaryRegistry;

const outCounter = (name: string, help: string, labelNames: string[] = []) =>
  new client.Counter({ name, help, labelNames, registers: [primaryRegistry] });

export const outboundMetrics = {
  domainSecuredSent: outCounter("sealpost_domain_secured_messages_sent_total", "Domain-Secured Messages Sent", ["partner"]),
  domainSecuredOutboundFailures: outCounter("sealpost_domain_secured_outbound_session_failures_total", "Domain-Secured Outbound Session Failures", ["partner"]),
  sent: outCounter("sealpost_messages_sent_total", "Messages handed to the next hop (one per message and next-hop domain)", ["connector"]),
  deferred: outCounter("sealpost_messages_deferred_total", "Delivery attempts that left messages queued, by reason", ["reason"]),
  bounced: outCounter("sealpost_messages_bounced_total", "Messages (per next-hop domain) that failed for good"),
  held: outCounter("sealpost_outbound_held_total", "Attempts at which a partner's mail was held because the chosen send connector cannot carry domain-secured mail", ["partner"]),
  sessionFailures: outCounter("sealpost_outbound_session_failures_total", "Outbound hosts that gave no usable session, by kind", ["reason"]),
  sessions: outCounter("sealpost_outbound_sessions_total", "Outbound SMTP sessions opened (connect, EHLO, STARTTLS as required), by result", ["result"]),
  tlsHandshakeFailures: outCounter("sealpost_outbound_tls_handshake_failures_total", "Outbound TLS handshakes (STARTTLS) that failed, by reason", ["reason"]),
  queueLength: new client.Gauge({ name: "sealpost_queue_messages", help: "Messages in each next-hop queue", labelNames: ["next_hop"], registers: [primaryRegistry] }),
};

/** The primary's supervision of the workers and its spool recovery (src/server/cluster.ts, recovery.ts). */
export const serverMetrics = {
  workerExits: outCounter("sealpost_worker_exits_total", "Worker processes that exited while the server was running (each is started again, with a back-off when it keeps failing)"),
  spoolRecovered: outCounter("sealpost_spool_recovered_messages_total", "Acknowledged messages not marked done that spool recovery took over, by cause (restart, worker_exit)", ["cause"]),
  spoolAlreadyDelivered: outCounter("sealpost_spool_recovery_already_delivered_total", "Recipient copies of recovered messages found already in their mailbox (delivered by the process that died): not delivered again"),
};

/** What the certificate gauge needs of each certificate in the server's store. */
export interface CertificateExpiry {
  thumbprint: string;
  subject: string;
  services: string[];
  notAfter: Date;
}

let certificateSource: (() => CertificateExpiry[]) | undefined;
let clock: () => Date = () => new Date();

/**
 * Where the certificate gauge reads the server's certificates at scrape time
 * (the primary sets it to its certificate store); `undefined` stops it.
 */
export function setCertificateSource(source: (() => CertificateExpiry[]) | undefined, now: () => Date = () => new Date()): void {
  certificateSource = source;
  clock = now;
}

const DAY_MS = 86_400_000;

export const certificateMetrics = {
  daysToExpiry: new client.Gauge({
    name: "sealpost_certificate_days_to_expiry",
    help: "Days until each certificate in the server's store expires (negative once expired), computed at scrape time",
    labelNames: ["thumbprint", "subject", "services"],
    registers: [primaryRegistry],
    collect() {
      // Read whole at every scrape: a certificate removed is gone, one imported appears.
      this.reset();
      if (!certificateSource) return;
      let certs: CertificateExpiry[];
      try {
        certs = certificateSource();
      } catch {
        return; // the store is closing
      }
      const now = clock().getTime();
      for (const c of certs) {
        const days = Math.round(((c.notAfter.getTime() - now) / DAY_MS) * 1000) / 1000;
        this.set({ thumbprint: c.thumbprint, subject: c.subject, services: c.services.length > 0 ? c.services.join(",") : "None" }, days);
      }
    },
  }),
};

/**
 * The reason label of a failed TLS handshake: OpenSSL's reason text without
 * its numeric prefix, source file and line ("wrong version number",
 * "unsupported protocol", "connection closed by client"), at most 80
 * characters, so the label has few values.
 */
export function tlsFailureReason(message: string): string {
  let m = message.replace(/^TLS handshake failed:\s*/i, "").trim();
  // OpenSSL 3: "C0B7...:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl/record/ssl3_record.c:354:"
  // (or what is left of it once the "...:error:...:" prefix was cut).
  const ssl = /(?:^|:)[A-Za-z0-9 ]+ routines:[^:]*:([^:]+)/.exec(m);
  if (ssl) m = ssl[1] as string;
  // Node's own: "Client network socket disconnected before secure TLS connection was established"
  return m.replace(/\s+/g, " ").slice(0, 80) || "unknown";
}

/** Exchange's counter names (Get-Counter) and the metric behind each. */
export const EXCHANGE_COUNTERS: Array<{ path: string; metric: string }> = [
  { path: "\\MSExchange Secure Mail Transport\\Domain-Secured Messages Received", metric: "sealpost_domain_secured_messages_received_total" },
  { path: "\\MSExchange Secure Mail Transport\\Domain-Secured Messages Sent", metric: "sealpost_domain_secured_messages_sent_total" },
  { path: "\\MSExchange Secure Mail Transport\\Domain-Secured Outbound Session Failures", metric: "sealpost_domain_secured_outbound_session_failures_total" },
];

/** Sums every series of each metric in Prometheus text exposition. */
export function totalsFromExposition(text: string): Map<string, number> {
  const totals = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+([0-9.eE+-]+|NaN)$/.exec(line.trim());
    if (!m) continue;
    const v = Number(m[2]);
    if (Number.isFinite(v)) totals.set(m[1] as string, (totals.get(m[1] as string) ?? 0) + v);
  }
  return totals;
}
