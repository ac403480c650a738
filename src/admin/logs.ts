// Admin API: searching this server's logs (Get-MessageTrackingLog,
// Get-ProtocolLog, `sealpost logs`). Reads the files of the data folder
// (DIR/logs/tracking, DIR/logs/protocol/SmtpReceive|SmtpSend) directly, so it
// answers whether the server is running or not, and writes nothing.
//
// Files are streamed (never read whole), only the days a time range can touch
// are opened, and the files of every process are merged into one sequence in
// time order, oldest first; the first `limit` matches are returned
// (ResultSize, default 1000 as in Exchange).
//
// Every argument is checked before any file is read; a bad one is
// INVALID_ARGUMENT with what to give instead.
import { isIP } from "node:net";
import { SealpostError } from "../errors/errors.js";
import { normalizeDomain } from "../pki/domain.js";
import { protocolLogDir } from "../protolog/protocol-log.js";
import {
  dayOf,
  listLogFiles,
  mergeByTime,
  protocolFileStart,
  readProtocolLogFile,
  readTrackingFile,
  trackingFileStart,
  trackingLineTime,
  type LogFile,
  type MergeSource,
  type ProtocolLogRecord,
  type TrackingRecord,
} from "../protolog/search.js";
import { trackingLogDir, type TrackingEventId } from "../protolog/tracking.js";
import type { ServerContext } from "./context.js";

export const TRACKING_EVENT_IDS: readonly TrackingEventId[] = ["RECEIVE", "DELIVER", "FAIL", "DEFER", "SEND", "DSN", "DROP"];
/** ResultSize when none is given (Exchange's default). */
export const DEFAULT_RESULT_SIZE = 1000;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export type LogDirection = "Receive" | "Send";
/** A number of results, or "Unlimited" (text forms of both accepted, as typed). */
export type Limit = number | string;
export type TimeArg = string | Date;

export interface ProtocolLogQuery {
  /** "Receive", "Send" or "Both" (default). */
  direction?: string;
  sessionId?: string;
  /** An IP address: matches the remote endpoint's address. */
  remoteAddress?: string;
  /** Every row of each session in which the domain (or a subdomain) appears in EHLO/HELO, MAIL FROM, RCPT TO or the peer's certificate names. */
  domain?: string;
  start?: TimeArg;
  end?: TimeArg;
  connector?: string;
  limit?: Limit;
}

export interface ProtocolLogRowView {
  DateTime: string;
  Direction: LogDirection;
  Connector: string;
  SessionId: string;
  Sequence: number;
  LocalEndpoint: string;
  RemoteEndpoint: string;
  Event: string;
  Data: string;
  Context: string;
}

export interface TrackingLogQuery {
  /** An address ("<>" for the null sender); case-insensitive. */
  sender?: string;
  /** Any of these addresses; case-insensitive. */
  recipients?: string | string[];
  /** With or without angle brackets. */
  messageId?: string;
  start?: TimeArg;
  end?: TimeArg;
  /** One or several of RECEIVE, DELIVER, FAIL, DEFER, SEND, DSN, DROP. */
  eventId?: string | string[];
  /** The server that logged the event: its FQDN or first label. */
  server?: string;
  limit?: Limit;
}

export interface TrackingEventView {
  Timestamp: string;
  EventId: string;
  MessageId: string;
  InternalId: string;
  Sender: string;
  Recipients: string[];
  ConnectorId: string;
  SessionId: string;
  ServerHostname: string;
  ClientIp: string;
  TlsProtocol?: string;
  TlsCipher?: string;
  CertificateSubject?: string;
  CertificateThumbprint?: string;
  /** The Domain Security verdict ("domain-secured" or a verdict code). */
  DomainSecure?: string;
  DomainSecurePartner?: string;
  DomainSecureReason?: string;
  Detail: string;
}

interface ProtocolFilter {
  directions: LogDirection[];
  sessionId?: string;
  remote?: string;
  domain?: string;
  start?: number;
  end?: number;
  connector?: string;
  limit: number;
}

