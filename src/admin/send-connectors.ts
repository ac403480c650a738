// Admin API: send connectors (Get-/New-/Set-/Remove-SendConnector), with
// Exchange's rules: DomainSecureEnabled needs DNS routing and STARTTLS not
// ignored; smart hosts replace DNS routing.
import { SealpostError } from "../errors/errors.js";
import { normalizeDomain } from "../pki/domain.js";
import { defaultSendConnector, type AddressSpace, type LoggingLevel, type SendConnector } from "../org/model.js";
import { formatSize, formatTimeSpan, oneOf, parsePositiveInt, parseSize, parseTimeSpan } from "../org/validate.js";
import type { ServerContext } from "./context.js";
import { guardDomainSecurity, type ChangeOptions } from "./domain-security.js";

export interface SendConnectorPatch {
  addressSpaces?: string[];
  dnsRoutingEnabled?: boolean;
  smartHosts?: string[];
  port?: string | number;
  fqdn?: string | null;
  domainSecureEnabled?: boolean;
  requireTLS?: boolean;
  ignoreSTARTTLS?: boolean;
  connectionInactivityTimeout?: string | number;
  maxMessageSize?: string | number;
  sourceTransportServers?: string[];
  protocolLoggingLevel?: string;
  enabled?: boolean;
  exchangeOrganizationMarks?: boolean;
}

export interface SendConnectorView {
  Name: string;
  Enabled: boolean;
  AddressSpaces: string[];
  DNSRoutingEnabled: boolean;
  SmartHosts: string[];
  Port: number;
  Fqdn: string | null;
  DomainSecureEnabled: boolean;
  RequireTLS: boolean;
  IgnoreSTARTTLS: boolean;
  ConnectionInactivityTimeOut: string;
  MaxMessageSize: string;
  SourceTransportServers: string[];
  ProtocolLoggingLevel: string;
  ExchangeOrganizationMarks: boolean;
}

export function sendConnectorView(c: SendConnector): SendConnectorView {
  return {
    Name: c.name,
    Enabled: c.enabled,
    AddressSpaces: c.addressSpaces.map((a) => `SMTP:${a.domain};${a.cost}`),
    DNSRoutingEnabled: c.dnsRoutingEnabled,
    SmartHosts: c.smartHosts,
    Port: c.port,
    Fqdn: c.fqdn,
    DomainSecureEnabled: c.domainSecureEnabled,
    RequireTLS: c.requireTLS,
    IgnoreSTARTTLS: c.ignoreSTARTTLS,
    ConnectionInactivityTimeOut: formatTimeSpan(c.connectionInactivityTimeout),
    MaxMessageSize: formatSize(c.maxMessageSize),
    SourceTransportServers: c.sourceTransportServers,
    ProtocolLoggingLevel: c.protocolLoggingLevel,
    ExchangeOrganizationMarks: c.exchangeOrganizationMarks === true,
  };
}

/** "SMTP:woodgrovebank.com;1", "woodgrovebank.com;5", "*", "SMTP:*.contoso.com". */
export function parseAddressSpace(input: string): AddressSpace {
  const m = /^(?:([A-Za-z0-9]+):)?([^;]+)(?:;(\d+))?$/.exec(input.trim());
  if (!m) throw new SealpostError("INVALID_ARGUMENT", `The address space '${input}' is not valid: write SMTP:domain;cost (e.g. SMTP:woodgrovebank.com;1).`);
  if (m[1] && m[1].toUpperCase() !== "SMTP") throw new SealpostError("INVALID_ARGUMENT", `The address space type '${m[1]}' is not supported: only SMTP.`);
  const domainText = (m[2] as string).trim();
  const domain = domainText === "*" ? "*" : normalizeDomain(domainText, { allowWildcard: true });
  const cost = m[3] === undefined ? 1 : Number(m[3]);
  if (cost < 1 || cost > 100) throw new SealpostError("INVALID_ARGUMENT", `The address space cost in '${input}' must be 1 to 100.`);
  return { domain, cost };
}

function parseSmartHost(input: string): string {
  const text = input.trim();
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new SealpostError("INVALID_ARGUMENT", `The smart host '${input}' is not valid: write host, host:port or [IP]:port.`);
  const host = (m[1] as string).startsWith("[") ? (m[1] as string) : normalizeDomain(m[1] as string, { allowSingleLabel: true });
  if (m[2] !== undefined) parsePositiveInt("The smart host port", m[2], 65535);
  return m[2] ? `${host}:${m[2]}` : host;
}

