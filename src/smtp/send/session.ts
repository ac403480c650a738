// One outbound SMTP session, on nodemailer's SMTP connection: connect, EHLO
// with the connector's FQDN, STARTTLS (required, opportunistic or not at
// all), and then, only when the caller has looked at the server's
// certificate and is satisfied, MAIL/RCPT/DATA for as many messages as it
// wants. The library verifies nothing about the server's certificate here
// (rejectUnauthorized false): the trust layer decides, with the partner's
// rules, before any mail command is sent (see outbound/deliver.ts).
//
// What nodemailer's connection does for us and we rely on: STARTTLS even
// when not advertised with requireTLS, failing closed; discarding plaintext
// received after the 220 to STARTTLS (response injection); a fresh EHLO
// after TLS; PIPELINING; per-recipient replies; CRLF and dot-stuffing of
// the body.
import { X509Certificate } from "node:crypto";
import net from "node:net";
import type tls from "node:tls";
import SMTPConnection from "nodemailer/lib/smtp-connection";

export type SendLogEvent = "+" | "-" | ">" | "<" | "*";

export interface SendSessionOptions {
  /** The address to connect to (an IP literal). */
  host: string;
  port: number;
  /** The host's name (the MX target): TLS SNI. */
  serverName?: string;
  ehloName: string;
  tls: "required" | "opportunistic" | "none";
  /** Our certificate (PEM key and chain), presented when the server asks for one. */
  credentials?: { key: string | Buffer; cert: string | Buffer };
  /** Connection, greeting and per-command timeout, ms. */
  timeoutMs: number;
  log?: (event: SendLogEvent, data: string) => void;
}

export interface SessionTls {
  protocol: string;
  cipher: string;
  /** The server's certificates as sent, leaf first (DER). */
  peerCertificates: Buffer[];
}

export type SendFailureStage = "connect" | "starttls" | "tls" | "protocol";

/** The session could not be set up (nothing was sent). */
export class SessionError extends Error {
  constructor(
    message: string,
    readonly stage: SendFailureStage,
    readonly responseCode?: number,
    readonly response?: string,
  ) {
    super(message);
  }
}

export interface RecipientResult {
  address: string;
  ok: boolean;
  code?: number;
  response: string;
}

export interface SendResult {
  recipients: RecipientResult[];
  /** The reply to DATA (or to the failed MAIL), "" when none. */
  response: string;
  code?: number;
}

export interface SendEnvelope {
  from: string;
  to: string[];
  size: number;
  eightBit?: boolean;
  dsn?: { ret?: string; envid?: string; notify?: string[]; orcpt?: string };
}

interface NodemailerError extends Error {
  code?: string | undefined;
  responseCode?: number | undefined;
  response?: string | undefined;
  command?: string | undefined;
  rejected?: string[] | undefined;
  rejectedErrors?: NodemailerError[] | undefined;
  recipient?: string | undefined;
}

function peerChain(socket: tls.TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let c = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(Buffer.from(c.raw));
    if (!c.issuerCertificate || c.issuerCertificate === c) break;
    c = c.issuerCertificate;
  }
  return out;
}

/** A one-line summary of a certificate for the log. */
export function describePeer(der: Buffer): string {
  try {
    const x = new X509Certificate(der);
    return `${x.subject.replace(/\n/g, ", ")} (issuer ${x.issuer.replace(/\n/g, ", ")})`;
  } catch {
    return "(unreadable certificate)";
  }
}

export class SendSession {
  private constructor(
    private readonly conn: SMTPConnection,
    readonly tls: SessionTls | undefined,
    private readonly opts: SendSessionOptions,
  ) {}

  /** Connects, greets, starts TLS as asked. Rejects with a SessionError; nothing has been sent but EHLO/STARTTLS then. */
  static open(opts: SendSessionOptions): Promise<SendSession> {
    const log = opts.log;
    const logger = {
      debug(entry: { tnx?: string }, message: string) {
        if (!log) return;
        if (entry.tnx === "client") log(">", message);
        else if (entry.tnx === "server") log("<", message);
      },
      info(entry: { tnx?: string }, message: string, ...args: unknown[]) {
        if (log && entry.tnx === "smtp" && /STARTTLS/.test(message)) log("*", format(message, args));
      },
      warn(_entry: unknown, message: string, ...args: unknown[]) {
        log?.("*", format(message, args));
      },
      error() {},
      trace() {},
      fatal() {},
    };
    const conn = new SMTPConnection({
      host: opts.host,
      port: opts.port,
      name: opts.ehloName,
      requireTLS: opts.tls === "required",
      opportunisticTLS: opts.tls === "opportunistic",
      ignoreTLS: opts.tls === "none",
      secure: false,
      connectionTimeout: opts.timeoutMs,
      greetingTimeout: opts.timeoutMs,
      socketTimeout: opts.timeoutMs,
      allowInternalNetworkInterfaces: true,
      logger: logger as never,
      transactionLog: true,
      tls: {
        rejectUnauthorized: false,
        minVersion: "TLSv1.2",
        ...(opts.serverName && net.isIP(opts.serverName) === 0 ? { servername: opts.serverName } : {}),
        ...(opts.credentials ? { key: opts.credentials.key, cert: opts.credentials.cert } : {}),
      },
    } as ConstructorParameters<typeof SMTPConnection>[0]);
    log?.("+", "");
    return new Promise((resolve, reject) => {
      let settled = false;
      conn.once("error", (e: NodemailerError) => {
        if (settled) return;
        settled = true;
        conn.close();
        log?.("-", "");
        reject(classify(e, (conn as unknown as { upgrading?: boolean }).upgrading === true));
      });
      conn.connect(() => {
        if (settled) return;
        settled = true;
        // The socket after the upgrade is a TLSSocket: read what was negotiated.
        const socket = (conn as unknown as { _socket: net.Socket })._socket as tls.TLSSocket;
        let facts: SessionTls | undefined;
        if (conn.secure && typeof socket.getProtocol === "function") {
          facts = { protocol: socket.getProtocol() ?? "", cipher: socket.getCipher()?.name ?? "", peerCertificates: peerChain(socket) };
        } else if (opts.tls === "required") {
          // Never reached with requireTLS (the library fails closed); kept as a second lock.
          conn.close();
          reject(new SessionError("the server did not start TLS", "starttls"));
          return;
        }
        conn.on("error", () => undefined); // later errors surface through send()
        resolve(new SendSession(conn, facts, opts));
      });
    });
  }

