// The delivery of one next-hop domain's mail on sessions: open a session to
// the hosts in order as the session requirements say (requirements.ts: TLS,
// our certificate, the partner's check before any MAIL command), write the
// TLS and certificate rows of the send protocol log, run the transactions of
// a message (one per distinct NOTIFY/ORCPT) with Exchange's marks where the
// connector asks for them, and record each recipient's outcome: out of the
// queue, a non-delivery report, a retry; tracking events and counters. The
// scheduler (manager.ts) decides what is sent when; Test-Mailflow (probe.ts)
// uses connect() alone.
import { domainOf } from "../message/address.js";
import { randomBytes } from "node:crypto";
import { prependFields } from "../message/headers.js";
import { outboundMetrics } from "../metrics/counters.js";
import { defaultPartnerOptions } from "../org/store.js";
import type { OutboundPlan, Route } from "../policy/outbound.js";
import { certificateLogLines, type ProtocolLog } from "../protolog/protocol-log.js";
import type { MessageTracking, TrackingEvent } from "../protolog/tracking.js";
import { parseCert } from "../pki/trust/parsed.js";
import { certificateNames } from "../pki/certs.js";
import type { Verdict } from "../pki/trust/verdict.js";
import type { OutboundStore, QueuedMessage, QueuedRecipient } from "../queue/outbound-store.js";
import { expiresAt, type RetrySettings } from "../queue/schedule.js";
import type { SpoolEnvelope } from "../queue/spool.js";
import { SendSession, SessionError, type SendLogEvent } from "../smtp/send/session.js";
import type { Reports } from "./reports.js";
import type { Target } from "./hosts.js";
import { logVerdictWarnings } from "../log/throttle.js";
import { failure, type DeliveryFailure } from "../queue/delivery-failure.js";
import { sessionRequirements } from "./requirements.js";
import type { OutboundContext, OutboundSettings } from "./context.js";

export interface SessionDeliveryOptions {
  ctx: OutboundContext;
  store: OutboundStore;
  tracking: MessageTracking;
  protocolLog: ProtocolLog;
  reports: Reports;
  log: (line: string) => void;
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

export class SessionDelivery {
  /** Sessions open or being opened now (the scheduler's MaxOutboundConnections counts them). */
  connections = 0;
  /** Our TLS credentials per FQDN, for a few seconds (reading them parses every stored certificate). */
  private readonly creds = new Map<string, { at: number; value: { thumbprint: string; key: string; cert: string } | undefined }>();
  /** The send connector each queue last routed to (for tracking events without a session). */
  readonly lastConnector = new Map<string, string>();

  constructor(private readonly opts: SessionDeliveryOptions) {}

  /** A session's lane is done with it. */
  release(v: Verified): void {
    v.session.close();
    this.connections--;
  }

  private credentialsFor(fqdn: string): { thumbprint: string; key: string; cert: string } | undefined {
    const hit = this.creds.get(fqdn);
    if (hit && Date.now() - hit.at < 5000) return hit.value;
    const value = this.opts.ctx.certs.tlsCredentialsFor(fqdn, this.opts.ctx.now());
    this.creds.set(fqdn, { at: Date.now(), value });
    return value;
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
  async sendMessage(v: Verified, m: QueuedMessage, route: Route, partner: string | undefined, retry: RetrySettings): Promise<boolean> {
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
  async fail(m: QueuedMessage, recips: QueuedRecipient[], why: DeliveryFailure, remoteMta: string | undefined, replies?: Array<{ address: string; response: string }>): Promise<void> {
    await this.opts.reports.failure(m, recips, why, remoteMta, replies);
    this.opts.store.complete(m.id, recips.map((r) => r.address));
    outboundMetrics.bounced.inc();
    this.track(m, "FAIL", recips.map((r) => r.address), why.text);
  }

  track(m: QueuedMessage, eventId: TrackingEvent["eventId"], recipients: string[], detail: string, v?: Verified): void {
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
