// The one admin API. The CLI, the management shell, the HTTP admin endpoint
// and the web console all call this object; none reaches a store directly.
import { CertificateAdmin } from "./certificates.js";
import { openOrgOnlyContext, openServerContext, setServerName, type ServerContext } from "./context.js";
import type { OrgStore } from "../org/store.js";
import { ConnectorAdmin } from "./connectors.js";
import { FleetAdmin } from "./fleet.js";
import { LogAdmin } from "./logs.js";
import { MailflowAdmin } from "./mailflow.js";
import { PartnerAdmin } from "./partners.js";
import { QueueAdmin } from "./queues.js";
import { SendConnectorAdmin } from "./send-connectors.js";
import { TransportAdmin } from "./transport.js";
import { TransportServerAdmin } from "./transport-server.js";
import { TrustAdmin } from "./trust.js";
import { IdentityAdmin, localAdminTokenFile } from "../adminapi/accounts.js";

export class AdminApi {
  readonly certificates: CertificateAdmin;
  readonly trust: TrustAdmin;
  readonly partners: PartnerAdmin;
  readonly transport: TransportAdmin;
  readonly transportServer: TransportServerAdmin;
  readonly connectors: ConnectorAdmin;
  readonly sendConnectors: SendConnectorAdmin;
  readonly queues: QueueAdmin;
  readonly fleet: FleetAdmin;
  readonly logs: LogAdmin;
  readonly mailflow: MailflowAdmin;
  /** The admin door's accounts, tokens, local administrator and audit trail. */
  readonly identity: IdentityAdmin;

  constructor(readonly ctx: ServerContext) {
    this.certificates = new CertificateAdmin(ctx);
    this.trust = new TrustAdmin(ctx);
    this.partners = new PartnerAdmin(ctx);
    this.transport = new TransportAdmin(ctx);
    this.transportServer = new TransportServerAdmin(ctx);
    this.connectors = new ConnectorAdmin(ctx);
    this.sendConnectors = new SendConnectorAdmin(ctx);
    this.queues = new QueueAdmin(ctx);
    // No data folder (`--org URL` alone): no local administrator token.
    this.identity = new IdentityAdmin(ctx.org, ctx.now, { localAdminTokenFile: () => localAdminTokenFile(ctx.dir.root) });
    this.fleet = new FleetAdmin(ctx, this.identity);
    this.logs = new LogAdmin(ctx);
    this.mailflow = new MailflowAdmin(ctx);
  }

  static open(dataDir: string, opts: { now?: () => Date; org?: OrgStore } = {}): AdminApi {
    return new AdminApi(openServerContext(dataDir, opts));
  }

  /** Organization-level administration without a server's data folder (`sealpost --org URL`). */
  static forOrganization(org: OrgStore, opts: { now?: () => Date } = {}): AdminApi {
    return new AdminApi(openOrgOnlyContext(org, opts));
  }

  /** Opens the data folder and makes this server's defaults (the "Inet" receive connector). */
  static async openWithDefaults(dataDir: string, opts: { now?: () => Date } = {}): Promise<AdminApi> {
    const api = AdminApi.open(dataDir, opts);
    await api.connectors.ensureDefault();
    return api;
  }

  get serverName(): string {
    return this.ctx.serverName;
  }

  /** Renames this server; its receive connectors (and an FQDN that was the old name) follow. */
  async setServerName(name: string): Promise<string> {
    const old = this.ctx.serverName;
    const next = setServerName(this.ctx, name);
    if (next !== old) {
      for (const c of await this.ctx.org.listReceiveConnectors(old)) {
        await this.ctx.org.removeReceiveConnector(old, c.name);
        await this.ctx.org.addReceiveConnector({ ...c, server: next, fqdn: c.fqdn === old ? next : c.fqdn });
      }
    }
    return next;
  }

  async close(): Promise<void> {
    this.queues.close();
    await this.ctx.close();
  }
}
