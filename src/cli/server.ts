// `sealpost server show|set`: this server's transport settings
// (Get-/Set-TransportServer).
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import type { TransportServerEdits } from "../admin/transport-server.js";
import type { ListEditInput } from "../org/validate.js";
import { formatList } from "../shell/format.js";
import { print, withApi } from "./common.js";

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(",").map((x) => x.trim()).filter(Boolean)];

interface SetOptions {
  externalDnsServers?: string[];
  addExternalDnsServers?: string[];
  removeExternalDnsServers?: string[];
  transientFailureRetryCount?: string;
  transientFailureRetryInterval?: string;
  outboundConnectionFailureRetryInterval?: string;
  messageRetryInterval?: string;
  delayNotificationTimeout?: string;
  messageExpirationTimeout?: string;
  maxOutboundConnections?: string;
  maxPerDomainOutboundConnections?: string;
  plaintextFallback?: string;
  outboundFetchAllowedRanges?: string[];
  addOutboundFetchAllowedRanges?: string[];
  removeOutboundFetchAllowedRanges?: string[];
  outboundFetchAllowedPorts?: string[];
  addOutboundFetchAllowedPorts?: string[];
  removeOutboundFetchAllowedPorts?: string[];
  revocationCacheMaxAge?: string;
}

/** --x replaces the list, --add-x / --remove-x edit it. */
function listEdit(flag: string, replace: string[] | undefined, add: string[] | undefined, remove: string[] | undefined): ListEditInput | undefined {
  if (replace !== undefined) {
    if (add || remove) throw new SealpostError("INVALID_ARGUMENT", `--${flag} replaces the list; give it, or --add-/--remove-${flag}, not both.`);
    return { replace };
  }
  if (add || remove) return { add: add ?? [], remove: remove ?? [] };
  return undefined;
}

/** The options given, as the admin API's edits. */
export function editsOfOptions(o: SetOptions): TransportServerEdits {
  const e: TransportServerEdits = {};
  if (o.externalDnsServers !== undefined) {
    if (o.addExternalDnsServers || o.removeExternalDnsServers) {
      throw new SealpostError("INVALID_ARGUMENT", "--external-dns-servers replaces the list; give it, or --add-/--remove-external-dns-servers, not both.");
    }
    e.externalDNSServers = { replace: o.externalDnsServers };
  } else if (o.addExternalDnsServers || o.removeExternalDnsServers) {
    e.externalDNSServers = { add: o.addExternalDnsServers ?? [], remove: o.removeExternalDnsServers ?? [] };
  }
  const plain = [
    "transientFailureRetryCount",
    "transientFailureRetryInterval",
    "outboundConnectionFailureRetryInterval",
    "messageRetryInterval",
    "delayNotificationTimeout",
    "messageExpirationTimeout",
    "maxOutboundConnections",
    "maxPerDomainOutboundConnections",
    "plaintextFallback",
    "revocationCacheMaxAge",
  ] as const;
  for (const k of plain) if (o[k] !== undefined) e[k] = o[k];
  const ranges = listEdit("outbound-fetch-allowed-ranges", o.outboundFetchAllowedRanges, o.addOutboundFetchAllowedRanges, o.removeOutboundFetchAllowedRanges);
  if (ranges) e.outboundFetchAllowedRanges = ranges;
  const ports = listEdit("outbound-fetch-allowed-ports", o.outboundFetchAllowedPorts, o.addOutboundFetchAllowedPorts, o.removeOutboundFetchAllowedPorts);
  if (ports) e.outboundFetchAllowedPorts = ports;
  return e;
}

export function registerServerCommands(program: Command): void {
  const server = program.command("server").description("this server's transport settings (Get-/Set-TransportServer)");

  server
    .command("show")
    .description("DNS servers, retry intervals, message expiration, outbound connection limits, plaintext fallback, outbound fetch policy, revocation cache age")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = api.transportServer.get();
        print(cmd, v, () => formatList([v]).trim());
      });
    });

  server
    .command("set")
    .description("change this server's transport settings (one bad value changes nothing)")
    .option("--external-dns-servers <list>", "DNS servers: IP, IP:PORT, IPv6, [IPv6]:PORT (comma list; replaces; \"\" for the system resolver)", list)
    .option("--add-external-dns-servers <list>", "DNS servers to add (comma list)", list)
    .option("--remove-external-dns-servers <list>", "DNS servers to remove (comma list)", list)
    .option("--transient-failure-retry-count <n>", "0 to 15 (default 6)")
    .option("--transient-failure-retry-interval <timespan>", "hh:mm:ss, up to 12:00:00 (default 00:10:00)")
    .option("--outbound-connection-failure-retry-interval <timespan>", "d.hh:mm:ss, 1 s to 20 days (default 00:30:00)")
    .option("--message-retry-interval <timespan>", "hh:mm:ss, 1 s to 1 day (default 00:15:00)")
    .option("--delay-notification-timeout <timespan>", "d.hh:mm:ss, 1 s to 30 days (default 04:00:00)")
    .option("--message-expiration-timeout <timespan>", "d.hh:mm:ss, 1 s to 90 days (default 2.00:00:00)")
    .option("--max-outbound-connections <n>", "1 to 100000 or Unlimited (default 1000)")
    .option("--max-per-domain-outbound-connections <n>", "1 to 100000 or Unlimited (default 20)")
    .option("--plaintext-fallback <bool>", "true or false: may mail to non-partner domains be retried in clear after a failed STARTTLS (default true)")
    .option("--outbound-fetch-allowed-ranges <list>", "address ranges AIA/CRL/OCSP fetches may reach besides public ones: 127.0.0.0/8, fd00::/8, a-b (comma list; replaces; \"\" for none, the default)", list)
    .option("--add-outbound-fetch-allowed-ranges <list>", "ranges to add (comma list)", list)
    .option("--remove-outbound-fetch-allowed-ranges <list>", "ranges to remove (comma list)", list)
    .option("--outbound-fetch-allowed-ports <list>", "ports AIA/CRL/OCSP fetches may connect to (comma list; replaces; default 80,443)", list)
    .option("--add-outbound-fetch-allowed-ports <list>", "ports to add (comma list)", list)
    .option("--remove-outbound-fetch-allowed-ports <list>", "ports to remove (comma list)", list)
    .option("--revocation-cache-max-age <timespan>", "d.hh:mm:ss, 00:01:00 to 90.00:00:00: a cached CRL/OCSP answer is fetched again after this (default 1.00:00:00)")
    .action(async (o: SetOptions, cmd: Command) => {
      const edits = editsOfOptions(o);
      await withApi(cmd, async (api) => {
        const v = api.transportServer.set(edits);
        print(cmd, v, () => formatList([v]).trim());
      });
    });
}
