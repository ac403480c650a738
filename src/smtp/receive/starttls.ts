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

/**
 * Reads protocol, cipher and the client's certificate; call once, after
 * 'secure'. The chain is read on first use of peerCertificates (then kept):
 * getPeerCertificate(true) duplicates and re-parses every certificate (about
 * 0.55 ms a session with a two-certificate chain, against 0.15 ms for the
 * leaf alone), while a partner's verdict is usually cached by its leaf.
 * Read after the socket is gone, it is empty (and not kept).
 *
 * Not getPeerX509Certificate(): in Node 20 it moves the issuers out of the
 * session's peer chain, after which getPeerCertificate(true) sees the leaf only.
 */
export function tlsFacts(sock: tls.TLSSocket): TlsFacts {
  const cipher = sock.getCipher();
  const leaf = peerLeaf(sock);
  let chain: Buffer[] | undefined = leaf ? undefined : [];
  return {
    protocol: sock.getProtocol() ?? "unknown",
    cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
    get peerCertificates(): Buffer[] {
      if (chain) return chain;
      const c = peerChain(sock);
      if (c.length > 0) chain = c;
      return c;
    },
    ...(leaf ? { peerLeaf: leaf } : {}),
    resumed: sock.isSessionReused(),
  };
}

/**
 * The client's certificate as DER. Read from the session (getSession(): the
 * DER SSL_SESSION, whose "peer [3] EXPLICIT Certificate" is the client's
 * certificate, bytes as sent; about 0.02 ms) rather than through
 * getPeerCertificate(false), which builds a described object and decodes the
 * public key (about 0.13 ms). When the session does not hold one where
 * expected, the slower way answers.
 */
export function peerLeaf(sock: tls.TLSSocket): Buffer | undefined {
  try {
    const session = sock.getSession();
    const fromSession = session ? sessionPeer(session) : undefined;
    if (fromSession) return fromSession;
  } catch {
    // fall through
  }
  return (sock.getPeerCertificate(false) as tls.PeerCertificate | null)?.raw;
}

/** DER TLV header at `off`: [tag, content start, end], or undefined when malformed. */
function tlv(b: Buffer, off: number, limit: number): [number, number, number] | undefined {
  if (off + 2 > limit) return undefined;
  const tag = b[off] as number;
  let len = b[off + 1] as number;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[start + i] as number);
    start += n;
  }
  return start + len <= limit ? [tag, start, start + len] : undefined;
}

/** SSL_SESSION ::= SEQUENCE { version, sslVersion, cipher, sessionID, masterKey, ..., peer [3] EXPLICIT Certificate OPTIONAL, ... } */
export function sessionPeer(session: Buffer): Buffer | undefined {
  const top = tlv(session, 0, session.length);
  if (!top || top[0] !== 0x30) return undefined;
  for (let off = top[1]; off < top[2]; ) {
    const f = tlv(session, off, top[2]);
    if (!f) return undefined;
    if (f[0] === 0xa3) {
      const cert = tlv(session, f[1], f[2]);
      // The certificate must fill the [3] exactly and be a SEQUENCE.
      return cert && cert[0] === 0x30 && cert[2] === f[2] ? Buffer.from(session.subarray(f[1], f[2])) : undefined;
    }
    off = f[2];
  }
  return undefined;
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
