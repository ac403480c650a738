// The description of the cmdlet table that every front end reads: CmdletInfo
// over HTTP (the console builds its forms from it), Get-Command and Get-Help
// in the shell. One function, so they cannot disagree. Pure: no I/O.
import { clientFileOf, type ParamDef } from "../shell/binder.js";
import type { CmdletDef } from "../shell/types.js";
import type { CmdletInfo, CmdletParameterInfo } from "./door-types.js";
import type { RoleGroup } from "./identity.js";
import { mayRun, requiredRole } from "./roles.js";

export type { CmdletInfo, CmdletParameterInfo } from "./door-types.js";

/** Whether the cmdlet only reads (Get-*, Test-*) — everything else changes state and is audited. */
export function changesState(def: Pick<CmdletDef, "name" | "clientSide">): boolean {
  if (def.clientSide) return false;
  return !/^(Get|Test)-/i.test(def.name);
}

function describeParam(p: ParamDef): CmdletParameterInfo {
  const file = clientFileOf(p);
  return {
    Name: p.name,
    Type: p.type,
    Mandatory: p.mandatory === true,
    ...(p.position !== undefined ? { Position: p.position } : {}),
    Aliases: p.aliases ?? [],
    ...(p.values ? { Values: p.values } : {}),
    FromPipeline: p.fromPipelineProperty === true,
    ...(p.help !== undefined ? { Help: p.help } : {}),
    ...(file ? { ClientFile: file, FileDataParameter: p.fileDataParam ?? (file === "secret" ? "Password" : file === "entries" ? p.name : "FileData") } : {}),
  };
}

export function describeCmdlet(def: CmdletDef): CmdletInfo {
  return {
    Name: def.name,
    Synopsis: def.synopsis,
    Aliases: def.aliases ?? [],
    RoleGroup: requiredRole(def.name),
    ClientSide: def.clientSide === true,
    ChangesState: changesState(def),
    Parameters: def.params.map(describeParam),
  };
}

/** The cmdlets these role groups may run, in the table's order. */
export function describeCmdlets(table: readonly CmdletDef[], roles: readonly RoleGroup[]): CmdletInfo[] {
  return table.filter((c) => mayRun(roles, c.name).ok).map(describeCmdlet);
}

/** Get-Help's text for one cmdlet's description. */
export function helpText(info: CmdletInfo): string {
  const lines = [`${info.Name}: ${info.Synopsis}`, ""];
  for (const p of info.Parameters) {
    const flags = [
      p.Mandatory ? "mandatory" : "",
      p.Position !== undefined ? `position ${p.Position}` : "",
      p.FromPipeline ? "from pipeline" : "",
      p.Values ? `one of ${p.Values.join("|")}` : "",
      p.ClientFile ? `a file on this machine, sent as -${p.FileDataParameter ?? "FileData"}` : "",
    ]
      .filter(Boolean)
      .join(", ");
    lines.push(`  -${p.Name} <${p.Type}>${flags ? ` (${flags})` : ""}${p.Help ? `  ${p.Help}` : ""}`);
  }
  lines.push("", `Role group: ${info.RoleGroup}${info.ClientSide ? " (runs in the shell)" : ""}`);
  return lines.join("\n");
}
