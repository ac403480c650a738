// The types of the cmdlet table and of the shell's host, shared by the
// shell (shell.ts), the cmdlets and the admin door (src/adminapi/), which
// imports these and not the shell's runner. Types only.
import type { AdminApi } from "../admin/api.js";
import type { CmdletInfo, InvokeInput, InvokeResult } from "../adminapi/door-types.js";
import type { Caller } from "../adminapi/identity.js";
import type { BoundArgs, ParamDef } from "./binder.js";

export interface ShellHost {
  api: AdminApi;
  cwd: string;
  /** Asks for a secret without echo; refuses when there is no terminal. */
  readSecret(prompt: string): Promise<string>;
  readLine(prompt: string): Promise<string>;
  env: NodeJS.ProcessEnv;
  /** Shows a warning (a forced change that turns Domain Security off); the command line prints it on stderr. */
  warn?(message: string): void;
  /** Who runs this shell (default: the local operator, Organization Management). */
  caller?: Caller;
  /** A remote admin door (HTTP); without one, cmdlets are invoked in process on `api`. */
  invoke?: (input: InvokeInput) => Promise<InvokeResult>;
  /** The remote door's CmdletInfo (what the caller may run); without a remote door, the local table's. */
  cmdletInfo?: () => Promise<CmdletInfo[]>;
}

export interface CmdletContext {
  host: ShellHost;
  api: AdminApi;
  resolvePath(p: string): string;
  /** Who runs the cmdlet (the admin door sets it; in the shell, the shell's caller). */
  caller?: Caller;
  /** The cmdlets the caller may run, described (Get-Command, Get-Help). */
  cmdletInfo?: () => Promise<CmdletInfo[]>;
}

export interface CmdletDef {
  name: string;
  aliases?: string[];
  synopsis: string;
  params: ParamDef[];
  /** Receives all pipeline input at once (formatters) instead of once per object. */
  collectsInput?: boolean;
  /** Default table columns for this cmdlet's output objects (else a list). */
  table?: string[];
  /** Custom default rendering of this cmdlet's output objects. */
  render?: (objects: unknown[]) => string;
  /** Checks argument values before any command of the line runs (throws to refuse the line). */
  validate?(args: BoundArgs, ctx: CmdletContext): void;
  run(args: BoundArgs, ctx: CmdletContext, input: unknown[]): Promise<unknown[]>;
  /** Part of the shell's language (formatting, prompts, local files): runs in the client, never over the admin door. */
  clientSide?: boolean;
  /** In the client, after the door answered: writes file results (FileData) to the -Path given, shapes the output. */
  clientResult?(value: unknown[], args: BoundArgs, ctx: CmdletContext): unknown[];
}
