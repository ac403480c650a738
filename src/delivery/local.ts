// Delivers spooled messages to local mailboxes (Maildir) and marks them done
// in the spool once every local recipient has its copy. The recipients were
// resolved at RCPT time and stored with the message, so a message recovered
// after a crash is delivered the way it was accepted.
//
// At-least-once: a copy is renamed into new/ (synced) before the spool's done
// mark is written, so a crash in between leaves the message pending in the
// spool. Nothing acknowledged is ever dropped. Every copy's file name carries
// "<spool id>-<recipient index>", and spool recovery delivers with a
// DeliveredIndex: a copy the crashed process already wrote is found and not
// written twice (counted), only the missing ones are.
//
// Sink "discard" (`sealpost serve --sink discard`, for benchmarks and load
// tests, like Postfix's discard(8) transport): local recipients are not
// written anywhere; the message is marked done right away. It changes
// nothing before the 250: the message was already durable in the spool
// (fsynced) when it was acknowledged, exactly as with the Maildir.
import { deliverToMaildir, type DeliveredIndex } from "./maildir.js";
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

/** What became of one message handed to deliver(). */
export interface DeliveryOutcome {
  /** Local recipients whose copy was already in the mailbox (recovery only): not delivered again. */
  alreadyDelivered: number;
  /** The message was marked done in the spool (false: it stays pending, e.g. the spool closed). */
  done: boolean;
}

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
    void this.deliver(id, envelope, message);
  }

  /**
   * Delivers (retrying I/O errors) and marks done; never rejects. `recovered`:
   * the message comes from spool recovery, so a copy already in a mailbox
   * (written by the process that died) is not written again.
   */
  deliver(id: string, envelope: SpoolEnvelope, message: Buffer, recovered?: DeliveredIndex): Promise<DeliveryOutcome> {
    this.pending++;
    return this.run(id, envelope, message, recovered)
      .catch((): DeliveryOutcome => ({ alreadyDelivered: 0, done: false }))
      .finally(() => this.pending--);
  }

  private async run(id: string, envelope: SpoolEnvelope, message: Buffer, recovered: DeliveredIndex | undefined): Promise<DeliveryOutcome> {
    const route = (envelope.meta?.route as RouteMeta | undefined) ?? { local: [], relay: envelope.rcptTo.map((r) => r.address) };
    const done = new Set<string>();
    let alreadyDelivered = 0;
    for (let attempt = 0; ; attempt++) {
      for (const [i, r] of route.local.entries()) {
        if (done.has(r.rcpt)) continue;
        try {
          const discard = this.opts.sink === "discard";
          const tag = `${id}-${i}`;
          if (!discard && recovered && (await this.alreadyIn(recovered, r, tag))) {
            done.add(r.rcpt);
            alreadyDelivered++;
            this.track(id, envelope, "DELIVER", [r.rcpt], `already in the mailbox ${r.mailbox} (delivered before a crash, not delivered again)`);
            continue;
          }
          if (!discard) await this.deliverOne(envelope, r, message, tag);
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
        return { alreadyDelivered, done: false };
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
    return { alreadyDelivered, done: true };
  }

  private alreadyIn(index: DeliveredIndex, r: { mailbox: string }, tag: string): Promise<boolean> {
    const at = r.mailbox.lastIndexOf("@");
    return index.has(r.mailbox.slice(at + 1).toLowerCase(), r.mailbox.slice(0, at), tag);
  }

  private async deliverOne(envelope: SpoolEnvelope, r: { rcpt: string; mailbox: string }, message: Buffer, tag: string): Promise<void> {
    const at = r.mailbox.lastIndexOf("@");
    const prepend = Buffer.from(`Return-Path: <${envelope.mailFrom}>\r\nDelivered-To: ${r.rcpt}\r\n`, "utf8");
    await deliverToMaildir(this.opts.maildirRoot, r.mailbox.slice(at + 1).toLowerCase(), r.mailbox.slice(0, at), message, { prepend, tag });
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
