// A deliberately small SMTP server for tests of the sending side: it records
// every command it receives, may offer STARTTLS or not (as if an attacker
// stripped it), and presents whatever certificate the test gives it. It
// accepts any mail. It binds to a loopback address only.
import net from "node:net";
import tls from "node:tls";

export interface FakeSmtpOptions {
  host: string;
  port: number;
  name?: string;
  /** Offer STARTTLS (default true when a certificate is given). */
  starttls?: boolean;
  /** PEM key and certificate chain for STARTTLS. */
  cert?: { key: string; cert: string };
  /** Extra TLS server options (e.g. maxVersion to make a modern client's handshake fail). */
  tls?: Partial<tls.TLSSocketOptions> & { maxVersion?: tls.SecureVersion; minVersion?: tls.SecureVersion };
}

export class FakeSmtpServer {
  readonly commands: string[] = [];
  readonly messages: string[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    public opts: FakeSmtpOptions,
  ) {}

  static async start(opts: FakeSmtpOptions): Promise<FakeSmtpServer> {
    if (!/^127\.|^::1$/.test(opts.host)) throw new Error("loopback only");
    const holder: { self?: FakeSmtpServer } = {};
    const server = net.createServer((s) => holder.self?.handle(s));
    const self = (holder.self = new FakeSmtpServer(server, opts));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
    return self;
  }

  /** Commands whose verb is `verb` (e.g. "MAIL"). */
  count(verb: string): number {
    return this.commands.filter((c) => c.toUpperCase().startsWith(verb.toUpperCase())).length;
  }

  private handle(plain: net.Socket): void {
    this.sockets.add(plain);
    plain.on("close", () => this.sockets.delete(plain));
    plain.on("error", () => undefined);
    const name = this.opts.name ?? "fake.example";
    let socket: net.Socket = plain;
    let buf = "";
    let inData = false;
    let data = "";
    let secure = false;
    const write = (s: string) => socket.write(`${s}\r\n`);
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("latin1");
      for (let i = buf.indexOf("\r\n"); i >= 0; i = buf.indexOf("\r\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            this.messages.push(data);
            data = "";
            write("250 2.0.0 Ok: queued");
          } else data += `${line.startsWith("..") ? line.slice(1) : line}\r\n`;
          continue;
        }
        this.commands.push(line);
        const verb = line.split(" ")[0]?.toUpperCase() ?? "";
        const offerTls = !secure && (this.opts.starttls ?? this.opts.cert !== undefined) && this.opts.cert !== undefined;
        switch (verb) {
          case "EHLO":
            write(`250-${name}`);
            write("250-PIPELINING");
            if (offerTls) write("250-STARTTLS");
            write("250 8BITMIME");
            break;
          case "HELO":
            write(`250 ${name}`);
            break;
          case "STARTTLS": {
            if (!offerTls || !this.opts.cert) {
              write("502 5.5.1 Command not implemented");
              break;
            }
            write("220 2.0.0 Ready to start TLS");
            plain.removeListener("data", onData);
            buf = "";
            const ctx = tls.createSecureContext({ key: this.opts.cert.key, cert: this.opts.cert.cert, ...(this.opts.tls?.maxVersion ? { maxVersion: this.opts.tls.maxVersion, minVersion: this.opts.tls.minVersion ?? "TLSv1" } : {}) });
            const t = new tls.TLSSocket(plain, { isServer: true, secureContext: ctx, requestCert: true, rejectUnauthorized: false });
            t.on("error", () => undefined);
            t.on("data", onData);
            socket = t;
            secure = true;
            return;
          }
          case "MAIL":
          case "RCPT":
          case "RSET":
          case "NOOP":
            write("250 2.0.0 Ok");
            break;
          case "DATA":
            inData = true;
            write("354 End data with <CR><LF>.<CR><LF>");
            break;
          case "QUIT":
            write("221 2.0.0 Bye");
            socket.end();
            break;
          default:
            write("502 5.5.2 Error: command not recognized");
        }
      }
    };
    plain.on("data", onData);
    write(`220 ${name} ESMTP fake`);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
