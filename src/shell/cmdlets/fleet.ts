// The fleet: edge synchronization and the administrators' audit log.
import { SealpostError } from "../../errors/errors.js";
import type { CmdletDef } from "../shell.js";

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
    name: "Get-AdminAuditLog",
    synopsis: "Who changed the organization's configuration, when, with which command (newest first).",
    table: ["Version", "RunDate", "Caller", "CmdletParameters"],
    params: [
      { name: "StartDate", type: "string" },
      { name: "ResultSize", type: "string" },
    ],
    async run(args, ctx) {
      let since: Date | undefined;
      if (args.StartDate !== undefined) {
        since = new Date(args.StartDate as string);
        if (Number.isNaN(since.getTime())) throw new SealpostError("INVALID_ARGUMENT", `-StartDate '${String(args.StartDate)}' is not a date (e.g. 2026-11-29 or 2026-11-29T09:00:00Z).`);
      }
      let limit: number | undefined;
      if (args.ResultSize !== undefined) {
        limit = /^unlimited$/i.test(String(args.ResultSize)) ? 1_000_000 : Number(args.ResultSize);
        if (!Number.isInteger(limit) || limit < 1) throw new SealpostError("INVALID_ARGUMENT", `-ResultSize '${String(args.ResultSize)}' is not valid: give a positive number or Unlimited.`);
      }
      return ctx.api.fleet.auditLog({ ...(since ? { since } : {}), ...(limit ? { limit } : {}) });
    },
  },
];
