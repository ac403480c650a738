// The non-partner destination of Contoso's outbound mail (MX of
// sink.example): a small SMTP server on a loopback address that offers
// STARTTLS with a self-signed certificate and accepts every message,
// keeping what it received (in memory and as files, for inspection).
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";

export interface SinkMessage {
  at: number;
  mailFrom: string;
  rcptTo: string[];
  tls: boolean;
  data: string;
}

export class SinkServer {
  readonly messages: SinkMessage[] = [];
  private readonly sockets = new Set<net.Socket>();
  private n = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly folder: string,
  ) {}

  static async start(o: { host: string; port: number; key: string; cert: string; folder: string }): Promise<SinkServer> {
    if (!o.host.startsWith("127.")) throw new Error("the sink binds loopback only");
    fs.mkdirSync(o.folder, { recursive: true });
    const context = tls.createSecureContext({ key: o.key, cert: o.cert });
    const holder: { self?: SinkServer } = {};
    const server = net.createServer((s) => holder.self?.handle(s, context));
    holder.self = new SinkServer(server, o.folder);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port, o.host, () => resolve());
    });
    return holder.self;
  }

  private handle(plain: net.Socket, context: tls.SecureContext): void {
    this.sockets.add(plain);
    plain.on("close", () => this.sockets.delete(plain));
    plain.on("error", () => undefined);
    plain.setTimeout(60_000, () => plain.destroy());
    let socket: net.Socket = plain;
    let secure = false;
    let buf = "";
    let inData = false;
    let data: string[] = [];
    let mailFrom = "";
    let rcptTo: string[] = [];
    const write = (s: string) => socket.write(`${s}\r\n`);
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("latin1");
      if (buf.length > 32 << 20) return void socket.destroy();
      for (let i = buf.indexOf("\r\n"); i >= 0; i = buf.indexOf("\r\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            const msg: SinkMessage = { at: Date.now(), mailFrom, rcptTo, tls: secure, data: data.join("\r\n") + "\r\n" };
            this.messages.push(msg);
            fs.writeFileSync(path.join(this.folder, `${++this.n}.eml`), msg.data, "latin1");
            data = [];
            write(`250 2.0.0 Ok: queued as sink${this.n}`);
          } else data.push(line.startsWith(".") ? line.slice(1) : line);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") {
          write("250-mx.sink.example");
          if (!secure) write("250-STARTTLS");
          write("250-PIPELINING");
          write("250-8BITMIME");
          write("250 SIZE 52428800");
        } else if (verb === "HELO") write("250 mx.sink.example");
        else if (verb === "STAR" && !secure) {
          write("220 2.0.0 Ready to start TLS");
          plain.removeListener("data", onData);
          buf = "";
          const t = new tls.TLSSocket(plain, { isServer: true, secureContext: context });
          t.on("error", () => plain.destroy());
          t.on("data", onData);
          socket = t;
          secure = true;
        } else if (verb === "MAIL") {
          mailFrom = /<([^>]*)>/.exec(line)?.[1] ?? "";
          rcptTo = [];
          write("250 2.1.0 Ok");
        } else if (verb === "RCPT") {
          rcptTo.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
          write("250 2.1.5 Ok");
        } else if (verb === "DATA") {
          inData = true;
          write("354 End data with <CR><LF>.<CR><LF>");
        } else if (verb === "RSET") {
          mailFrom = "";
          rcptTo = [];
          write("250 2.0.0 Ok");
        } else if (verb === "NOOP") write("250 2.0.0 Ok");
        else if (verb === "QUIT") {
          write("221 2.0.0 Bye");
          socket.end();
        } else write("502 5.5.2 Command not recognized");
      }
    };
    plain.on("data", onData);
    write("220 mx.sink.example ESMTP soak sink");
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}
