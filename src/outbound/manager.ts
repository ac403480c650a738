// The outbound queue manager: one per server, in the process that owns the
// admin endpoint. It takes due recipients from the outbound queue
// (queue/outbound-store.ts), one next-hop domain at a time, routes them
// (policy/outbound.ts: the send connector, or why a partner's mail is held),
// finds the hosts (DNS or smart hosts), opens sessions (smtp/send/session.ts),
// and for a Domain Security partner lets no mail command out before the
// trust layer has accepted the server's certificate for the recipient
// domain. Results go back into the queue: delivered or failed recipients
// leave it, the others wait for the schedule (queue/schedule.ts). Reports
// (dsn/report.ts) go to the sender: into a local mailbox, or out through
// this same queue.
import { domainOf } from "../message/address.js";
import { randomBytes } from "node:crypto";
import type { ServerContext } from "../admin/context.js";
import { prependFields } from "../message/headers.js";
import { createResolver, type MailResolver } from "../dns/resolver.js";
import { outboundMetrics } from "../metrics/counters.js";
import { defaultPartnerOptions } from "../org/store.js";
import { INVALID_QUEUE_PREFIX } from "../queue/outbound-store.js";
import { planOutbound, type OutboundPlan, type Route } from "../policy/outbound.js";
import { certificateLogLines, type ProtocolLog } from "../protolog/protocol-log.js";
import type { MessageTracking, TrackingEvent } from "../protolog/tracking.js";
import { parseCert } from "../pki/trust/parsed.js";
import { certificateNames } from "../pki/certs.js";
import type { Verdict } from "../pki/trust/verdict.js";
import type { OutboundStore, QueuedMessage, QueuedRecipient } from "../queue/outbound-store.js";
import { delayNoticeDue, isExpired, nextQueueAttempt, expiresAt, type RetrySettings } from "../queue/schedule.js";
import type { SpoolEnvelope } from "../queue/spool.js";
import { SendSession, SessionError, type SendLogEvent } from "../smtp/send/session.js";
import { Reports } from "./reports.js";
import { targetsFor, type Target, type TargetsResult } from "./hosts.js";
import { logVerdictWarnings } from "../log/throttle.js";
import { failure, type DeliveryFailure } from "../queue/delivery-failure.js";
import { sessionRequirements } from "./requirements.js";

/** The server-level settings the manager reads before each pass (Set-TransportServer). */
export interface OutboundSettings {
  externalDnsServers: string[];
  retry: RetrySettings;
  maxOutboundConnections: number;
  maxPerDomainOutboundConnections: number;
  /** Non-partner mail: a failed STARTTLS handshake may be retried in clear. */
  plaintextFallback: boolean;
}

export interface OutboundManagerOptions {
  ctx: ServerContext;
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


/** What a look at one host found (Test-Mailflow shows these). */
export interface HostAttempt {
  host: string;
  address: string;
  port: number;
  /** "ok", or where it failed. */
  stage: "ok" | "connect" | "starttls" | "tls" | "protocol" | "not-encrypted" | "certificate";
  error?: string;
  tls?: { protocol: string; cipher: string; peerCertificates: Buffer[] };
  verdict?: Verdict;
}

/** Extra eyes on connect(): the transcript and each host's outcome. */
export interface ConnectObserver {
  transcript?: (event: SendLogEvent, data: string, context?: string) => void;
  attempts?: HostAttempt[];
}

/** A session ready for mail. */
export interface Verified {
  /** The send connector the session belongs to. */
  connector?: string;
  /** We presented a certificate in this session. */
  presented?: boolean;
  /** Whether the server's chain verified (role server), for Exchange's marks; computed on first need. */
  chainVerified?: Promise<boolean>;
  session: SendSession;
  target: Target;
  address: string;
  verdict?: Verdict;
  sessionId: string;
}

const MAX_BATCH = 500;



export class OutboundManager {
  private readonly active = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private stopping = false;
  private connections = 0;
  private lastVersion = -1;
  private readonly held = new Set<string>();
  private ticking = false;
  private nudged = false;
  private again = false;
  /** Our TLS credentials per FQDN, for a few seconds (reading them parses every stored certificate). */
  private readonly creds = new Map<string, { at: number; value: { thumbprint: string; key: string; cert: string } | undefined }>();
  /** The send connector each queue last routed to (for tracking events without a session). */
  private readonly lastConnector = new Map<string, string>();

