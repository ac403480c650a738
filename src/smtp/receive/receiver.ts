// The receive engine's front door: admission (global and per-source
// connection limits), session bookkeeping, live option changes and shutdown.
// It does not own a listening socket: the caller accepts connections however
// it likes (net.Server, cluster, a socket handed over by a supervisor) and
// calls handle() with each one.
import type * as net from "node:net";
import { SealpostError } from "../../errors/errors.js";
import { tooManyConnections } from "./replies.js";
import { normalizeAddress } from "./channel.js";
import { Session } from "./session.js";
import type { ReceiveHooks, ReceiverOptions } from "./types.js";

const DEFAULT_CLOSE_GRACE_MS = 30_000;

function checkOptions(opts: ReceiverOptions): ReceiverOptions {
  const positive: Array<keyof ReceiverOptions> = ["maxMessageSize", "maxRecipients", "idleTimeoutMs", "maxConnections", "maxConnectionsPerSource"];
  for (const k of positive) {
    const v = opts[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
      throw new SealpostError("INVALID_ARGUMENT", `Receiver option ${k} must be a positive integer (got ${String(v)}).`);
    }
  }
  if (opts.maxBadCommands !== undefined && (!Number.isSafeInteger(opts.maxBadCommands) || opts.maxBadCommands <= 0)) {
    throw new SealpostError("INVALID_ARGUMENT", `Receiver option maxBadCommands must be a positive integer (got ${String(opts.maxBadCommands)}).`);
  }
  if (!opts.fqdn || /[\s\r\n]/.test(opts.fqdn)) {
    throw new SealpostError("INVALID_ARGUMENT", "Receiver option fqdn must be a host name without spaces.");
  }
  return { ...opts };
}

export class SmtpReceiver {
  private opts: ReceiverOptions;
  private readonly sessions = new Set<Session>();
  /** Active sessions per remote address (IPv4-mapped IPv6 folded to IPv4). */
  private readonly perSource = new Map<string, number>();

  constructor(
    opts: ReceiverOptions,
    private readonly hooks: ReceiveHooks,
  ) {
    this.opts = checkOptions(opts);
  }

  /** Takes over an accepted connection (fresh: nothing read from it yet). */
  handle(socket: net.Socket): void {
    const opts = this.opts;
    const ip = normalizeAddress(socket.remoteAddress);
    if (!ip || socket.destroyed) {
      // Reset by the client before we got to it: nothing to answer.
      socket.on("error", () => {});
      socket.destroy();
      return;
    }
    const fromSource = this.perSource.get(ip) ?? 0;
    if (this.sessions.size >= opts.maxConnections || fromSource >= opts.maxConnectionsPerSource) {
      // Refused before any hook runs; the refusal is logged but not counted as a session.
      new Session(socket, opts, this.hooks, () => {}).start(tooManyConnections(opts.fqdn));
      return;
    }
    this.perSource.set(ip, fromSource + 1);
    const session = new Session(socket, opts, this.hooks, () => {
      this.sessions.delete(session);
      const n = (this.perSource.get(ip) ?? 1) - 1;
      if (n > 0) this.perSource.set(ip, n);
      else this.perSource.delete(ip);
    });
    this.sessions.add(session);
    session.start();
  }

  /** New options apply to sessions accepted from now on; running sessions keep theirs. */
  updateOptions(opts: ReceiverOptions): void {
    this.opts = checkOptions(opts);
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /**
   * Ends every session: 421 4.3.2 at the next point a reply may be sent (a
   * pending hook, e.g. onData writing to the queue, is let finish and its
   * reply sent first). Sessions still open after `graceMs` are dropped.
   * Close the listening server first so that no new session starts meanwhile.
   */
  async closeAll(graceMs: number = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    const all = [...this.sessions];
    if (!all.length) return;
    const timer = setTimeout(() => {
      for (const s of all) s.destroy();
    }, graceMs);
    timer.unref();
    try {
      await Promise.all(all.map((s) => s.shutdown()));
    } finally {
      clearTimeout(timer);
    }
  }
}
