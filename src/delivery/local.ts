// Delivers spooled messages to local mailboxes (Maildir) and marks them done
// in the spool once every local recipient has its copy. The recipients were
// resolved at RCPT time and stored with the message, so a message recovered
// after a crash is delivered the way it was accepted.
//
// At-least-once: a copy is renamed into new/ (synced) before the spool's done
// mark is written; a crash between the two delivers that copy again after
// restart. Nothing acknowledged is ever dropped.
//
// Sink "discard" (`sealpost serve --sink discard`, for benchmarks and load
// tests, like Postfix's discard(8) transport): local recipients are not
// written anywhere; the message is marked done right away. It changes
// nothing before the 250: the message was already durable in the spool
// (fsynced) when it was acknowledged, exactly as with the Maildir.
import { deliverToMaildir } from "./maildir.js";
import type { Spool, SpoolEnvelope } from "../queue/spool.js";
import type { MessageTracking } from "../protolog/tracking.js";
import type { OutboundStore } from "../queue/outbound-store.js";
import { metrics } from "../metrics/counters.js";

/** What receive stored about each recipient (SpoolEnvelope.meta.route). */
export interface RouteMeta {
  /** recipient address → the mailbox that receives it (itself, or a catch-all) */
  local: Array<{ rcpt: string; mailbox: string }>;
  /** recipients for other domains (relayed by send connectors) */
  relay: string[];
}

export interface LocalDeliveryOptions {
  maildirRoot: string;
  spool: Spool;
  tracking: MessageTracking;
  serverName: string;
  /** Delays between attempts after an I/O error, ms. */
  retryDelaysMs?: number[];
  /** "discard": local recipients get no copy (see the module comment). Default "maildir". */
  sink?: LocalSink;
  /** Where relay recipients go (the send connectors' queue); without it they stay in the spool. */
  outbound?: OutboundStore;
  /** Called after relay recipients were queued (wakes the queue manager in this process). */
  onQueued?: () => void;
}

export type LocalSink = "maildir" | "discard";

export class LocalDelivery {
  private readonly delays: number[];
  private pending = 0;

  constructor(private readonly opts: LocalDeliveryOptions) {
    this.delays = opts.retryDelaysMs ?? [1000, 5000, 30_000, 120_000, 600_000];
  }

  get inFlight(): number {
    return this.pending;
  }

  /** Delivers in the background; never throws. */
  start(id: string, envelope: SpoolEnvelope, message: Buffer): void {
    this.pending++;
    void this.run(id, envelope, message).finally(() => this.pending--);
  }

  private async run(id: string, envelope: SpoolEnvelope, message: Buffer): Promise<void> {
    const route = (envelope.meta?.route as RouteMeta | undefined) ?? { local: [], relay: envelope.rcptTo.map((r) => r.address) };
    const done = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      for (const r of route.local) {
        if (done.has(r.rcpt)) continue;
        try {
          const discard = this.opts.sink === "discard";
          if (!discard) await this.deliverOne(envelope, r, message);
          done.add(r.rcpt);
          metrics.messagesDelivered.inc();
          this.track(id, envelope, "DELIVER", [r.rcpt], discard ? `discarded (sink discard) for the mailbox ${r.mailbox}` : `delivered to the mailbox ${r.mailbox}`);
        } catch (e) {
          this.track(id, envelope, "DEFER", [r.rcpt], `local delivery failed (${(e as NodeJS.ErrnoException).code ?? "error"}); will retry`);
        }
      }
      if (done.size === route.local.length) break;
      const delay = this.delays[Math.min(attempt, this.delays.length - 1)] as number;
      await new Promise((r) => setTimeout(r, delay).unref());
    }
    if (route.relay.length > 0) {
      if (!this.opts.outbound) {
        // Kept in the spool: relaying to other domains is the send connectors' work.
        this.track(id, envelope, "DEFER", route.relay, "queued for relay: awaiting a send connector");
        return;
      }
      // Durable in the outbound queue before the spool forgets it (a crash in
      // between queues it again under the same id: a no-op).
      for (let attempt = 0; ; attempt++) {
        try {
          await this.opts.outbound.enqueue({ id, envelope, body: message, recipients: route.relay });
          break;
        } catch {
          const delay = this.delays[Math.min(attempt, this.delays.length - 1)] as number;
          await new Promise((r) => setTimeout(r, delay).unref());
        }
      }
      this.opts.onQueued?.();
    }
    await this.opts.spool.markDone(id);
  }

  private async deliverOne(envelope: SpoolEnvelope, r: { rcpt: string; mailbox: string }, message: Buffer): Promise<void> {
    const at = r.mailbox.lastIndexOf("@");
    const prepend = Buffer.from(`Return-Path: <${envelope.mailFrom}>\r\nDelivered-To: ${r.rcpt}\r\n`, "utf8");
    await deliverToMaildir(this.opts.maildirRoot, r.mailbox.slice(at + 1).toLowerCase(), r.mailbox.slice(0, at), message, { prepend });
  }

  private track(id: string, envelope: SpoolEnvelope, eventId: "DELIVER" | "DEFER", recipients: string[], detail: string): void {
    this.opts.tracking.write({
      timestamp: new Date().toISOString(),
      eventId,
      messageId: (envelope.meta?.messageId as string | undefined) ?? "",
      internalId: id,
      sender: envelope.mailFrom,
      recipients,
      connector: envelope.connector,
      sessionId: envelope.sessionId,
      serverHostname: this.opts.serverName,
      clientIp: (envelope.meta?.clientIp as string | undefined) ?? "",
      ...(envelope.verdict ? { domainSecure: envelope.verdict } : {}),
      detail,
    } as Parameters<MessageTracking["write"]>[0]);
  }
}
