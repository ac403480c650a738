// This server's transport settings, as Exchange's Get-/Set-TransportServer.
import { validateTransportServerEdits, type TransportServerEdits } from "../../admin/transport-server.js";
import type { BoundArgs, ListEdit, ParamDef } from "../binder.js";
import type { CmdletDef } from "../shell.js";

const IDENTITY: ParamDef = { name: "Identity", type: "string", position: 0, fromPipelineProperty: true, aliases: ["Name"], help: "this server's name (optional)" };

const PROPS: ParamDef[] = [
  { name: "ExternalDNSServers", type: "listedit", help: "IP, IP:PORT, IPv6 or [IPv6]:PORT; $null: the system resolver" },
  { name: "TransientFailureRetryCount", type: "string", help: "0 to 15 (default 6)" },
  { name: "TransientFailureRetryInterval", type: "string", help: "hh:mm:ss (default 00:10:00)" },
  { name: "OutboundConnectionFailureRetryInterval", type: "string", help: "d.hh:mm:ss (default 00:30:00)" },
  { name: "MessageRetryInterval", type: "string", help: "hh:mm:ss (default 00:15:00)" },
  { name: "DelayNotificationTimeout", type: "string", help: "d.hh:mm:ss (default 04:00:00)" },
  { name: "MessageExpirationTimeout", type: "string", help: "d.hh:mm:ss (default 2.00:00:00)" },
  { name: "MaxOutboundConnections", type: "string", help: "1 to 100000 or Unlimited (default 1000)" },
  { name: "MaxPerDomainOutboundConnections", type: "string", help: "1 to 100000 or Unlimited (default 20)" },
  { name: "PlaintextFallback", type: "bool", help: "non-partner domains: retry in clear after a failed STARTTLS (default $true)" },
  { name: "OutboundFetchAllowedRanges", type: "listedit", help: "address ranges AIA/CRL/OCSP fetches may reach besides public addresses: 127.0.0.0/8, fd00::/8, a-b (default none)" },
  { name: "OutboundFetchAllowedPorts", type: "listedit", help: "ports AIA/CRL/OCSP fetches may connect to (default 80,443)" },
  { name: "RevocationCacheMaxAge", type: "string", help: "d.hh:mm:ss, 00:01:00 to 90.00:00:00: a cached CRL/OCSP answer is fetched again after this, whatever its nextUpdate (default 1.00:00:00)" },
];

function editsOf(args: BoundArgs): TransportServerEdits {
  const e: Record<string, unknown> = {};
  for (const def of PROPS) {
    if (args[def.name] !== undefined) e[def.name.charAt(0).toLowerCase() + def.name.slice(1)] = def.type === "listedit" ? (args[def.name] as ListEdit) : args[def.name];
  }
  return e as TransportServerEdits;
}

export const transportServerCmdlets: CmdletDef[] = [
  {
    name: "Get-TransportServer",
    synopsis: "Shows this server's transport settings (DNS servers, retries, expiration, outbound limits, outbound fetch policy, revocation cache age).",
    params: [IDENTITY],
    validate(args, ctx) {
      ctx.api.transportServer.checkIdentity(args.Identity as string | undefined);
    },
    async run(args, ctx) {
      return [ctx.api.transportServer.get(args.Identity as string | undefined)];
    },
  },
  {
    name: "Set-TransportServer",
    synopsis: "Changes this server's transport settings (-ExternalDNSServers: a list replaces, @{Add=...;Remove=...} edits).",
    params: [IDENTITY, ...PROPS],
    validate(args, ctx) {
      // Checked before any command of the line runs: a bad value changes nothing.
      ctx.api.transportServer.checkIdentity(args.Identity as string | undefined);
      validateTransportServerEdits(editsOf(args));
    },
    async run(args, ctx) {
      ctx.api.transportServer.set(editsOf(args), args.Identity as string | undefined);
      return [];
    },
  },
];
