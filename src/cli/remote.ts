// The remote front end: `sealpost --server URL login --user NAME` turns a
// password into an API token for that account (POST Session, then POST
// Token for oneself; the session ends at once) and keeps it in the user's
// config folder ($XDG_CONFIG_HOME/sealpost/logins.json, mode 0600, keyed by
// the server's origin); `sealpost --server URL shell ...` runs the shell
// here with every table cmdlet sent over HTTP (pipelines, variables,
// formatting and the files named by -Path stay here); `logout` removes the
// token from the server and the file.
import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import type { AdminApi } from "../admin/api.js";
import { DoorClient, loginForToken, serverOrigin } from "../adminapi/client.js";
import { writeFileDurable } from "../config/datadir.js";
import { readInputFile } from "../config/files.js";
import { SealpostError, errorMessage, isSealpostError } from "../errors/errors.js";
import { promptSecret, readSecretFile } from "../secrets/secrets.js";
import { allCmdlets } from "../shell/cmdlets/index.js";
import { splitScript } from "../shell/parser.js";
import { runInteractive } from "../shell/repl.js";
import { Shell, type ShellHost } from "../shell/shell.js";
import { jsonReplacer, makeShellHost, print, type GlobalOptions } from "./common.js";

export interface StoredLogin {
  user: string;
  token: string;
  tokenId: string;
  created: string;
}

type RemoteOptions = GlobalOptions & { server?: string };

/** $XDG_CONFIG_HOME/sealpost (default ~/.config/sealpost), mode 0700. */
export function configFolder(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), ".config");
  return path.join(base, "sealpost");
}

export function loginsFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configFolder(env), "logins.json");
}

function readLogins(): Record<string, StoredLogin> {
  const file = loginsFile();
  if (!existsSync(file)) return {};
  try {
    const v = JSON.parse(readFileSync(file, "utf8")) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, StoredLogin>) : {};
  } catch {
    throw new SealpostError("IO_ERROR", `${file} is not a logins file (JSON); remove it and log in again.`);
  }
}

function writeLogins(all: Record<string, StoredLogin>): void {
  const dir = configFolder();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeFileDurable(loginsFile(), `${JSON.stringify(all, null, 2)}\n`, 0o600);
}

function serverOf(cmd: Command): string {
  const url = cmd.optsWithGlobals<RemoteOptions>().server;
  if (url === undefined) throw new SealpostError("INVALID_ARGUMENT", "Name the server: sealpost --server https://HOST:PORT ...");
  return serverOrigin(url);
}

/** The stored login for a server, or ADMIN_NOT_LOGGED_IN. */
export function storedLogin(origin: string): StoredLogin {
  const l = readLogins()[origin];
  if (!l) throw new SealpostError("ADMIN_NOT_LOGGED_IN", `No login for ${origin}: run sealpost --server ${origin} login --user NAME.`);
  return l;
}

/** A local API for the shell's host type: a remote shell has none (its cmdlets run on the server). */
const NO_LOCAL_API = new Proxy({} as AdminApi, {
  get() {
    throw new SealpostError("INTERNAL", "A remote shell has no local admin API; its cmdlets run on the server.");
  },
});

export async function remoteShellHost(origin: string): Promise<ShellHost> {
  const login = storedLogin(origin);
  const client = new DoorClient(origin, login.token);
  const me = await client.whoAmI().catch((e: unknown) => {
    if (isSealpostError(e, "UNAUTHORIZED")) throw new SealpostError("ADMIN_NOT_LOGGED_IN", `The stored login for ${origin} is no longer valid (${errorMessage(e)}); log in again.`);
    throw e;
  });
  const local = makeShellHost(NO_LOCAL_API);
  return {
    ...local,
    caller: { name: me.Name, roles: me.RoleGroups, via: "cli", from: "local", authenticatedBy: "token" },
    invoke: (input) => client.invoke(input),
    cmdletInfo: () => client.cmdletInfo(),
  };
}

