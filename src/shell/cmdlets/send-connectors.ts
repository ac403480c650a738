// Send connectors, as Exchange's *-SendConnector cmdlets.
import type { SendConnectorPatch } from "../../admin/send-connectors.js";
import type { BoundArgs, ParamDef } from "../binder.js";
import { changeOptions, FORCE_PARAM, type CmdletDef } from "../shell.js";

const PROPS: Array<ParamDef & { key: keyof SendConnectorPatch }> = [
  { name: "AddressSpaces", type: "strings", key: "addressSpaces", help: "SMTP:domain;cost list" },
  { name: "DNSRoutingEnabled", type: "bool", key: "dnsRoutingEnabled" },
  { name: "SmartHosts", type: "strings", key: "smartHosts" },
  { name: "Port", type: "string", key: "port" },
  { name: "Fqdn", type: "string", key: "fqdn" },
  { name: "DomainSecureEnabled", type: "bool", key: "domainSecureEnabled" },
  { name: "RequireTLS", type: "bool", key: "requireTLS" },
  { name: "IgnoreSTARTTLS", type: "bool", key: "ignoreSTARTTLS" },
  { name: "ConnectionInactivityTimeOut", type: "string", key: "connectionInactivityTimeout", help: "hh:mm:ss" },
  { name: "MaxMessageSize", type: "string", key: "maxMessageSize" },
  { name: "SourceTransportServers", type: "strings", key: "sourceTransportServers" },
  { name: "ProtocolLoggingLevel", type: "string", key: "protocolLoggingLevel", values: ["None", "Verbose"], help: "None or Verbose" },
  { name: "Enabled", type: "bool", key: "enabled" },
  { name: "ExchangeOrganizationMarks", type: "bool", key: "exchangeOrganizationMarks", help: "an internal Exchange next hop over mutual TLS: mark domain-secured mail the way Exchange does" },
];

function patchOf(args: BoundArgs): SendConnectorPatch {
  const p: Record<string, unknown> = {};
  for (const def of PROPS) if (args[def.name] !== undefined) p[def.key] = args[def.name];
  return p as SendConnectorPatch;
}

const params = PROPS.map(({ key: _key, ...def }) => def);

export const sendConnectorCmdlets: CmdletDef[] = [
  {
    name: "Get-SendConnector",
    synopsis: "Lists send connectors.",
    table: ["Name", "AddressSpaces", "Enabled"],
    params: [{ name: "Identity", type: "string", position: 0 }],
    async run(args, ctx) {
      return ctx.api.sendConnectors.get(args.Identity as string | undefined);
    },
  },
  {
    name: "New-SendConnector",
    synopsis: "Creates a send connector.",
    table: ["Name", "AddressSpaces", "Enabled"],
    params: [{ name: "Name", type: "string", position: 0, mandatory: true }, { name: "Usage", type: "string", help: "accepted for Exchange compatibility" }, ...params, FORCE_PARAM],
    async run(args, ctx) {
      return [await ctx.api.sendConnectors.create(args.Name as string, patchOf(args), changeOptions(args, ctx))];
    },
  },
  {
    name: "Set-SendConnector",
    synopsis: "Changes a send connector (e.g. Set-SendConnector Internet -DomainSecureEnabled:$True).",
    params: [{ name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Name"] }, ...params, FORCE_PARAM],
    async run(args, ctx) {
      await ctx.api.sendConnectors.set(args.Identity as string, patchOf(args), changeOptions(args, ctx));
      return [];
    },
  },
  {
    name: "Remove-SendConnector",
    synopsis: "Removes a send connector.",
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Name"] },
      { name: "Confirm", type: "switch" },
      FORCE_PARAM,
    ],
    async run(args, ctx) {
      await ctx.api.sendConnectors.remove(args.Identity as string, changeOptions(args, ctx));
      return [];
    },
  },
];
