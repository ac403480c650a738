// The command line's way through the admin door. Every `sealpost ...`
// subcommand that reads or changes the server (except init, serve and the
// organization store's schema migration) is a thin front end of the cmdlet
// table: it names a cmdlet and its parameters with the cmdlet's own names,
// and runs it with invokeCommand in process, as the local operator, via
// "cli" — so the call is role-checked, validated by the cmdlet, and (when it
// changes state) written to the admin audit log like a call from the shell
// or over HTTP. Files stay on this side: a parameter that names a file is
// read here and sent as FileData (or Password, or PEM text in a list) by the
// shell's own doorParameters, before the data folder is opened.
import path from "node:path";
import type { AdminApi } from "../admin/api.js";
import { localOperator } from "../adminapi/accounts.js";
import { errorFromResult, invokeCommand, lookupCmdlet } from "../adminapi/invoke.js";
import { SealpostError } from "../errors/errors.js";
import { clientFileOf, convertValue, findParam, type BoundArgs, type Resolved } from "../shell/binder.js";
import { allCmdlets } from "../shell/cmdlets/index.js";
import { doorParameters } from "../shell/shell.js";
import type { CmdletDef } from "../shell/types.js";
import { makeShellHost } from "./common.js";

/** A cmdlet call ready for the door: its files already read. */
export interface PreparedCall {
  def: CmdletDef;
  parameters: Record<string, unknown>;
  confirm?: false;
}

/**
 * Names a cmdlet and its parameters (the cmdlet's own names; undefined
 * values are left out) and reads the files they name, as the local shell
 * does. Only the file parameters are converted here; every other value is
 * bound, converted and checked by the door, so a bad one is refused (and
 * audited) there.
 */
export function prepareCmdlet(name: string, parameters: Record<string, unknown>, opts: { confirm?: false } = {}): PreparedCall {
  const def = lookupCmdlet(allCmdlets(), name);
  if (!def) throw new SealpostError("SHELL_UNKNOWN_CMDLET", `The term '${name}' is not recognized as the name of a cmdlet.`);
  const raw: Record<string, unknown> = {};
  const fileArgs: BoundArgs = {};
  for (const [k, v] of Object.entries(parameters)) {
    if (v === undefined) continue;
    const p = findParam(def.name, def.params, k);
    raw[p.name] = v;
    if (clientFileOf(p)) fileArgs[p.name] = convertValue(def.name, p, v as Resolved);
  }
  const sent = doorParameters(def, raw, fileArgs, { resolvePath: (p) => path.resolve(process.cwd(), p) });
  return { def, parameters: sent, ...(opts.confirm === false ? { confirm: false as const } : {}) };
}

/** Runs a prepared call through the door as the local operator (via "cli"): its objects, or its error thrown. */
export async function invokePrepared(api: AdminApi, call: PreparedCall): Promise<unknown[]> {
  const host = makeShellHost(api);
  const res = await invokeCommand(
    allCmdlets(),
    api,
    localOperator("cli"),
    { CmdletName: call.def.name, Parameters: call.parameters, ...(call.confirm === false ? { Confirm: false } : {}) },
    { remote: false, host },
  );
  if ("error" in res) throw errorFromResult(res.error);
  for (const w of res.warnings ?? []) process.stderr.write(`${w}\n`);
  return res.value;
}

/** Prepares and runs one cmdlet through the door (files read first). */
export async function runCmdlet(api: AdminApi, name: string, parameters: Record<string, unknown>, opts: { confirm?: false } = {}): Promise<unknown[]> {
  return invokePrepared(api, prepareCmdlet(name, parameters, opts));
}

/** The one object a cmdlet returned. */
export async function runOne<T = Record<string, unknown>>(api: AdminApi, name: string, parameters: Record<string, unknown>, opts: { confirm?: false } = {}): Promise<T> {
  const [v] = await runCmdlet(api, name, parameters, opts);
  return v as T;
}

/** Leaves out the entries whose value is undefined (commander leaves options it was not given undefined). */
export function given(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
