// The receive connector's decisions, behind the SMTP engine's hooks: which
// sender (Domain Security policy), which recipients (accepted domains,
// mailboxes, relay), and what happens to a message (header firewall, marks,
// durable spool before 250, local delivery, tracking, counters, protocol log).
import type { CertificateStore } from "../certstore/certstore.js";
import type { TrustEngine } from "../pki/trust/engine.js";

/** What the receive hooks need from the server: its certificates (log rows) and the trust engine. */
export interface InboundContext {
  certs: Pick<CertificateStore, "get">;
  trust(): Promise<TrustEngine>;
}
import { metrics } from "../metrics/counters.js";
import { domainSecureResults, headerEnd, prependFields, receivedTemplate, rfc5322Date, stripForgedHeaders } from "../message/headers.js";
import { certificateNames } from "../pki/certs.js";
import { parseCert } from "../pki/trust/parsed.js";
import type { PresentedCerts } from "../pki/trust/engine.js";
import type { Verdict } from "../pki/trust/verdict.js";
import { addressDomain } from "../message/address.js";
import { decideMailFrom, partnerEntry, senderDomain, verdictNeeded, type InboundDecision } from "../policy/inbound.js";
import { mailboxFor } from "../policy/recipient.js";
import type { LocalDelivery, RouteMeta } from "../delivery/local.js";
import type { ProtocolLog } from "../protolog/protocol-log.js";
import { certificateLogLines } from "../protolog/protocol-log.js";
import type { MessageTracking } from "../protolog/tracking.js";
import type { Spool, SpoolEnvelope } from "../queue/spool.js";
import type { Envelope, LogEvent, MailParams, ReceiveHooks, Reply, SessionInfo } from "../smtp/receive/types.js";
import { acceptedDomainFor, type ConnectorRuntime, type Snapshot } from "./snapshot.js";
import { logVerdictWarnings } from "../log/throttle.js";

export interface InboundDeps {
  ctx: InboundContext;
  snapshot(): Snapshot;
  /**
   * The snapshot of the configuration as committed now (reloaded first when
   * the store changed since the last one): each MAIL FROM decides on it, so
   * a session opened before a change obeys the change from its next
   * transaction on.
   */
  current?(): Promise<Snapshot>;
  spool: Spool;
  delivery: LocalDelivery;
  tracking: MessageTracking;
  protocolLog: ProtocolLog;
  /** The server log (a verdict's warnings, throttled). */
  log?: (line: string) => void;
}

interface SessionState {
  snapshot: Snapshot;
  connector: ConnectorRuntime;
  seq: number;
  decision?: InboundDecision;
  /** The Domain Security verdict behind `decision`, for the marks. */
  verdict?: Verdict;
  route?: RouteMeta;
  /** The client certificate's summary, read once per session (null: none or unreadable). */
  peer?: PeerSummary | null;
  /** The Received: field but its id and date, for as long as its inputs stay the same (usually the whole session). */
  received?: { key: string; head: string; tail: string };
  /** The envelope's TLS facts (the same for every message of the session once TLS started). */
  spoolTls?: NonNullable<SpoolEnvelope["tls"]>;
}

/** Received: field parts for this session's next message (see SessionState.received). */
function receivedFor(s: SessionInfo, state: SessionState, peer: PeerSummary | undefined): { head: string; tail: string } {
  const protocol = s.tls ? "ESMTPS" : s.esmtp ? "ESMTP" : "SMTP";
  const verified = state.verdict?.ok === true;
  const key = `${s.heloName ?? ""}\u0000${protocol}\u0000${verified ? 1 : 0}\u0000${peer ? 1 : 0}`;
  if (state.received?.key === key) return state.received;
  const t = receivedTemplate({
    ...(s.heloName ? { heloName: s.heloName } : {}),
    remoteAddress: s.remoteAddress,
    byName: state.connector.config.fqdn,
    protocol,
    ...(s.tls ? { tls: { protocol: s.tls.protocol, cipher: s.tls.cipher, ...(peer ? { clientSubject: peer.subject, clientIssuer: peer.issuer, verified } : {}) } } : {}),
  });
  state.received = { key, ...t };
  return state.received;
}

