// Admin API: this server's outbound queues and the messages in them
// (Get-Queue, Get-Message, Retry-Queue, Suspend-Queue, Resume-Queue,
// Remove-Message). Works on DIR/queue/outbound.db directly, so it answers
// whether the server is running or not; the running queue manager sees each
// change at its next look (within a quarter of a second).
//
// Identities follow Exchange: a queue is "<server>\<next-hop domain>" or just
// the domain; a message is "<server>\<domain>\<id>", "<domain>\<id>" or the id
// alone (every queue it is in).
import { SealpostError } from "../errors/errors.js";
import { OutboundStore, type QueuedMessage, type QueueRow } from "../queue/outbound-store.js";
import type { ServerContext } from "./context.js";

export interface QueueView {
  Identity: string;
  NextHopDomain: string;
  DeliveryType: string;
  Status: string;
  MessageCount: number;
  LastError: string;
  LastRetryTime: string | null;
  NextRetryTime: string | null;
  ConsecutiveFailures: number;
}

export interface MessageView {
  Identity: string;
  FromAddress: string;
  Recipients: string[];
  Status: string;
  Size: number;
  Subject: string;
  InternetMessageId: string;
  DateReceived: string;
  Queue: string;
  RetryCount: number;
  LastError: string;
  NextRetryTime: string | null;
}

export class QueueAdmin {
  private store?: OutboundStore;

  constructor(private readonly ctx: ServerContext) {}

  private get s(): OutboundStore {
    this.store ??= OutboundStore.inDataDir(this.ctx.dir.root);
    return this.store;
  }

  /** "<server>\<domain>" or "<domain>" → the domain; NOT_FOUND for another server. */
  private queueDomain(identity: string): string {
    const parts = identity.trim().split("\\");
    if (parts.length > 2 || parts.some((p) => p === "")) throw new SealpostError("INVALID_ARGUMENT", `"${identity}" is not a queue identity: give <server>\\<next-hop domain> or the domain.`);
    if (parts.length === 2) this.checkServer(parts[0] as string);
    return (parts[parts.length - 1] as string).toLowerCase();
  }

  private checkServer(server: string): void {
    const me = this.ctx.serverName.toLowerCase();
    const s = server.toLowerCase();
    if (s !== me && s !== me.split(".")[0]) throw new SealpostError("NOT_FOUND", `This is ${this.ctx.serverName}; queues of ${server} are managed on that server.`);
  }

  private view(q: QueueRow): QueueView {
    return {
      Identity: `${this.ctx.serverName}\\${q.domain}`,
      NextHopDomain: q.domain,
      DeliveryType: "DnsConnectorDelivery",
      Status: q.state,
      MessageCount: q.messageCount,
      LastError: q.lastFailure?.text ?? "",
      LastRetryTime: q.lastAttemptAt?.toISOString() ?? null,
      NextRetryTime: q.state === "Retry" ? (q.nextRetryAt?.toISOString() ?? null) : null,
      ConsecutiveFailures: q.consecutiveFailures,
    };
  }

  listQueues(identity?: string): QueueView[] {
    const all = this.s.listQueues().filter((q) => q.messageCount > 0 || q.state !== "Ready");
    if (identity === undefined) return all.map((q) => this.view(q));
    const d = this.queueDomain(identity);
    const q = this.s.listQueues().find((x) => x.domain === d);
    if (!q) throw new SealpostError("NOT_FOUND", `There is no queue for ${d} on ${this.ctx.serverName}.`);
    return [this.view(q)];
  }

  private messageView(m: QueuedMessage, queue: QueueRow | undefined): MessageView {
    const last = m.recipients.map((r) => r.lastFailure?.text ?? "").find((e) => e !== "") ?? "";
    const next = Math.min(...m.recipients.map((r) => r.nextAttemptAt.getTime()));
    return {
      Identity: `${this.ctx.serverName}\\${m.domain}\\${m.id}`,
      FromAddress: m.envelope.mailFrom === "" ? "<>" : m.envelope.mailFrom,
      Recipients: m.recipients.map((r) => r.address),
      Status: queue?.state === "Suspended" ? "Suspended" : last !== "" ? "Retry" : "Ready",
      Size: m.size,
      Subject: m.subject,
      InternetMessageId: m.messageId,
      DateReceived: m.arrivedAt.toISOString(),
      Queue: `${this.ctx.serverName}\\${m.domain}`,
      RetryCount: Math.max(0, ...m.recipients.map((r) => r.attempts)),
      LastError: last,
      NextRetryTime: Number.isFinite(next) && next > 0 ? new Date(next).toISOString() : null,
    };
  }

