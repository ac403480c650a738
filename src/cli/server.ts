// `sealpost server show|set`: this server's transport settings
// (Get-/Set-TransportServer).
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import type { TransportServerEdits } from "../admin/transport-server.js";
import { formatList } from "../shell/format.js";
import { print, withApi } from "./main.js";

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
  ] as const;
  for (const k of plain) if (o[k] !== undefined) e[k] = o[k];
  return e;
}

export function registerServerCommands(program: Command): void {
  const server = program.command("server").description("this server's transport settings (Get-/Set-TransportServer)");

  server
    .command("show")
    .description("DNS servers, retry intervals, message expiration, outbound connection limits, plaintext fallback")
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
    .action(async (o: SetOptions, cmd: Command) => {
      const edits = editsOfOptions(o);
      await withApi(cmd, async (api) => {
        const v = api.transportServer.set(edits);
        print(cmd, v, () => formatList([v]).trim());
      });
    });
}
