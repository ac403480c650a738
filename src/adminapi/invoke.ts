// The one entry of the admin door. Every front end — the local shell and
// CLI in process, the remote CLI and the console over HTTP — runs a cmdlet
// of the shell's table through invokeCommand: the cmdlet is looked up in
// the same table, its JSON parameters bound by the shell's binder rules
// (names with unique prefixes and aliases, the same conversions), mandatory
// parameters and the cmdlet's own checks applied, the caller's role checked
// (403 naming the role that would allow it), removals and changes that turn
// Domain Security off held for confirmation (409), and every state-changing
// call recorded in the admin audit log with its secrets redacted. No
// parameter names a file: the client turns files into FileData.
import type { AdminApi } from "../admin/api.js";
import { ERROR_CODES, SealpostError, errorMessage, isSealpostError, type ErrorCode } from "../errors/errors.js";
import { checkMandatory, clientFileOf, convertValue, findParam, type BoundArgs, type ParamDef } from "../shell/binder.js";
import type { CmdletContext, CmdletDef, ShellHost } from "../shell/types.js";
import type { InvokeError, InvokeInput, InvokeResult } from "./door-types.js";
import { changesState } from "./cmdlet-info.js";
import { redactParameters } from "./redact.js";
import type { AuditResult, Caller } from "./identity.js";
import { mayRun } from "./roles.js";

export type { InvokeError, InvokeInput, InvokeResult } from "./door-types.js";

export interface InvokeOptions {
  /** Over HTTP (true) or in process (false). */
  remote: boolean;
  /** In process: the shell's terminal (secret prompts, warnings). Over HTTP there is none. */
  host?: Pick<ShellHost, "readSecret" | "readLine" | "warn" | "env">;
  /** Where an unexpected failure's detail goes (never to the caller). */
  log?: (message: string) => void;
}

/** The wire code of a confirmation the caller must give. */
export const CONFIRMATION_REQUIRED_WIRE = "ConfirmationRequired";

const MAX_NAME = 100;

function statusOf(code: string): number {
  switch (code) {
    case "NOT_FOUND":
    case "SHELL_UNKNOWN_CMDLET":
      return 404;
    case "CONFIRMATION_REQUIRED":
    case CONFIRMATION_REQUIRED_WIRE:
      return 409;
    case "ROLE_REQUIRED":
      return 403;
    case "UNAUTHORIZED":
      return 401;
    case "ALREADY_EXISTS":
    case "ORG_READ_ONLY":
      return 409;
    case "ORG_UNREACHABLE":
      return 503;
    case "INTERNAL":
    case "IO_ERROR":
    case "SPOOL_CLOSED":
    case "STORE_SCHEMA_TOO_NEW":
    case "ORG_SCHEMA_TOO_NEW":
    case "ORG_SCHEMA_OLD":
    case "ORG_PERMISSION_DENIED":
      return 500;
    default:
      return 400;
  }
}

/**
 * A failure as the caller sees it: a SealpostError's code and message; over
 * HTTP a server-side failure (a path, a database message) is 500 INTERNAL
 * without detail, while the local operator, at this machine, gets it whole.
 */
function failure(e: unknown, log?: (m: string) => void, remote = true): { error: InvokeError; status: number } {
  if (isSealpostError(e)) {
    const status = statusOf(e.code);
    if (status === 500 && e.code !== "ORG_PERMISSION_DENIED" && remote) {
      // Server-side detail (a path, a database message) stays in the server's log.
      log?.(`admin door: ${e.code}: ${e.message}`);
      return { error: { code: "INTERNAL", message: ERROR_CODES.INTERNAL }, status };
    }
    const code = e.code === "CONFIRMATION_REQUIRED" ? CONFIRMATION_REQUIRED_WIRE : e.code;
    return { error: { code, message: e.message }, status };
  }
  log?.(`admin door: unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : errorMessage(e)}`);
  return { error: { code: "INTERNAL", message: remote ? ERROR_CODES.INTERNAL : errorMessage(e) }, status: 500 };
}