  /** Messages, in one queue (-Queue) or by identity (-Identity), or all. */
  listMessages(opts: { queue?: string; identity?: string } = {}): MessageView[] {
    const queues = new Map(this.s.listQueues().map((q) => [q.domain, q]));
    let msgs: QueuedMessage[];
    if (opts.identity !== undefined) {
      msgs = this.findMessages(opts.identity);
    } else if (opts.queue !== undefined) {
      const d = this.queueDomain(opts.queue);
      if (!queues.has(d)) throw new SealpostError("NOT_FOUND", `There is no queue for ${d} on ${this.ctx.serverName}.`);
      msgs = this.s.messagesIn(d);
    } else {
      msgs = this.s.allMessages();
    }
    return msgs.map((m) => this.messageView(m, queues.get(m.domain)));
  }

  private findMessages(identity: string): QueuedMessage[] {
    const parts = identity.trim().split("\\");
    if (parts.length > 3 || parts.some((p) => p === "")) throw new SealpostError("INVALID_ARGUMENT", `"${identity}" is not a message identity: give <server>\\<queue>\\<id>, <queue>\\<id> or the id.`);
    if (parts.length === 3) this.checkServer(parts[0] as string);
    const id = (parts[parts.length - 1] as string).toLowerCase();
    if (!/^[0-9a-f]{16,40}$/.test(id)) throw new SealpostError("INVALID_ARGUMENT", `"${id}" is not a message id (Get-Message shows them).`);
    const domain = parts.length >= 2 ? (parts[parts.length - 2] as string).toLowerCase() : undefined;
    const found = this.s.message(id).filter((m) => domain === undefined || m.domain === domain);
    if (found.length === 0) throw new SealpostError("NOT_FOUND", `No queued message has the identity ${identity}.`);
    return found;
  }

  /** Retry-Queue: connect now. */
  retryQueue(identity: string): QueueView {
    const d = this.queueDomain(identity);
    const q = this.s.listQueues().find((x) => x.domain === d);
    if (!q) throw new SealpostError("NOT_FOUND", `There is no queue for ${d} on ${this.ctx.serverName}.`);
    if (q.state === "Suspended") throw new SealpostError("INVALID_ARGUMENT", `The queue ${d} is suspended: Resume-Queue it first.`);
    this.s.retryNow(d);
    return this.view(this.s.getQueue(d) as QueueRow);
  }

  suspendQueue(identity: string): QueueView {
    return this.setSuspended(identity, true);
  }

  resumeQueue(identity: string): QueueView {
    return this.setSuspended(identity, false);
  }

  private setSuspended(identity: string, suspended: boolean): QueueView {
    const d = this.queueDomain(identity);
    if (!this.s.getQueue(d)) throw new SealpostError("NOT_FOUND", `There is no queue for ${d} on ${this.ctx.serverName}.`);
    this.s.setSuspended(d, suspended);
    if (!suspended) this.s.retryNow(d);
    return this.view(this.s.getQueue(d) as QueueRow);
  }

  /**
   * Remove-Message: without a report the recipients leave the queue now;
   * with one (-WithNDR) the queue manager returns them to the sender with a
   * non-delivery report at its next look.
   */
  removeMessage(identity: string, withNdr: boolean): MessageView[] {
    const found = this.findMessages(identity);
    const queues = new Map(this.s.listQueues().map((q) => [q.domain, q]));
    const views = found.map((m) => this.messageView(m, queues.get(m.domain)));
    for (const m of found) {
      const addrs = m.recipients.map((r) => r.address);
      if (withNdr) this.s.requestRemoval(m.id, addrs);
      else this.s.complete(m.id, addrs);
    }
    return views;
  }

  close(): void {
    this.store?.close();
    delete this.store;
  }
}