/** `sealpost --server URL shell [-c LINE | -f FILE]`. */
export async function runRemoteShell(opts: { command?: string; file?: string }, cmd: Command): Promise<void> {
  const origin = serverOf(cmd);
  const host = await remoteShellHost(origin);
  if (opts.command === undefined && opts.file === undefined) {
    mkdirSync(configFolder(), { recursive: true, mode: 0o700 });
    await runInteractive((io) => new Shell({ ...host, ...io }, allCmdlets()), configFolder(), new URL(origin).host);
    return;
  }
  const shell = new Shell(host, allCmdlets());
  if (opts.command !== undefined) {
    if (cmd.optsWithGlobals<GlobalOptions>().json) {
      process.stdout.write(`${JSON.stringify(await shell.runObjects(opts.command), jsonReplacer, 2)}\n`);
      return;
    }
    const out = await shell.runLine(opts.command);
    if (out !== "") process.stdout.write(`${out}\n`);
    return;
  }
  const text = readInputFile(opts.file as string, "script").toString("utf8");
  for (const { line, lineNo } of splitScript(text)) {
    try {
      const out = await shell.runLine(line);
      if (out !== "") process.stdout.write(`${out}\n`);
    } catch (e) {
      throw new SealpostError(isSealpostError(e) ? e.code : "SHELL_SYNTAX", `${opts.file ?? ""}:${lineNo}: ${errorMessage(e)}`);
    }
  }
}

/** The commands that go to a remote server; every other one works on a local data folder. */
const REMOTE_COMMANDS = new Set(["shell", "login", "logout"]);

export function registerRemoteCommands(program: Command): void {
  // --server with a local command would silently act on the local data folder: refused.
  program.hook("preAction", (_program, action) => {
    if (action.optsWithGlobals<RemoteOptions>().server !== undefined && !REMOTE_COMMANDS.has(action.name())) {
      throw new SealpostError("INVALID_ARGUMENT", `--server works with shell, login and logout; run the cmdlet instead: sealpost --server URL shell -c '...' (${action.name()} acts on a local data folder).`);
    }
  });
  program
    .command("login")
    .description("log in to a server's admin endpoint (--server URL): an API token for the account, kept in $XDG_CONFIG_HOME/sealpost/logins.json (mode 0600)")
    .requiredOption("--user <name>", "the administrator account")
    .option("--password-file <file>", "a file whose first line is the password (else asked on the terminal)")
    .action(async (o: { user: string; passwordFile?: string }, cmd: Command) => {
      const origin = serverOf(cmd);
      const password = o.passwordFile !== undefined ? readSecretFile(o.passwordFile) : await promptSecret(`Password for ${o.user} at ${origin}: `);
      const t = await loginForToken(origin, o.user, password, `sealpost login from ${os.hostname()}`.slice(0, 200));
      const all = readLogins();
      all[origin] = { user: o.user, token: t.token, tokenId: t.id, created: new Date().toISOString() };
      writeLogins(all);
      print(cmd, { Server: origin, User: o.user, RoleGroups: t.roles, TokenId: t.id, LoginsFile: loginsFile() }, () => `Logged in to ${origin} as ${o.user} (${t.roles.join(", ")}); the token is kept in ${loginsFile()}.`);
    });
  program
    .command("logout")
    .description("remove the stored login for --server URL (and its token on the server)")
    .action(async (_o: unknown, cmd: Command) => {
      const origin = serverOf(cmd);
      const all = readLogins();
      const l = all[origin];
      if (!l) throw new SealpostError("ADMIN_NOT_LOGGED_IN", `No login for ${origin}.`);
      // The token is removed on the server when it may be; the local copy goes in any case.
      let revoked = false;
      try {
        const r = await new DoorClient(origin, l.token).invoke({ CmdletName: "Remove-AdminToken", Parameters: { Identity: l.tokenId }, Confirm: false });
        revoked = !("error" in r);
      } catch {
        revoked = false;
      }
      delete all[origin];
      writeLogins(all);
      print(cmd, { Server: origin, User: l.user, TokenRemoved: revoked }, () => `Logged out of ${origin}${revoked ? "" : " (the token could not be removed on the server: remove it there with Remove-AdminToken)"}.`);
    });
}