/** The audit result of a failed call: a ROLE_REQUIRED raised by the cmdlet's own code (an account or token method) is a refusal by role. */
function auditResultOf(status: number): AuditResult {
  return status === 403 ? "RefusedByRole" : status >= 500 ? "Failed" : "Invalid";
}

/** The error a front end raises for a door's answer (the wire code back to the shell's code). */
export function errorFromResult(err: InvokeError): SealpostError {
  const code = err.code === CONFIRMATION_REQUIRED_WIRE ? "CONFIRMATION_REQUIRED" : err.code;
  return new SealpostError(code in ERROR_CODES ? (code as ErrorCode) : "INTERNAL", err.message);
}

export function lookupCmdlet(table: readonly CmdletDef[], name: string): CmdletDef | undefined {
  const lower = name.toLowerCase();
  return table.find((c) => c.name.toLowerCase() === lower || c.aliases?.some((a) => a.toLowerCase() === lower));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** Binds JSON parameters by name (unique prefixes, aliases) with the shell's conversions; a file parameter is refused. */
export function bindJsonParameters(def: CmdletDef, params: Record<string, unknown>): BoundArgs {
  const args: BoundArgs = {};
  const seen = new Map<ParamDef, string>();
  for (const [name, value] of Object.entries(params)) {
    const p = findParam(def.name, def.params, name);
    const earlier = seen.get(p);
    if (earlier !== undefined) throw new SealpostError("SHELL_BAD_VALUE", `${def.name}: Parameter -${p.name} is given more than once (${earlier}, ${name}).`);
    seen.set(p, name);
    const file = clientFileOf(p);
    // List entries that named files arrive as certificate text; the others name a file here and are refused.
    if (file && file !== "entries") {
      const carrier = p.fileDataParam ?? (file === "secret" ? "Password" : "FileData");
      throw new SealpostError(
        "ADMIN_SERVER_PATH",
        `${def.name}: -${p.name} names a path on the server; send ${file === "write" ? "nothing: the result carries the file as FileData" : `the content as -${carrier}${file === "secret" ? "" : " (base64)"}`}.`,
      );
    }
    args[p.name] = convertValue(def.name, p, value);
  }
  return args;
}

/** A door with no terminal: a prompt is refused, warnings are returned with the result. */
function remoteHost(warnings: string[], env: NodeJS.ProcessEnv = {}): Pick<ShellHost, "readSecret" | "readLine" | "warn" | "env"> {
  return {
    env,
    readSecret: () => Promise.reject(new SealpostError("SECRET_UNAVAILABLE", "The admin door cannot ask for a password: send it as the Password parameter in the request body.")),
    readLine: () => Promise.reject(new SealpostError("SECRET_UNAVAILABLE", "The admin door cannot ask for input: give every value as a parameter.")),
    warn: (m) => void warnings.push(m),
  };
}

function describeTarget(args: BoundArgs): string {
  for (const k of ["Identity", "Thumbprint", "Name", "DomainName", "User", "PrimarySmtpAddress"]) {
    if (typeof args[k] === "string") return args[k];
  }
  return "";
}

/**
 * Runs one cmdlet for a caller. Never throws: the answer is the objects
 * (`value`) or an error with its HTTP status.
 */
export async function invokeCommand(table: readonly CmdletDef[], api: AdminApi, caller: Caller, input: InvokeInput, opts: InvokeOptions): Promise<InvokeResult> {
  if (!isPlainObject(input) || typeof input.CmdletName !== "string" || input.CmdletName.trim() === "" || input.CmdletName.length > MAX_NAME) {
    return { error: { code: "INVALID_ARGUMENT", message: "CmdletInput.CmdletName must name a cmdlet (Get-Command lists them)." }, status: 400 };
  }
  const rawParams = input.Parameters ?? {};
  if (!isPlainObject(rawParams)) return { error: { code: "INVALID_ARGUMENT", message: "CmdletInput.Parameters must be an object of parameter names and values." }, status: 400 };
  for (const k of ["Confirm", "Force", "WhatIf"] as const) {
    if (input[k] !== undefined && typeof input[k] !== "boolean") return { error: { code: "INVALID_ARGUMENT", message: `${k} must be true or false.` }, status: 400 };
  }
  const def = lookupCmdlet(table, input.CmdletName.trim());
  if (!def) {
    return { error: { code: "SHELL_UNKNOWN_CMDLET", message: `The term '${input.CmdletName.slice(0, MAX_NAME)}' is not recognized as the name of a cmdlet. Run Get-Command to list the cmdlets.` }, status: 404 };
  }
  if (def.clientSide) {
    return { error: { code: "ADMIN_NOT_INVOCABLE", message: `${def.name} belongs to the shell's language and runs in the client; it is not invoked over the admin door.` }, status: 400 };
  }
  const audited = changesState(def);
  const identity = api.identity;
  const audit = async (result: AuditResult, error?: InvokeError): Promise<void> => {
    if (!audited) return;
    try {
      await identity.recordAudit({
        at: new Date(),
        user: caller.name,
        from: caller.from,
        via: caller.via,
        cmdlet: def.name,
        parameters: redactParameters(def, rawParams),
        result,
        ...(error ? { error: `${error.code}: ${error.message}` } : {}),
      });
    } catch (e) {
      opts.log?.(`admin door: the audit record of ${def.name} could not be written: ${errorMessage(e)}`);
    }
  };
  const allowed = mayRun(caller.roles, def.name);
  if (!allowed.ok) {
    const error = { code: "ROLE_REQUIRED", message: `${def.name} needs the role group "${allowed.needed}"; ${caller.name} holds ${caller.roles.length ? caller.roles.map((r) => `"${r}"`).join(", ") : "none"}.` };
    await audit("RefusedByRole", error);
    return { error, status: 403 };
  }
  const warnings: string[] = [];
  const host = opts.host ?? remoteHost(warnings);
  const ctx: CmdletContext = {
    host: { ...host, api, cwd: "/" },
    api,
    caller,
    resolvePath: (p) => {
      // Structural: a cmdlet run by the door never opens a file it was named.
      throw new SealpostError("ADMIN_SERVER_PATH", `${def.name}: '${p.slice(0, 200)}' names a path on the server; send the file's content as FileData.`);
    },
  };
  let args: BoundArgs;
  try {
    args = bindJsonParameters(def, rawParams);
    const has = (n: string) => def.params.some((p) => p.name === n);
    if (input.Force === true && has("Force")) args.Force = true;
    if (input.Confirm === false && has("Confirm")) args.Confirm = false;
    checkMandatory(def.name, def.params, args);
    def.validate?.(args, ctx);
  } catch (e) {
    const f = failure(e, opts.log, opts.remote);
    await audit(auditResultOf(f.status), f.error);
    return f;
  }
  const confirmed = input.Confirm === false || input.Force === true || args.Confirm === false || args.Force === true;
  if (input.WhatIf === true && audited) {
    const target = describeTarget(args);
    return {
      value: [
        {
          WhatIf: true,
          CmdletName: def.name,
          Parameters: redactParameters(def, rawParams),
          Message: `What if: ${def.name}${target ? ` "${target}"` : ""} would run with these parameters; nothing was changed.`,
        },
      ],
    };
  }
  if (/^Remove-/i.test(def.name) && !confirmed) {
    const target = describeTarget(args);
    return {
      error: {
        code: CONFIRMATION_REQUIRED_WIRE,
        message: `${def.name}${target ? ` "${target}"` : ""} removes it; confirm with "Confirm": false (the shell's -Confirm:$false) or "Force": true.`,
      },
      status: 409,
    };
  }
  let value: unknown[];
  try {
    value = await def.run(args, ctx, []);
  } catch (e) {
    const f = failure(e, opts.log, opts.remote);
    await audit(auditResultOf(f.status), f.error);
    return f;
  }
  await audit("Succeeded");
  return warnings.length ? { value, warnings } : { value };
}
