// Outbound session counters: every SendSession.open (smtp/send/session.ts)
// the queue manager makes is counted by result, and a failed TLS handshake
// by reason. Observed at the one place every outbound session starts, so the
// manager's code stays as it is; the primary installs it once
// (server/cluster.ts). Costs one counter increment per session.
import { SendSession, SessionError, type SendSessionOptions } from "../smtp/send/session.js";
import { outboundMetrics, tlsFailureReason } from "./counters.js";

const TLS_ERROR = /:error:[0-9A-F]+:SSL routines:|before secure TLS connection was established|TLS handshake failed/i;

/** The `result` label of sealpost_outbound_sessions_total. */
export type OutboundSessionResult = "tls" | "plaintext" | "connect_error" | "starttls_error" | "tls_error" | "protocol_error";

/** Counts one outcome of opening a session. */
export function countOutboundSession(outcome: { tls: boolean } | { error: unknown }): OutboundSessionResult {
  if ("tls" in outcome) {
    const result = outcome.tls ? "tls" : "plaintext";
    outboundMetrics.sessions.inc({ result });
    return result;
  }
  const e = outcome.error;
  const message = e instanceof Error ? e.message : String(e);
  let stage = e instanceof SessionError ? e.stage : "connect";
  // An OpenSSL error (an alert from the server, a record that is not TLS) can
  // reach the session as a socket error: it is still a failed handshake.
  if (stage === "connect" && TLS_ERROR.test(message)) stage = "tls";
  const result: OutboundSessionResult = `${stage}_error`;
  outboundMetrics.sessions.inc({ result });
  if (stage === "tls") outboundMetrics.tlsHandshakeFailures.inc({ reason: tlsFailureReason(message) });
  return result;
}

let installed = false;

/** Wraps SendSession.open so that every session opened in this process is counted (idempotent). */
export function countOutboundSessions(): void {
  if (installed) return;
  installed = true;
  const open = SendSession.open.bind(SendSession);
  SendSession.open = async (opts: SendSessionOptions): Promise<SendSession> => {
    let session: SendSession;
    try {
      session = await open(opts);
    } catch (e) {
      countOutboundSession({ error: e });
      throw e;
    }
    countOutboundSession({ tls: session.tls !== undefined });
    return session;
  };
}