  private readonly reports: Reports;

  constructor(private readonly opts: OutboundManagerOptions) {
    this.reports = new Reports(opts);
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
        await this.fail(m, m.recipients, failure("admin-removed", "5.0.0", "the message was removed from the queue by an administrator"), undefined);
      }
      const settings = this.opts.settings();
      const due = this.opts.store.dueDomains(Date.now());
      for (const domain of due) {
        if (this.active.has(domain)) continue;
        if (this.connections >= settings.maxOutboundConnections) break;
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

  private credentialsFor(fqdn: string): { thumbprint: string; key: string; cert: string } | undefined {
    const hit = this.creds.get(fqdn);
    if (hit && Date.now() - hit.at < 5000) return hit.value;
    const value = this.opts.ctx.certs.tlsCredentialsFor(fqdn, this.opts.ctx.now());
    this.creds.set(fqdn, { at: Date.now(), value });
    return value;
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
        await this.fail(m, m.recipients, failure("expired", "5.4.7", `expired after ${Math.round(retry.messageExpirationTimeoutMs / 60000)} minute(s); last error: ${reason}`, { last }), undefined);
        continue;
      }
      if (delayNoticeDue(state, now, retry)) await this.delayNotice(m, retry);
      live.push(m);
    }
    messages = live;
    if (messages.length === 0) return;

    if (domain.startsWith(INVALID_QUEUE_PREFIX)) {
      // Never routed: a name that is not a valid domain could reach DNS or a list only in some other spelling.
      for (const m of messages) await this.fail(m, m.recipients, failure("invalid-domain", "5.1.2", `the recipient domain ${domain.slice(INVALID_QUEUE_PREFIX.length)} is not a valid domain name`), undefined);
      return;
    }
    const [settingsOrg, connectors] = await Promise.all([ctx.org.getSettings(), ctx.org.listSendConnectors()]);
    const plan = planOutbound(domain, settingsOrg.tlsSendDomainSecureList, connectors, ctx.serverName);
    if (plan.kind === "held") this.lastConnector.set(domain, plan.connector);
    else if (plan.kind !== "no-route") this.lastConnector.set(domain, plan.route.connector.name);
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
      for (const m of messages) await this.fail(m, m.recipients, failure(targets.failure, targets.status, targets.reason), undefined);
      return;
    }
    if (targets.kind === "temporary") {
      this.queueFailure(domain, messages, failure("dns", "4.4.3", targets.reason), retry, "dns");
      return;
    }

