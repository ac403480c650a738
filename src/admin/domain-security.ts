// The guard against changes that silently turn Domain Security off for the
// listed partners. A change to a receive or send connector or to this
// server's certificates is compared, before it is made, with the state it
// leaves: whatever carried a partner's mail with Domain Security and would
// afterwards carry it without, or not at all, makes the change need force.
// Without force it is refused, naming what would stop (partners, direction,
// where, why); with force it is made and the same is reported as a warning.
// Editing the partner lists themselves is explicit and not guarded.
//
// What counts as working, per partner:
// - inbound (TLSReceiveDomainSecureList): each enabled receive connector with
//   DomainSecureEnabled and AuthMechanism Tls is a way in; on this server it
//   also needs an SMTP certificate naming its FQDN (without one it offers no
//   STARTTLS and partners' mail is refused). Lost: such a connector that
//   still receives mail but without Domain Security or without a
//   certificate, or a server left with no such connector at all;
// - outbound (TLSSendDomainSecureList): the send connector routing chooses
//   for the partner can carry domain-secured mail (policy/outbound), and on
//   this server an SMTP certificate names its FQDN. Lost: the partner's mail
//   would be held, have no route, or have no certificate to present.
import { SealpostError } from "../errors/errors.js";
import { selectCertificateFor, type SelectableCertificate } from "../certstore/select.js";
import type { ReceiveConnector, SendConnector } from "../org/model.js";
import { domainSecureBlocker, selectSendConnector } from "../policy/outbound.js";
import type { ServerContext } from "./context.js";

/** How a front end confirms a change that turns Domain Security off. */
export interface ChangeOptions {
  /** Make the change even though it turns Domain Security off for listed partners (-Force, --force). */
  force?: boolean;
  /** Receives the warning when a forced change turns Domain Security off (front ends print it on stderr). */
  warn?: (message: string) => void;
}

/** What Domain Security depends on, as it is or as a change would leave it. */
export interface DomainSecurityWorld {
  receiveList: string[];
  sendList: string[];
  receiveConnectors: ReceiveConnector[];
  sendConnectors: SendConnector[];
  /** This server's name (undefined: organization-level administration without a data folder). */
  serverName?: string;
  /** This server's certificates (undefined: not known here). */
  certs?: SelectableCertificate[];
  /** The edges whose outbound routes count (this server, and the servers the organization names). */
  servers: string[];
  now: Date;
}

type InboundState = { kind: "ok" } | { kind: "gone" } | { kind: "off" } | { kind: "no-cert"; fqdn: string };
type OutboundState = { kind: "ok" } | { kind: "no-route" } | { kind: "held"; reason: string } | { kind: "no-cert"; fqdn: string; connector: string };

interface Loss {
  direction: "inbound" | "outbound";
  partners: string[];
  text: string;
}

function knownOr<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SealpostError && e.code === "SERVER_DATA_REQUIRED") return undefined;
    throw e;
  }
}

/** The current state, read from the stores. */
export async function readWorld(ctx: ServerContext): Promise<DomainSecurityWorld> {
  const settings = await ctx.org.getSettings();
  const receiveConnectors = await ctx.org.listReceiveConnectors();
  const sendConnectors = await ctx.org.listSendConnectors();
  const serverName = knownOr(() => ctx.serverName);
  const certs = knownOr(() => ctx.certs.list());
  const servers = [...new Set([...(serverName ? [serverName] : []), ...receiveConnectors.map((c) => c.server), ...sendConnectors.flatMap((c) => c.sourceTransportServers)].map((s) => s.toLowerCase()))];
  return {
    receiveList: settings.tlsReceiveDomainSecureList,
    sendList: settings.tlsSendDomainSecureList,
    receiveConnectors,
    sendConnectors,
    ...(serverName ? { serverName } : {}),
    ...(certs ? { certs } : {}),
    servers: servers.length > 0 ? servers : [""],
    now: ctx.now(),
  };
}

function hasCertificate(w: DomainSecurityWorld, server: string, fqdn: string): boolean | undefined {
  if (!w.certs || !w.serverName || server.toLowerCase() !== w.serverName.toLowerCase()) return undefined;
  return selectCertificateFor(fqdn, w.certs, w.now) !== undefined;
}

function inboundState(w: DomainSecurityWorld, server: string, name: string): InboundState {
  const c = w.receiveConnectors.find((x) => x.server.toLowerCase() === server.toLowerCase() && x.name.toLowerCase() === name.toLowerCase());
  if (!c || !c.enabled) return { kind: "gone" };
  if (!c.domainSecureEnabled || !c.authMechanism.includes("Tls")) return { kind: "off" };
  if (hasCertificate(w, c.server, c.fqdn) === false) return { kind: "no-cert", fqdn: c.fqdn };
  return { kind: "ok" };
}

/** A domain the list entry stands for ("*.example.com": a subdomain of it). */
function sampleDomain(entry: string): string {
  return entry.startsWith("*.") ? `sub.${entry.slice(2)}` : entry;
}

