// The Set-TransportServer schema: one row per setting, each with its unit and
// its default beside it; the defaults object and the schedule's milliseconds
// are derived from it, not repeated.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_TRANSPORT_SERVER_SETTINGS, retrySettingsOf, transportServerSchema } from "../../../src/settings/transport-server.js";
import { validateRetrySettings } from "../../../src/queue/schedule.js";

test("every setting has Exchange's name, a unit and a default, shown as Get-TransportServer shows it", () => {
  const rows = transportServerSchema();
  assert.deepEqual(
    rows.map((r) => [r.name, r.unit, r.default]),
    [
      ["ExternalDNSServers", "DNS servers", []],
      ["TransientFailureRetryCount", "count", 6],
      ["TransientFailureRetryInterval", "seconds", "00:10:00"],
      ["OutboundConnectionFailureRetryInterval", "seconds", "00:30:00"],
      ["MessageRetryInterval", "seconds", "00:15:00"],
      ["DelayNotificationTimeout", "seconds", "04:00:00"],
      ["MessageExpirationTimeout", "seconds", "2.00:00:00"],
      ["MaxOutboundConnections", "connections", 1000],
      ["MaxPerDomainOutboundConnections", "connections", 20],
      ["PlaintextFallback", "boolean", true],
      ["OutboundFetchAllowedRanges", "address ranges", []],
      ["OutboundFetchAllowedPorts", "ports", ["80", "443"]],
      ["RevocationCacheMaxAge", "seconds", "1.00:00:00"],
    ],
  );
});

test("the defaults object comes from the schema, frozen, and the schedule's milliseconds from it", () => {
  assert.ok(Object.isFrozen(DEFAULT_TRANSPORT_SERVER_SETTINGS));
  assert.ok(Object.isFrozen(DEFAULT_TRANSPORT_SERVER_SETTINGS.externalDNSServers));
  assert.equal(DEFAULT_TRANSPORT_SERVER_SETTINGS.messageExpirationTimeout, 2 * 86400);
  const r = retrySettingsOf(DEFAULT_TRANSPORT_SERVER_SETTINGS);
  assert.equal(r.messageExpirationTimeoutMs, 2 * 86400 * 1000);
  assert.equal(r.transientFailureRetryIntervalMs, 600_000);
  validateRetrySettings(r);
});
