// The admin door's wire types: a cmdlet call and its answer (InvokeCommand),
// and the description of the cmdlets (CmdletInfo). Types only, so that the
// shell, the door and its HTTP client can share them without importing
// each other.
import type { ClientFileKind, ParamType } from "../shell/binder.js";
import type { RoleGroup } from "./identity.js";

export interface InvokeInput {
  CmdletName: string;
  Parameters?: Record<string, unknown>;
  /** false: do not ask (PowerShell's -Confirm:$false). */
  Confirm?: boolean;
  /** true: make the change even if it would ask (the cmdlet's -Force). */
  Force?: boolean;
  /** true: say what would change, change nothing. */
  WhatIf?: boolean;
}

export interface InvokeError {
  code: string;
  message: string;
}

export type InvokeResult = { value: unknown[]; warnings?: string[] } | { error: InvokeError; status: number };

export interface CmdletParameterInfo {
  Name: string;
  Type: ParamType;
  Mandatory: boolean;
  Position?: number;
  Aliases: string[];
  /** The fixed set of values the parameter takes. */
  Values?: string[];
  FromPipeline: boolean;
  Help?: string;
  /** The parameter names a file on the client's machine; over the door its content travels in FileDataParameter. */
  ClientFile?: ClientFileKind;
  FileDataParameter?: string;
}

export interface CmdletInfo {
  Name: string;
  Synopsis: string;
  Aliases: string[];
  /** The least role group that may run it. */
  RoleGroup: RoleGroup;
  /** True for the shell's own language (formatting, prompts, local files): the client runs it, the door refuses it. */
  ClientSide: boolean;
  /** It changes state: audited, and WhatIf applies. */
  ChangesState: boolean;
  Parameters: CmdletParameterInfo[];
}

