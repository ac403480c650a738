// Admin API: the fleet — Test-EdgeSynchronization, Start-EdgeSynchronization
// (organization store on PostgreSQL only) and Get-AdminAuditLog (either
// store).
import { SealpostError } from "../errors/errors.js";
import { PgOrgStore } from "../org/pg/pg-org-store.js";
import type { ServerContext } from "./context.js";

/** An edge that has not reported for this long is "Silent". */
export const SILENT_AFTER_MS = 60_000;
/** An edge behind the current version for longer than this is "Behind" (it applies within seconds). */
export const BEHIND_AFTER_MS = 10_000;

export interface EdgeSyncView {
  Name: string;
  Fqdn: string;
  SoftwareVersion: string;
  AppliedVersion: number;
  CurrentVersion: number;
  Lag: number;
  LastContact: string;
  SecondsSinceContact: number;
  Status: "InSync" | "Syncing" | "Behind" | "Silent";
}

export interface AuditView {
  Version: number;
  RunDate: string;
  Caller: string;
  Action: string;
  CmdletParameters: string;
}

export class FleetAdmin {
  constructor(private readonly ctx: ServerContext) {}

  private pg(what: string): PgOrgStore {
    if (this.ctx.org instanceof PgOrgStore) return this.ctx.org;
    throw new SealpostError("INVALID_ARGUMENT", `${what} works on an organization store: run it with --org <postgresql url> (or SEALPOST_ORG).`);
  }

  /** Every edge with its applied version, lag and last contact; flags edges behind or silent. */
  async edges(now = new Date()): Promise<EdgeSyncView[]> {
    const store = this.pg("Test-EdgeSynchronization");
    const [current, rows, committedAt] = [await store.version(), await store.edgeStatus(), await store.committedAt()];
    return rows.map((r) => {
      const since = Math.max(0, now.getTime() - r.lastContact.getTime());
      const lag = Math.max(0, current - r.appliedVersion);
      let status: EdgeSyncView["Status"] = "InSync";
      if (since > SILENT_AFTER_MS) status = "Silent";
      else if (lag > 0) status = now.getTime() - committedAt.getTime() > BEHIND_AFTER_MS ? "Behind" : "Syncing";
      return {
        Name: r.serverName,
        Fqdn: r.fqdn,
        SoftwareVersion: r.softwareVersion,
        AppliedVersion: r.appliedVersion,
        CurrentVersion: current,
        Lag: lag,
        LastContact: r.lastContact.toISOString(),
        SecondsSinceContact: Math.round(since / 1000),
        Status: status,
      };
    });
  }

  /** Start-EdgeSynchronization: every connected edge copies the configuration now. */
  async startSync(): Promise<{ RequestedAt: string; CurrentVersion: number }> {
    const store = this.pg("Start-EdgeSynchronization");
    await store.requestSync();
    return { RequestedAt: new Date().toISOString(), CurrentVersion: await store.version() };
  }

  async auditLog(opts: { limit?: number; since?: Date } = {}): Promise<AuditView[]> {
    return (await this.ctx.org.auditLog(opts)).map((e) => ({
      Version: e.version,
      RunDate: e.at.toISOString(),
      Caller: e.admin,
      Action: e.action,
      CmdletParameters: e.command ?? "",
    }));
  }
}
