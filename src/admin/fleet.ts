// Admin API: the fleet — Test-EdgeSynchronization, Start-EdgeSynchronization
// (organization store on PostgreSQL only) and Get-AdminAuditLog (either
// store).
import { SealpostError } from "../errors/errors.js";
import { PgOrgStore } from "../org/pg/pg-org-store.js";
import type { ServerContext } from "./context.js";
import type { AdminAuditView, IdentityAdmin } from "../adminapi/accounts.js";

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

/** One configuration version of the organization store (org_audit): what changed it, by whom. */
export interface AuditView {
  Version: number;
  RunDate: string;
  Caller: string;
  Action: string;
  CmdletParameters: string;
}

export interface AdminAuditLogQuery {
  userIds?: string[];
  cmdlets?: string[];
  startDate?: Date;
  endDate?: Date;
  resultSize?: number;
}

export class FleetAdmin {
  constructor(
    private readonly ctx: ServerContext,
    private readonly identity: IdentityAdmin,
  ) {}

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

  /**
   * Get-AdminAuditLog: every call through the admin door (who, from where,
   * which cmdlet, the parameters with secrets redacted, the result), newest
   * first; in a fleet from the organization store, the same from any edge.
   */
  async adminAuditLog(q: AdminAuditLogQuery = {}): Promise<AdminAuditView[]> {
    if (q.startDate && q.endDate && q.startDate.getTime() > q.endDate.getTime()) {
      throw new SealpostError("INVALID_ARGUMENT", "-StartDate is after -EndDate: nothing can match.");
    }
    return this.identity.auditLog({
      ...(q.userIds ? { users: q.userIds } : {}),
      ...(q.cmdlets ? { cmdlets: q.cmdlets } : {}),
      ...(q.startDate ? { start: q.startDate } : {}),
      ...(q.endDate ? { end: q.endDate } : {}),
      limit: q.resultSize ?? 1000,
    });
  }

  /** The configuration versions and what made each (org_audit), newest first. */
  async configurationLog(opts: { limit?: number; since?: Date } = {}): Promise<AuditView[]> {
    return (await this.ctx.org.auditLog(opts)).map((e) => ({
      Version: e.version,
      RunDate: e.at.toISOString(),
      Caller: e.admin,
      Action: e.action,
      CmdletParameters: e.command ?? "",
    }));
  }
}