interface TrackingFilter {
  sender?: string;
  recipients?: Set<string>;
  messageId?: string;
  start?: number;
  end?: number;
  eventIds?: Set<string>;
  server?: string;
  limit: number;
}

function invalid(message: string): never {
  throw new SealpostError("INVALID_ARGUMENT", message);
}

const DATE_HINT = 'give e.g. 2026-11-29, "2026-11-29 09:00", 2026-11-29T09:00:00Z or "11/29/2026 9:00 AM"';

/**
 * A time as an administrator types it: ISO 8601 (date, "date time" or
 * "dateTtime", optional seconds and fraction, optional Z or ±hh:mm) or US
 * style M/D/YYYY [h:mm[:ss]] [AM|PM] (as Exchange's examples). Without a zone
 * it is the server's local time, as in Exchange.
 */
export function parseLogTime(value: TimeArg, what: string): number {
  if (value instanceof Date) {
    const t = value.getTime();
    return Number.isFinite(t) ? t : invalid(`The ${what} is not a valid date.`);
  }
  const s = String(value).trim();
  const bad = (): never => invalid(`The ${what} '${s}' is not a date: ${DATE_HINT}.`);
  let y: number, mo: number, d: number;
  let h = 0,
    mi = 0,
    sec = 0,
    ms = 0;
  let zone: string | undefined;
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AP]M))?)?$/i.exec(s);
  if (iso) {
    [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    if (iso[4] !== undefined) [h, mi] = [Number(iso[4]), Number(iso[5])];
    if (iso[6] !== undefined) sec = Number(iso[6]);
    if (iso[7] !== undefined) ms = Number(iso[7].slice(0, 3).padEnd(3, "0"));
    zone = iso[8];
    if (zone !== undefined && iso[4] === undefined) bad();
  } else if (us) {
    [mo, d, y] = [Number(us[1]), Number(us[2]), Number(us[3])];
    if (us[4] !== undefined) [h, mi] = [Number(us[4]), Number(us[5])];
    if (us[6] !== undefined) sec = Number(us[6]);
    const ampm = us[7]?.toUpperCase();
    if (ampm !== undefined) {
      if (h < 1 || h > 12) bad();
      h = (h % 12) + (ampm === "PM" ? 12 : 0);
    }
  } else {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate() || h > 23 || mi > 59 || sec > 59) bad();
  if (zone === undefined) return new Date(y, mo - 1, d, h, mi, sec, ms).getTime();
  const off = zone.toUpperCase() === "Z" ? 0 : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms) - off * 60_000;
}

function parseLimit(limit: Limit | undefined): number {
  if (limit === undefined) return DEFAULT_RESULT_SIZE;
  if (typeof limit === "string" && /^\s*unlimited\s*$/i.test(limit)) return Infinity;
  const n = typeof limit === "number" ? limit : /^\s*-?\d+\s*$/.test(String(limit)) ? Number(limit) : NaN;
  if (!Number.isInteger(n) || n < 1) invalid(`The result size '${String(limit)}' is not valid: give a whole number of at least 1, or Unlimited.`);
  return n;
}

function timeRange(q: { start?: TimeArg; end?: TimeArg }): { start?: number; end?: number } {
  const start = q.start !== undefined ? parseLogTime(q.start, "start time") : undefined;
  const end = q.end !== undefined ? parseLogTime(q.end, "end time") : undefined;
  if (start !== undefined && end !== undefined && end < start) {
    invalid(`The end time (${new Date(end).toISOString()}) is before the start time (${new Date(start).toISOString()}).`);
  }
  return { ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}) };
}

