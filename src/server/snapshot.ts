// One consistent view of what the receive path needs, read from the stores
// in one go and replaced whole when anything changes, so a session never
// sees half of an administrator's change.
import type { SecureContext } from "node:tls";
import tls from "node:tls";
import type { CertificateStore } from "../certstore/certstore.js";
import type { OrgStore } from "../org/store.js";

/** What a configuration snapshot is read from: the organization store, this server's certificates, name and clock. */
export interface SnapshotSource {
  org: OrgStore;
  certs: Pick<CertificateStore, "tlsCredentialsFor">;
  serverName: string;
  now: () => Date;
}
import { effectiveAuthservId } from "../admin/transport.js";
import { defaultPartnerOptions, type PartnerOptions } from "../org/store.js";
import type { AcceptedDomain, ReceiveConnector, TransportConfig } from "../org/model.js";
import { ipMatcher } from "../org/validate.js";
import { acceptedDomainFor as acceptedDomainIn } from "../policy/recipient.js";

export interface ConnectorRuntime {
  config: ReceiveConnector;
  matchesRemote: (ip: string) => boolean;
  /** Number of addresses the narrowest matching range covers; smaller wins when connectors share a binding. */
  specificity: (ip: string) => number;
  secureContext?: SecureContext | undefined;
  certificateThumbprint?: string | undefined;
}

export interface Snapshot {
  version: string;
  serverName: string;
  transport: TransportConfig;
  authservId: string;
  /** authserv-id and edge names whose Authentication-Results the firewall removes */
  ownIds: string[];
  connectors: ConnectorRuntime[];
  acceptedDomains: AcceptedDomain[];
  /** lower-case addresses of local mailboxes */
  mailboxes: Set<string>;
  partners: Map<string, PartnerOptions>;
  partnerFor(domain: string): PartnerOptions;
}

function rangeSize(range: string, ip: string, matches: (ip: string) => boolean): number {
  if (!matches(ip)) return Infinity;
  const cidr = /\/(\d+)$/.exec(range);
  if (cidr) return 2 ** ((range.includes(":") ? 128 : 32) - Number(cidr[1]));
  if (range.includes("-")) return 2 ** 32; // ranges are the broad defaults; rank them last
  return 1;
}

export interface SnapshotOptions {
  /** TLS session ticket keys shared by every worker (48 bytes). */
  ticketKeys?: Buffer;
}

export async function loadSnapshot(ctx: SnapshotSource, version: string, opts: SnapshotOptions = {}): Promise<Snapshot> {
  const [transport, domains, mailboxes, partners, allConnectors] = await Promise.all([
    ctx.org.getSettings(),
    ctx.org.listAcceptedDomains(),
    ctx.org.listMailboxes(),
    ctx.org.listPartners(),
    ctx.org.listReceiveConnectors(),
  ]);
  // This server's connectors; the others' names are the organization's too (a fleet's edges).
  const connectors = allConnectors.filter((c) => c.server === ctx.serverName);
  const now = ctx.now();
  const runtimes: ConnectorRuntime[] = connectors
    .filter((c) => c.enabled)
    .map((c) => {
      const entries = c.remoteIPRanges.map((r) => ({ r, m: ipMatcher([r]) }));
      const creds = ctx.certs.tlsCredentialsFor(c.fqdn, now);
      const secureContext = creds
        ? tls.createSecureContext({
            key: creds.key,
            cert: creds.cert,
            minVersion: "TLSv1.2",
            // Tickets live at most an hour (SPEC §2 "Resumed TLS sessions").
            sessionTimeout: 3600,
            ...(opts.ticketKeys ? { ticketKeys: opts.ticketKeys } : {}),
          })
        : undefined;
      return {
        config: c,
        matchesRemote: ipMatcher(c.remoteIPRanges),
        specificity: (ip: string) => Math.min(...entries.map((e) => rangeSize(e.r, ip, e.m))),
        ...(secureContext ? { secureContext, certificateThumbprint: creds?.thumbprint } : {}),
      };
    });
  const partnerMap = new Map(partners.map((p) => [p.domain, p]));
  const authservId = effectiveAuthservId(transport, domains, ctx.serverName);
  return {
    version,
    serverName: ctx.serverName,
    transport,
    authservId,
    // A mark in the name of any server of the organization (a sibling edge of a fleet included) or of its
    // authserv-id is the organization's own, so one arriving from outside is forged and removed.
    ownIds: [...new Set([authservId, ctx.serverName, ...allConnectors.flatMap((c) => [c.server, c.fqdn])].map((s) => s.toLowerCase()))],
    connectors: runtimes,
    acceptedDomains: domains,
    mailboxes: new Set(mailboxes.map((m) => m.primarySmtpAddress.toLowerCase())),
    partners: partnerMap,
    partnerFor: (domain) => partnerMap.get(domain) ?? defaultPartnerOptions(domain),
  };
}

/** The accepted domain covering `domain` (A-labels; exact first, then the most specific "*.parent"). */
export function acceptedDomainFor(s: Snapshot, domain: string): AcceptedDomain | undefined {
  return acceptedDomainIn(s.acceptedDomains, domain);
}
