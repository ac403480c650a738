// This server's transport settings (Get-/Set-TransportServer) through the
// admin API: Exchange 2007 Edge's defaults, every setting round-trips
// through the database, and every bad value is refused with a clear error
// and changes nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../../../src/admin/api.js";
import {
  DEFAULT_TRANSPORT_SERVER_SETTINGS,
  parseDnsServer,
  readTransportServerSettings,
  retrySettingsOf,
  validateTransportServerEdits,
  type TransportServerEdits,
  type TransportServerSettings,
} from "../../../src/admin/transport-server.js";
import { isSealpostError } from "../../../src/errors/errors.js";
import { validateRetrySettings } from "../../../src/queue/schedule.js";

let dir: string;
let api: AdminApi;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-tsrv-"));
  api = AdminApi.open(dir);
  await api.setServerName("mail1.contoso.com");
});

after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

const settings = (): TransportServerSettings => readTransportServerSettings(api.ctx.db);
const rows = () => api.ctx.db.prepare("SELECT key, value FROM transport_server_settings ORDER BY key").all();

/** Asserts the edit is refused with INVALID_ARGUMENT matching `re`, and that nothing stored changed. */
function refused(edits: TransportServerEdits, re: RegExp): void {
  const before = { typed: settings(), rows: rows() };
  assert.throws(
    () => api.transportServer.set(edits),
    (e: unknown) => isSealpostError(e, "INVALID_ARGUMENT") && re.test(e.message),
    JSON.stringify(edits),
  );
  assert.deepEqual(settings(), before.typed, `${JSON.stringify(edits)} changed the settings`);
  assert.deepEqual(rows(), before.rows, `${JSON.stringify(edits)} changed the table`);
}

test("a fresh server has Exchange 2007 Edge's defaults, and they are the schedule's", () => {
  assert.deepEqual(settings(), { ...DEFAULT_TRANSPORT_SERVER_SETTINGS });
  assert.deepEqual(retrySettingsOf(DEFAULT_TRANSPORT_SERVER_SETTINGS), {
    transientFailureRetryCount: 6,
    transientFailureRetryIntervalMs: 10 * 60_000,
    outboundConnectionFailureRetryIntervalMs: 30 * 60_000,
    messageRetryIntervalMs: 15 * 60_000,
    delayNotificationTimeoutMs: 4 * 3_600_000,
    messageExpirationTimeoutMs: 48 * 3_600_000,
  });
  validateRetrySettings(retrySettingsOf(settings()));
  const v = api.transportServer.get();
  assert.equal(v.Identity, "mail1.contoso.com");
  assert.equal(v.Name, "mail1.contoso.com");
  assert.deepEqual(v.ExternalDNSServers, []);
  assert.equal(v.TransientFailureRetryCount, 6);
  assert.equal(v.TransientFailureRetryInterval, "00:10:00");
  assert.equal(v.OutboundConnectionFailureRetryInterval, "00:30:00");
  assert.equal(v.MessageRetryInterval, "00:15:00");
  assert.equal(v.DelayNotificationTimeout, "04:00:00");
  assert.equal(v.MessageExpirationTimeout, "2.00:00:00");
  assert.equal(v.MaxOutboundConnections, 1000);
  assert.equal(v.MaxPerDomainOutboundConnections, 20);
  assert.equal(v.PlaintextFallback, true);
  assert.deepEqual(v.OutboundFetchAllowedRanges, []);
  assert.deepEqual(v.OutboundFetchAllowedPorts, ["80", "443"]);
  assert.equal(v.RevocationCacheMaxAge, "1.00:00:00");
});