/** A comparable IP: lower case, IPv4-mapped IPv6 as IPv4, IPv6 in its canonical form. */
function canonicalIp(ip: string): string | undefined {
  let a = ip.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) a = mapped[1] as string;
  const v = isIP(a);
  if (v === 4) return a;
  if (v === 6) {
    try {
      return new URL(`http://[${a}]/`).hostname.slice(1, -1);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The address of an endpoint "ip:port", "[ipv6]:port", "ipv6:port" (as the server writes them) or a bare address. */
function endpointIp(endpoint: string): string | undefined {
  const e = endpoint.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(e);
  if (bracketed) return canonicalIp(bracketed[1] as string);
  const colon = e.lastIndexOf(":");
  if (colon > 0 && /^\d+$/.test(e.slice(colon + 1))) {
    const ip = canonicalIp(e.slice(0, colon));
    if (ip !== undefined) return ip;
  }
  return canonicalIp(e);
}

/** An address without angle brackets, lower case ("" for "<>"). */
function normAddress(a: string): string {
  const t = a.trim();
  return (t.startsWith("<") && t.endsWith(">") ? t.slice(1, -1) : t).trim().toLowerCase();
}

function normMessageId(m: string): string {
  const t = m.trim();
  return (t.startsWith("<") && t.endsWith(">") ? t.slice(1, -1) : t).trim();
}

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(",")).map((x) => x.trim()).filter((x) => x !== "");
}

export function normalizeProtocolQuery(q: ProtocolLogQuery): ProtocolFilter {
  let directions: LogDirection[] = ["Receive", "Send"];
  if (q.direction !== undefined) {
    const d = String(q.direction).trim().toLowerCase();
    if (d === "receive") directions = ["Receive"];
    else if (d === "send") directions = ["Send"];
    else if (d !== "both") invalid(`The direction '${q.direction}' is not valid: give Receive, Send or Both.`);
  }
  const f: ProtocolFilter = { directions, ...timeRange(q), limit: parseLimit(q.limit) };
  if (q.sessionId !== undefined) {
    const s = String(q.sessionId).trim();
    if (s === "" || /[\s,]/.test(s)) invalid(`The session id '${s}' is not valid: give one id as the logs show it (e.g. 08c895f533e837ec).`);
    f.sessionId = s.toLowerCase();
  }
  if (q.remoteAddress !== undefined) {
    const ip = canonicalIp(String(q.remoteAddress));
    if (ip === undefined) invalid(`The remote address '${String(q.remoteAddress).trim()}' is not an IP address (e.g. 192.0.2.10 or 2001:db8::1).`);
    f.remote = ip;
  }
  if (q.domain !== undefined) {
    try {
      f.domain = normalizeDomain(String(q.domain), { allowSingleLabel: true });
    } catch (e) {
      invalid((e as Error).message);
    }
  }
  if (q.connector !== undefined) {
    const c = String(q.connector).trim();
    if (c === "") invalid("The connector name is empty.");
    // "Server\Connector" as Exchange writes identities: the logs name the connector alone.
    f.connector = (c.includes("\\") ? c.slice(c.lastIndexOf("\\") + 1) : c).toLowerCase();
  }
  return f;
}

export function normalizeTrackingQuery(q: TrackingLogQuery): TrackingFilter {
  const f: TrackingFilter = { ...timeRange(q), limit: parseLimit(q.limit) };
  if (q.sender !== undefined) {
    const s = String(q.sender);
    if (/\s/.test(s.trim()) || (s.trim() === "" && s !== "")) invalid(`The sender '${s}' is not an address: give one address, or <> for the null sender.`);
    f.sender = normAddress(s);
  }
  if (q.recipients !== undefined) {
    const r = list(q.recipients);
    if (r.length === 0) invalid("No recipient address was given.");
    const bad = r.find((a) => /\s/.test(a) || normAddress(a) === "");
    if (bad !== undefined) invalid(`The recipient '${bad}' is not an address.`);
    f.recipients = new Set(r.map(normAddress));
  }
  if (q.messageId !== undefined) {
    const m = normMessageId(String(q.messageId));
    if (m === "") invalid("The message id is empty: give the Message-ID header's value, with or without <>.");
    f.messageId = m;
  }
  if (q.eventId !== undefined) {
    const ids = list(q.eventId).map((e) => e.toUpperCase());
    if (ids.length === 0) invalid(`No event id was given: give one or several of ${TRACKING_EVENT_IDS.join(", ")}.`);
    const unknown = ids.find((e) => !(TRACKING_EVENT_IDS as readonly string[]).includes(e));
    if (unknown !== undefined) invalid(`The event id '${unknown}' is not one this server logs: give ${TRACKING_EVENT_IDS.join(", ")}.`);
    f.eventIds = new Set(ids);
  }
  if (q.server !== undefined) {
    const s = String(q.server).trim().toLowerCase().replace(/\.$/, "");
    if (s === "" || /[\s\\/]/.test(s)) invalid(`The server '${String(q.server)}' is not a server name.`);
    f.server = s;
  }
  return f;
}

