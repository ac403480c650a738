// Admin API: receive connectors (Get-/New-/Set-/Remove-ReceiveConnector).
// A connector belongs to one server ("mail1\Inet"); a bare name means this
// server's. A fresh server has "Inet" on 127.0.0.1:2525 with AuthMechanism
// Tls and its own name as FQDN.
import { SealpostError } from "../errors/errors.js";
import { normalizeDomain } from "../pki/domain.js";
import { defaultReceiveConnector, type AuthMechanism, type ConnectorUsage, type LoggingLevel, type ReceiveConnector } from "../org/model.js";
import { formatSize, formatTimeSpan, oneOf, parseBinding, parseIpRange, parsePositiveInt, parseSize, parseTimeSpan } from "../org/validate.js";
import type { ServerContext } from "./context.js";
import { guardDomainSecurity, type ChangeOptions } from "./domain-security.js";

export interface ReceiveConnectorPatch {
  bindings?: string[];
  remoteIPRanges?: string[];
  fqdn?: string;
  authMechanism?: string[];
  domainSecureEnabled?: boolean;
  usage?: string;
  maxMessageSize?: string | number;
  maxRecipientsPerMessage?: string | number;
  connectionTimeout?: string | number;
  connectionInactivityTimeout?: string | number;
  maxInboundConnection?: string | number;
  maxInboundConnectionPerSource?: string | number;
  protocolLoggingLevel?: string;
  enabled?: boolean;
}

export interface ReceiveConnectorView {
  Identity: string;
  Name: string;
  Server: string;
  Enabled: boolean;
  Bindings: string[];
  RemoteIPRanges: string[];
  Fqdn: string;
  AuthMechanism: string;
  DomainSecureEnabled: boolean;
  Usage: string;
  MaxMessageSize: string;
  MaxRecipientsPerMessage: number;
  ConnectionTimeout: string;
  ConnectionInactivityTimeout: string;
  MaxInboundConnection: number;
  MaxInboundConnectionPerSource: number;
  ProtocolLoggingLevel: string;
}

export function connectorView(c: ReceiveConnector): ReceiveConnectorView {
  return {
    Identity: `${c.server}\\${c.name}`,
    Name: c.name,
    Server: c.server,
    Enabled: c.enabled,
    Bindings: c.bindings,
    RemoteIPRanges: c.remoteIPRanges,
    Fqdn: c.fqdn,
    AuthMechanism: c.authMechanism.join(", "),
    DomainSecureEnabled: c.domainSecureEnabled,
    Usage: c.usage,
    MaxMessageSize: formatSize(c.maxMessageSize),
    MaxRecipientsPerMessage: c.maxRecipientsPerMessage,
    ConnectionTimeout: formatTimeSpan(c.connectionTimeout),
    ConnectionInactivityTimeout: formatTimeSpan(c.connectionInactivityTimeout),
    MaxInboundConnection: c.maxInboundConnection,
    MaxInboundConnectionPerSource: c.maxInboundConnectionPerSource,
    ProtocolLoggingLevel: c.protocolLoggingLevel,
  };
}

function parseAuth(values: string[]): AuthMechanism[] {
  const out = new Set<AuthMechanism>();
  for (const v of values.flatMap((x) => x.split(/[,\s]+/)).filter(Boolean)) {
    out.add(oneOf<AuthMechanism>("AuthMechanism", v, ["None", "Tls"] as const));
  }
  if (out.size > 1 && out.has("None")) out.delete("None");
  return out.size ? [...out] : ["None"];
}