test("DNS servers: the four forms, normalized; a port is kept, a plain address stays plain", () => {
  assert.equal(parseDnsServer("127.0.0.1").text, "127.0.0.1");
  assert.deepEqual(parseDnsServer(" 127.0.0.1:53 "), { host: "127.0.0.1", port: 53, text: "127.0.0.1:53" });
  assert.equal(parseDnsServer("2001:DB8:0:0::0001").text, "2001:db8::1");
  assert.equal(parseDnsServer("::1:53").text, "::1:53", "without brackets it is an address, not a port");
  assert.deepEqual(parseDnsServer("[2001:db8::1]:5353"), { host: "2001:db8::1", port: 5353, text: "[2001:db8::1]:5353" });
  assert.equal(parseDnsServer("[::1]").text, "::1");
  for (const badOne of ["127.0.0.1:0", "127.0.0.1:70000", "mail.example.com", "mail.example.com:53", "[127.0.0.1]:53", "1.2.3", "", "[::1]:x", "fe80::1%eth0"]) {
    assert.throws(() => parseDnsServer(badOne), (e: unknown) => isSealpostError(e, "INVALID_ARGUMENT"), badOne);
  }
});

test("every setting round-trips, through a second connection too", async () => {
  const v = api.transportServer.set({
    externalDNSServers: { replace: ["127.0.0.1:5353", "127.0.0.2:53", "::1", "[2001:db8::1]:53", "127.0.0.1:5353"] },
    transientFailureRetryCount: "3",
    transientFailureRetryInterval: "00:05:00",
    outboundConnectionFailureRetryInterval: "1.00:00:00",
    messageRetryInterval: 120,
    delayNotificationTimeout: "08:00:00",
    messageExpirationTimeout: "00:00:30",
    maxOutboundConnections: "unlimited",
    maxPerDomainOutboundConnections: 5,
    plaintextFallback: false,
    outboundFetchAllowedRanges: { replace: ["127.0.0.1/8", "::1", "10.0.0.1-10.0.0.9"] },
    outboundFetchAllowedPorts: { replace: ["80", " 8080", "8000-8999"] },
    revocationCacheMaxAge: "06:00:00",
  });
  const expected: TransportServerSettings = {
    externalDNSServers: ["127.0.0.1:5353", "127.0.0.2:53", "::1", "[2001:db8::1]:53"],
    transientFailureRetryCount: 3,
    transientFailureRetryInterval: 300,
    outboundConnectionFailureRetryInterval: 86400,
    messageRetryInterval: 120,
    delayNotificationTimeout: 8 * 3600,
    messageExpirationTimeout: 30,
    maxOutboundConnections: "Unlimited",
    maxPerDomainOutboundConnections: 5,
    plaintextFallback: false,
    outboundFetchAllowedRanges: ["127.0.0.0/8", "::1/128", "10.0.0.1-10.0.0.9"],
    outboundFetchAllowedPorts: ["80", "8080", "8000-8999"],
    revocationCacheMaxAge: 6 * 3600,
  };
  assert.deepEqual(settings(), expected);
  assert.equal(v.RevocationCacheMaxAge, "06:00:00");
  assert.deepEqual(v.OutboundFetchAllowedRanges, ["127.0.0.0/8", "::1/128", "10.0.0.1-10.0.0.9"]);
  assert.equal(v.MessageExpirationTimeout, "00:00:30");
  assert.equal(v.OutboundConnectionFailureRetryInterval, "1.00:00:00");
  assert.equal(v.MaxOutboundConnections, "Unlimited");
  assert.equal(v.PlaintextFallback, false);
  assert.deepEqual(retrySettingsOf(settings()), {
    transientFailureRetryCount: 3,
    transientFailureRetryIntervalMs: 300_000,
    outboundConnectionFailureRetryIntervalMs: 86_400_000,
    messageRetryIntervalMs: 120_000,
    delayNotificationTimeoutMs: 8 * 3_600_000,
    messageExpirationTimeoutMs: 30_000,
  });
  const other = AdminApi.open(dir);
  try {
    assert.deepEqual(readTransportServerSettings(other.ctx.db), expected);
  } finally {
    await other.close();
  }
  // boundaries that are allowed
  api.transportServer.set({ transientFailureRetryCount: 0, transientFailureRetryInterval: "00:00:00", messageExpirationTimeout: "90.00:00:00" });
  api.transportServer.set({ transientFailureRetryCount: "15", transientFailureRetryInterval: "12:00:00", maxOutboundConnections: 100000 });
  assert.equal(settings().transientFailureRetryCount, 15);
  assert.equal(settings().messageExpirationTimeout, 90 * 86400);
});

