// The schema of this server's transport settings (Set-TransportServer): one
// row per setting with Exchange's parameter name, its unit, its default
// (Exchange 2007 Edge Transport's) and its parser, in FIELDS below; the
// typed reader the runtime uses (outbound, the trust layer's fetch policy and
// cache age) and the one transaction that writes a checked change. The
// settings belong to the one server whose data folder this is (its SQLite
// database, table transport_server_settings: one JSON value per parameter
// name; a setting never set has its default), not to the organization.
// Readers call readTransportServerSettings() each time they need them, so a
// change applies to the next decision without a restart. The admin API
// (admin/transport-server.ts) shows and changes them through this module.
//
// Every value is validated before anything is written, and the change is
// written in one transaction: one bad value changes nothing.
import net from "node:net";
import { SealpostError } from "../errors/errors.js";
import { applyListEdit, formatTimeSpan, parseTimeSpan, type ListEditInput } from "../org/validate.js";
import { validateRetrySettings, type RetrySettings } from "../queue/schedule.js";
import type { Db } from "../store/sqlite.js";
import { DEFAULT_OUTBOUND_FETCH_PORTS, parseAllowedPort, parseAllowedRange, type OutboundFetchPolicy } from "../pki/trust/fetch-policy.js";

/** A connection limit: a number, or "Unlimited" (Exchange's word). */
export type ConnectionLimit = number | "Unlimited";

/** The settings as the program uses them. Time spans are whole seconds. */
export interface TransportServerSettings {
  /**
   * DNS servers for outbound lookups, each "IPv4", "IPv4:port", "IPv6" or
   * "[IPv6]:port" (the forms node:dns Resolver.setServers takes). Empty: the
   * system resolver.
   */
  externalDNSServers: string[];
  /** Connection failures retried at the short interval before the long one (0..15). */
  transientFailureRetryCount: number;
  /** seconds (0..12 h) */
  transientFailureRetryInterval: number;
  /** seconds (1 s..20 days) */
  outboundConnectionFailureRetryInterval: number;
  /** seconds (1 s..1 day) */
  messageRetryInterval: number;
  /** seconds (1 s..30 days) */
  delayNotificationTimeout: number;
  /** seconds (1 s..90 days) */
  messageExpirationTimeout: number;
  /** 1..100000 or "Unlimited" */
  maxOutboundConnections: ConnectionLimit;
  /** 1..100000 or "Unlimited"; in effect never more than maxOutboundConnections */
  maxPerDomainOutboundConnections: ConnectionLimit;
  /**
   * For mail to a domain that is NOT a Domain Security partner: a failed
   * STARTTLS handshake may be retried in clear. false forbids it. Partners
   * never fall back, whatever this says.
   */
  plaintextFallback: boolean;
  /**
   * Address ranges the server may fetch from on a certificate's say-so (AIA
   * issuers, CRLs, OCSP) besides public unicast addresses: canonical
   * "a.b.c.d/n", "v6/n" or "first-last". Empty by default (labs and tests
   * name their loopback or private ranges here).
   */
  outboundFetchAllowedRanges: string[];
  /** Ports those fetches may connect to, "N" or "N-M" (default 80 and 443). */
  outboundFetchAllowedPorts: string[];
  /** seconds (1 min..90 days): the longest a cached CRL or OCSP answer is used before it is fetched again, whatever its nextUpdate. */
  revocationCacheMaxAge: number;
}

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;

/** What Get-TransportServer shows: Exchange's property names, time spans as d.hh:mm:ss. */
export interface TransportServerView {
  Identity: string;
  Name: string;
  ExternalDNSServers: string[];
  TransientFailureRetryCount: number;
  TransientFailureRetryInterval: string;
  OutboundConnectionFailureRetryInterval: string;
  MessageRetryInterval: string;
  DelayNotificationTimeout: string;
  MessageExpirationTimeout: string;
  MaxOutboundConnections: ConnectionLimit;
  MaxPerDomainOutboundConnections: ConnectionLimit;
  PlaintextFallback: boolean;
  OutboundFetchAllowedRanges: string[];
  OutboundFetchAllowedPorts: string[];
  RevocationCacheMaxAge: string;
}

