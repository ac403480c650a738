// The reports the queue manager sends: RFC 3464 non-delivery and delay
// reports (dsn/report.ts builds them) to the original sender, into a local
// mailbox or out through the outbound queue, with a DSN tracking event.
import { addressDomain } from "../message/address.js";
import { acceptedDomainFor, mailboxFor } from "../policy/recipient.js";
import type { OutboundContext } from "./context.js";
import { deliverToMaildir } from "../delivery/maildir.js";
import { buildDsn, type DsnRecipient } from "../dsn/report.js";
import type { MessageTracking } from "../protolog/tracking.js";
import type { OutboundStore, QueuedMessage, QueuedRecipient } from "../queue/outbound-store.js";
import { expiresAt, type RetrySettings } from "../queue/schedule.js";
import { newMessageId, type SpoolEnvelope } from "../queue/spool.js";
import { isDomainSecurityFailure, type DeliveryFailure } from "../queue/delivery-failure.js";

/**
 * The report's Diagnostic-Code for a failure: the next hop's own reply when
 * there is one ("smtp; ..."), else by the failure's kind: a Domain Security
 * or TLS failure (also the one a message expired with) is
 * "x-domain-security", everything else "x-sealpost".
 */
export function diagnosticFor(why: DeliveryFailure, reply?: string): string {
  if (reply !== undefined) return `smtp; ${reply}`;
  return `${isDomainSecurityFailure(why) ? "x-domain-security" : "x-sealpost"}; ${why.text}`;
}


/** The per-recipient fields of a non-delivery report: status and diagnostic from the failure (or the next hop's reply). */
export function failureRecipients(recips: QueuedRecipient[], why: DeliveryFailure, remoteMta: string | undefined, replies?: Array<{ address: string; response: string }>): DsnRecipient[] {
  return recips.map((r) => {
    const reply = replies?.find((x) => x.address === r.address);
    return {
      address: r.address,
      ...(r.orcpt ? { orcpt: r.orcpt } : {}),
      ...(r.notify ? { notify: r.notify as DsnRecipient["notify"] } : {}),
      status: why.status,
      action: "failed",
      diagnostic: diagnosticFor(why, reply?.response),
      ...(remoteMta ? { remoteMta } : {}),
      ...(r.lastAttemptAt ? { lastAttemptAt: r.lastAttemptAt } : {}),
    };
  });
}

export class Reports {
  constructor(private readonly opts: { ctx: Pick<OutboundContext, "org" | "serverName" | "dir">; store: OutboundStore; tracking: MessageTracking; log: (line: string) => void }) {}

  /** A non-delivery report for these recipients (those whose NOTIFY asks for one). */
  async failure(m: QueuedMessage, recips: QueuedRecipient[], why: DeliveryFailure, remoteMta: string | undefined, replies?: Array<{ address: string; response: string }>): Promise<void> {
    const body = this.opts.store.body(m.id) ?? Buffer.alloc(0);
    const dsnRecipients = failureRecipients(recips, why, remoteMta, replies);
    await this.send(m, body, "failure", dsnRecipients, why.text, new Date());
  }

  /** A delay report for the message's recipients in this queue. */
  async delay(m: QueuedMessage, retry: RetrySettings): Promise<void> {
    const body = this.opts.store.body(m.id) ?? Buffer.alloc(0);
    const until = expiresAt({ arrivedAt: m.arrivedAt, attempts: 0, delayNotified: false }, retry);
    const recips: DsnRecipient[] = m.recipients.map((r) => ({
      address: r.address,
      ...(r.orcpt ? { orcpt: r.orcpt } : {}),
      ...(r.notify ? { notify: r.notify as DsnRecipient["notify"] } : {}),
      status: "4.4.7",
      action: "delayed",
      ...(r.lastFailure ? { diagnostic: diagnosticFor(r.lastFailure) } : {}),
      ...(r.lastAttemptAt ? { lastAttemptAt: r.lastAttemptAt } : {}),
      willRetryUntil: until,
    }));
    await this.send(m, body, "delay", recips, m.recipients[0]?.lastFailure?.text || "delivery is delayed", new Date());
  }

  private async send(m: QueuedMessage, body: Buffer, kind: "failure" | "delay", recipients: DsnRecipient[], reason: string, now: Date): Promise<void> {
    const env = m.envelope;
    const dsn = buildDsn({
      kind,
      reportingMta: this.opts.ctx.serverName,
      originalSender: env.mailFrom,
      ...(env.mailParams.envid ? { envid: env.mailParams.envid } : {}),
      ...(env.mailParams.ret === "FULL" || env.mailParams.ret === "HDRS" ? { ret: env.mailParams.ret } : {}),
      arrivalDate: m.arrivedAt,
      now,
      recipients,
      originalMessage: body,
      messageIdDomain: this.opts.ctx.serverName,
      humanReason: kind === "failure" ? `The reason: ${reason}` : `The reason so far: ${reason}`,
    });
    if (!dsn) return;
    await this.submit(dsn.rcptTo, dsn.message, dsn.eightBit);
    this.opts.tracking.write({
      eventId: "DSN",
      messageId: m.messageId,
      internalId: m.id,
      sender: "",
      recipients: [dsn.rcptTo],
      connector: "",
      sessionId: "",
      serverHostname: this.opts.ctx.serverName,
      clientIp: "",
      detail: `${kind === "failure" ? "non-delivery" : "delay"} report for ${recipients.map((r) => r.address).join(", ")}: ${reason}`,
    });
  }

  /** A message we generate (a report): into a local mailbox, or into the outbound queue. */
  private async submit(rcpt: string, message: Buffer, eightBit: boolean): Promise<void> {
    const { ctx, store } = this.opts;
    const d = addressDomain(rcpt);
    if (d.kind !== "domain") {
      this.opts.log(`outbound: a report for ${rcpt} was dropped: ${d.kind === "invalid" ? d.reason : "no domain to send it to"}`);
      return;
    }
    const domain = d.domain;
    const [domains, mailboxes] = await Promise.all([ctx.org.listAcceptedDomains(), ctx.org.listMailboxes()]);
    const accepted = acceptedDomainFor(domains, domain);
    if (accepted?.domainType === "Authoritative") {
      const known = new Set(mailboxes.map((b) => b.primarySmtpAddress.toLowerCase()));
      const mailbox = mailboxFor(accepted, rcpt, domain, (a) => known.has(a));
      if (!mailbox) {
        this.opts.log(`outbound: a report for ${rcpt} was dropped: no such mailbox`);
        return;
      }
      const at = mailbox.lastIndexOf("@");
      await deliverToMaildir(ctx.dir.maildirRoot, mailbox.slice(at + 1).toLowerCase(), mailbox.slice(0, at), message, { prepend: Buffer.from(`Return-Path: <>\r\nDelivered-To: ${rcpt}\r\n`) });
      return;
    }
    const envelope: SpoolEnvelope = {
      receivedAt: new Date().toISOString(),
      mailFrom: "",
      rcptTo: [{ address: rcpt, params: {} }],
      mailParams: { size: message.length, ...(eightBit ? { body: "8BITMIME" } : {}) },
      connector: "",
      sessionId: "",
      meta: { messageId: /^message-id:\s*(.+)$/im.exec(message.toString("latin1", 0, 4096))?.[1]?.trim() ?? "" },
    };
    store.insertAll([{ id: newMessageId(), envelope, body: message, recipients: [rcpt] }]);
  }
}
