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
  return new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: context,
    requestCert: opts.requestClientCertificate,
    rejectUnauthorized: false,
    minVersion: opts.minTlsVersion ?? "TLSv1.2",
  } as tls.TLSSocketOptions);
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