/**
 * Administrator input for Set-TransportServer. Counts, time spans and limits
 * as text or numbers ("00:10:00", 600, "Unlimited"); the DNS server list as
 * a replacement or @{Add=...;Remove=...} (null clears it).
 */
export interface TransportServerEdits {
  externalDNSServers?: ListEditInput | null;
  transientFailureRetryCount?: string | number;
  transientFailureRetryInterval?: string | number;
  outboundConnectionFailureRetryInterval?: string | number;
  messageRetryInterval?: string | number;
  delayNotificationTimeout?: string | number;
  messageExpirationTimeout?: string | number;
  maxOutboundConnections?: string | number;
  maxPerDomainOutboundConnections?: string | number;
  plaintextFallback?: boolean | string;
  outboundFetchAllowedRanges?: ListEditInput | null;
  /** Ports ("8080") or port ranges ("8000-8999"); a list replaces, @{Add;Remove} edits, null empties it (nothing is fetched then). */
  outboundFetchAllowedPorts?: ListEditInput | null;
  revocationCacheMaxAge?: string | number;
}

type Key = keyof TransportServerSettings;

function bad(name: string, value: unknown, hint: string): never {
  const shown = Array.isArray(value) ? value.join(",") : String(value);
  throw new SealpostError("INVALID_ARGUMENT", `${name} '${shown}' is not valid: ${hint}.`);
}

/**
 * One DNS server: "IPv4", "IPv4:port", "IPv6", "[IPv6]" or "[IPv6]:port".
 * Returns the canonical text: the address in its canonical form, the port
 * kept when given ("127.0.0.1:53" stays "127.0.0.1:53"), IPv6 with a port in
 * brackets.
 */
export function parseDnsServer(input: string): { host: string; port?: number; text: string } {
  const name = "The DNS server";
  const text = String(input).trim();
  const hint = "write an IP address, IP:PORT, or [IPv6]:PORT (the port 1-65535)";
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1] as string;
    portText = bracketed[2];
    if (!net.isIPv6(host)) return bad(name, text, "the address in brackets must be an IPv6 address");
  } else if (net.isIP(text) !== 0) {
    host = text; // IPv4, or IPv6 without a port ("::1:53" is an address: a port needs brackets)
  } else {
    const m = /^([^:]+):(.*)$/.exec(text);
    if (!m || !net.isIPv4(m[1] as string)) {
      return bad(name, text, `${/[a-z]/i.test(text) && !text.includes(":") ? "a DNS server must be given by IP address, not by name; " : ""}${hint}`);
    }
    host = m[1] as string;
    portText = m[2];
  }
  if (host.includes("%")) return bad(name, text, "a zone index (%...) is not supported");
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) return bad(name, text, "the port must be 1-65535");
    port = Number(portText);
  }
  const v6 = net.isIPv6(host);
  // The WHATWG URL parser gives IPv6's canonical (compressed, lower-case) form.
  const canonical = v6 ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
  const out = port === undefined ? canonical : v6 ? `[${canonical}]:${port}` : `${canonical}:${port}`;
  return port === undefined ? { host: canonical, text: out } : { host: canonical, port, text: out };
}

const dnsText = (v: string): string => parseDnsServer(v).text;

function rangeText(v: string): string {
  try {
    return parseAllowedRange(v).text;
  } catch (e) {
    return bad("The outbound fetch range", v, (e as Error).message);
  }
}

function portText(v: string): string {
  try {
    return parseAllowedPort(v).text;
  } catch (e) {
    return bad("The outbound fetch port", v, (e as Error).message);
  }
}

/** The settings that are lists (a value replaces, @{Add;Remove} edits, null empties), with each entry's normal form. */
const LISTS = {
  externalDNSServers: dnsText,
  outboundFetchAllowedRanges: rangeText,
  outboundFetchAllowedPorts: portText,
} as const;
type ListKey = keyof typeof LISTS;
const LIST_KEYS = Object.keys(LISTS) as ListKey[];
const isListKey = (k: string): k is ListKey => k in LISTS;