test("ExternalDNSServers: a value replaces, @{Add;Remove} edits, $null clears", () => {
  api.transportServer.set({ externalDNSServers: { replace: ["127.0.0.1:5353", "127.0.0.2:53"] } });
  api.transportServer.set({ externalDNSServers: { add: ["::1", "127.0.0.1:5353"], remove: ["127.0.0.2:53"] } });
  assert.deepEqual(settings().externalDNSServers, ["127.0.0.1:5353", "::1"]);
  api.transportServer.set({ externalDNSServers: { add: [], remove: ["0:0::1"] } });
  assert.deepEqual(settings().externalDNSServers, ["127.0.0.1:5353"], "removal matches the normalized form");
  api.transportServer.set({ externalDNSServers: null });
  assert.deepEqual(settings().externalDNSServers, []);
  api.transportServer.set({ externalDNSServers: { replace: ["127.0.0.1:5353"] } });
});

test("the outbound fetch lists: a value replaces, @{Add;Remove} edits by the normal form, $null empties", () => {
  api.transportServer.set({ outboundFetchAllowedRanges: { replace: ["127.0.0.1"] }, outboundFetchAllowedPorts: { replace: ["80", "443"] } });
  api.transportServer.set({ outboundFetchAllowedRanges: { add: ["FD00::/8", "127.0.0.1/32"], remove: [] }, outboundFetchAllowedPorts: { add: ["8080"], remove: ["443"] } });
  assert.deepEqual(settings().outboundFetchAllowedRanges, ["127.0.0.1/32", "fd00::/8"]);
  assert.deepEqual(settings().outboundFetchAllowedPorts, ["80", "8080"]);
  api.transportServer.set({ outboundFetchAllowedRanges: { add: [], remove: ["fd00:0::/8"] } });
  assert.deepEqual(settings().outboundFetchAllowedRanges, ["127.0.0.1/32"], "removal matches the normalized form");
  api.transportServer.set({ outboundFetchAllowedRanges: null, outboundFetchAllowedPorts: { replace: ["80", "443"] } });
  assert.deepEqual(settings().outboundFetchAllowedRanges, []);
  api.transportServer.set({ revocationCacheMaxAge: "1.00:00:00" });
});

