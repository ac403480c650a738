// What every sealpost subcommand shares: the global options, opening the
// admin API for a command, printing a result (text or --json), the version,
// and the shell's host. The subcommand files import these from here, never
// from main.ts, so main.ts only assembles the program (no import cycle).
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { AdminApi } from "../admin/api.js";
import type { ChangeOptions } from "../admin/domain-security.js";
import { resolveDataDir } from "../config/datadir.js";
import { SealpostError } from "../errors/errors.js";
import { PgOrgStore, redactUrl } from "../org/pg/pg-org-store.js";
import { promptSecret } from "../secrets/secrets.js";
import type { ShellHost } from "../shell/shell.js";

export interface GlobalOptions {
  data?: string;
  json?: boolean;
  org?: string;
  orgFile?: string;
}

/**
 * The admin API for a command. With an organization store (--org ...),
 * organization-wide settings go to PostgreSQL and server-level ones to
 * --data DIR (or are refused when no data folder is named).
 */
export async function openApi(cmd: Command): Promise<AdminApi> {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const url = resolveOrgUrl(opts);
  if (url === undefined) return AdminApi.openWithDefaults(resolveDataDir(opts.data));
  const org = await PgOrgStore.open(url);
  const data = opts.data ?? process.env.SEALPOST_DATA;
  return data !== undefined && data !== "" ? AdminApi.open(resolveDataDir(data), { org }) : AdminApi.forOrganization(org);
}

/** Runs an action with the admin API open, closing it afterwards. */
export async function withApi<T>(cmd: Command, fn: (api: AdminApi) => Promise<T>): Promise<T> {
  const api = await openApi(cmd);
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}

/** A subcommand's --force as the admin API's confirmation; the warning goes to stderr. */
export function changeOptions(o: { force?: boolean }): ChangeOptions {
  return { force: o.force === true, warn: (message) => void process.stderr.write(`${message}\n`) };
}

export function makeShellHost(api: AdminApi): ShellHost {
  return {
    api,
    cwd: process.cwd(),
    env: process.env,
    readSecret: (prompt) => promptSecret(prompt),
    warn: (message) => void process.stderr.write(`${message}\n`),
    readLine: async (prompt) => {
      if (!process.stdin.isTTY) throw new SealpostError("SECRET_UNAVAILABLE", "Read-Host needs a terminal.");
      const readline = await import("node:readline/promises");
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(prompt);
      } finally {
        rl.close();
      }
    },
  };
}

export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "0.0.0";
  }
}

/**
 * The organization store's URL: --org, --org-file, SEALPOST_ORG_FILE or
 * SEALPOST_ORG (the URL carries the password, so a file or the environment
 * keeps it out of the process list and shell history).
 */
export function resolveOrgUrl(o: Pick<GlobalOptions, "org" | "orgFile">, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (o.org !== undefined && o.orgFile !== undefined) throw new SealpostError("INVALID_ARGUMENT", "Give --org or --org-file, not both.");
  const file = o.orgFile ?? (o.org === undefined ? env.SEALPOST_ORG_FILE : undefined);
  let url = o.org ?? (file === undefined ? env.SEALPOST_ORG : undefined);
  if (file !== undefined) {
    try {
      url = readFileSync(file, "utf8").split(/\r?\n/).map((l) => l.trim()).find((l) => l !== "" && !l.startsWith("#"));
    } catch (e) {
      throw new SealpostError("IO_ERROR", `The organization store URL file ${file} could not be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!url) throw new SealpostError("INVALID_ARGUMENT", `The file ${file} holds no PostgreSQL URL.`);
  }
  if (url === undefined || url.trim() === "") return undefined;
  url = url.trim();
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new SealpostError("INVALID_ARGUMENT", `${redactUrl(url)} is not a PostgreSQL URL (postgres://user:password@host:port/database?sslmode=verify-full).`);
  }
  return url;
}

/** Prints a result: JSON with --json, else the text form. */
export function print(cmd: Command, value: unknown, text: () => string): void {
  if (cmd.optsWithGlobals<GlobalOptions>().json) {
    process.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
  } else {
    const t = text();
    if (t !== "") process.stdout.write(`${t}\n`);
  }
}

export function jsonReplacer(_k: string, v: unknown): unknown {
  if (v && typeof v === "object" && (v as { type?: string }).type === "Buffer") return undefined;
  return v;
}

