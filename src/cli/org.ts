// The organization store on PostgreSQL from the command line: where its URL
// comes from (--org, --org-file, SEALPOST_ORG, SEALPOST_ORG_FILE; the URL
// carries the password, so a file or the environment keeps it out of the
// process list and shell history), and `sealpost org ...`: every command but
// migrate runs its cmdlet through the admin door (door.ts); migrate is the
// store's own schema step, before any door can open it.
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import { migratePg, redactUrl } from "../org/pg/pg-org-store.js";
import { formatTable } from "../shell/format.js";
import { parseAuditDate, parseResultSize } from "../shell/cmdlets/fleet.js";
import { print, resolveOrgUrl, withApi, type GlobalOptions } from "./common.js";
import { given, runCmdlet, runOne } from "./door.js";

export { resolveOrgUrl } from "./common.js";

export function registerOrgCommands(program: Command): void {
  const org = program.command("org").description("the organization store on PostgreSQL (a fleet of edges): migrate, edges, sync, audit");

  org
    .command("migrate")
    .description("create or upgrade the organization store's schema (an administrator's step; edges never migrate)")
    .action(async (_o: unknown, cmd: Command) => {
      const url = resolveOrgUrl(cmd.optsWithGlobals<GlobalOptions>());
      if (!url) throw new SealpostError("INVALID_ARGUMENT", "sealpost org migrate needs the store: --org <url>, --org-file <file> or SEALPOST_ORG.");
      const r = await migratePg(url);
      print(cmd, { From: r.from, To: r.to, Store: redactUrl(url) }, () => (r.from === r.to ? `The organization store ${redactUrl(url)} is at schema version ${r.to}; nothing to do.` : `Migrated ${redactUrl(url)} from schema version ${r.from} to ${r.to}.`));
    });

  org
    .command("edges")
    .description("every edge with its applied configuration version, lag and last contact (Test-EdgeSynchronization)")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Test-EdgeSynchronization", {});
        print(cmd, v, () => (v.length === 0 ? "No edge has reported yet." : formatTable(v, ["Name", "Status", "AppliedVersion", "CurrentVersion", "Lag", "SecondsSinceContact"]).trim()));
      });
    });

  org
    .command("sync")
    .description("make every connected edge copy the configuration now (Start-EdgeSynchronization)")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runOne<{ CurrentVersion: number }>(api, "Start-EdgeSynchronization", {});
        print(cmd, v, () => `Asked every connected edge to synchronize (configuration version ${v.CurrentVersion}).`);
      });
    });

  org
    .command("audit")
    .description("every call through the admin door: who, from where, which cmdlet and parameters (secrets redacted), the result, newest first (Get-AdminAuditLog)")
    .option("--user <names>", "only calls by these accounts (comma-separated)")
    .option("--cmdlet <names>", "only these cmdlets (comma-separated; Session: logins)")
    .option("--start <date>", "from this time (2026-11-29 or 2026-11-29T09:00:00Z)")
    .option("--end <date>", "before this time")
    .option("--limit <n>", "the newest n records, or Unlimited", "50")
    .action(async (o: { user?: string; cmdlet?: string; start?: string; end?: string; limit: string }, cmd: Command) => {
      const list = (v: string) => v.split(",").map((x) => x.trim()).filter((x) => x !== "");
      // Checked here first, so the messages name the command line's options.
      if (o.start !== undefined) parseAuditDate("-start", o.start);
      if (o.end !== undefined) parseAuditDate("-end", o.end);
      parseResultSize(o.limit);
      const parameters = given({ UserIds: o.user !== undefined ? list(o.user) : undefined, Cmdlets: o.cmdlet !== undefined ? list(o.cmdlet) : undefined, StartDate: o.start, EndDate: o.end, ResultSize: o.limit });
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Get-AdminAuditLog", parameters);
        print(cmd, v, () => (v.length === 0 ? "No audit record matches." : formatTable(v, ["RunDate", "Caller", "CmdletName", "Result", "ClientIP", "Via"]).trim()));
      });
    });

  org
    .command("versions")
    .description("the configuration versions of the organization store: which store operation made each, by whom (and, on PostgreSQL, which database role)")
    .option("--limit <n>", "the newest n versions", "50")
    .action(async (o: { limit: string }, cmd: Command) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new SealpostError("INVALID_ARGUMENT", `--limit '${o.limit}' is not a positive number.`);
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Get-ConfigurationLog", { ResultSize: String(limit) });
        print(cmd, v, () => formatTable(v, ["Version", "RunDate", "Caller", "CmdletParameters"]).trim());
      });
    });
}
