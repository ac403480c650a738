// The organization store on PostgreSQL from the command line: where its URL
// comes from (--org, --org-file, SEALPOST_ORG, SEALPOST_ORG_FILE; the URL
// carries the password, so a file or the environment keeps it out of the
// process list and shell history), and `sealpost org ...`.
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import { migratePg, redactUrl } from "../org/pg/pg-org-store.js";
import { formatTable } from "../shell/format.js";
import { print, resolveOrgUrl, withApi, type GlobalOptions } from "./common.js";

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
        const v = await api.fleet.edges();
        print(cmd, v, () => (v.length === 0 ? "No edge has reported yet." : formatTable(v, ["Name", "Status", "AppliedVersion", "CurrentVersion", "Lag", "SecondsSinceContact"]).trim()));
      });
    });

  org
    .command("sync")
    .description("make every connected edge copy the configuration now (Start-EdgeSynchronization)")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await api.fleet.startSync();
        print(cmd, v, () => `Asked every connected edge to synchronize (configuration version ${v.CurrentVersion}).`);
      });
    });

  org
    .command("audit")
    .description("who changed the organization's configuration (Get-AdminAuditLog)")
    .option("--limit <n>", "the newest n changes", "50")
    .action(async (o: { limit: string }, cmd: Command) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new SealpostError("INVALID_ARGUMENT", `--limit '${o.limit}' is not a positive number.`);
      await withApi(cmd, async (api) => {
        const v = await api.fleet.auditLog({ limit });
        print(cmd, v, () => formatTable(v, ["Version", "RunDate", "Caller", "CmdletParameters"]).trim());
      });
    });
}