function outboundState(w: DomainSecurityWorld, server: string, entry: string): OutboundState {
  // The outbound manager's own choice (policy/outbound): the route, and whether it may carry a partner's mail.
  const route = selectSendConnector(sampleDomain(entry), w.sendConnectors, server);
  if (!route) return { kind: "no-route" };
  const blocker = domainSecureBlocker(route.connector);
  if (blocker) return { kind: "held", reason: blocker };
  const fqdn = route.connector.fqdn ?? (server === w.serverName ? server : undefined);
  if (fqdn && hasCertificate(w, server, fqdn) === false) return { kind: "no-cert", fqdn, connector: route.connector.name };
  return { kind: "ok" };
}

/** What works with Domain Security in `before` and would not in `after`. */
export function domainSecurityLosses(before: DomainSecurityWorld, after: DomainSecurityWorld): Loss[] {
  const losses = new Map<string, Loss>();
  const add = (direction: Loss["direction"], partner: string, text: string) => {
    const key = `${direction}\u0000${text}`;
    const l = losses.get(key) ?? { direction, partners: [], text };
    if (!l.partners.includes(partner)) l.partners.push(partner);
    losses.set(key, l);
  };
  // Inbound: only partners listed both before and after (a list edit is explicit).
  const receivePartners = before.receiveList.filter((p) => after.receiveList.includes(p));
  if (receivePartners.length > 0) {
    const reported = new Set<string>();
    for (const c of before.receiveConnectors) {
      if (inboundState(before, c.server, c.name).kind !== "ok") continue;
      const now = inboundState(after, c.server, c.name);
      const where = `${c.server}\\${c.name}`;
      if (now.kind === "off") {
        for (const p of receivePartners) add("inbound", p, `would be accepted on the receive connector ${where} without Domain Security (no certificate check, never marked domain-secured)`);
        reported.add(c.server);
      } else if (now.kind === "no-cert") {
        for (const p of receivePartners) add("inbound", p, `would be refused on the receive connector ${where}: no SMTP certificate of this server would name its FQDN ${now.fqdn}, so it could not offer STARTTLS`);
        reported.add(c.server);
      }
    }
    // A server left without any receive connector that takes partners' mail with Domain Security.
    const ways = (w: DomainSecurityWorld, server: string) => w.receiveConnectors.filter((c) => c.server === server && inboundState(w, c.server, c.name).kind === "ok").map((c) => c.name);
    for (const server of new Set(before.receiveConnectors.map((c) => c.server))) {
      const had = ways(before, server);
      if (had.length === 0 || reported.has(server) || ways(after, server).length > 0) continue;
      for (const p of receivePartners) add("inbound", p, `would no longer be received by ${server} with Domain Security: no enabled receive connector with DomainSecureEnabled would remain (was ${had.join(", ")})`);
    }
  }
  const sendPartners = before.sendList.filter((p) => after.sendList.includes(p));
  for (const server of before.servers) {
    for (const p of sendPartners) {
      if (outboundState(before, server, p).kind !== "ok") continue;
      const now = outboundState(after, server, p);
      const from = server ? ` from ${server}` : "";
      if (now.kind === "held") add("outbound", p, `would be held${from}, never sent: ${now.reason}`);
      else if (now.kind === "no-route") add("outbound", p, `would have no route${from}: no enabled send connector would cover it`);
      else if (now.kind === "no-cert") add("outbound", p, `could not be sent${from}: no SMTP certificate of this server would name ${now.fqdn}, the FQDN of the send connector ${now.connector}`);
    }
  }
  return [...losses.values()];
}

function describe(losses: Loss[]): string {
  return losses
    .map((l) => {
      const list = l.direction === "inbound" ? "TLSReceiveDomainSecureList" : "TLSSendDomainSecureList";
      const what = l.direction === "inbound" ? `inbound mail from ${l.partners.join(", ")}` : `outbound mail to ${l.partners.join(", ")}`;
      return `${what} (${list}) ${l.text}`;
    })
    .join("; ");
}

/**
 * Checks a change before it is made: `change` describes it ("Setting the
 * receive connector mail1\Inet's properties"), `after` is the world it
 * leaves. Throws CONFIRMATION_REQUIRED unless forced; with force, warns.
 */
export async function guardDomainSecurity(ctx: ServerContext, change: string, after: (before: DomainSecurityWorld) => DomainSecurityWorld, opts: ChangeOptions = {}): Promise<void> {
  const before = await readWorld(ctx);
  if (before.receiveList.length === 0 && before.sendList.length === 0) return;
  const losses = domainSecurityLosses(before, after(before));
  if (losses.length === 0) return;
  const what = describe(losses);
  if (!opts.force) {
    throw new SealpostError(
      "CONFIRMATION_REQUIRED",
      `${change} would turn Domain Security off for listed partners: ${what}. Nothing was changed. Add -Force to do it anyway (--force on the sealpost command line).`,
    );
  }
  opts.warn?.(`WARNING: ${change} turns Domain Security off for listed partners: ${what.replace(/\bwould\b/g, "will")}.`);
}
