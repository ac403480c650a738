// The sealpost command line: global options, the management shell, and
// ordinary subcommands for scripts (each with --json). Every command goes
// through the admin API.
import { Command, Option } from "commander";
import type { AdminApi } from "../admin/api.js";
import { readInputFile } from "../config/files.js";
import { SealpostError, errorMessage, isSealpostError } from "../errors/errors.js";
import { allCmdlets } from "../shell/cmdlets/index.js";
import { runInteractive } from "../shell/repl.js";
import { Shell } from "../shell/shell.js";
import { splitScript } from "../shell/parser.js";
import { registerAdminUserCommands } from "./admin-user.js";
import { registerCertCommands } from "./cert.js";
import { given, runCmdlet, runOne } from "./door.js";
import type { CounterSample } from "../shell/cmdlets/counters.js";
import { formatList, formatTable } from "../shell/format.js";
import { registerLogCommands } from "./logs.js";
import { registerOrgCommands } from "./org.js";
import { registerPartnerCommands } from "./partner.js";
import { registerQueueCommands } from "./queue.js";
import { registerSendConnectorCommands } from "./send-connector.js";
import { registerRemoteCommands, runRemoteShell } from "./remote.js";
import { registerServeCommand } from "./serve.js";
import { registerServerCommands } from "./server.js";
import { registerTrustCommands } from "./trust.js";
import { jsonReplacer, makeShellHost, print, version, withApi, type GlobalOptions } from "./common.js";