/** True when a host name (or a certificate name, "*." stripped) is the domain or inside it. */
function inDomain(host: string, domain: string): boolean {
  const h = host.trim().toLowerCase().replace(/\.$/, "").replace(/^\*\./, "");
  return h === domain || h.endsWith(`.${domain}`);
}

function addressInDomain(address: string, domain: string): boolean {
  const at = address.lastIndexOf("@");
  return at >= 0 && inDomain(address.slice(at + 1), domain);
}

/** The days (yyyymmdd) a time range touches, widened by a margin; files outside are not opened. */
function inDays(f: LogFile, range: { start?: number; end?: number }, margin: number): boolean {
  if (range.start !== undefined && f.day < dayOf(range.start - margin)) return false;
  if (range.end !== undefined && f.day > dayOf(range.end + margin)) return false;
  return true;
}

type DirectedRecord = ProtocolLogRecord & { direction: LogDirection };

export class LogAdmin {
  constructor(private readonly ctx: ServerContext) {}

  private get root(): string {
    return this.ctx.dir.root;
  }

  /** Get-ProtocolLog: rows of the SMTP protocol logs, oldest first. */
  async protocolLog(q: ProtocolLogQuery = {}): Promise<ProtocolLogRowView[]> {
    const out: ProtocolLogRowView[] = [];
    for await (const r of this.streamProtocolLog(q)) out.push(r);
    return out;
  }

  /** The same, one row at a time (the arguments are checked at the call, before anything is read). */
  streamProtocolLog(q: ProtocolLogQuery = {}): AsyncGenerator<ProtocolLogRowView> {
    return this.protocolRows(normalizeProtocolQuery(q));
  }

  /** Get-MessageTrackingLog: message tracking events, oldest first. */
  async trackingLog(q: TrackingLogQuery = {}): Promise<TrackingEventView[]> {
    const out: TrackingEventView[] = [];
    for await (const e of this.streamTrackingLog(q)) out.push(e);
    return out;
  }

  streamTrackingLog(q: TrackingLogQuery = {}): AsyncGenerator<TrackingEventView> {
    return this.trackingEvents(normalizeTrackingQuery(q));
  }

  private async protocolSources(directions: LogDirection[], range: { start?: number; end?: number }, margin: number): Promise<Array<MergeSource<DirectedRecord>>> {
    const sources: Array<MergeSource<DirectedRecord>> = [];
    for (const direction of directions) {
      const dir = protocolLogDir(this.root, direction === "Receive" ? "receive" : "send");
      const files = (await listLogFiles(dir, direction === "Receive" ? "RECV" : "SEND")).filter((f) => inDays(f, range, margin));
      for (const f of files) {
        sources.push({
          start: await protocolFileStart(f),
          order: sources.length,
          open: async function* () {
            for await (const batch of readProtocolLogFile(f.file)) {
              for (const r of batch) (r as DirectedRecord).direction = direction;
              yield batch as DirectedRecord[];
            }
          },
        });
      }
    }
    return sources;
  }