interface PeerSummary {
  subject: string;
  issuer: string;
  thumbprint: string;
  names: string[];
  serial: string;
}

const st = (s: SessionInfo): SessionState => s.state as unknown as SessionState;

function reply(code: number, enhanced: string, text: string): Reply {
  return { code, enhanced, text };
}

function peerSummary(s: SessionInfo): PeerSummary | undefined {
  const state = st(s);
  if (state.peer !== undefined) return state.peer ?? undefined;
  const der = s.tls?.peerLeaf;
  if (!der) return undefined; // not cached: TLS may still start
  try {
    const c = parseCert(der);
    state.peer = { subject: c.subject, issuer: c.issuer, thumbprint: c.sha1, names: certificateNames(c.dnsNames, c.commonName), serial: c.serial };
  } catch {
    state.peer = null;
  }
  return state.peer ?? undefined;
}

export function inboundHooks(deps: InboundDeps, connectorName: string): ReceiveHooks {
  const log = (s: SessionInfo, event: LogEvent, data: string, context?: string) => {
    if (event === "*" && data.startsWith("TLS handshake failed: ")) {
      // Counted by reason (OpenSSL's message without its numeric prefix), logged or not.
      const reason = data.slice(22).replace(/^[0-9A-F]+:error:[0-9A-F]+:/i, "").slice(0, 80);
      metrics.tlsHandshakeFailures.inc({ reason });
    }
    const state = st(s);
    // The "+" line comes before onConnect: take the connector from the current snapshot then.
    const connector = state.connector ?? deps.snapshot().connectors.find((c) => c.config.name === connectorName);
    if (!connector || connector.config.protocolLoggingLevel !== "Verbose") return;
    state.seq ??= 0;
    deps.protocolLog.write({
      connector: connectorName,
      sessionId: s.id,
      sequence: state.seq++,
      local: `${s.localAddress}:${s.localPort}`,
      remote: `${s.remoteAddress}:${s.remotePort}`,
      event,
      data,
      ...(context !== undefined ? { context } : {}),
    });
  };

  return {
    async onConnect(s) {
      const snapshot = deps.snapshot();
      const connector = snapshot.connectors.find((c) => c.config.name === connectorName);
      if (!connector) return { code: 421, enhanced: "4.3.2", text: "Service not available, closing transmission channel", close: true };
      Object.assign(s.state, { snapshot, connector, seq: st(s).seq ?? 0 } satisfies SessionState);
      metrics.sessions.inc({ connector: connectorName });
      return undefined;
    },

    async onSecure(s) {
      const state = st(s);
      // The certificate rows are protocol log lines only: no work when the connector does not log.
      if (state.connector.config.protocolLoggingLevel !== "Verbose") return;
      const thumb = state.connector.certificateThumbprint;
      const own = thumb ? deps.ctx.certs.get(thumb) : undefined;
      if (own) {
        for (const row of certificateLogLines("Sending certificate", { subject: own.subject, issuer: own.issuer, serialNumber: own.serialNumber, thumbprint: own.thumbprint, names: own.certificateDomains })) {
          log(s, "*", row.data, row.context);
        }
      }
      const peer = peerSummary(s);
      if (peer) {
        for (const row of certificateLogLines("Received certificate", { subject: peer.subject, issuer: peer.issuer, serialNumber: peer.serial, thumbprint: peer.thumbprint, names: peer.names })) {
          log(s, "*", row.data, row.context);
        }
      }
    },

    async onMailFrom(s, address, params: MailParams) {
      const state = st(s);
      if (deps.current) {
        const fresh = await deps.current();
        if (fresh !== state.snapshot) {
          const connector = fresh.connectors.find((c) => c.config.name === connectorName);
          if (!connector) return { code: 421, enhanced: "4.3.2", text: "Service not available, closing transmission channel", close: true };
          // The TLS context of the session stays what was negotiated; the rules are the new ones.
          state.snapshot = fresh;
          state.connector = connector;
          delete state.received;
        }
      }
      const snap = state.snapshot;
      if (params.size !== undefined && params.size > snap.transport.maxMessageSize) {
        return reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
      }
      const facts = { domainSecureEnabled: state.connector.config.domainSecureEnabled, tlsAuth: state.connector.config.authMechanism.includes("Tls") };
      const receiveList = snap.transport.tlsReceiveDomainSecureList;
      const need = verdictNeeded(address, facts, receiveList, s.tls !== undefined);
      // The leaf at once; the whole chain is read from the session only on a verdict cache miss.
      const t = s.tls;
      const certs: PresentedCerts = t?.peerLeaf ? { leaf: t.peerLeaf, chain: () => t.peerCertificates } : [];
      let verdict: Verdict | undefined;
      let nullPathPartner: string | undefined;
      let mode: "Enforce" | "ReportOnly" = "Enforce";
      if (need === "null-path") {
        if (t?.peerLeaf) {
          const engine = await deps.ctx.trust();
          for (const entry of receiveList.filter((e) => !e.startsWith("*."))) {
            const p = snap.partnerFor(entry);
            // No sender domain vouches for this certificate: no AIA fetch on its say-so.
            const v = await engine.verifyForDomain(certs, entry, p, { role: "client", revocationMode: p.revocationMode, allowWeakCrypto: p.allowWeakCrypto, fetchIssuers: false });
            if (v.ok) {
              verdict = v;
              nullPathPartner = entry;
              break;
            }
          }
        }
      } else if (need) {
        const p = snap.partnerFor(need.partner);
        mode = p.mode;
        verdict = await (await deps.ctx.trust()).verifyForDomain(certs, need.domain, p, { role: "client", revocationMode: p.revocationMode, allowWeakCrypto: p.allowWeakCrypto });
      } else if (address !== "" && s.tls === undefined) {
        // A partner without TLS: its mode (ReportOnly) still decides.
        const domain = senderDomain(address);
        const entry = domain ? partnerEntry(domain, receiveList) : undefined;
        if (entry) mode = snap.partnerFor(entry).mode;
      }
      const decision = decideMailFrom({
        sender: address,
        connector: facts,
        receiveList,
        refusal: snap.transport.domainSecureRefusal,
        tls: s.tls !== undefined,
        mode,
        ...(verdict ? { verdict } : {}),
        ...(nullPathPartner ? { nullPathPartner } : {}),
      });
      metrics.verdicts.inc({ code: decision.code });
      if (decision.code !== "NOT_DOMAIN_SECURE_CONNECTOR" && decision.code !== "NOT_A_PARTNER" && decision.code !== "NULL_SENDER") {
        log(s, "*", `${decision.action === "accept" ? (decision.domainSecured ? "domain-secured" : "accepted") : "refused"} ${decision.code}: ${decision.reason}`, "Domain security");
      }
      if (verdict && verdict.warnings.length > 0) {
        // Accepted with a warning (the weak-crypto floor, revocation unknown under Soft): logged, never silent.
        for (const w of verdict.warnings) log(s, "*", `warning: ${w}`, "Domain security");
        logVerdictWarnings(deps.log, `inbound: Domain Security partner ${decision.partner ?? nullPathPartner ?? "?"}`, verdict.warnings);
      }
      if (decision.wouldRefuse) metrics.wouldRefuse.inc({ partner: decision.partner ?? "", code: decision.code });
      if (decision.action === "refuse") {
        metrics.messagesRefused.inc({ connector: connectorName, reason: decision.code });
        deps.tracking.write({
          timestamp: new Date().toISOString(),
          eventId: "FAIL",
          messageId: "",
          internalId: "",
          sender: address,
          recipients: [],
          connector: connectorName,
          sessionId: s.id,
          serverHostname: snap.serverName,
          clientIp: s.remoteAddress,
          domainSecure: { verdict: decision.code, ...(decision.partner ? { partner: decision.partner } : {}), reason: decision.reason },
          detail: "sender refused by Domain Security",
        });
      }
      state.decision = decision;
      if (verdict) state.verdict = verdict;
      else delete state.verdict;
      state.route = { local: [], relay: [] };
      return decision.reply;
    },

    async onRcptTo(s, _env: Envelope, address) {
      const state = st(s);
      const snap = state.snapshot;
      const d = addressDomain(address);
      if (d.kind === "invalid") return reply(553, "5.1.3", `<${address}>: Bad recipient address syntax: the domain is not a valid domain name (${d.reason})`);
      const domain = d.kind === "domain" ? d.domain : "";
      const accepted = domain ? acceptedDomainFor(snap, domain) : undefined;
      const route = (state.route ??= { local: [], relay: [] });
      if (accepted?.domainType === "Authoritative") {
        const mailbox = mailboxFor(accepted, address, domain, (a) => snap.mailboxes.has(a));
        if (!mailbox) return reply(550, "5.1.1", `<${address}>: Recipient not found`);
        route.local.push({ rcpt: address, mailbox });
        return reply(250, "2.1.5", "Recipient OK");
      }
      if (accepted || state.connector.config.usage === "Internal") {
        route.relay.push(address);
        return reply(250, "2.1.5", "Recipient OK");
      }
      return reply(554, "5.7.1", `<${address}>: Relay access denied`);
    },

    async onData(s, env, raw) {
      const state = st(s);
      const snap = state.snapshot;
      if (raw.length > snap.transport.maxMessageSize) return reply(552, "5.3.4", "Message size exceeds fixed maximum message size");
      const decision = state.decision;
      const { message: clean } = stripForgedHeaders(raw, snap.ownIds);
      const peer = peerSummary(s);
      const now = new Date();
      const t = receivedFor(s, state, peer);
      const fields = [`${t.head}${s.id}.${s.messages + 1}${t.tail}${rfc5322Date(now)}\r\n`];
      if (decision?.domainSecured && state.verdict?.thumbprint) {
        const d = env.mailFrom === "" ? (decision.partner as string) : (senderDomain(env.mailFrom) ?? "");
        fields.unshift(domainSecureResults(snap.authservId, d, state.verdict.thumbprint));
      }
      const message = prependFields(clean, fields);
      const route = state.route ?? { local: [], relay: env.rcptTo.map((r) => r.address) };
      // Searched in the header section only (at most 8 KiB of it), not in the body.
      const messageId = /^message-id:\s*(.+)$/im.exec(raw.toString("latin1", 0, Math.min(headerEnd(raw), 8192)))?.[1]?.trim() ?? "";
      const envelope: SpoolEnvelope = {
        receivedAt: now.toISOString(),
        mailFrom: env.mailFrom,
        rcptTo: env.rcptTo.map((r) => ({ address: r.address, params: { ...(r.params.notify ? { notify: r.params.notify } : {}), ...(r.params.orcpt ? { orcpt: r.params.orcpt } : {}) } })),
        mailParams: { ...env.mailParams },
        connector: connectorName,
        sessionId: s.id,
        ...(s.tls ? { tls: (state.spoolTls ??= { protocol: s.tls.protocol, cipher: s.tls.cipher, resumed: s.tls.resumed, ...(peer ? { peerSubject: peer.subject, peerIssuer: peer.issuer, peerThumbprint: peer.thumbprint } : {}) }) } : {}),
        ...(decision ? { verdict: { verdict: decision.domainSecured ? "domain-secured" : decision.code, ...(decision.partner ? { partner: decision.partner } : {}), reason: decision.reason } } : {}),
        meta: { route, messageId, clientIp: s.remoteAddress },
      };
      const id = await deps.spool.append(envelope, message);
      metrics.messagesReceived.inc({ connector: connectorName });
      if (decision?.domainSecured) metrics.domainSecuredReceived.inc({ partner: decision.partner ?? "" });
      deps.tracking.write({
        timestamp: envelope.receivedAt,
        eventId: "RECEIVE",
        messageId,
        internalId: id,
        sender: env.mailFrom,
        recipients: env.rcptTo.map((r) => r.address),
        connector: connectorName,
        sessionId: s.id,
        serverHostname: snap.serverName,
        clientIp: s.remoteAddress,
        ...(s.tls ? { tls: { protocol: s.tls.protocol, cipher: s.tls.cipher, ...(peer ? { certSubject: peer.subject, certIssuer: peer.issuer, certThumbprint: peer.thumbprint } : {}) } } : {}),
        ...(envelope.verdict ? { domainSecure: envelope.verdict } : {}),
      });
      deps.delivery.start(id, envelope, message);
      return reply(250, "2.6.0", `<${id}@${state.connector.config.fqdn}> Queued mail for delivery`);
    },

    onLog: log,
  };
}
