// The contract between the SMTP receive engine (protocol: framing, session
// states, STARTTLS, limits) and the edge server that decides (policy, queue,
// logs). The engine never decides whether mail is welcome; it asks hooks and
// sends exactly the reply they return.
import type { SecureContext } from "node:tls";

/** One SMTP reply. Sent as "<code> <enhanced> <text>" (multi-line when text is an array). */
export interface Reply {
  code: number;
  /** Enhanced status code (RFC 3463) such as "4.7.5"; omitted for 220/221 greetings and 354. */
  enhanced?: string;
  text: string | string[];
  /** Close the connection after sending this reply. */
  close?: boolean;
}

export interface TlsFacts {
  protocol: string;
  cipher: string;
  /**
   * The client's certificates as sent, DER, leaf first; empty when none was
   * sent. Read from the TLS session on first use (about 0.3 ms: OpenSSL
   * re-parses every certificate), so a hook that needs only the leaf uses peerLeaf.
   */
  readonly peerCertificates: Buffer[];
  /** The client's certificate (DER), read cheaply; undefined when none was sent. */
  peerLeaf?: Buffer;
  /** true when the session resumed (no fresh chain was sent: peerCertificates may still hold the leaf). */
  resumed: boolean;
}

export interface SessionInfo {
  /** Unique per session (16 hex digits), for logs. */
  id: string;
  connector: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  heloName?: string | undefined;
  esmtp: boolean;
  tls?: TlsFacts;
  /** Free space for the hooks (e.g. a cached trust verdict); reset never, lives with the session. */
  state: Record<string, unknown>;
  /** Transactions completed on this session so far. */
  messages: number;
}

export interface MailParams {
  size?: number;
  body?: "7BIT" | "8BITMIME";
  smtputf8?: boolean;
  ret?: "FULL" | "HDRS";
  envid?: string;
}

export interface RcptParams {
  notify?: Array<"NEVER" | "SUCCESS" | "FAILURE" | "DELAY"> | undefined;
  orcpt?: string;
}

export interface Envelope {
  /** "" for the null reverse-path <> */
  mailFrom: string;
  mailParams: MailParams;
  rcptTo: Array<{ address: string; params: RcptParams }>;
}

export type LogEvent = "+" | "-" | ">" | "<" | "*";

export interface ReceiveHooks {
  /** After accept, before the greeting; a reply here (e.g. 421/554) is sent and the connection closed. */
  onConnect?(s: SessionInfo): Promise<Reply | undefined>;
  /** After a successful TLS handshake (s.tls is set). */
  onSecure?(s: SessionInfo): Promise<void>;
  /** A reply with code 250 accepts the sender. */
  onMailFrom(s: SessionInfo, address: string, params: MailParams): Promise<Reply>;
  /** A reply with code 250/251 accepts the recipient. */
  onRcptTo(s: SessionInfo, env: Envelope, address: string, params: RcptParams): Promise<Reply>;
  /**
   * The complete message (CRLF line ends, dot-unstuffed, without the final
   * ".") once it ended cleanly; the reply (250 only when durable) is sent as is.
   */
  onData(s: SessionInfo, env: Envelope, message: Buffer): Promise<Reply>;
  /** Protocol log: "+" connect, "-" disconnect, "<" received line, ">" sent line, "*" information. */
  onLog?(s: SessionInfo, event: LogEvent, data: string, context?: string): void;
}

export interface ReceiverOptions {
  connector: string;
  /** Name in the greeting and EHLO reply. */
  fqdn: string;
  /** Bytes; advertised as SIZE; larger messages get 552 5.3.4. */
  maxMessageSize: number;
  maxRecipients: number;
  /** Idle time allowed between commands (and inside DATA), ms. */
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerSource: number;
  /** The TLS context for STARTTLS; undefined: STARTTLS not offered. */
  secureContext?: () => SecureContext | undefined;
  /** Ask the client for a certificate during the handshake (never demanded). */
  requestClientCertificate: boolean;
  /** TLS 1.2 unless set higher. */
  minTlsVersion?: "TLSv1.2" | "TLSv1.3";
  /**
   * Unrecognized or malformed command lines (500/502) allowed per session; the
   * one that reaches the limit gets 421 4.7.0 and the connection is closed. Default 10.
   */
  maxBadCommands?: number;
}
