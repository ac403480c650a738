// Receive connectors, as Exchange's *-ReceiveConnector cmdlets.
import type { ReceiveConnectorPatch } from "../../admin/connectors.js";
import type { BoundArgs, ParamDef } from "../binder.js";
import { changeOptions, FORCE_PARAM, type CmdletDef } from "../shell.js";

const PROPS: ParamDef[] = [
  { name: "Bindings", type: "strings", help: "IP:PORT list" },
  { name: "RemoteIPRanges", type: "strings", help: "addresses, CIDR blocks, a-b ranges" },
  { name: "Fqdn", type: "string" },
  { name: "AuthMechanism", type: "strings", values: ["None", "Tls"], help: "None, Tls" },
  { name: "DomainSecureEnabled", type: "bool" },
  { name: "Usage", type: "string", values: ["Internet", "Internal", "Partner", "Custom"], help: "Internet, Internal, Partner, Custom" },
  { name: "MaxMessageSize", type: "string" },
  { name: "MaxRecipientsPerMessage", type: "string" },
  { name: "ConnectionTimeout", type: "string", help: "hh:mm:ss" },
  { name: "ConnectionInactivityTimeout", type: "string", help: "hh:mm:ss" },
  { name: "MaxInboundConnection", type: "string" },
  { name: "MaxInboundConnectionPerSource", type: "string" },
  { name: "ProtocolLoggingLevel", type: "string", values: ["None", "Verbose"], help: "None or Verbose" },
  { name: "Enabled", type: "bool" },
];

function patchOf(args: BoundArgs): ReceiveConnectorPatch {
  const p: Record<string, unknown> = {};
  for (const def of PROPS) {
    if (args[def.name] !== undefined) p[def.name.charAt(0).toLowerCase() + def.name.slice(1)] = args[def.name];
  }
  return p as ReceiveConnectorPatch;
}

export const connectorCmdlets: CmdletDef[] = [
  {
    name: "Get-ReceiveConnector",
    synopsis: "Lists receive connectors (Name, or Server\\Name).",
    table: ["Identity", "Bindings", "Enabled"],
    params: [{ name: "Identity", type: "string", position: 0 }],
    async run(args, ctx) {
      return ctx.api.connectors.get(args.Identity as string | undefined);
    },
  },
  {
    name: "New-ReceiveConnector",
    synopsis: "Creates a receive connector on this server.",
    table: ["Identity", "Bindings", "Enabled"],
    params: [{ name: "Name", type: "string", position: 0, mandatory: true }, ...PROPS],
    async run(args, ctx) {
      return [await ctx.api.connectors.create(args.Name as string, patchOf(args))];
    },
  },
  {
    name: "Set-ReceiveConnector",
    synopsis: "Changes a receive connector; running sessions keep their settings, new ones get the new.",
    params: [{ name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true }, ...PROPS, FORCE_PARAM],
    async run(args, ctx) {
      await ctx.api.connectors.set(args.Identity as string, patchOf(args), changeOptions(args, ctx));
      return [];
    },
  },
  {
    name: "Remove-ReceiveConnector",
    synopsis: "Removes a receive connector.",
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true },
      { name: "Confirm", type: "switch" },
      FORCE_PARAM,
    ],
    async run(args, ctx) {
      await ctx.api.connectors.remove(args.Identity as string, changeOptions(args, ctx));
      return [];
    },
  },
];
