// What the outbound side receives from whoever wires it (the composition
// root): the server's parts it uses, and the settings it reads before each
// pass. Outbound never imports the admin API; the admin context satisfies
// OutboundContext as it is.
import type { CertificateStore } from "../certstore/certstore.js";
import type { OrgStore } from "../org/store.js";
import type { TrustEngine } from "../pki/trust/engine.js";
import type { RetrySettings } from "../queue/schedule.js";

/**
 * What outbound delivery needs from the server: the organization's
 * configuration, this server's certificates, the trust engine, its name and
 * clock, the Maildir (reports to local senders). Given by the composition
 * root (the admin context satisfies it); outbound never imports the admin API.
 */
export interface OutboundContext {
  org: OrgStore;
  certs: Pick<CertificateStore, "tlsCredentialsFor" | "get">;
  trust(): Promise<TrustEngine>;
  serverName: string;
  now: () => Date;
  dir: { maildirRoot: string };
}

/** The server-level settings the manager reads before each pass (Set-TransportServer). */
export interface OutboundSettings {
  externalDnsServers: string[];
  retry: RetrySettings;
  maxOutboundConnections: number;
  maxPerDomainOutboundConnections: number;
  /** Non-partner mail: a failed STARTTLS handshake may be retried in clear. */
  plaintextFallback: boolean;
}