// The shared helpers live in common.ts; re-exported for callers that import them from here.
export { changeOptions, makeShellHost, openApi, print, version, withApi, type GlobalOptions } from "./common.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("sealpost")
    .description("Sealpost: an edge mail server with Domain Security (mutual TLS with partner domains).")
    .version(version())
    .option("--data <dir>", "the server's data folder (default: $SEALPOST_DATA or ./data)")
    .option("--json", "print results as JSON (for scripts)")
    .option("--org <url>", "the organization store (PostgreSQL URL) for organization-wide settings (default: $SEALPOST_ORG)")
    .option("--org-file <file>", "a file holding the organization store's URL (default: $SEALPOST_ORG_FILE)")
    .option("--server <url>", "a running server's admin endpoint (https://host:port): shell, login and logout go there over HTTP")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("init")
    .description("create or open the data folder; optionally set this server's FQDN")
    .option("--name <fqdn>", "this server's fully qualified domain name")
    .action(async (opts: { name?: string }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        if (opts.name) await api.setServerName(opts.name);
        print(cmd, { Server: api.serverName, DataFolder: api.ctx.dir.root }, () => `Server ${api.serverName}, data folder ${api.ctx.dir.root}`);
      });
    });

  program
    .command("shell")
    .description("the management shell: Exchange-style cmdlets (interactive, -c LINE or -f FILE)")
    .addOption(new Option("-c, --command <line>", "run one command line and exit"))
    .addOption(new Option("-f, --file <file>", "run a script: one command a line, # comments"))
    .action(async (opts: { command?: string; file?: string }, cmd: Command) => {
      if (cmd.optsWithGlobals<{ server?: string }>().server !== undefined) return runRemoteShell(opts, cmd);
      await withApi(cmd, async (api) => {
        if (opts.command === undefined && opts.file === undefined) {
          await runInteractive((io) => new Shell({ ...makeShellHost(api), ...io }, allCmdlets()), api.ctx.dir.root, api.serverName);
          return;
        }
        const shell = new Shell(makeShellHost(api), allCmdlets());
        // The audit log records the command line (a literal password in it is masked).
        const audit = (line: string) => api.ctx.org.setAuditContext({ command: line.replace(/(-Password(?!File)\s*:?\s*)("[^"]*"|'[^']*'|\S+)/gi, "$1****") });
        if (opts.command !== undefined) {
          audit(opts.command);
          if (cmd.optsWithGlobals<GlobalOptions>().json) {
            // --json: the pipeline's objects, not their formatted text.
            const objects = await shell.runObjects(opts.command);
            process.stdout.write(`${JSON.stringify(objects, jsonReplacer, 2)}\n`);
            return;
          }
          const out = await shell.runLine(opts.command);
          if (out !== "") process.stdout.write(`${out}\n`);
          return;
        }
        if (opts.file !== undefined) {
          const text = readInputFile(opts.file, "script").toString("utf8");
          for (const { line, lineNo } of splitScript(text)) {
            audit(line);
            try {
              const out = await shell.runLine(line);
              if (out !== "") process.stdout.write(`${out}\n`);
            } catch (e) {
              throw new SealpostError(isSealpostError(e) ? e.code : "SHELL_SYNTAX", `${opts.file}:${lineNo}: ${errorMessage(e)}`);
            }
          }
        }
      });
    });

  registerCertCommands(program);
  registerTrustCommands(program);
  registerPartnerCommands(program);
  registerServeCommand(program);
  registerRemoteCommands(program);
  registerServerCommands(program);
  registerQueueCommands(program);
  registerSendConnectorCommands(program);
  registerLogCommands(program);
  registerOrgCommands(program);
  registerAdminUserCommands(program);
  program
    .command("demo")
    .description("run the seed scenario on loopback: a test PKI, DNS, Contoso's two edges on one organization store, Woodgrove's edge; mail both ways and what must fail")
    .option("--dir <dir>", "the folder for the demo's servers, logs and mailboxes (replaced)", "sealpost-demo")
    .option("--net <127.x>", "the loopback /16 to use (servers on <net>.1.1, <net>.1.2, <net>.2.1)", "127.0")
    .action(async (o: { dir: string; net: string }) => {
      const { runDemo } = await import("../demo/run.js");
      process.exitCode = await runDemo({ dir: o.dir, net: o.net });
    });
  program
    .command("test-mailflow <address>")
    .description("send a probe through the real send path and report the next hop, TLS, certificates, checks and whether it was domain-secured (Test-Mailflow)")
    .option("--detailed", "include the SMTP transcript")
    .option("--from <address>", "the probe's sender")
    .action(async (address: string, o: { detailed?: boolean; from?: string }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const r = await runOne<Awaited<ReturnType<AdminApi["mailflow"]["test"]>>>(api, "Test-Mailflow", given({ TargetEmailAddress: address, Detailed: o.detailed ? true : undefined, From: o.from ? o.from : undefined }));
        print(cmd, r, () => formatMailflow(r));
        if (r.Result !== "Success") process.exitCode = 2;
      });
    });
  program
    .command("counters")
    .description("the running server's counters (Domain-Secured Messages Received/Sent, Outbound Session Failures, ...)")
    .option("--all", "every sealpost_* metric too")
    .action(async (o: { all?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const samples = (await runCmdlet(api, "Get-Counter", given({ Counter: o.all ? "*" : undefined }))) as CounterSample[];
        print(cmd, Object.fromEntries(samples.map((c) => [c.Path, c.CookedValue])), () => formatTable(samples, ["Path", "CookedValue"]));
      });
    });
  return program;
}

/** Test-Mailflow's report for people. */
function formatMailflow(r: Awaited<ReturnType<AdminApi["mailflow"]["test"]>>): string {
  const { Checks, Transcript, ...rest } = r;
  const out = [formatList([rest]).trim()];
  if (Checks.length > 0) out.push("", "Checks:", ...Checks.map((c) => `  [${c.Result}] ${c.Check}: ${c.Detail}`));
  if (Transcript) out.push("", "Transcript:", ...Transcript.map((l) => `  ${l}`));
  return out.join("\n");
}

export async function main(argv: string[]): Promise<number> {
  // What this process creates is private to its user unless given a mode on
  // purpose: the data folder and its files (0700/0600, also set explicitly
  // where they are made), logs, queues, maildirs, and the administrator's
  // output files.
  process.umask(0o077);
  const program = buildProgram();
  const wantsJson = argv.includes("--json");
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    if (typeof err.code === "string" && err.code.startsWith("commander.")) {
      return err.exitCode ?? 1;
    }
    if (wantsJson) {
      const body = isSealpostError(e) ? e.toJSON() : { code: "INTERNAL", message: errorMessage(e) };
      process.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
    } else {
      process.stderr.write(`${errorMessage(e)}\n`);
    }
    return 1;
  }
}
