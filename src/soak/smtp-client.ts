// The soak's SMTP client: sends exactly the bytes it is given (so it can
// also misbehave: garbage, huge lines, bare-LF end-of-data forms, a close in
// the middle of DATA) and returns each reply whole. STARTTLS upgrades with an
// optional client certificate; it never verifies the server (the soak
// judges the servers from their logs, headers and replies, not from here).
// Every wait is bounded.
import net from "node:net";
import tls from "node:tls";
import { takeReply } from "../devtools/smtp-reply.js";

export interface Reply {
  code: number;
  text: string;
}

export class SoakSmtpClient {
  private socket: net.Socket;
  private buffer = "";
  private waiters: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  private replies: Reply[] = [];
  private closedFlag = false;
  /** Whether STARTTLS succeeded on this session. */
  secure = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  static async connect(host: string, port: number, o: { localAddress?: string; timeoutMs?: number } = {}): Promise<{ client: SoakSmtpClient; greeting: Reply }> {
    const socket = net.connect({ host, port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        socket.destroy();
        reject(new Error("connect timeout"));
      }, o.timeoutMs ?? 5000);
      socket.once("connect", () => {
        clearTimeout(t);
        resolve();
      });
      socket.once("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    const client = new SoakSmtpClient(socket);
    try {
      return { client, greeting: await client.read(o.timeoutMs ?? 10_000) };
    } catch (e) {
      client.destroy();
      throw e;
    }
  }

  private attach(s: net.Socket): void {
    s.on("data", (d: Buffer) => {
      this.buffer += d.toString("latin1");
      if (this.buffer.length > 1 << 20) this.buffer = this.buffer.slice(-(1 << 16));
      this.parse();
    });
    s.on("close", () => {
      this.closedFlag = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error("connection closed before a reply"));
    });
    s.on("error", () => undefined);
  }

  private parse(): void {
    for (let next = takeReply(this.buffer); next; next = takeReply(this.buffer)) {
      const { lines, rest } = next;
      this.buffer = rest;
      const reply: Reply = { code: Number(lines[0]?.slice(0, 3)), text: lines.join("\n") };
      const w = this.waiters.shift();
      if (w) w.resolve(reply);
      else this.replies.push(reply);
    }
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  read(ms = 15_000): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closedFlag) return Promise.reject(new Error("connection closed before a reply"));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.waiters.findIndex((w) => w.resolve === done);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no reply within ${ms} ms`));
      }, ms);
      const done = (r: Reply) => {
        clearTimeout(t);
        resolve(r);
      };
      this.waiters.push({
        resolve: done,
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
    });
  }

  write(data: string | Buffer): void {
    if (!this.closedFlag) this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  async cmd(line: string, ms?: number): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read(ms);
  }

  /** EHLO; returns the reply (multi-line text). */
  ehlo(name: string): Promise<Reply> {
    return this.cmd(`EHLO ${name}`);
  }

  async startTls(o: { key?: string; cert?: string; servername?: string } = {}): Promise<void> {
    const r = await this.cmd("STARTTLS");
    if (r.code !== 220) throw new Error(`STARTTLS refused: ${r.text}`);
    await this.upgradeTls(o);
  }

  /** The TLS handshake on this socket, once the server's 220 to STARTTLS was read. */
  async upgradeTls(o: { key?: string; cert?: string; servername?: string } = {}): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners("data");
    const secure = tls.connect({
      socket: plain,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      ...(o.servername ? { servername: o.servername } : {}),
      ...(o.key ? { key: o.key, cert: o.cert } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("TLS handshake timeout")), 10_000);
      secure.once("secureConnect", () => {
        clearTimeout(t);
        resolve();
      });
      secure.once("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
    this.socket = secure;
    this.attach(secure);
    this.secure = true;
  }

  /** The raw socket under TLS (to send TLS-level garbage); the plain one before. */
  get raw(): net.Socket {
    return this.socket;
  }

  destroy(): void {
    this.socket.destroy();
  }

  async quit(): Promise<void> {
    if (!this.closedFlag) {
      try {
        await this.cmd("QUIT", 3000);
      } catch {
        // gone already
      }
    }
    this.socket.destroy();
  }
}

/** A message's bytes as SMTP DATA sends them: CRLF line ends, dot-stuffed, ending in CRLF.CRLF. */
export function dataBytes(message: string): string {
  const body = message.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
  return `${body}${body.endsWith("\r\n") ? "" : "\r\n"}.\r\n`;
}
