// A small, strict SMTP client for tests: it sends exactly the bytes it is
// given and returns each reply whole (multi-line joined), so tests can assert
// exact reply text. STARTTLS upgrades with an optional client certificate.
import net from "node:net";
import tls from "node:tls";
import { takeReply } from "./smtp-reply.js";

export interface SmtpReply {
  code: number;
  lines: string[];
  /** "250 2.1.0 Sender OK" for a one-line reply; lines joined by "\n" otherwise. */
  text: string;
}

export class TestSmtpClient {
  private socket: net.Socket | tls.TLSSocket;
  private buffer = "";
  private waiters: Array<{ resolve: (r: SmtpReply) => void; reject: (e: Error) => void }> = [];
  private replies: SmtpReply[] = [];
  private closedFlag = false;
  private closeWaiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  static async connect(host: string, port: number, opts: { localAddress?: string } = {}): Promise<{ client: TestSmtpClient; greeting: SmtpReply }> {
    const socket = net.connect({ host, port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new TestSmtpClient(socket);
    return { client, greeting: await client.read() };
  }

  private attach(s: net.Socket): void {
    s.on("data", (d: Buffer) => {
      this.buffer += d.toString("latin1");
      this.parse();
    });
    s.on("close", () => {
      this.closedFlag = true;
      // A reply still awaited will never come: fail now rather than at the read's timeout.
      for (const w of this.waiters.splice(0)) w.reject(new Error(`connection closed before a reply (buffer: ${JSON.stringify(this.buffer)})`));
      for (const w of this.closeWaiters) w();
      this.closeWaiters = [];
    });
    s.on("error", () => undefined);
  }

  private parse(): void {
    for (let next = takeReply(this.buffer); next; next = takeReply(this.buffer)) {
      const { lines, rest } = next;
      this.buffer = rest;
      const reply: SmtpReply = { code: Number(lines[0]?.slice(0, 3)), lines, text: lines.join("\n") };
      const w = this.waiters.shift();
      if (w) w.resolve(reply);
      else this.replies.push(reply);
    }
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The next reply (waits up to `ms`). */
  read(ms = 10_000): Promise<SmtpReply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closedFlag) return Promise.reject(new Error(`connection closed before a reply (buffer: ${JSON.stringify(this.buffer)})`));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply within ${ms} ms (buffer: ${JSON.stringify(this.buffer)})`)), ms);
      this.waiters.push({
        resolve: (r) => {
          clearTimeout(t);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  async startTls(opts: { servername?: string; key?: string; cert?: string; ca?: string; session?: Buffer } = {}): Promise<tls.TLSSocket> {
    const r = await this.cmd("STARTTLS");
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.text}`);
    const plain = this.socket;
    plain.removeAllListeners("data");
    const secure = tls.connect({
      socket: plain,
      rejectUnauthorized: false,
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.key ? { key: opts.key, cert: opts.cert } : {}),
      ...(opts.ca ? { ca: opts.ca } : {}),
      ...(opts.session ? { session: opts.session } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  /** MAIL, RCPTs, DATA and the message; returns every reply in order. */
  async send(from: string, to: string[], message: string): Promise<SmtpReply[]> {
    const out = [await this.cmd(`MAIL FROM:<${from}>`)];
    if (out[0]?.code !== 250) return out;
    for (const r of to) out.push(await this.cmd(`RCPT TO:<${r}>`));
    const data = await this.cmd("DATA");
    out.push(data);
    if (data.code !== 354) return out;
    const body = message.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
    this.write(`${body}${body.endsWith("\r\n") ? "" : "\r\n"}.\r\n`);
    out.push(await this.read());
    return out;
  }

  async quit(): Promise<void> {
    if (this.closedFlag) return;
    try {
      await this.cmd("QUIT");
    } catch {
      // already gone
    }
    this.socket.destroy();
  }

  waitClosed(ms = 10_000): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("connection not closed")), ms);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