/** Turns administrator input into stored values; throws on the first bad one. */
export function validatePatch(p: ReceiveConnectorPatch): Partial<ReceiveConnector> {
  const out: Partial<ReceiveConnector> = {};
  if (p.bindings !== undefined) {
    if (p.bindings.length === 0) throw new SealpostError("INVALID_ARGUMENT", "A receive connector needs at least one binding (IP:PORT).");
    out.bindings = [...new Set(p.bindings.map((b) => parseBinding(b).text))];
  }
  if (p.remoteIPRanges !== undefined) {
    if (p.remoteIPRanges.length === 0) throw new SealpostError("INVALID_ARGUMENT", "A receive connector needs at least one remote IP range.");
    out.remoteIPRanges = p.remoteIPRanges.map(parseIpRange);
  }
  if (p.fqdn !== undefined) out.fqdn = normalizeDomain(p.fqdn, { allowSingleLabel: true });
  if (p.authMechanism !== undefined) out.authMechanism = parseAuth(p.authMechanism);
  if (p.domainSecureEnabled !== undefined) out.domainSecureEnabled = p.domainSecureEnabled;
  if (p.usage !== undefined) out.usage = oneOf<ConnectorUsage>("Usage", p.usage, ["Internet", "Internal", "Partner", "Custom"] as const);
  if (p.maxMessageSize !== undefined) out.maxMessageSize = parseSize("MaxMessageSize", p.maxMessageSize);
  if (p.maxRecipientsPerMessage !== undefined) out.maxRecipientsPerMessage = parsePositiveInt("MaxRecipientsPerMessage", p.maxRecipientsPerMessage, 100_000);
  if (p.connectionTimeout !== undefined) out.connectionTimeout = parseTimeSpan("ConnectionTimeout", p.connectionTimeout);
  if (p.connectionInactivityTimeout !== undefined) out.connectionInactivityTimeout = parseTimeSpan("ConnectionInactivityTimeout", p.connectionInactivityTimeout);
  if (p.maxInboundConnection !== undefined) out.maxInboundConnection = parsePositiveInt("MaxInboundConnection", p.maxInboundConnection);
  if (p.maxInboundConnectionPerSource !== undefined) out.maxInboundConnectionPerSource = parsePositiveInt("MaxInboundConnectionPerSource", p.maxInboundConnectionPerSource);
  if (p.protocolLoggingLevel !== undefined) out.protocolLoggingLevel = oneOf<LoggingLevel>("ProtocolLoggingLevel", p.protocolLoggingLevel, ["None", "Verbose"] as const);
  if (p.enabled !== undefined) out.enabled = p.enabled;
  return out;
}

/** Exchange's rule: Domain Security on a receive connector needs the TLS auth mechanism. */
function checkConsistent(c: ReceiveConnector): void {
  if (c.domainSecureEnabled && !c.authMechanism.includes("Tls")) {
    throw new SealpostError("INVALID_ARGUMENT", `${c.name}: DomainSecureEnabled needs AuthMechanism Tls (run Set-ReceiveConnector ${c.name} -DomainSecureEnabled:$True -AuthMechanism TLS).`);
  }
  if (c.connectionInactivityTimeout < 1 || c.connectionTimeout < c.connectionInactivityTimeout) {
    throw new SealpostError("INVALID_ARGUMENT", `${c.name}: ConnectionTimeout must be at least ConnectionInactivityTimeout, and both at least one second.`);
  }
}

export class ConnectorAdmin {
  constructor(private readonly ctx: ServerContext) {}

  /** "Name" (this server) or "Server\Name". */
  private parseIdentity(identity: string): { server: string; name: string } {
    const m = /^(?:([^\\]+)\\)?([^\\]+)$/.exec(identity.trim());
    if (!m) throw new SealpostError("INVALID_ARGUMENT", `'${identity}' is not a connector identity (Name, or Server\\Name).`);
    return { server: (m[1] ?? this.ctx.serverName).toLowerCase(), name: m[2] as string };
  }

  /** Creates the default "Inet" connector when this server has none. */
  async ensureDefault(): Promise<void> {
    if ((await this.ctx.org.listReceiveConnectors(this.ctx.serverName)).length > 0) return;
    try {
      await this.ctx.org.addReceiveConnector(defaultReceiveConnector(this.ctx.serverName, "Inet"));
    } catch (e) {
      // An edge replicating an organization store gets its connectors from there.
      if (!(e instanceof SealpostError && e.code === "ORG_READ_ONLY")) throw e;
    }
  }

