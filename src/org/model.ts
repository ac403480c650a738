// The organization's configuration objects, as Exchange names them, with
// their defaults. Validation of administrator input lives in validate.ts;
// these are the stored shapes.

export type DomainType = "Authoritative" | "InternalRelay" | "ExternalRelay";

export interface AcceptedDomain {
  name: string;
  /** Normalized; may be "*.contoso.com" (the domain's subdomains). */
  domainName: string;
  domainType: DomainType;
  /** When set, mail to an unknown recipient of this (authoritative) domain goes to this mailbox. */
  catchAllMailbox?: string | undefined;
}

export interface Mailbox {
  /** Normalized address: local part as given (case kept), domain in A-labels. */
  primarySmtpAddress: string;
  name: string;
}

export type AuthMechanism = "None" | "Tls";
export type ConnectorUsage = "Internet" | "Internal" | "Partner" | "Custom";
export type LoggingLevel = "None" | "Verbose";

export interface ReceiveConnector {
  /** The edge server this connector belongs to (its FQDN). */
  server: string;
  name: string;
  enabled: boolean;
  /** "IP:port" or "[v6]:port". */
  bindings: string[];
  /** IPv4/IPv6 addresses, CIDR blocks, or "a-b" ranges. */
  remoteIPRanges: string[];
  fqdn: string;
  authMechanism: AuthMechanism[];
  domainSecureEnabled: boolean;
  usage: ConnectorUsage;
  /** bytes */
  maxMessageSize: number;
  maxRecipientsPerMessage: number;
  /** seconds a connection may stay open in all */
  connectionTimeout: number;
  /** seconds a connection may stay idle */
  connectionInactivityTimeout: number;
  maxInboundConnection: number;
  maxInboundConnectionPerSource: number;
  protocolLoggingLevel: LoggingLevel;
}

export const MB = 1024 * 1024;

export function defaultReceiveConnector(server: string, name: string, overrides: Partial<ReceiveConnector> = {}): ReceiveConnector {
  return {
    server,
    name,
    enabled: true,
    bindings: ["127.0.0.1:2525"],
    remoteIPRanges: ["0.0.0.0-255.255.255.255", "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    fqdn: server,
    authMechanism: ["Tls"],
    domainSecureEnabled: false,
    usage: "Internet",
    maxMessageSize: 10 * MB,
    maxRecipientsPerMessage: 200,
    connectionTimeout: 600,
    connectionInactivityTimeout: 60,
    maxInboundConnection: 5000,
    maxInboundConnectionPerSource: 100,
    protocolLoggingLevel: "None",
    ...overrides,
  };
}

export type RefusalMode = "Temporary" | "Permanent";

/** Get-/Set-TransportConfig: organization-wide transport settings. */
export interface TransportConfig {
  tlsReceiveDomainSecureList: string[];
  tlsSendDomainSecureList: string[];
  /** bytes; the organization's ceiling, below any connector's */
  maxMessageSize: number;
  domainSecureRefusal: RefusalMode;
  /** RFC 8601 authserv-id; null: the first authoritative accepted domain */
  authservId: string | null;
  /** Trust the operating system's CA bundle besides the organization's roots. */
  useSystemTrustStore: boolean;
}

export const DEFAULT_TRANSPORT_CONFIG: TransportConfig = {
  tlsReceiveDomainSecureList: [],
  tlsSendDomainSecureList: [],
  maxMessageSize: 10 * MB,
  domainSecureRefusal: "Temporary",
  authservId: null,
  useSystemTrustStore: true,
};

export interface AddressSpace {
  /** Normalized domain, "*" (everything) or "*.example.com" (subdomains). */
  domain: string;
  cost: number;
}

export interface SendConnector {
  name: string;
  enabled: boolean;
  addressSpaces: AddressSpace[];
  dnsRoutingEnabled: boolean;
  /** "host" or "host:port" or "[IP]"; used when DNS routing is off */
  smartHosts: string[];
  port: number;
  /** EHLO name and the name our certificate must carry; null: the server's name */
  fqdn: string | null;
  domainSecureEnabled: boolean;
  requireTLS: boolean;
  ignoreSTARTTLS: boolean;
  /** seconds */
  connectionInactivityTimeout: number;
  maxMessageSize: number;
  /** servers allowed to use this connector; empty: every edge */
  sourceTransportServers: string[];
  protocolLoggingLevel: LoggingLevel;
  /**
   * For an internal Exchange organization as the next hop (reached over
   * mutual TLS): domain-secured messages get Exchange's marks
   * (X-MS-Exchange-Organization-AuthAs: Partner, ...-AuthDomain), so that
   * Outlook shows "Domain Secured". Absent: false.
   */
  exchangeOrganizationMarks?: boolean;
}

export function defaultSendConnector(name: string, overrides: Partial<SendConnector> = {}): SendConnector {
  return {
    name,
    enabled: true,
    addressSpaces: [{ domain: "*", cost: 1 }],
    dnsRoutingEnabled: true,
    smartHosts: [],
    port: 25,
    fqdn: null,
    domainSecureEnabled: false,
    requireTLS: false,
    ignoreSTARTTLS: false,
    connectionInactivityTimeout: 600,
    maxMessageSize: 10 * MB,
    sourceTransportServers: [],
    protocolLoggingLevel: "None",
    ...overrides,
  };
}
