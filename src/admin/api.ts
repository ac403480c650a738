// The one admin API. The CLI, the management shell, the HTTP admin endpoint
// and the web console all call this object; none reaches a store directly.
import { CertificateAdmin } from "./certificates.js";
import { openServerContext, setServerName, type ServerContext } from "./context.js";
import { PartnerAdmin } from "./partners.js";
import { TrustAdmin } from "./trust.js";

export class AdminApi {
  readonly certificates: CertificateAdmin;
  readonly trust: TrustAdmin;
  readonly partners: PartnerAdmin;

  constructor(readonly ctx: ServerContext) {
    this.certificates = new CertificateAdmin(ctx);
    this.trust = new TrustAdmin(ctx);
    this.partners = new PartnerAdmin(ctx);
  }

  static open(dataDir: string, opts: { now?: () => Date } = {}): AdminApi {
    return new AdminApi(openServerContext(dataDir, opts));
  }

  get serverName(): string {
    return this.ctx.serverName;
  }

  setServerName(name: string): string {
    return setServerName(this.ctx, name);
  }

  async close(): Promise<void> {
    await this.ctx.close();
  }
}