  async get(identity?: string): Promise<ReceiveConnectorView[]> {
    if (identity === undefined) return (await this.ctx.org.listReceiveConnectors()).map(connectorView);
    const { server, name } = this.parseIdentity(identity);
    const hit = (await this.ctx.org.listReceiveConnectors(server)).filter((c) => c.name.toLowerCase() === name.toLowerCase());
    if (hit.length === 0) throw new SealpostError("NOT_FOUND", `No receive connector ${server}\\${name} exists (Get-ReceiveConnector lists them).`);
    return hit.map(connectorView);
  }

  async create(name: string, patch: ReceiveConnectorPatch): Promise<ReceiveConnectorView> {
    const { server, name: n } = this.parseIdentity(name);
    if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(n)) throw new SealpostError("INVALID_ARGUMENT", `'${n}' is not a valid connector name (letters, digits, space . _ -, up to 64).`);
    if (patch.bindings === undefined) throw new SealpostError("SHELL_MISSING_PARAMETER", "New-ReceiveConnector: -Bindings is required (IP:PORT).");
    const fixed = validatePatch(patch);
    const usageDefaults: Partial<ReceiveConnector> = fixed.usage === "Internal" ? { authMechanism: ["Tls"], remoteIPRanges: ["127.0.0.1"] } : {};
    const c = { ...defaultReceiveConnector(server, n, { fqdn: server }), ...usageDefaults, ...fixed };
    checkConsistent(c);
    return connectorView(await this.ctx.org.addReceiveConnector(c));
  }

  /**
   * Set-ReceiveConnector. A change that leaves listed partners' mail on this
   * connector without Domain Security (DomainSecureEnabled off, an FQDN no
   * SMTP certificate names) needs `opts.force` (domain-security.ts).
   */
  async set(identity: string, patch: ReceiveConnectorPatch, opts: ChangeOptions = {}): Promise<ReceiveConnectorView> {
    const { server } = this.parseIdentity(identity);
    const fixed = validatePatch(patch);
    if (Object.keys(fixed).length === 0) throw new SealpostError("INVALID_ARGUMENT", "Set-ReceiveConnector: give at least one property to change.");
    const [current] = await this.get(identity);
    const view = current as ReceiveConnectorView;
    const same = (c: ReceiveConnector) => c.server.toLowerCase() === view.Server.toLowerCase() && c.name.toLowerCase() === view.Name.toLowerCase();
    const model = (await this.ctx.org.listReceiveConnectors(view.Server)).find(same);
    if (model) checkConsistent({ ...model, ...fixed });
    await guardDomainSecurity(this.ctx, `This change to the receive connector ${view.Identity}`, (w) => ({ ...w, receiveConnectors: w.receiveConnectors.map((c) => (same(c) ? { ...c, ...fixed } : c)) }), opts);
    return connectorView(
      await this.ctx.org.updateReceiveConnector(server, (current as ReceiveConnectorView).Name, (c) => {
        const next = { ...c, ...fixed };
        checkConsistent(next);
        return fixed;
      }),
    );
  }

  /** Remove-ReceiveConnector; removing the last connector that takes listed partners' mail with Domain Security needs `opts.force`. */
  async remove(identity: string, opts: ChangeOptions = {}): Promise<void> {
    const [current] = await this.get(identity);
    const v = current as ReceiveConnectorView;
    const same = (c: ReceiveConnector) => c.server.toLowerCase() === v.Server.toLowerCase() && c.name.toLowerCase() === v.Name.toLowerCase();
    await guardDomainSecurity(this.ctx, `Removing the receive connector ${v.Identity}`, (w) => ({ ...w, receiveConnectors: w.receiveConnectors.filter((c) => !same(c)) }), opts);
    await this.ctx.org.removeReceiveConnector(v.Server, v.Name);
  }
}