  /** The sessions (direction + id) in which the domain appears. */
  private async sessionsNaming(f: ProtocolFilter, domain: string): Promise<Set<string>> {
    const found = new Set<string>();
    // A session that matches may have begun before the range or go on after it.
    const rows = mergeByTime(await this.protocolSources(f.directions, f, DAY_MS), (r) => r.time);
    /** The certificate block being read, per session ("Received certificate": the peer's). */
    const block = new Map<string, string>();
    for await (const batch of rows) for (const r of batch) {
      const key = `${r.direction}|${r.sessionId.toLowerCase()}`;
      if (r.event === "-") {
        block.delete(key);
        continue;
      }
      if (found.has(key)) continue;
      let hit = false;
      if (r.event === "*") {
        if (r.data === "" && /certificate$/i.test(r.context)) block.set(key, r.context.toLowerCase());
        else if (block.get(key) === "received certificate") {
          if (/^certificate alternate names$/i.test(r.context)) hit = r.data.split(/[;,]/).some((n) => inDomain(n, domain));
          else if (/^certificate subject$/i.test(r.context)) hit = [...r.data.matchAll(/(?:^|[,+]\s*)CN=([^,+]+)/gi)].some((m) => inDomain(m[1] as string, domain));
        }
      } else {
        const helo = /^(?:EHLO|HELO|LHLO)\s+(\S+)/i.exec(r.data);
        const addr = /^(?:MAIL FROM|RCPT TO):\s*<([^>]*)>/i.exec(r.data) ?? /^(?:MAIL FROM|RCPT TO):\s*(\S+)/i.exec(r.data);
        if (helo) hit = inDomain(helo[1] as string, domain);
        else if (addr) hit = addressInDomain(addr[1] as string, domain);
      }
      if (hit) found.add(key);
    }
    return found;
  }

  private async *protocolRows(f: ProtocolFilter): AsyncGenerator<ProtocolLogRowView> {
    const sessions = f.domain !== undefined ? await this.sessionsNaming(f, f.domain) : undefined;
    if (sessions?.size === 0) return;
    const rows = mergeByTime(await this.protocolSources(f.directions, f, 0), (r) => r.time);
    let n = 0;
    try {
      for await (const batch of rows) for (const r of batch) {
        if (f.start !== undefined && r.time < f.start) continue;
        if (f.end !== undefined && r.time > f.end) {
          // Rows come out in time order (a minute's grace for a clock set back): nothing later can match.
          if (r.time > f.end + MINUTE_MS) return;
          continue;
        }
        if (f.sessionId !== undefined && r.sessionId.toLowerCase() !== f.sessionId) continue;
        if (f.connector !== undefined && r.connector.toLowerCase() !== f.connector) continue;
        if (f.remote !== undefined && endpointIp(r.remote) !== f.remote) continue;
        if (sessions && !sessions.has(`${r.direction}|${r.sessionId.toLowerCase()}`)) continue;
        yield {
          DateTime: r.dateTime,
          Direction: r.direction,
          Connector: r.connector,
          SessionId: r.sessionId,
          Sequence: r.sequence,
          LocalEndpoint: r.local,
          RemoteEndpoint: r.remote,
          Event: r.event,
          Data: r.data,
          Context: r.context,
        };
        if (++n >= f.limit) return;
      }
    } finally {
      await rows.return([]);
    }
  }

