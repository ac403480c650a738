// STARTTLS (RFC 3207) mechanics, kept apart from the state machine: wrapping
// the live TCP socket in a server-side TLSSocket and reading the facts of the
// finished handshake once.
import type * as net from "node:net";
import * as tls from "node:tls";
import type { ReceiverOptions, TlsFacts } from "./types.js";

/**
 * Wraps `raw` (paused, with the session's listeners removed) in a TLS server
 * socket. Octets the client sent after the STARTTLS line that are still in
 * the raw socket's buffer go to the TLS layer (Node feeds them as handshake
 * input), so they can only ever be TLS records, never plaintext commands; the
 * ones the session had already read were discarded by the session.
 *
 * The client certificate is requested but never verified here:
 * rejectUnauthorized is false so that a partner with an unknown or broken
 * chain still gets a TLS session, and the trust decision is made by the hooks
 * from TlsFacts.peerCertificates (they reply 4xx/5xx with a precise reason).
 */
export function wrapServerTls(raw: net.Socket, context: tls.SecureContext, opts: ReceiverOptions): tls.TLSSocket {
  if (opts.requestClientCertificate) ensureSessionIdContext(context);
  return new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: context,
    requestCert: opts.requestClientCertificate,
    rejectUnauthorized: false,
    minVersion: opts.minTlsVersion ?? "TLSv1.2",
  } as tls.TLSSocketOptions);
}

/** The same for every worker and connector, so that shared ticket keys can resume anywhere in this server. */
const SESSION_ID_CONTEXT = "sealpost-smtp-receive";
const prepared = new WeakSet<tls.SecureContext>();

/**
 * With a client certificate requested, OpenSSL refuses to resume a session
 * (ticket or ID) unless the context has a session ID context: the handshake
 * fails with "session id context uninitialized". tls.Server sets one itself;
 * a standalone TLSSocket does not, and MTAs (Postfix, Exchange) do resume.
 * So the engine sets it once per context, through the same native call that
 * tls.createSecureContext({ sessionIdContext }) makes (an existing value is replaced).
 */
function ensureSessionIdContext(context: tls.SecureContext): void {
  if (prepared.has(context)) return;
  prepared.add(context);
  const native = (context as unknown as { context?: { setSessionIdContext?: (id: string) => void } }).context;
  try {
    native?.setSessionIdContext?.(SESSION_ID_CONTEXT);
  } catch {
    // Resumption then fails and clients fall back to a full handshake on their next try.
  }
}

const PROTOCOL_RANK: Record<string, number> = { SSLv3: 0, TLSv1: 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4 };

/**
 * Node ignores minVersion when a ready-made secureContext is given (the
 * context's own minimum applies), so the configured minimum is also checked
 * after the handshake; callers that want the handshake itself refused should
 * create the context with the same minVersion.
 */
export function belowMinimum(protocol: string, min: string): boolean {
  return (PROTOCOL_RANK[protocol] ?? -1) < (PROTOCOL_RANK[min] ?? 3);
}

/** Reads protocol, cipher and the client's chain; call once, after 'secure'. */
export function tlsFacts(sock: tls.TLSSocket): TlsFacts {
  const cipher = sock.getCipher();
  return {
    protocol: sock.getProtocol() ?? "unknown",
    cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
    peerCertificates: peerChain(sock),
    resumed: sock.isSessionReused(),
  };
}

/**
 * The client's chain as DER, leaf first: getPeerCertificate(true) links each
 * certificate to its issuer; a self-issued certificate links to itself, so the
 * walk stops at the first certificate seen before. Empty when no certificate
 * was sent (Node returns an empty object then).
 */
export function peerChain(sock: tls.TLSSocket): Buffer[] {
  const leaf = sock.getPeerCertificate(true) as tls.DetailedPeerCertificate | null;
  if (!leaf?.raw) return [];
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let cur: tls.DetailedPeerCertificate | undefined = leaf;
  while (cur?.raw) {
    const key: string = cur.fingerprint256 || cur.raw.toString("base64");
    if (seen.has(key)) break;
    seen.add(key);
    chain.push(cur.raw);
    cur = cur.issuerCertificate;
  }
  return chain;
}
