// Every cmdlet the management shell knows.
import type { CmdletDef } from "../shell.js";
import { accountCmdlets } from "./accounts.js";
import { certificateCmdlets } from "./certificates.js";
import { connectorCmdlets } from "./connectors.js";
import { counterCmdlets } from "./counters.js";
import { fleetCmdlets } from "./fleet.js";
import { logCmdlets } from "./logs.js";
import { mailflowCmdlets } from "./mailflow.js";
import { partnerCmdlets } from "./partners.js";
import { queueCmdlets } from "./queues.js";
import { sendConnectorCmdlets } from "./send-connectors.js";
import { transportCmdlets } from "./transport.js";
import { transportServerCmdlets } from "./transport-server.js";
import { trustCmdletsAll } from "./trust.js";
import { utilityCmdlets } from "./util.js";

export function allCmdlets(): CmdletDef[] {
  const list: CmdletDef[] = [];
  list.push(...certificateCmdlets, ...trustCmdletsAll, ...partnerCmdlets, ...transportCmdlets, ...transportServerCmdlets, ...connectorCmdlets, ...sendConnectorCmdlets, ...queueCmdlets, ...logCmdlets, ...fleetCmdlets, ...accountCmdlets, ...mailflowCmdlets, ...counterCmdlets, ...utilityCmdlets(() => list));
  return list;
}
