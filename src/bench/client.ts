// The load generator's SMTP client: as little work per message as a client
// can do (pipelined MAIL/RCPT/DATA, one prebuilt message body, replies parsed
// from latin1 strings), so that the CPU the generator takes from the shared
// cores stays small and the same for every server measured.
import net from "node:net";
import tls from "node:tls";

export interface SmtpReply {
  code: number;
  /** The last line's text (after "250 "). */
  text: string;
}

export class BenchError extends Error {
  constructor(
    /** A short stable reason, used to group failures: "connect ECONNREFUSED", "MAIL 451", "timeout", ... */
    readonly reason: string,
  ) {
    super(reason);
  }
}

export interface TlsClientOptions {
  servername: string;
  /** The client key and certificate chain, made once (tls.createSecureContext) and shared by every connection. */
  context: tls.SecureContext;
  /** A session (ticket) from an earlier connection to resume. */
  session?: Buffer;
  /** Called with every session (ticket) the server sends. */
  onSession?: (s: Buffer) => void;
}

/** One SMTP connection: connect, read replies, STARTTLS, write commands. */
export class BenchConnection {
  private sock: net.Socket;
  private buf = "";
  private ready: SmtpReply[] = [];
  private waiters: Array<{ resolve: (r: SmtpReply) => void; reject: (e: Error) => void }> = [];
  private failure: BenchError | undefined;
  private stage = "connect";
  private timer: NodeJS.Timeout | undefined;
  resumed = false;

  private constructor(sock: net.Socket, private readonly timeoutMs: number) {
    this.sock = sock;
    this.attach(sock);
  }

  static connect(host: string, port: number, timeoutMs = 30_000, localAddress?: string): Promise<BenchConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
      sock.setNoDelay(true);
      const onError = (e: NodeJS.ErrnoException) => reject(new BenchError(`connect ${e.code ?? e.message}`));
      sock.once("error", onError);
      sock.once("connect", () => {
        sock.off("error", onError);
        resolve(new BenchConnection(sock, timeoutMs));
      });
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buf += chunk.toString("latin1");
    let nl: number;
    while ((nl = this.buf.indexOf("\r\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 2);
      // Continuation lines ("250-...") are skipped: only the last line ends a reply.
      if (line.length >= 4 && line[3] === "-") continue;
      const reply = { code: Number(line.slice(0, 3)), text: line.slice(4) };
      const w = this.waiters.shift();
      if (w) w.resolve(reply);
      else this.ready.push(reply);
    }
  };

  private readonly onError = (e: NodeJS.ErrnoException): void => {
    this.fail(new BenchError(`${this.stage}: ${e.code ?? e.message.replace(/[\r\n].*$/s, "").slice(0, 80)}`));
  };

  private readonly onClose = (): void => {
    this.fail(new BenchError(`${this.stage}: connection closed by server`));
  };

  private attach(s: net.Socket): void {
    s.on("data", this.onData);
    s.on("error", this.onError);
    s.on("close", this.onClose);
  }

  private detach(s: net.Socket): void {
    s.off("data", this.onData);
    s.off("error", this.onError);
    s.off("close", this.onClose);
  }

  private fail(e: BenchError): void {
    if (this.failure) return;
    this.failure = e;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w.reject(e);
    this.sock.destroy();
  }

  /** The next reply; rejects on error, close or timeout. */
  read(stage: string): Promise<SmtpReply> {
    this.stage = stage;
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      // One timer per connection, restarted by every read; it only fails a read still waiting.
      if (this.timer) this.timer.refresh();
      else {
        this.timer = setTimeout(() => {
          if (this.waiters.length > 0) this.fail(new BenchError(`${this.stage}: timeout`));
        }, this.timeoutMs);
        this.timer.unref();
      }
    });
  }

  /** Reads a reply and throws unless its code is `want`. */
  async expect(stage: string, want: number): Promise<SmtpReply> {
    const r = await this.read(stage);
    if (r.code !== want) throw new BenchError(`${stage} ${r.code}`);
    return r;
  }

  write(data: string | Buffer): void {
    if (!this.failure) this.sock.write(data);
  }

  /** Greeting, EHLO, STARTTLS with a client certificate, EHLO again. */
  async open(ehlo: string, t: TlsClientOptions): Promise<void> {
    await this.expect("greeting", 220);
    this.write(`EHLO ${ehlo}\r\n`);
    await this.expect("EHLO", 250);
    this.write("STARTTLS\r\n");
    await this.expect("STARTTLS", 220);
    await this.startTls(t);
    this.write(`EHLO ${ehlo}\r\n`);
    await this.expect("EHLO after TLS", 250);
  }

  private startTls(t: TlsClientOptions): Promise<void> {
    const raw = this.sock;
    this.detach(raw);
    this.stage = "TLS handshake";
    return new Promise((resolve, reject) => {
      const s = tls.connect({
        socket: raw,
        servername: t.servername,
        secureContext: t.context,
        // The generator stands for the sending side only; verifying the
        // server's chain would spend the shared cores on the client.
        rejectUnauthorized: false,
        minVersion: "TLSv1.2",
        ...(t.session ? { session: t.session } : {}),
      });
      this.sock = s;
      if (t.onSession) s.on("session", t.onSession);
      const onError = (e: NodeJS.ErrnoException) => reject(new BenchError(`TLS handshake: ${e.code ?? e.message.slice(0, 80)}`));
      s.once("error", onError);
      s.once("secureConnect", () => {
        s.off("error", onError);
        this.resumed = s.isSessionReused();
        this.attach(s);
        resolve();
      });
    });
  }

  async quit(): Promise<void> {
    this.write("QUIT\r\n");
    try {
      await this.read("QUIT");
    } catch {
      // A server that closes at once after 221 is fine.
    }
    this.close();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.failure ??= new BenchError("closed");
    this.detach(this.sock);
    this.sock.on("error", () => undefined);
    this.sock.end();
    this.sock.destroySoon?.();
  }
}

/** A message of exactly `size` octets (CRLF lines, no line starts with "."), ending in CRLF. */
export function buildMessage(size: number, from: string, to: string): Buffer {
  const head = `From: <${from}>\r\nTo: <${to}>\r\nSubject: Sealpost benchmark\r\nMessage-ID: <bench@${from.split("@")[1] ?? "bench"}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
  const line = "The quick brown fox jumps over the lazy dog; Domain Security benchmark text.\r\n";
  let body = "";
  // The last line takes the remainder (at least "x\r\n"), so the size is exact.
  while (head.length + body.length + line.length + 3 <= size) body += line;
  const rest = Math.max(3, size - head.length - body.length);
  return Buffer.from(head + body + "x".repeat(rest - 2) + "\r\n", "latin1");
}