  private async *trackingEvents(f: TrackingFilter): AsyncGenerator<TrackingEventView> {
    // An event's timestamp is taken a moment before it is written: look an hour either side.
    const files = (await listLogFiles(trackingLogDir(this.root), "MSGTRK")).filter((x) => inDays(x, f, HOUR_MS));
    const sources: Array<MergeSource<TrackingRecord>> = [];
    const prefilter = linePrefilter(f);
    for (const file of files) sources.push({ start: await trackingFileStart(file), order: sources.length, open: () => readTrackingFile(file.file, prefilter) });
    const events = mergeByTime(sources, (e) => e.time);
    let n = 0;
    try {
      for await (const batch of events) for (const e of batch) {
        if (f.start !== undefined && e.time < f.start) continue;
        if (f.end !== undefined && e.time > f.end) {
          if (e.time > f.end + HOUR_MS) return;
          continue;
        }
        if (f.eventIds && !f.eventIds.has(e.eventId.toUpperCase())) continue;
        if (f.sender !== undefined && normAddress(e.sender) !== f.sender) continue;
        if (f.recipients && !e.recipients.some((r) => (f.recipients as Set<string>).has(normAddress(r)))) continue;
        if (f.messageId !== undefined && normMessageId(e.messageId) !== f.messageId) continue;
        if (f.server !== undefined) {
          const host = e.serverHostname.toLowerCase().replace(/\.$/, "");
          if (host !== f.server && host.split(".")[0] !== f.server) continue;
        }
        yield trackingView(e);
        if (++n >= f.limit) return;
      }
    } finally {
      await events.return([]);
    }
  }
}

/**
 * A cheap test on a tracking log line before it is parsed: the time from the
 * line's start (where the writer puts it) must be in the range, and a value
 * that JSON writes verbatim (printable ASCII without quote or backslash) must
 * appear in the line for the event to match. The parsed event is still
 * checked exactly.
 */
function linePrefilter(f: TrackingFilter): ((line: string) => boolean) | undefined {
  const verbatim = (v: string) => v !== "" && /^[\x20-\x7e]+$/.test(v) && !/["\\]/.test(v);
  const exact = f.messageId !== undefined && verbatim(f.messageId) ? f.messageId : undefined;
  // Addresses and event ids are compared lower-cased (as the checks after parsing do), so the line is too.
  const sender = f.sender !== undefined && verbatim(f.sender) ? f.sender : undefined;
  const recipients = f.recipients && [...f.recipients].every(verbatim) ? [...f.recipients] : undefined;
  const events = f.eventIds ? [...f.eventIds].map((e) => `"${e.toLowerCase()}"`) : undefined;
  const ranged = f.start !== undefined || f.end !== undefined;
  if (exact === undefined && sender === undefined && recipients === undefined && events === undefined && !ranged) return undefined;
  const start = f.start ?? -Infinity;
  // Events a little after the end may still be read past (see trackingEvents), not parsed.
  const end = f.end ?? Infinity;
  return (line) => {
    if (ranged) {
      const t = trackingLineTime(line);
      if (t < start || t > end) return false;
    }
    if (exact !== undefined && !line.includes(exact)) return false;
    if (sender === undefined && recipients === undefined && events === undefined) return true;
    const lower = line.toLowerCase();
    return (sender === undefined || lower.includes(sender)) && (recipients === undefined || recipients.some((r) => lower.includes(r))) && (events === undefined || events.some((e) => lower.includes(e)));
  };
}

function trackingView(e: TrackingRecord): TrackingEventView {
  const tls = e.tls && typeof e.tls === "object" ? e.tls : undefined;
  const ds = e.domainSecure && typeof e.domainSecure === "object" ? e.domainSecure : undefined;
  return {
    Timestamp: e.timestamp,
    EventId: e.eventId,
    MessageId: e.messageId,
    InternalId: e.internalId,
    Sender: e.sender,
    Recipients: e.recipients,
    ConnectorId: e.connector,
    SessionId: e.sessionId,
    ServerHostname: e.serverHostname,
    ClientIp: e.clientIp,
    ...(tls?.protocol ? { TlsProtocol: tls.protocol } : {}),
    ...(tls?.cipher ? { TlsCipher: tls.cipher } : {}),
    ...(tls?.certSubject ? { CertificateSubject: tls.certSubject } : {}),
    ...(tls?.certThumbprint ? { CertificateThumbprint: tls.certThumbprint } : {}),
    ...(ds?.verdict ? { DomainSecure: ds.verdict } : {}),
    ...(ds?.partner ? { DomainSecurePartner: ds.partner } : {}),
    ...(ds?.reason ? { DomainSecureReason: ds.reason } : {}),
    Detail: typeof e.detail === "string" ? e.detail : "",
  };
}
