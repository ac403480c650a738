// The server's counters as Prometheus metrics (prom-client). Each worker
// process counts in its own registry; the primary aggregates them for
// /metrics (AggregatorRegistry). The three Domain-Secured counters keep the
// names Exchange gives them under "MSExchange Secure Mail Transport" for
// Get-Counter.
import client from "prom-client";

// The global registry: prom-client's cluster aggregation collects it from every worker.
export const registry = client.register;

const counter = (name: string, help: string, labelNames: string[] = []) =>
  new client.Counter({ name, help, labelNames, registers: [registry] });

export const metrics = {
  domainSecuredReceived: counter("sealpost_domain_secured_messages_received_total", "Domain-Secured Messages Received", ["partner"]),
  domainSecuredSent: counter("sealpost_domain_secured_messages_sent_total", "Domain-Secured Messages Sent", ["partner"]),
  domainSecuredOutboundFailures: counter("sealpost_domain_secured_outbound_session_failures_total", "Domain-Secured Outbound Session Failures", ["partner"]),
  messagesReceived: counter("sealpost_messages_received_total", "Messages accepted (durable) on receive connectors", ["connector"]),
  messagesRefused: counter("sealpost_messages_refused_total", "Messages or senders refused, by reason", ["connector", "reason"]),
  messagesDelivered: counter("sealpost_messages_delivered_total", "Local deliveries to mailboxes"),
  sessions: counter("sealpost_inbound_sessions_total", "Inbound SMTP sessions", ["connector"]),
  tlsHandshakeFailures: counter("sealpost_tls_handshake_failures_total", "Inbound TLS handshakes that failed", ["reason"]),
  verdicts: counter("sealpost_inbound_verdicts_total", "Domain Security decisions at MAIL FROM, by code", ["code"]),
  wouldRefuse: counter("sealpost_domain_secure_would_refuse_total", "ReportOnly partners: messages Enforce would have refused", ["partner", "code"]),
};

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