    const first = await this.connect(domain, plan, targets.targets, settings);
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
    const maxLanes = (): number => Math.max(1, Math.min(settings.maxPerDomainOutboundConnections, settings.maxOutboundConnections - this.connections + lanesOpen));
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
          const ok = await this.sendMessage(v, m, plan.route, partner, retry);
          inFlight.delete(m.id);
          // The session broke: this lane ends; what is left goes on the others, or waits for the next pass.
          if (!ok) break;
        }
      } finally {
        lanesOpen--;
        v.session.close();
        this.connections--;
      }
    };
    // Every lane and every session being opened, so the pass ends only when all have.
    const tasks: Array<Promise<void>> = [];
    let opening = 0;
    const openLane = async (): Promise<void> => {
      opening++;
      try {
        const more = await this.connect(domain, plan, [{ ...first.target, addresses: [first.address] }], settings);
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
      this.track(m, "DEFER", m.recipients.map((r) => r.address), why.text);
    }
  }

  /** The hosts for this domain's mail on this route (hosts.ts), with this server's DNS servers. */
  targets(domain: string, route: Route, settings: OutboundSettings): Promise<TargetsResult> {
    const resolver = (this.opts.resolver ?? ((s: string[]) => createResolver(s.length > 0 ? s : undefined, { timeoutMs: 5000, tries: 2 })))(settings.externalDnsServers);
    return targetsFor(domain, route, resolver);
  }

  /**
   * Tries the hosts in order until one gives a session fit for this mail:
   * for a partner, TLS with our certificate presented and the server's
   * certificate accepted for the domain. Each failing host of a partner
   * counts once as a Domain-Secured Outbound Session Failure.
   */
  async connect(domain: string, plan: Extract<OutboundPlan, { kind: "domain-secure" | "opportunistic" }>, targets: Target[], settings: OutboundSettings, observe: ConnectObserver = {}): Promise<Verified | { failure: DeliveryFailure }> {
    const { ctx } = this.opts;
    const c = plan.route.connector;
    const partner = plan.kind === "domain-secure" ? plan.partner : undefined;
    const creds = this.credentialsFor(c.fqdn ?? ctx.serverName);
    const options = partner ? ((await ctx.org.getPartner(partner)) ?? defaultPartnerOptions(partner)) : undefined;
    const req = sessionRequirements({
      domain,
      partner: partner && options ? { entry: partner, options } : undefined,
      connector: c,
      serverName: ctx.serverName,
      certificate: creds?.thumbprint,
      plaintextFallback: settings.plaintextFallback,
    });
    const failures: DeliveryFailure[] = [];
    if (req.kind === "refuse") {
      if (partner) outboundMetrics.domainSecuredOutboundFailures.inc({ partner });
      return { failure: failure(req.check === "connector" ? "held" : "domain-security", req.check === "connector" ? "4.3.5" : "4.7.10", req.reason, { check: req.check }) };
    }
    const fqdn = req.ehloName;
    const tlsMode = req.tls;
    const verify = req.verifyPeer;
    const timeoutMs = this.opts.sessionTimeoutMs ?? Math.max(1, c.connectionInactivityTimeout) * 1000;
    for (const t of targets) {
      let hostFailure: DeliveryFailure | undefined;
      for (const address of t.addresses) {
        const sessionId = randomBytes(8).toString("hex").toUpperCase();
        const toLog = this.sessionLog(c.name, c.protocolLoggingLevel === "Verbose", sessionId, `${address}:${t.port}`);
        const log = (e: SendLogEvent, d: string, cx?: string) => {
          toLog(e, d, cx);
          observe.transcript?.(e, d, cx);
        };
        const attempt: HostAttempt = { host: t.name, address, port: t.port, stage: "ok" };
        observe.attempts?.push(attempt);
        let session: SendSession;
        this.connections++;
        try {
          session = await this.open({ address, target: t, fqdn, tlsMode, creds: req.presentCertificate !== undefined ? creds : undefined, timeoutMs, log }, req.plaintextFallback);
        } catch (e) {
          this.connections--;
          const err = e as SessionError;
          attempt.stage = err.stage ?? "connect";
          attempt.error = err.message;
          const stage = err.stage ?? "connect";
          const text = `${t.name}[${address}]: ${stage === "starttls" && verify ? "STARTTLS is not available" : err.stage}: ${err.message}`;
          const tlsStage = stage === "starttls" || stage === "tls";
          hostFailure = failure(!tlsStage ? "connection" : verify ? "domain-security" : "tls-required", !tlsStage ? "4.4.1" : "4.7.10", text, { check: stage, host: t.name });
          continue;
        }
        const facts = session.tls;
        if (facts) {
          // The certificate rows are protocol log lines: no work when nobody reads them.
          if (c.protocolLoggingLevel === "Verbose" || observe.transcript) this.logTls(log, facts, creds?.thumbprint);
          attempt.tls = facts;
        }
        if (!facts && req.requireEncrypted) {
          session.close();
          this.connections--;
          attempt.stage = "not-encrypted";
          hostFailure = failure("domain-security", "4.7.10", `${t.name}[${address}]: the session is not encrypted`, { check: "not-encrypted", host: t.name });
          continue;
        }
        if (!verify || !facts) return { session, target: t, address, sessionId, connector: c.name, presented: req.presentCertificate !== undefined };
        const engine = await ctx.trust();
        const o = verify.options;
        const verdict = await engine.verifyForDomain(facts.peerCertificates, verify.domain, o, { role: "server", revocationMode: o.revocationMode, allowWeakCrypto: o.allowWeakCrypto });
        log("*", `${verdict.ok ? "verified" : "refused"} ${verdict.code}: ${verdict.reason}`, "Domain security");
        // Accepted with a warning (the weak-crypto floor, revocation unknown under Soft): logged, never silent.
        for (const w of verdict.warnings) log("*", `warning: ${w}`, "Domain security");
        logVerdictWarnings(this.opts.log, `outbound: Domain Security partner ${verify.partner} (${t.name}[${address}])`, verdict.warnings);
        attempt.verdict = verdict;
        if (!verdict.ok) {
          attempt.stage = "certificate";
          attempt.error = `${verdict.code}: ${verdict.reason}`;
          session.close();
          this.connections--;
          hostFailure = failure("certificate", "4.7.5", `${t.name}[${address}]: the server's certificate failed ${verdict.code}: ${verdict.reason}`, { check: verdict.code, host: t.name });
          // Another address of the same host presents the same certificate: go on with the next host.
          break;
        }
        return { session, target: t, address, verdict, sessionId, connector: c.name, presented: true };
      }
      if (hostFailure) {
        failures.push(hostFailure);
        if (partner) outboundMetrics.domainSecuredOutboundFailures.inc({ partner });
        outboundMetrics.sessionFailures.inc({ reason: partner ? "domain-security" : "connection" });
      }
    }
    return { failure: combineHostFailures(failures, domain) };
  }

  private async open(
    a: { address: string; target: Target; fqdn: string; tlsMode: "required" | "opportunistic" | "none"; creds?: { key: string; cert: string } | undefined; timeoutMs: number; log: (e: SendLogEvent, d: string, ctx?: string) => void },
    fallback: boolean,
  ): Promise<SendSession> {
    const base = { host: a.address, port: a.target.port, serverName: a.target.name, ehloName: a.fqdn, timeoutMs: a.timeoutMs, log: a.log, ...(a.creds ? { credentials: { key: a.creds.key, cert: a.creds.cert } } : {}) };
    try {
      return await SendSession.open({ ...base, tls: a.tlsMode });
    } catch (e) {
      if (fallback && e instanceof SessionError && e.stage === "tls") {
        a.log("*", "TLS handshake failed; retrying without TLS (PlaintextFallback)");
        return SendSession.open({ ...base, tls: "none" });
      }
      throw e;
    }
  }

  private sessionLog(connector: string, verbose: boolean, sessionId: string, remote: string): (e: SendLogEvent, d: string, context?: string) => void {
    let seq = 0;
    return (event, data, context) => {
      if (!verbose) return;
      this.opts.protocolLog.write({ connector, sessionId, sequence: seq++, local: "", remote, event, data, ...(context !== undefined ? { context } : {}) });
    };
  }

  private logTls(log: (e: SendLogEvent, d: string, c?: string) => void, facts: { protocol: string; cipher: string; peerCertificates: Buffer[] }, ownThumb: string | undefined): void {
    log("*", `TLS protocol ${facts.protocol} cipher ${facts.cipher}`, "TLS");
    const own = ownThumb ? this.opts.ctx.certs.get(ownThumb) : undefined;
    if (own) {
      for (const row of certificateLogLines("Sending certificate", { subject: own.subject, issuer: own.issuer, serialNumber: own.serialNumber, thumbprint: own.thumbprint, names: own.certificateDomains })) log("*", row.data, row.context);
    }
    const leaf = facts.peerCertificates[0];
    if (leaf) {
      try {
        const p = parseCert(leaf);
        for (const row of certificateLogLines("Received certificate", { subject: p.subject, issuer: p.issuer, serialNumber: p.serial, thumbprint: p.sha1, names: certificateNames(p.dnsNames, p.commonName) })) log("*", row.data, row.context);
      } catch {
        log("*", "Received certificate: (unreadable)");
      }
    }
  }

  /** Sends one message's recipients for this domain; false when the session broke. */
  private async sendMessage(v: Verified, m: QueuedMessage, route: Route, partner: string | undefined, retry: RetrySettings): Promise<boolean> {
    const { store } = this.opts;
    let body = store.body(m.id);
    if (!body) return true; // removed meanwhile (Remove-Message)
    const env = m.envelope;
    body = await this.withExchangeMarks(v, route, env, body);
    if (body.length > route.connector.maxMessageSize) {
      await this.fail(m, m.recipients, failure("too-large", "5.3.4", `the message (${body.length} bytes) is larger than the send connector ${route.connector.name} allows (${route.connector.maxMessageSize} bytes)`), undefined);
      return true;
    }
    // One transaction per distinct NOTIFY/ORCPT (the library sends one set per envelope).
    const groups = new Map<string, QueuedRecipient[]>();
    for (const r of m.recipients) {
      const key = `${r.notify?.join(",") ?? ""}\u0000${r.orcpt ?? ""}`;
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    const remoteMta = `dns; ${v.target.name}`;
    for (const group of groups.values()) {
      const g0 = group[0] as QueuedRecipient;
      let result;
      try {
        result = await v.session.send(
          {
            from: env.mailFrom,
            to: group.map((r) => r.address),
            size: body.length,
            eightBit: env.mailParams.body === "8BITMIME",
            dsn: {
              ...(env.mailParams.ret ? { ret: env.mailParams.ret } : {}),
              ...(env.mailParams.envid ? { envid: env.mailParams.envid } : {}),
              ...(g0.notify ? { notify: g0.notify } : {}),
              ...(g0.orcpt ? { orcpt: g0.orcpt } : {}),
            },
          },
          body,
        );
      } catch (e) {
        const at = Date.now();
        store.deferred(m.id, group.map((r) => r.address), at, at + retry.transientFailureRetryIntervalMs, failure("session-broken", "4.4.2", `${v.target.name}: ${(e as Error).message}`, { host: v.target.name }));
        this.track(m, "DEFER", group.map((r) => r.address), `${v.target.name}: ${(e as Error).message}`);
        outboundMetrics.deferred.inc({ reason: "session" });
        return false;
      }
      const sent = result.recipients.filter((r) => r.ok).map((r) => r.address);
      const permanent = result.recipients.filter((r) => !r.ok && (r.code ?? 400) >= 500);
      const temporary = result.recipients.filter((r) => !r.ok && (r.code ?? 400) < 500);
      if (sent.length > 0) {
        store.complete(m.id, sent);
        outboundMetrics.sent.inc({ connector: route.connector.name });
        if (partner) outboundMetrics.domainSecuredSent.inc({ partner });
        this.track(m, "SEND", sent, `${result.response}`, v);
      }
      if (permanent.length > 0) {
        const recips = group.filter((r) => permanent.some((p) => p.address === r.address));
        const first = permanent[0] as { response: string };
        const status = /\b([45]\.\d{1,3}\.\d{1,3})\b/.exec(first.response)?.[1]?.replace(/^4/, "5") ?? "5.0.0";
        await this.fail(m, recips, failure("refused-by-peer", status, `${v.target.name} answered: ${first.response}`, { host: v.target.name }), remoteMta, permanent);
      }
      if (temporary.length > 0) {
        const at = Date.now();
        for (const t of temporary) {
          const status = /\b(4\.\d{1,3}\.\d{1,3})\b/.exec(t.response)?.[1] ?? "4.0.0";
          const why = failure("deferred-by-peer", status, `${v.target.name} answered: ${t.response}`, { host: v.target.name });
          store.deferred(m.id, [t.address], at, Math.min(at + retry.messageRetryIntervalMs, expiresAt({ arrivedAt: m.arrivedAt, attempts: 0, delayNotified: false }, retry).getTime()), why);
        }
        outboundMetrics.deferred.inc({ reason: "remote" });
        this.track(m, "DEFER", temporary.map((t) => t.address), `${v.target.name} answered: ${(temporary[0] as { response: string }).response}`, v);
      }
      try {
        await v.session.reset();
      } catch {
        return false;
      }
    }
    return true;
  }

  /**
   * Exchange's Domain Secured marks, for an internal Exchange organization
   * reached over mutual TLS (the connector's ExchangeOrganizationMarks): only
   * on a message that arrived domain-secured, only when we presented our
   * certificate and the next hop's chain verified. The receive path removes
   * every X-MS-Exchange-Organization-* field from what arrives, so these
   * are always ours.
   */
  private async withExchangeMarks(v: Verified, route: Route, env: SpoolEnvelope, body: Buffer): Promise<Buffer> {
    if (route.connector.exchangeOrganizationMarks !== true || env.verdict?.verdict !== "domain-secured" || !env.verdict.partner) return body;
    const facts = v.session.tls;
    if (!facts || !v.presented) return body;
    v.chainVerified ??= this.opts.ctx
      .trust()
      .then((engine) => engine.verify(facts.peerCertificates, { role: "server", revocationMode: "Soft" }))
      .then((verdict) => verdict.ok)
      .catch(() => false);
    if (!(await v.chainVerified)) return body;
    const domain = env.mailFrom === "" ? env.verdict.partner : env.mailFrom.slice(env.mailFrom.lastIndexOf("@") + 1).toLowerCase();
    return prependFields(body, ["X-MS-Exchange-Organization-AuthAs: Partner\r\n", `X-MS-Exchange-Organization-AuthDomain: ${domain}\r\n`]);
  }

  /** Recipients failed for good: a non-delivery report (as their NOTIFY asks), then out of the queue. */
  private async fail(m: QueuedMessage, recips: QueuedRecipient[], why: DeliveryFailure, remoteMta: string | undefined, replies?: Array<{ address: string; response: string }>): Promise<void> {
    await this.reports.failure(m, recips, why, remoteMta, replies);
    this.opts.store.complete(m.id, recips.map((r) => r.address));
    outboundMetrics.bounced.inc();
    this.track(m, "FAIL", recips.map((r) => r.address), why.text);
  }

  private async delayNotice(m: QueuedMessage, retry: RetrySettings): Promise<void> {
    await this.reports.delay(m, retry);
    this.opts.store.markDelayNotified(m.id, m.recipients.map((r) => r.address));
  }

  private track(m: QueuedMessage, eventId: TrackingEvent["eventId"], recipients: string[], detail: string, v?: Verified): void {
    const facts = v?.session.tls;
    let tls: TrackingEvent["tls"];
    if (facts) {
      tls = { protocol: facts.protocol, cipher: facts.cipher };
      const leaf = facts.peerCertificates[0];
      if (leaf) {
        try {
          const p = parseCert(leaf);
          tls = { ...tls, certSubject: p.subject, certIssuer: p.issuer, certThumbprint: p.sha1 };
        } catch {
          // unreadable: the facts without the certificate
        }
      }
    }
    this.opts.tracking.write({
      eventId,
      messageId: m.messageId,
      internalId: m.id,
      sender: m.envelope.mailFrom,
      recipients,
      connector: v?.connector ?? this.lastConnector.get(m.domain) ?? "",
      sessionId: v?.sessionId ?? "",
      serverHostname: this.opts.ctx.serverName,
      clientIp: v ? v.address : "",
      ...(tls ? { tls } : {}),
      ...(v?.verdict ? { domainSecure: { verdict: v.verdict.ok ? "domain-secured" : v.verdict.code, partner: domainOf(recipients[0] ?? ""), reason: v.verdict.reason } } : {}),
      detail,
    });
  }
}

/** Which host failure speaks for the attempt: a refused certificate, then Domain Security, then TLS, then the connection. */
const HOST_FAILURE_ORDER: ReadonlyArray<DeliveryFailure["kind"]> = ["certificate", "domain-security", "tls-required", "connection"];

/** Every host failed: one failure whose kind is the most telling host's, with every host's text. */
export function combineHostFailures(failures: DeliveryFailure[], domain: string): DeliveryFailure {
  if (failures.length === 0) return failure("connection", "4.4.1", `no host to connect to for ${domain}`);
  const lead = [...failures].sort((a, b) => HOST_FAILURE_ORDER.indexOf(a.kind) - HOST_FAILURE_ORDER.indexOf(b.kind))[0] as DeliveryFailure;
  return failure(lead.kind, lead.status, failures.map((f) => f.text).join("; "), { check: lead.check, host: lead.host });
}