function parseCount(name: string, input: unknown, min: number, max: number): number {
  const text = String(input).trim();
  if (!/^-?\d+$/.test(text) || Number(text) < min || Number(text) > max) return bad(name, text, `give a whole number from ${min} to ${max}`);
  return Number(text);
}

function parseSpan(name: string, input: unknown, min: number, max: number): number {
  if (typeof input !== "string" && typeof input !== "number") return bad(name, input, "give a time span such as 00:10:00");
  const secs = parseTimeSpan(name, input);
  if (secs < min || secs > max) return bad(name, String(input), `it must be from ${formatTimeSpan(min)} to ${formatTimeSpan(max)}`);
  return secs;
}

function parseLimit(name: string, input: unknown): ConnectionLimit {
  const text = String(input).trim();
  if (/^unlimited$/i.test(text)) return "Unlimited";
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 100_000) return bad(name, text, "give a whole number from 1 to 100000, or Unlimited");
  return Number(text);
}

function parseBool(name: string, input: unknown): boolean {
  if (typeof input === "boolean") return input;
  const text = String(input).trim();
  if (/^\$?true$/i.test(text)) return true;
  if (/^\$?false$/i.test(text)) return false;
  return bad(name, text, "give $true or $false");
}

/** What a setting's number or list counts. Time spans are stored and used in whole seconds. */
export type SettingUnit = "seconds" | "count" | "connections" | "boolean" | "DNS servers" | "address ranges" | "ports";

interface Field<T> {
  /** Exchange's parameter name: the stored key and the view's property. */
  name: string;
  unit: SettingUnit;
  /** Exchange 2007 Edge Transport's default (a list: its entries). */
  default: T;
  parse(input: unknown): T;
  show(v: T): unknown;
}

const span = (name: string, def: number, min: number, max: number): Field<number> => ({ name, unit: "seconds", default: def, parse: (v) => parseSpan(name, v, min, max), show: formatTimeSpan });
const same = (v: unknown): unknown => v;

/** The schema: every setting, its unit, its default, how input is read and how it is shown. */
const FIELDS: { [K in Key]: Field<TransportServerSettings[K]> } = {
  externalDNSServers: {
    name: "ExternalDNSServers",
    unit: "DNS servers",
    default: [],
    parse: (v) => (Array.isArray(v) ? [...new Set(v.map((x) => dnsText(String(x))))] : bad("ExternalDNSServers", v, "give a list of DNS servers")),
    show: (v) => [...v],
  },
  transientFailureRetryCount: { name: "TransientFailureRetryCount", unit: "count", default: 6, parse: (v) => parseCount("TransientFailureRetryCount", v, 0, 15), show: same },
  transientFailureRetryInterval: span("TransientFailureRetryInterval", 10 * MINUTE, 0, 12 * HOUR),
  outboundConnectionFailureRetryInterval: span("OutboundConnectionFailureRetryInterval", 30 * MINUTE, 1, 20 * DAY),
  messageRetryInterval: span("MessageRetryInterval", 15 * MINUTE, 1, DAY),
  delayNotificationTimeout: span("DelayNotificationTimeout", 4 * HOUR, 1, 30 * DAY),
  messageExpirationTimeout: span("MessageExpirationTimeout", 2 * DAY, 1, 90 * DAY),
  maxOutboundConnections: { name: "MaxOutboundConnections", unit: "connections", default: 1000, parse: (v) => parseLimit("MaxOutboundConnections", v), show: same },
  maxPerDomainOutboundConnections: { name: "MaxPerDomainOutboundConnections", unit: "connections", default: 20, parse: (v) => parseLimit("MaxPerDomainOutboundConnections", v), show: same },
  plaintextFallback: { name: "PlaintextFallback", unit: "boolean", default: true, parse: (v) => parseBool("PlaintextFallback", v), show: same },
  outboundFetchAllowedRanges: {
    name: "OutboundFetchAllowedRanges",
    unit: "address ranges",
    default: [],
    parse: (v) => (Array.isArray(v) ? [...new Set(v.map((x) => rangeText(String(x))))] : bad("OutboundFetchAllowedRanges", v, "give a list of address ranges")),
    show: (v) => [...v],
  },
  outboundFetchAllowedPorts: {
    name: "OutboundFetchAllowedPorts",
    unit: "ports",
    default: [...DEFAULT_OUTBOUND_FETCH_PORTS],
    parse: (v) => (Array.isArray(v) ? [...new Set(v.map((x) => portText(String(x))))] : bad("OutboundFetchAllowedPorts", v, "give a list of ports")),
    show: (v) => [...v],
  },
  revocationCacheMaxAge: span("RevocationCacheMaxAge", DAY, MINUTE, 90 * DAY),
};

