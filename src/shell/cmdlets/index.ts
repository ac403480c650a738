// Every cmdlet the management shell knows.
import type { CmdletDef } from "../shell.js";
import { certificateCmdlets } from "./certificates.js";
import { trustCmdletsAll } from "./trust.js";
import { utilityCmdlets } from "./util.js";

export function allCmdlets(): CmdletDef[] {
  const list: CmdletDef[] = [];
  list.push(...certificateCmdlets, ...trustCmdletsAll, ...utilityCmdlets(() => list));
  return list;
}
