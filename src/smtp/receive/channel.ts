// The transport half of a session: the socket (plain, then TLS), the single
// idle timer, reply buffering and writing, flow control and closing. The
// protocol half (session.ts) decides what to read and what to answer; this
// class only knows whether input is wanted right now.
import { randomBytes } from "node:crypto";
import type * as net from "node:net";
import * as R from "./replies.js";
import type { LogEvent, ReceiveHooks, ReceiverOptions, Reply, SessionInfo } from "./types.js";

export const enum Mode { Greeting, Command, Data, Tls, Closing, Closed }

/** After our last reply, how long a client may take to close before we drop it. */
const CLOSE_GRACE_MS = 5_000;

/** "::ffff:192.0.2.1" -> "192.0.2.1": one client, one counter and one log form. */
export function normalizeAddress(a: string | undefined): string {
  if (!a) return "";
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

export abstract class Channel {
  readonly info: SessionInfo;
  protected socket: net.Socket;
  protected mode = Mode.Greeting;
  /** A hook is pending: input waits (the socket is paused). */
  protected busy = false;
  /** Replies not yet written: flushed when the input at hand is used up, so a pipelined group gets one write. */
  private out: string[] = [];
  private writeBlocked = false;
  protected paused = false;
  private closeTimer: NodeJS.Timeout | undefined;
  protected readonly timer: NodeJS.Timeout;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    socket: net.Socket,
    protected readonly opts: ReceiverOptions,
    protected readonly hooks: ReceiveHooks,
    private readonly onGone: () => void,
  ) {
    this.socket = socket;
    this.info = {
      id: randomBytes(8).toString("hex"),
      connector: opts.connector,
      localAddress: normalizeAddress(socket.localAddress),
      localPort: socket.localPort ?? 0,
      remoteAddress: normalizeAddress(socket.remoteAddress),
      remotePort: socket.remotePort ?? 0,
      esmtp: false,
      state: {},
      messages: 0,
    };
    this.closed = new Promise((r) => (this.resolveClosed = r));
    // The only timer of a session: refreshed on input, never re-created per command.
    this.timer = setTimeout(this.onTimer, opts.idleTimeoutMs);
    this.timer.unref();
  }

  /** Received octets while commands or message data are wanted. */
  protected abstract input(chunk: Buffer): void;

  destroy(): void {
    this.socket.destroy();
  }

  // ---- socket plumbing -------------------------------------------------

  protected attach(s: net.Socket): void {
    s.on("data", this.onData);
    s.on("error", this.onError);
    s.on("close", this.onClose);
    s.on("drain", this.onDrain);
  }

  /**
   * Before STARTTLS wraps `s`: its input and errors belong to TLS from now on.
   * 'close' stays attached (onClose runs once), so a client that hangs up
   * while the 220 is still being written still ends the session.
   */
  protected detachForTls(s: net.Socket): void {
    s.off("data", this.onData);
    s.off("error", this.onError);
    s.off("drain", this.onDrain);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.mode >= Mode.Tls) return; // handshaking is TLS's input; after our last reply input is dropped
    this.timer.refresh();
    this.input(chunk);
  };

  private readonly onError = (err: Error): void => {
    const code = (err as NodeJS.ErrnoException).code;
    if (this.mode === Mode.Tls) this.log("*", `TLS handshake failed: ${err.message}`);
    else if (this.mode !== Mode.Closed) this.log("*", `connection error: ${code ?? err.message}`);
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    if (this.mode === Mode.Closed) return;
    if (this.mode === Mode.Tls && !this.socket.errored) this.log("*", "TLS handshake failed: connection closed by client");
    this.mode = Mode.Closed;
    clearTimeout(this.timer);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.log("-", "");
    this.onGone();
    this.resolveClosed();
  };

  private readonly onDrain = (): void => {
    this.writeBlocked = false;
    this.updateFlow();
  };

  private readonly onTimer = (): void => {
    if (this.mode === Mode.Closed) return;
    // A slow hook is the server's delay, not the client's idleness.
    if (this.busy) return void this.timer.refresh();
    if (this.mode === Mode.Tls) {
      this.log("*", "TLS handshake failed: timeout");
      return void this.socket.destroy();
    }
    if (this.mode === Mode.Closing) return void this.socket.destroy();
    this.log("*", "idle timeout");
    this.send(R.timeout(this.opts.fqdn));
  };

  /** Reading follows the state: paused while a hook decides or the client does not read our replies. */
  protected updateFlow(): void {
    const want = this.mode === Mode.Closing || (this.mode !== Mode.Tls && this.mode !== Mode.Closed && !this.busy && !this.writeBlocked);
    if (want === !this.paused) return;
    this.paused = !want;
    if (want) this.socket.resume();
    else this.socket.pause();
  }

  protected log(event: LogEvent, data: string): void {
    const onLog = this.hooks.onLog;
    if (!onLog) return;
    try {
      onLog.call(this.hooks, this.info, event, data);
    } catch {
      // A broken logger must not take the session down.
    }
  }

  // ---- replies ---------------------------------------------------------

  protected send(reply: Reply): void {
    if (this.mode >= Mode.Closing) return;
    const lines = R.replyLines(reply);
    if (this.hooks.onLog) for (const l of lines) this.log(">", l);
    this.out.push(lines.length === 1 ? lines[0] + "\r\n" : lines.join("\r\n") + "\r\n");
    // 421 always means the server closes (RFC 5321 3.8), whoever chose it.
    if (reply.close || reply.code === 421) this.closeSoon();
  }

  protected flush(done?: (err?: Error | null) => void): void {
    if (!this.out.length) return done?.();
    const data = this.out.length === 1 ? this.out[0]! : this.out.join("");
    this.out = [];
    if (this.socket.destroyed || !this.socket.writable) return done?.(new Error("socket closed"));
    if (!this.socket.write(data, "utf8", done)) {
      this.writeBlocked = true;
      this.updateFlow();
    }
  }

  protected closeSoon(): void {
    this.mode = Mode.Closing;
    this.flush();
    this.socket.end();
    this.updateFlow(); // keep reading (and dropping) so the client's FIN is seen
    this.closeTimer = setTimeout(() => this.socket.destroy(), Math.min(CLOSE_GRACE_MS, this.opts.idleTimeoutMs));
    this.closeTimer.unref();
  }
}
