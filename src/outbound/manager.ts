// The outbound queue manager (the scheduler): one per server, in the process
// that owns the admin endpoint. It takes due recipients from the outbound
// queue (queue/outbound-store.ts), one next-hop domain at a time: returns
// expired messages and sends delay notices, routes them (policy/outbound.ts:
// the send connector, or why a partner's mail is held, until the
// configuration changes), finds the hosts (DNS or smart hosts), and runs the
// domain's lanes: up to MaxPerDomainOutboundConnections sessions taking
// messages from one list, refilled while more is due. Opening a session and
// sending on it is the delivery of one session (delivery.ts), which lets no
// mail command out to a Domain Security partner before the trust layer has
// accepted the server's certificate for the recipient domain. What could not
// be had goes back into the queue with its DeliveryFailure and waits for the
// schedule (queue/schedule.ts).
import type { MailResolver } from "../dns/resolver.js";
import { outboundMetrics } from "../metrics/counters.js";
import { INVALID_QUEUE_PREFIX } from "../queue/outbound-store.js";
import { planOutbound, type Route } from "../policy/outbound.js";
import type { ProtocolLog } from "../protolog/protocol-log.js";
import type { MessageTracking } from "../protolog/tracking.js";
import type { OutboundStore, QueuedMessage } from "../queue/outbound-store.js";
import { delayNoticeDue, isExpired, nextQueueAttempt, expiresAt, type RetrySettings } from "../queue/schedule.js";
import { Reports } from "./reports.js";
import { defaultResolver, targetsFor, type TargetsResult } from "./hosts.js";
import { failure, type DeliveryFailure } from "../queue/delivery-failure.js";
import { SessionDelivery, type Verified } from "./delivery.js";
import type { OutboundContext, OutboundSettings } from "./context.js";


export interface OutboundManagerOptions {
  ctx: OutboundContext;
  store: OutboundStore;
  tracking: MessageTracking;
  protocolLog: ProtocolLog;
  settings: () => OutboundSettings;
  log: (line: string) => void;
  /** How often the queue is looked at, ms (default 250). */
  tickMs?: number;
  /** Replaces the DNS resolver (tests of odd DNS answers). */
  resolver?: (servers: string[]) => MailResolver;
  /** Session timeout, ms (default: the connector's ConnectionInactivityTimeOut). */
  sessionTimeoutMs?: number;
}


const MAX_BATCH = 500;



export class OutboundManager {
  private readonly active = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private stopping = false;
  private lastVersion = -1;
  private readonly held = new Set<string>();
  private ticking = false;
  private nudged = false;
  private again = false;
  private readonly reports: Reports;
  /** Opens sessions and sends on them; counts the connections open. */
  readonly delivery: SessionDelivery;

