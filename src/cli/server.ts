// `sealpost server show|set`: this server's transport settings
// (Get-/Set-TransportServer), run through the admin door (door.ts).
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import { formatList } from "../shell/format.js";
import { print, withApi } from "./common.js";
import { given, invokePrepared, prepareCmdlet, runOne } from "./door.js";

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

/** --x replaces the list, --add-x / --remove-x edit it ({Add, Remove}, as @{Add=...;Remove=...} in the shell). */
function listEdit(flag: string, replace: string[] | undefined, add: string[] | undefined, remove: string[] | undefined): string[] | { Add: string[]; Remove: string[] } | undefined {
  if (replace !== undefined) {
    if (add || remove) throw new SealpostError("INVALID_ARGUMENT", `--${flag} replaces the list; give it, or --add-/--remove-${flag}, not both.`);
    return replace;
  }
  if (add || remove) return { Add: add ?? [], Remove: remove ?? [] };
  return undefined;
}

/** The options given, as Set-TransportServer's parameters. */
export function parametersOfOptions(o: SetOptions): Record<string, unknown> {
  return given({
    ExternalDNSServers: listEdit("external-dns-servers", o.externalDnsServers, o.addExternalDnsServers, o.removeExternalDnsServers),
    TransientFailureRetryCount: o.transientFailureRetryCount,
    TransientFailureRetryInterval: o.transientFailureRetryInterval,
    OutboundConnectionFailureRetryInterval: o.outboundConnectionFailureRetryInterval,
    MessageRetryInterval: o.messageRetryInterval,
    DelayNotificationTimeout: o.delayNotificationTimeout,
    MessageExpirationTimeout: o.messageExpirationTimeout,
    MaxOutboundConnections: o.maxOutboundConnections,
    MaxPerDomainOutboundConnections: o.maxPerDomainOutboundConnections,
    PlaintextFallback: o.plaintextFallback,
    OutboundFetchAllowedRanges: listEdit("outbound-fetch-allowed-ranges", o.outboundFetchAllowedRanges, o.addOutboundFetchAllowedRanges, o.removeOutboundFetchAllowedRanges),
    OutboundFetchAllowedPorts: listEdit("outbound-fetch-allowed-ports", o.outboundFetchAllowedPorts, o.addOutboundFetchAllowedPorts, o.removeOutboundFetchAllowedPorts),
    RevocationCacheMaxAge: o.revocationCacheMaxAge,
  });
}

export function registerServerCommands(program: Command): void {
  const server = program.command("server").description("this server's transport settings (Get-/Set-TransportServer)");

  server
    .command("show")
    .description("DNS servers, retry intervals, message expiration, outbound connection limits, plaintext fallback, outbound fetch policy, revocation cache age")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runOne(api, "Get-TransportServer", {});
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
      const call = prepareCmdlet("Set-TransportServer", parametersOfOptions(o));
      await withApi(cmd, async (api) => {
        await invokePrepared(api, call);
        const v = await runOne(api, "Get-TransportServer", {});
        print(cmd, v, () => formatList([v]).trim());
      });
    });
}