const KEYS = Object.keys(FIELDS) as Key[];

/** Every setting's default (frozen; lists frozen too), from the schema. */
export const DEFAULT_TRANSPORT_SERVER_SETTINGS: Readonly<TransportServerSettings> = Object.freeze(
  Object.fromEntries(KEYS.map((k) => [k, Array.isArray(FIELDS[k].default) ? Object.freeze([...(FIELDS[k].default as unknown[])]) : FIELDS[k].default])) as unknown as TransportServerSettings,
);

/** The schema as data (Get-Help, docs): each setting's Exchange name, unit and default as Get-TransportServer shows it. */
export function transportServerSchema(): Array<{ name: string; unit: SettingUnit; default: unknown }> {
  return KEYS.map((k) => ({ name: FIELDS[k].name, unit: FIELDS[k].unit, default: (FIELDS[k].show as (v: unknown) => unknown)(FIELDS[k].default) }));
}

/** The schedule's view of the retry settings (milliseconds). */
export function retrySettingsOf(s: TransportServerSettings): RetrySettings {
  return {
    transientFailureRetryCount: s.transientFailureRetryCount,
    transientFailureRetryIntervalMs: s.transientFailureRetryInterval * 1000,
    outboundConnectionFailureRetryIntervalMs: s.outboundConnectionFailureRetryInterval * 1000,
    messageRetryIntervalMs: s.messageRetryInterval * 1000,
    delayNotificationTimeoutMs: s.delayNotificationTimeout * 1000,
    messageExpirationTimeoutMs: s.messageExpirationTimeout * 1000,
  };
}

function checkRetry(s: TransportServerSettings): void {
  try {
    validateRetrySettings(retrySettingsOf(s));
  } catch (e) {
    throw new SealpostError("INVALID_ARGUMENT", `The retry settings are not usable: ${(e as Error).message}.`, { cause: e });
  }
}

/** A checked Set-TransportServer: the values to write, and the list edits with normalized entries. */
export interface TransportServerChange {
  values: Partial<TransportServerSettings>;
  /** A list edit (null given: `{ replace: [] }`, the list emptied). */
  lists: Partial<Record<ListKey, ListEditInput>>;
}

/**
 * Checks every value of an edit without touching the database (the shell
 * calls it before any command of a line runs; set() calls it first). Throws
 * INVALID_ARGUMENT naming the first bad value.
 */
export function validateTransportServerEdits(edits: TransportServerEdits): TransportServerChange {
  const values: Partial<Record<Key, unknown>> = {};
  for (const key of KEYS) {
    if (isListKey(key)) continue;
    const v = edits[key];
    if (v !== undefined) values[key] = FIELDS[key].parse(v);
  }
  const change: TransportServerChange = { values: values as Partial<TransportServerSettings>, lists: {} };
  for (const key of LIST_KEYS) {
    const given = edits[key];
    if (given === undefined) continue;
    const norm = LISTS[key];
    const e = given ?? { replace: [] };
    change.lists[key] = "replace" in e ? { replace: e.replace.map((x) => norm(String(x))) } : { add: e.add.map((x) => norm(String(x))), remove: e.remove.map((x) => norm(String(x))) };
  }
  if (Object.keys(values).length === 0 && Object.keys(change.lists).length === 0) {
    throw new SealpostError("INVALID_ARGUMENT", "Set-TransportServer: give at least one setting to change.");
  }
  return change;
}

