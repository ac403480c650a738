// The fleet: edge synchronization and the admin audit log (every call through the admin door).
import { SealpostError } from "../../errors/errors.js";
import type { AdminAuditLogQuery } from "../../admin/fleet.js";
import { parseLogTime } from "../../admin/logs.js";
import type { BoundArgs } from "../binder.js";
import type { CmdletDef } from "../shell.js";

/** A date as an administrator types it (the log cmdlets' forms; local time without a zone), or INVALID_ARGUMENT naming the parameter. */
export function parseAuditDate(name: string, value: unknown): Date {
  if (typeof value !== "string") throw new SealpostError("INVALID_ARGUMENT", `-${name} takes a date (e.g. 2026-11-29 or 2026-11-29T09:00:00Z).`);
  return new Date(parseLogTime(value.slice(0, 100), `-${name}`));
}

/** A positive number, or Unlimited; INVALID_ARGUMENT otherwise. */
export function parseResultSize(value: unknown): number {
  const n = /^unlimited$/i.test(String(value)) ? 1_000_000 : Number(value);
  if (!Number.isInteger(n) || n < 1) throw new SealpostError("INVALID_ARGUMENT", `-ResultSize '${String(value).slice(0, 80)}' is not valid: give a positive number or Unlimited.`);
  return Math.min(n, 1_000_000);
}

function auditQuery(args: BoundArgs): AdminAuditLogQuery {
  const q: AdminAuditLogQuery = {
    ...(args.UserIds !== undefined ? { userIds: args.UserIds as string[] } : {}),
    ...(args.Cmdlets !== undefined ? { cmdlets: args.Cmdlets as string[] } : {}),
    ...(args.StartDate !== undefined ? { startDate: parseAuditDate("StartDate", args.StartDate) } : {}),
    ...(args.EndDate !== undefined ? { endDate: parseAuditDate("EndDate", args.EndDate) } : {}),
    ...(args.ResultSize !== undefined ? { resultSize: parseResultSize(args.ResultSize) } : {}),
  };
  if (q.startDate && q.endDate && q.startDate.getTime() > q.endDate.getTime()) throw new SealpostError("INVALID_ARGUMENT", "-StartDate is after -EndDate: nothing can match.");
  return q;
}

export const fleetCmdlets: CmdletDef[] = [
  {
    name: "Test-EdgeSynchronization",
    synopsis: "Every edge of the organization: applied configuration version, lag, last contact; flags edges behind or silent (needs --org).",
    table: ["Name", "Status", "AppliedVersion", "CurrentVersion", "Lag", "SecondsSinceContact"],
    params: [],
    async run(_args, ctx) {
      return ctx.api.fleet.edges();
    },
  },
  {
    name: "Start-EdgeSynchronization",
    synopsis: "Makes every connected edge copy the organization's configuration now (needs --org).",
    params: [],
    async run(_args, ctx) {
      return [await ctx.api.fleet.startSync()];
    },
  },
  {
    name: "Get-ConfigurationLog",
    synopsis: "The organization store's configuration versions, newest first: which store operation made each, by whom (on PostgreSQL, which database role), and the command line that asked for it (sealpost org versions).",
    table: ["Version", "RunDate", "Caller", "CmdletParameters"],
    params: [{ name: "ResultSize", type: "string", help: "the newest n (default 50), or Unlimited" }],
    validate(args) {
      if (args.ResultSize !== undefined) parseResultSize(args.ResultSize);
    },
    async run(args, ctx) {
      return ctx.api.fleet.configurationLog({ limit: args.ResultSize === undefined ? 50 : parseResultSize(args.ResultSize) });
    },
  },
  {
    name: "Get-AdminAuditLog",
    synopsis: "Every call through the admin door (shell, CLI, HTTP): who, from where, which cmdlet with its parameters (secrets redacted), the result; newest first. In a fleet, the organization's one log.",
    table: ["RunDate", "Caller", "CmdletName", "Result", "ClientIP"],
    params: [
      { name: "UserIds", type: "strings", help: "only calls by these accounts" },
      { name: "Cmdlets", type: "strings", help: "only these cmdlets (Session: logins)" },
      { name: "StartDate", type: "string", help: "from this time (2026-11-29 or 2026-11-29T09:00:00Z)" },
      { name: "EndDate", type: "string", help: "before this time" },
      { name: "ResultSize", type: "string", help: "the newest n (default 1000), or Unlimited" },
    ],
    validate(args) {
      auditQuery(args);
    },
    async run(args, ctx) {
      return ctx.api.fleet.adminAuditLog(auditQuery(args));
    },
  },
];