test("each bad value is refused, names itself, and changes nothing", () => {
  refused({ outboundFetchAllowedRanges: { replace: ["localhost"] } }, /outbound fetch range 'localhost'.*IP address, a CIDR block/);
  refused({ outboundFetchAllowedRanges: { replace: ["127.0.0.0/33"] } }, /'127\.0\.0\.0\/33'.*prefix length must be 0-32/);
  refused({ outboundFetchAllowedRanges: { replace: ["10.0.0.9-10.0.0.1"] } }, /must not be above the last/);
  refused({ outboundFetchAllowedRanges: { replace: ["10.0.0.1-::1"] } }, /one family/);
  refused({ outboundFetchAllowedPorts: { replace: ["0"] } }, /outbound fetch port '0'.*1 to 65535/);
  refused({ outboundFetchAllowedPorts: { replace: ["http"] } }, /outbound fetch port 'http'/);
  refused({ outboundFetchAllowedPorts: { add: ["9000-8000"], remove: [] } }, /first port of a range/);
  refused({ revocationCacheMaxAge: "00:00:59" }, /RevocationCacheMaxAge '00:00:59'.*from 00:01:00 to 90\.00:00:00/);
  refused({ revocationCacheMaxAge: "91.00:00:00" }, /RevocationCacheMaxAge/);
  refused({ externalDNSServers: { replace: ["127.0.0.1:0"] } }, /DNS server '127\.0\.0\.1:0'.*port must be 1-65535/);
  refused({ externalDNSServers: { replace: ["127.0.0.1:70000"] } }, /DNS server '127\.0\.0\.1:70000'.*port must be 1-65535/);
  refused({ externalDNSServers: { replace: ["mail.example.com"] } }, /DNS server 'mail\.example\.com'.*by IP address, not by name/);
  refused({ externalDNSServers: { add: ["127.0.0.3", "dns.example"], remove: [] } }, /'dns\.example'/);
  refused({ transientFailureRetryCount: "-1" }, /TransientFailureRetryCount '-1'.*0 to 15/);
  refused({ transientFailureRetryCount: 16 }, /TransientFailureRetryCount '16'/);
  refused({ transientFailureRetryCount: "six" }, /TransientFailureRetryCount 'six'/);
  refused({ transientFailureRetryInterval: "10 minutes" }, /TransientFailureRetryInterval '10 minutes'.*time span/);
  refused({ messageRetryInterval: "00:61:00" }, /MessageRetryInterval '00:61:00'/);
  refused({ delayNotificationTimeout: "-04:00:00" }, /DelayNotificationTimeout '-04:00:00'/);
  refused({ transientFailureRetryInterval: "12:00:01" }, /TransientFailureRetryInterval '12:00:01'.*from 00:00:00 to 12:00:00/);
  refused({ messageExpirationTimeout: "00:00:00" }, /MessageExpirationTimeout '00:00:00'.*from 00:00:01/);
  refused({ messageExpirationTimeout: 0 }, /MessageExpirationTimeout '0'/);
  refused({ messageExpirationTimeout: "91.00:00:00" }, /MessageExpirationTimeout '91\.00:00:00'.*90\.00:00:00/);
  refused({ outboundConnectionFailureRetryInterval: "21.00:00:00" }, /OutboundConnectionFailureRetryInterval/);
  refused({ maxOutboundConnections: 0 }, /MaxOutboundConnections '0'.*or Unlimited/);
  refused({ maxPerDomainOutboundConnections: "100001" }, /MaxPerDomainOutboundConnections '100001'/);
  refused({ plaintextFallback: "maybe" }, /PlaintextFallback 'maybe'/);
  refused({}, /at least one setting/);
  // good values beside a bad one are not written either
  refused({ plaintextFallback: true, maxOutboundConnections: 7, externalDNSServers: { replace: ["::1"] }, messageExpirationTimeout: "00:00:00" }, /MessageExpirationTimeout/);
  // the same check without a database (what the shell runs before a line)
  assert.throws(() => validateTransportServerEdits({ externalDNSServers: { replace: ["127.0.0.1:0"] } }), /port must be 1-65535/);
});

test("the identity, when given, must be this server's name", () => {
  assert.equal(api.transportServer.get("MAIL1.Contoso.com.").Identity, "mail1.contoso.com");
  const before = rows();
  assert.throws(() => api.transportServer.set({ plaintextFallback: false }, "mail2.contoso.com"), (e: unknown) => isSealpostError(e, "NOT_FOUND") && /this data folder is the server mail1\.contoso\.com/.test(e.message));
  assert.throws(() => api.transportServer.get("mail2"), (e: unknown) => isSealpostError(e, "NOT_FOUND"));
  assert.deepEqual(rows(), before);
});

test("a stored value edited by hand into nonsense is reported by name, and Set-TransportServer repairs it", () => {
  api.ctx.db.prepare("INSERT INTO transport_server_settings (key, value) VALUES ('MaxPerDomainOutboundConnections', '-3') ON CONFLICT(key) DO UPDATE SET value = excluded.value").run();
  assert.throws(() => settings(), (e: unknown) => isSealpostError(e) && /stored transport server setting MaxPerDomainOutboundConnections/.test(e.message));
  api.transportServer.set({ maxPerDomainOutboundConnections: 20 });
  assert.equal(settings().maxPerDomainOutboundConnections, 20);
});