/**
 * Reads the stored settings (defaults for what was never set). `strict`:
 * a stored value that is not valid (edited by hand) throws, naming it;
 * otherwise it counts as its default (so Set-TransportServer can repair it).
 */
function readStored(db: Db, strict: boolean): TransportServerSettings {
  const rows = db.prepare("SELECT key, value FROM transport_server_settings").all() as Array<{ key: string; value: string }>;
  const out: Record<string, unknown> = { ...DEFAULT_TRANSPORT_SERVER_SETTINGS };
  for (const k of LIST_KEYS) out[k] = [...(DEFAULT_TRANSPORT_SERVER_SETTINGS[k] as unknown[])];
  for (const r of rows) {
    const key = KEYS.find((k) => FIELDS[k].name === r.key);
    if (!key) continue; // written by a newer release
    try {
      out[key] = FIELDS[key].parse(JSON.parse(r.value));
    } catch (e) {
      if (!strict) continue;
      throw new SealpostError(
        "INVALID_ARGUMENT",
        `The stored transport server setting ${r.key} (${r.value}) is not valid: ${(e as Error).message} Set it again with Set-TransportServer -${r.key} <value>.`,
        { cause: e },
      );
    }
  }
  return out as unknown as TransportServerSettings;
}

/** This server's transport settings, defaults for those never set. A pure read: call it whenever they are needed. */
export function readTransportServerSettings(db: Db): TransportServerSettings {
  return readStored(db, true);
}

const cachedSettings = new WeakMap<Db, { at: number; value: TransportServerSettings }>();
/** How long cachedTransportServerSettings() reuses a read: how soon another process's change is seen. */
export const SETTINGS_RECHECK_MS = 1000;

/**
 * The settings for code that needs them on a hot path (every revocation check): read again at most
 * once a second, and at once after a Set-TransportServer in this process. A stored value that is not
 * valid counts as its default here (Get-TransportServer reports it).
 */
export function cachedTransportServerSettings(db: Db): TransportServerSettings {
  const now = Date.now();
  const hit = cachedSettings.get(db);
  if (hit && now >= hit.at && now - hit.at < SETTINGS_RECHECK_MS) return hit.value;
  let value: TransportServerSettings;
  try {
    value = readStored(db, false);
  } catch {
    value = { ...DEFAULT_TRANSPORT_SERVER_SETTINGS };
  }
  cachedSettings.set(db, { at: now, value });
  return value;
}

function forgetCachedSettings(db: Db): void {
  cachedSettings.delete(db);
}

/** The outbound fetch policy the settings describe. */
export function outboundFetchPolicyOf(s: TransportServerSettings): OutboundFetchPolicy {
  return { allowedRanges: s.outboundFetchAllowedRanges, allowedPorts: s.outboundFetchAllowedPorts };
}


/** Get-TransportServer's properties for these settings (Exchange's names, time spans as d.hh:mm:ss). */
export function showTransportServerSettings(s: TransportServerSettings): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const key of KEYS) view[FIELDS[key].name] = (FIELDS[key].show as (v: unknown) => unknown)(s[key]);
  return view;
}

/**
 * Writes a checked change (validateTransportServerEdits) in one IMMEDIATE
 * transaction: the write lock is taken before reading, so two concurrent
 * @{Add=...} edits of a list both survive; the retry settings as a whole are
 * checked before anything is written.
 */
export function writeTransportServerChange(db: Db, change: TransportServerChange): void {
  const put = db.prepare("INSERT INTO transport_server_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  db.transaction(() => {
    const current = readStored(db, false);
    const next: TransportServerSettings = { ...current, ...change.values };
    for (const key of LIST_KEYS) {
      const edit = change.lists[key];
      if (edit) next[key] = applyListEdit(current[key], edit, LISTS[key]);
    }
    checkRetry(next);
    for (const key of KEYS) {
      const changed = isListKey(key) ? change.lists[key] !== undefined : change.values[key] !== undefined;
      if (changed) put.run(FIELDS[key].name, JSON.stringify(next[key]));
    }
  }).immediate();
  forgetCachedSettings(db);
}