  constructor(private readonly opts: OutboundManagerOptions) {
    this.reports = new Reports(opts);
    this.delivery = new SessionDelivery({ ...opts, reports: this.reports });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 250);
    this.timer.unref();
    void this.tick();
  }

  /** New work was queued: look now rather than at the next tick (many nudges in a burst make one look). */
  nudge(): void {
    if (this.nudged) return;
    this.nudged = true;
    setImmediate(() => {
      this.nudged = false;
      if (this.ticking) this.again = true;
      else void this.tick();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.active.values()]);
  }

  /** Queues being delivered right now. */
  activeDomains(): string[] {
    return [...this.active.keys()];
  }

  private async tick(): Promise<void> {
    if (this.stopping || this.ticking) return;
    this.ticking = true;
    try {
      // A configuration change may release mail held for a configuration error: look again now.
      const version = await this.opts.ctx.org.version();
      if (version !== this.lastVersion) {
        this.lastVersion = version;
        for (const d of this.held) this.opts.store.retryNow(d);
        this.held.clear();
      }
      for (const m of this.opts.store.removalsRequested()) {
        await this.delivery.fail(m, m.recipients, failure("admin-removed", "5.0.0", "the message was removed from the queue by an administrator"), undefined);
      }
      const settings = this.opts.settings();
      const due = this.opts.store.dueDomains(Date.now());
      for (const domain of due) {
        if (this.active.has(domain)) continue;
        if (this.delivery.connections >= settings.maxOutboundConnections) break;
        const run = this.deliverDomain(domain, settings)
          .catch((e: Error) => this.opts.log(`outbound: queue ${domain}: ${e.stack ?? e.message}`))
          .finally(() => {
            this.active.delete(domain);
            this.updateGauges();
          });
        this.active.set(domain, run);
      }
    } catch (e) {
      this.opts.log(`outbound: ${(e as Error).message}`);
    } finally {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        this.nudge();
      }
    }
  }

  private updateGauges(): void {
    try {
      outboundMetrics.queueLength.reset();
      for (const q of this.opts.store.listQueues()) outboundMetrics.queueLength.set({ next_hop: q.domain }, q.messageCount);
    } catch {
      // the store is closing
    }
  }

  /** One pass over one next-hop domain's due recipients. */
  private async deliverDomain(domain: string, settings: OutboundSettings): Promise<void> {
    const { store, ctx } = this.opts;
    const now = new Date();
    const retry = settings.retry;
    let messages = store.messagesIn(domain, { dueAt: now.getTime(), limit: MAX_BATCH });
    if (messages.length === 0) return;

    // Expired messages go back to their senders; delay notices go out once.
    const live: QueuedMessage[] = [];
    for (const m of messages) {
      const state = this.retryState(m);
      if (isExpired(state, now, retry)) {
        const last = m.recipients[0]?.lastFailure;
        const reason = last?.text || "the message could not be delivered before it expired";
        await this.delivery.fail(m, m.recipients, failure("expired", "5.4.7", `expired after ${Math.round(retry.messageExpirationTimeoutMs / 60000)} minute(s); last error: ${reason}`, { last }), undefined);
        continue;
      }
      if (delayNoticeDue(state, now, retry)) await this.delayNotice(m, retry);
      live.push(m);
    }
    messages = live;
    if (messages.length === 0) return;

    if (domain.startsWith(INVALID_QUEUE_PREFIX)) {
      // Never routed: a name that is not a valid domain could reach DNS or a list only in some other spelling.
      for (const m of messages) await this.delivery.fail(m, m.recipients, failure("invalid-domain", "5.1.2", `the recipient domain ${domain.slice(INVALID_QUEUE_PREFIX.length)} is not a valid domain name`), undefined);
      return;
    }
    const [settingsOrg, connectors] = await Promise.all([ctx.org.getSettings(), ctx.org.listSendConnectors()]);
    const plan = planOutbound(domain, settingsOrg.tlsSendDomainSecureList, connectors, ctx.serverName);
    if (plan.kind === "held") this.delivery.lastConnector.set(domain, plan.connector);
    else if (plan.kind !== "no-route") this.delivery.lastConnector.set(domain, plan.route.connector.name);
    if (plan.kind === "no-route" || plan.kind === "held") {
      if (plan.kind === "held") {
        this.held.add(domain);
        outboundMetrics.held.inc({ partner: plan.partner });
        this.opts.log(`ALERT outbound: mail for ${domain} is held, not sent: ${plan.reason}`);
      }
      const f = plan.kind === "held" ? failure("held", "4.3.5", plan.reason, { check: "connector" }) : failure("no-route", "4.4.4", plan.reason);
      this.queueFailure(domain, messages, f, retry, plan.kind === "held" ? "configuration" : "routing");
      return;
    }
    const partner = plan.kind === "domain-secure" ? plan.partner : undefined;
    const targets = await this.targets(domain, plan.route, settings);
    if (targets.kind === "permanent") {
      for (const m of messages) await this.delivery.fail(m, m.recipients, failure(targets.failure, targets.status, targets.reason), undefined);
      return;
    }
    if (targets.kind === "temporary") {
      this.queueFailure(domain, messages, failure("dns", "4.4.3", targets.reason), retry, "dns");
      return;
    }

    const first = await this.delivery.connect(domain, plan, targets.targets, settings);
    if ("failure" in first) {
      this.queueFailure(domain, messages, first.failure, retry, partner ? "domain-security" : "connection");
      return;
    }
    store.queueSucceeded(domain, Date.now());
    // The sessions (lanes) take messages from one list, refilled from the queue
    // while there is more due, so a backlog that keeps arriving is sent on the
    // sessions already open instead of a new handshake per pass. A session
    // carries only this domain's mail.
    const work = [...messages];
    const inFlight = new Set(messages.map((m) => m.id));
    const maxLanes = (): number => Math.max(1, Math.min(settings.maxPerDomainOutboundConnections, settings.maxOutboundConnections - this.delivery.connections + lanesOpen));
    let lanesOpen = 0;
    const next = (): QueuedMessage | undefined => {
      if (work.length === 0 && !this.stopping) {
        for (const m of store.messagesIn(domain, { dueAt: Date.now(), limit: MAX_BATCH })) {
          if (!inFlight.has(m.id)) {
            inFlight.add(m.id);
            work.push(m);
          }
        }
      }
      return work.shift();
    };
    const runLane = async (v: Verified): Promise<void> => {
      lanesOpen++;
      try {
        for (let m = next(); m; m = next()) {
          if (work.length > 20 * lanesOpen && lanesOpen + opening < maxLanes()) spawn();
          const ok = await this.delivery.sendMessage(v, m, plan.route, partner, retry);
          inFlight.delete(m.id);
          // The session broke: this lane ends; what is left goes on the others, or waits for the next pass.
          if (!ok) break;
        }
      } finally {
        lanesOpen--;
        this.delivery.release(v);
      }
    };
    // Every lane and every session being opened, so the pass ends only when all have.
    const tasks: Array<Promise<void>> = [];
    let opening = 0;
    const openLane = async (): Promise<void> => {
      opening++;
      try {
        const more = await this.delivery.connect(domain, plan, [{ ...first.target, addresses: [first.address] }], settings);
        if (!("failure" in more)) tasks.push(runLane(more));
      } finally {
        opening--;
      }
    };
    const spawn = (): void => void tasks.push(openLane());
    tasks.push(runLane(first));
    // More sessions at once when there is a lot to send (bounded per domain and in total).
    const want = Math.min(maxLanes(), Math.ceil(messages.length / 20)) - 1;
    for (let i = 0; i < want; i++) spawn();
    for (let i = 0; i < tasks.length; i++) await tasks[i];
  }

  private retryState(m: QueuedMessage): { arrivedAt: Date; attempts: number; lastAttemptAt?: Date; delayNotified: boolean } {
    let attempts = 0;
    let last: Date | undefined;
    for (const r of m.recipients) {
      attempts = Math.max(attempts, r.attempts);
      if (r.lastAttemptAt && (!last || r.lastAttemptAt > last)) last = r.lastAttemptAt;
    }
    return { arrivedAt: m.arrivedAt, attempts, ...(last ? { lastAttemptAt: last } : {}), delayNotified: m.recipients.every((r) => r.delayNotified) };
  }

  /** No session could be had (or the mail may not leave): the queue goes into Retry, every message keeps the reason. */
  private queueFailure(domain: string, messages: QueuedMessage[], why: DeliveryFailure, retry: RetrySettings, kind: string): void {
    const { store } = this.opts;
    const at = Date.now();
    const q = store.queueState(domain);
    const next = nextQueueAttempt({ consecutiveFailures: q.consecutiveFailures + 1, lastAttemptAt: new Date(at) }, retry);
    const nextAt = next === "now" ? at : next.getTime();
    store.queueFailed(domain, at, nextAt, why);
    for (const m of messages) {
      const until = Math.min(nextAt, expiresAt({ arrivedAt: m.arrivedAt, attempts: 0, delayNotified: false }, retry).getTime());
      store.deferred(m.id, m.recipients.map((r) => r.address), at, until, why);
      outboundMetrics.deferred.inc({ reason: kind });
      this.delivery.track(m, "DEFER", m.recipients.map((r) => r.address), why.text);
    }
  }

  /** The hosts for this domain's mail on this route (hosts.ts), with this server's DNS servers. */
  targets(domain: string, route: Route, settings: OutboundSettings): Promise<TargetsResult> {
    const resolver = (this.opts.resolver ?? defaultResolver)(settings.externalDnsServers);
    return targetsFor(domain, route, resolver);
  }

  private async delayNotice(m: QueuedMessage, retry: RetrySettings): Promise<void> {
    await this.reports.delay(m, retry);
    this.opts.store.markDelayNotified(m.id, m.recipients.map((r) => r.address));
  }


}