export function validateSendPatch(p: SendConnectorPatch): Partial<SendConnector> {
  const out: Partial<SendConnector> = {};
  if (p.addressSpaces !== undefined) {
    if (p.addressSpaces.length === 0) throw new SealpostError("INVALID_ARGUMENT", "A send connector needs at least one address space.");
    out.addressSpaces = p.addressSpaces.map(parseAddressSpace);
  }
  if (p.smartHosts !== undefined) {
    out.smartHosts = p.smartHosts.map(parseSmartHost);
    if (out.smartHosts.length > 0 && p.dnsRoutingEnabled === undefined) out.dnsRoutingEnabled = false;
  }
  if (p.dnsRoutingEnabled !== undefined) out.dnsRoutingEnabled = p.dnsRoutingEnabled;
  if (p.port !== undefined) out.port = parsePositiveInt("Port", p.port, 65535);
  if (p.fqdn !== undefined) out.fqdn = p.fqdn === null || p.fqdn === "" ? null : normalizeDomain(p.fqdn, { allowSingleLabel: true });
  if (p.domainSecureEnabled !== undefined) out.domainSecureEnabled = p.domainSecureEnabled;
  if (p.requireTLS !== undefined) out.requireTLS = p.requireTLS;
  if (p.ignoreSTARTTLS !== undefined) out.ignoreSTARTTLS = p.ignoreSTARTTLS;
  if (p.connectionInactivityTimeout !== undefined) out.connectionInactivityTimeout = parseTimeSpan("ConnectionInactivityTimeOut", p.connectionInactivityTimeout);
  if (p.maxMessageSize !== undefined) out.maxMessageSize = parseSize("MaxMessageSize", p.maxMessageSize);
  if (p.sourceTransportServers !== undefined) out.sourceTransportServers = p.sourceTransportServers.map((s) => normalizeDomain(s, { allowSingleLabel: true }));
  if (p.protocolLoggingLevel !== undefined) out.protocolLoggingLevel = oneOf<LoggingLevel>("ProtocolLoggingLevel", p.protocolLoggingLevel, ["None", "Verbose"] as const);
  if (p.enabled !== undefined) out.enabled = p.enabled;
  if (p.exchangeOrganizationMarks !== undefined) out.exchangeOrganizationMarks = p.exchangeOrganizationMarks;
  return out;
}

/** Exchange's rules, checked on the connector as it would be stored. */
export function checkSendConnector(c: SendConnector): void {
  if (c.dnsRoutingEnabled && c.smartHosts.length > 0) {
    throw new SealpostError("INVALID_ARGUMENT", `${c.name}: a connector uses DNS routing or smart hosts, not both (give -DNSRoutingEnabled:$false with -SmartHosts).`);
  }
  if (!c.dnsRoutingEnabled && c.smartHosts.length === 0) {
    throw new SealpostError("INVALID_ARGUMENT", `${c.name}: without DNS routing the connector needs -SmartHosts.`);
  }
  if (c.domainSecureEnabled && !c.dnsRoutingEnabled) {
    throw new SealpostError("INVALID_ARGUMENT", `${c.name}: DomainSecureEnabled needs DNS routing (domain-secured mail goes straight to the partner's MX, never through a smart host).`);
  }
  if (c.domainSecureEnabled && c.ignoreSTARTTLS) {
    throw new SealpostError("INVALID_ARGUMENT", `${c.name}: DomainSecureEnabled cannot be combined with IgnoreSTARTTLS.`);
  }
}

export class SendConnectorAdmin {
  constructor(private readonly ctx: ServerContext) {}

  private async find(identity: string): Promise<SendConnector> {
    const hit = (await this.ctx.org.listSendConnectors()).find((c) => c.name.toLowerCase() === identity.trim().toLowerCase());
    if (!hit) throw new SealpostError("NOT_FOUND", `No send connector is named ${identity} (Get-SendConnector lists them).`);
    return hit;
  }

  async get(identity?: string): Promise<SendConnectorView[]> {
    if (identity !== undefined) return [sendConnectorView(await this.find(identity))];
    return (await this.ctx.org.listSendConnectors()).map(sendConnectorView);
  }

  /**
   * New-, Set- and Remove-SendConnector. A change after which a listed send
   * partner's mail would be held (routed to a connector that cannot carry
   * domain-secured mail) or could not be sent (no SMTP certificate names the
   * connector's FQDN) needs `opts.force` (domain-security.ts).
   */
  async create(name: string, patch: SendConnectorPatch, opts: ChangeOptions = {}): Promise<SendConnectorView> {
    if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(name)) throw new SealpostError("INVALID_ARGUMENT", `'${name}' is not a valid connector name (letters, digits, space . _ -, up to 64).`);
    if (patch.addressSpaces === undefined) throw new SealpostError("SHELL_MISSING_PARAMETER", "New-SendConnector: -AddressSpaces is required (e.g. SMTP:woodgrovebank.com;1).");
    const c = { ...defaultSendConnector(name), ...validateSendPatch(patch) };
    checkSendConnector(c);
    await guardDomainSecurity(this.ctx, `Creating the send connector ${name}`, (w) => ({ ...w, sendConnectors: [...w.sendConnectors, c] }), opts);
    return sendConnectorView(await this.ctx.org.addSendConnector(c));
  }

  async set(identity: string, patch: SendConnectorPatch, opts: ChangeOptions = {}): Promise<SendConnectorView> {
    const current = await this.find(identity);
    const fixed = validateSendPatch(patch);
    if (Object.keys(fixed).length === 0) throw new SealpostError("INVALID_ARGUMENT", "Set-SendConnector: give at least one property to change.");
    checkSendConnector({ ...current, ...fixed });
    await guardDomainSecurity(
      this.ctx,
      `This change to the send connector ${current.name}`,
      (w) => ({ ...w, sendConnectors: w.sendConnectors.map((c) => (c.name === current.name ? { ...c, ...fixed } : c)) }),
      opts,
    );
    return sendConnectorView(
      await this.ctx.org.updateSendConnector(current.name, (c) => {
        checkSendConnector({ ...c, ...fixed });
        return fixed;
      }),
    );
  }

  async remove(identity: string, opts: ChangeOptions = {}): Promise<void> {
    const current = await this.find(identity);
    await guardDomainSecurity(this.ctx, `Removing the send connector ${current.name}`, (w) => ({ ...w, sendConnectors: w.sendConnectors.filter((c) => c.name !== current.name) }), opts);
    await this.ctx.org.removeSendConnector(current.name);
  }
}