  /** Extensions the server announced in the EHLO that counts (after TLS when started). */
  get extensions(): string[] {
    return (this.conn as unknown as { _supportedExtensions: string[] })._supportedExtensions ?? [];
  }

  /** One message; per-recipient results. Rejects only when the session broke (connection lost, timeout). */
  send(env: SendEnvelope, body: Buffer): Promise<SendResult> {
    const envelope = {
      from: env.from === "" ? false : env.from,
      to: env.to,
      size: env.size,
      use8BitMime: env.eightBit === true,
      ...(env.dsn ? { dsn: { ...(env.dsn.ret ? { ret: env.dsn.ret } : {}), ...(env.dsn.envid ? { envid: env.dsn.envid } : {}), ...(env.dsn.notify ? { notify: env.dsn.notify } : {}), ...(env.dsn.orcpt ? { orcpt: env.dsn.orcpt } : {}) } } : {}),
    };
    return new Promise((resolve, reject) => {
      this.conn.send(envelope as never, body, (err: NodemailerError | null, info?: { accepted?: string[] | undefined; rejected?: string[] | undefined; rejectedErrors?: NodemailerError[] | undefined; response?: string | undefined }) => {
        const byAddress = new Map<string, RecipientResult>();
        const rejectedErrors = err?.rejectedErrors ?? info?.rejectedErrors ?? [];
        for (const r of rejectedErrors) {
          if (r.recipient) byAddress.set(r.recipient, { address: r.recipient, ok: false, ...(r.responseCode ? { code: r.responseCode } : {}), response: r.response ?? r.message });
        }
        if (err) {
          if (err.code === "ECONNECTION" || err.code === "ETIMEDOUT" || err.code === "ESOCKET" || err.code === "EPROTOCOL" && !err.responseCode) {
            reject(new SessionError(err.message, "protocol"));
            return;
          }
          if (err.code === "EMESSAGE" && !err.responseCode && /larger than allowed/.test(err.message)) {
            // The library refused before MAIL: the server's SIZE is smaller than the message.
            err.responseCode = 552;
            err.response = `552 5.3.4 ${err.message} by the next hop (SIZE)`;
          }
          // MAIL refused, every RCPT refused, or DATA refused: every recipient not already answered gets that reply.
          for (const a of env.to) {
            if (!byAddress.has(a)) byAddress.set(a, { address: a, ok: false, ...(err.responseCode ? { code: err.responseCode } : {}), response: err.response ?? err.message });
          }
          resolve({ recipients: env.to.map((a) => byAddress.get(a) as RecipientResult), response: err.response ?? err.message, ...(err.responseCode ? { code: err.responseCode } : {}) });
          return;
        }
        const accepted = new Set(info?.accepted ?? []);
        const response = info?.response ?? "";
        const code = Number(response.slice(0, 3)) || undefined;
        resolve({
          recipients: env.to.map((a) => byAddress.get(a) ?? { address: a, ok: accepted.has(a), ...(code ? { code } : {}), response }),
          response,
          ...(code ? { code } : {}),
        });
      });
    });
  }

  /** RSET, for the next message on the same session. */
  reset(): Promise<void> {
    return new Promise((resolve, reject) => this.conn.reset((err: Error | null) => (err ? reject(new SessionError(err.message, "protocol")) : resolve())));
  }

  /** QUIT (politely) and close. */
  close(): void {
    try {
      this.conn.quit();
    } catch {
      this.conn.close();
    }
    this.opts.log?.("-", "");
  }
}

function format(message: string, args: unknown[]): string {
  let i = 0;
  return message.replace(/%[sd]/g, () => String(args[i++]));
}

function classify(e: NodemailerError, upgrading = false): SessionError {
  const code = e.code ?? "";
  // A TLS alert or handshake error surfaces as a socket error while upgrading: it is a TLS failure.
  if (upgrading || /SSL|TLS alert|alert handshake|wrong version number|handshake|certificate/i.test(e.message)) {
    if (code !== "ETLS" && !/STARTTLS/.test(e.message)) return new SessionError(`TLS handshake failed: ${e.message}`, "tls", e.responseCode, e.response);
  }
  if (code === "ETLS" || /STARTTLS/i.test(e.message)) {
    // A refused STARTTLS (or none offered when required) is "starttls"; a failed handshake "tls".
    const stage = /initiating TLS|handshake|certificate|SSL|alert/i.test(e.message) ? "tls" : "starttls";
    return new SessionError(e.message.replace(/^Error initiating TLS - /, "TLS handshake failed: "), stage, e.responseCode, e.response);
  }
  if (code === "ECONNECTION" || code === "ETIMEDOUT" || code === "ESOCKET" || code === "EDNS") return new SessionError(e.message, "connect", e.responseCode, e.response);
  if (code === "EPROTOCOL" || code === "EENVELOPE" || code === "EAUTH") return new SessionError(e.message, "protocol", e.responseCode, e.response);
  return new SessionError(e.message, "connect", e.responseCode, e.response);
}
