// The outbound manager's view of this server's Set-TransportServer settings,
// read fresh before each pass so a change applies without a restart.
import type { Db } from "../store/sqlite.js";
import { readTransportServerSettings, retrySettingsOf } from "../settings/transport-server.js";
import type { OutboundSettings } from "./context.js";

const limit = (v: number | "Unlimited"): number => (v === "Unlimited" ? Number.MAX_SAFE_INTEGER : v);

export function outboundSettings(db: Db): OutboundSettings {
  const s = readTransportServerSettings(db);
  return {
    externalDnsServers: s.externalDNSServers,
    retry: retrySettingsOf(s),
    maxOutboundConnections: limit(s.maxOutboundConnections),
    maxPerDomainOutboundConnections: limit(s.maxPerDomainOutboundConnections),
    plaintextFallback: s.plaintextFallback,
  };
}
