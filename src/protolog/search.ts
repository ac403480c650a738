// Reading the logs back: the files of one log folder, each read as a stream
// (a chunk at a time, never a whole file), and the files merged into one
// sequence in time order.
//
// Every process of a server writes its own files (RotatingFile), so a day's
// rows are spread over several files whose times interleave. mergeByTime
// opens a file only when the merge reaches the time of its first row, so it
// holds open about as many files as there were writers at once, not every
// file of the day.
import { createReadStream } from "node:fs";
import { open, readdir } from "node:fs/promises";
import path from "node:path";
import { CsvParser, type CsvItem } from "./csv.js";
import { PROTOCOL_LOG_FIELDS } from "./protocol-log.js";
import type { TrackingEvent } from "./tracking.js";

export interface LogFile {
  file: string;
  /** yyyymmdd (UTC) from the name: the day of every line written into it. */
  day: string;
  n: number;
}

/** A protocol log row as read (fields by Exchange's names). */
export interface ProtocolLogRecord {
  dateTime: string;
  /** dateTime in ms since the epoch. */
  time: number;
  connector: string;
  sessionId: string;
  sequence: number;
  local: string;
  remote: string;
  event: string;
  data: string;
  context: string;
}

export type TrackingRecord = TrackingEvent & { timestamp: string; time: number };

const READ_CHUNK = 64 * 1024;
const MAX_LINE_CHARS = 1024 * 1024;

/** A folder's `<prefix>yyyymmdd-n.log` files, oldest day first (none when the folder does not exist). */
export async function listLogFiles(dir: string, prefix: string): Promise<LogFile[]> {
  const re = new RegExp(`^${prefix}(\\d{8})-(\\d+)\\.log$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const files: LogFile[] = [];
  for (const name of names) {
    const m = re.exec(name);
    if (m) files.push({ file: path.join(dir, name), day: m[1] as string, n: Number(m[2]) });
  }
  return files.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.n - b.n));
}

/** The UTC day (yyyymmdd) of a time. */
export function dayOf(t: number): string {
  return new Date(t).toISOString().slice(0, 10).replace(/-/g, "");
}

/** Midnight UTC of a yyyymmdd day. */
function dayStart(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
}

/** The first bytes of a file (to learn the time of its first line without reading it all). */
async function head(file: string, bytes = 16 * 1024): Promise<string> {
  const fh = await open(file, "r").catch(() => undefined);
  if (!fh) return "";
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.toString("utf8", 0, bytesRead);
  } finally {
    await fh.close();
  }
}

function fieldIndex(names: string[]): Map<string, number> {
  return new Map(names.map((n, i) => [n.trim().toLowerCase(), i]));
}

const DEFAULT_INDEX = fieldIndex(PROTOCOL_LOG_FIELDS.split(","));

function toRecord(fields: string[], idx: Map<string, number>): ProtocolLogRecord | undefined {
  const get = (name: string): string => {
    const i = idx.get(name);
    return i === undefined ? "" : (fields[i] ?? "");
  };
  const dateTime = get("date-time");
  const time = Date.parse(dateTime);
  const sessionId = get("session-id");
  if (!Number.isFinite(time) || sessionId === "") return undefined;
  const seq = Number(get("sequence-number"));
  return {
    dateTime,
    time,
    connector: get("connector-id"),
    sessionId,
    sequence: Number.isInteger(seq) ? seq : 0,
    local: get("local-endpoint"),
    remote: get("remote-endpoint"),
    event: get("event"),
    data: get("data"),
    context: get("context"),
  };
}

/**
 * The rows of one protocol log file, streamed: a batch per chunk read (so
 * the per-row cost is a loop step, not an await). Malformed rows are
 * skipped; the "#Fields" header names the columns.
 */
export async function* readProtocolLogFile(file: string): AsyncGenerator<ProtocolLogRecord[]> {
  const stream = createReadStream(file, { encoding: "utf8", highWaterMark: READ_CHUNK });
  const parser = new CsvParser();
  let idx = DEFAULT_INDEX;
  let ready: ProtocolLogRecord[] = [];
  const take = (item: CsvItem): void => {
    if (item.kind === "comment") {
      const m = /^#Fields:\s*(.*)$/i.exec(item.text);
      if (m) idx = fieldIndex((m[1] as string).split(","));
      return;
    }
    const r = toRecord(item.fields, idx);
    if (r) ready.push(r);
  };
  try {
    for await (const chunk of stream) {
      parser.push(chunk as string, take);
      if (ready.length > 0) {
        const out = ready;
        ready = [];
        yield out;
      }
    }
    parser.end(take);
    if (ready.length > 0) yield ready;
  } catch (e) {
    // A file deleted by retention between listing and reading has nothing to give.
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  } finally {
    stream.destroy();
  }
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

function toTracking(line: string): TrackingRecord | undefined {
  if (line.trim() === "") return undefined;
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (o === null || typeof o !== "object" || Array.isArray(o)) return undefined;
  const e = o as Record<string, unknown>;
  const time = typeof e.timestamp === "string" ? Date.parse(e.timestamp) : NaN;
  if (!Number.isFinite(time) || typeof e.eventId !== "string") return undefined;
  // Built field by field (not spread): every record has one shape, and nothing unknown rides along.
  const r: TrackingRecord = {
    timestamp: e.timestamp as string,
    time,
    eventId: e.eventId as TrackingEvent["eventId"],
    messageId: str(e.messageId),
    internalId: str(e.internalId),
    sender: str(e.sender),
    recipients: Array.isArray(e.recipients) ? e.recipients.filter((x): x is string => typeof x === "string") : [],
    connector: str(e.connector),
    sessionId: str(e.sessionId),
    serverHostname: str(e.serverHostname),
    clientIp: str(e.clientIp),
  };
  if (e.tls !== null && typeof e.tls === "object") r.tls = e.tls as NonNullable<TrackingEvent["tls"]>;
  if (e.domainSecure !== null && typeof e.domainSecure === "object") r.domainSecure = e.domainSecure as NonNullable<TrackingEvent["domainSecure"]>;
  if (typeof e.detail === "string") r.detail = e.detail;
  return r;
}

/** The time of a tracking log line from its first field (as the writer puts it), without parsing the line; NaN when it is not there. */
export function trackingLineTime(line: string): number {
  const m = /^\{"timestamp":"([^"]{10,40})"/.exec(line);
  return m ? Date.parse(m[1] as string) : NaN;
}

/**
 * The events of one tracking log file, streamed a batch per chunk read; lines
 * that are not events are skipped. `prefilter` sees each raw line first: a
 * line it refuses is not parsed (a search's cheap first cut).
 */
export async function* readTrackingFile(file: string, prefilter?: (line: string) => boolean): AsyncGenerator<TrackingRecord[]> {
  const stream = createReadStream(file, { encoding: "utf8", highWaterMark: READ_CHUNK });
  let rest = "";
  try {
    for await (const chunk of stream) {
      const lines = (rest + (chunk as string)).split("\n");
      rest = lines.pop() ?? "";
      // A line longer than any event (damage) is dropped, not gathered without end.
      if (rest.length > MAX_LINE_CHARS) rest = "";
      const out: TrackingRecord[] = [];
      for (const line of lines) {
        if (prefilter && !prefilter(line)) continue;
        const e = toTracking(line);
        if (e) out.push(e);
      }
      if (out.length > 0) yield out;
    }
    // A last line without its line end is being written: complete JSON or nothing.
    const e = prefilter && !prefilter(rest) ? undefined : toTracking(rest);
    if (e) yield [e];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  } finally {
    stream.destroy();
  }
}

/** The time of a protocol log file's first row: its "#Date" header, else its first row, else its day. */
export async function protocolFileStart(f: LogFile): Promise<number> {
  let found: number | undefined;
  const parser = new CsvParser();
  parser.push(await head(f.file), (item) => {
    if (found !== undefined) return;
    if (item.kind === "comment") {
      const m = /^#Date:\s*(\S+)/i.exec(item.text);
      const t = m ? Date.parse(m[1] as string) : NaN;
      if (Number.isFinite(t)) found = t;
    } else {
      const t = Date.parse(item.fields[0] ?? "");
      if (Number.isFinite(t)) found = t;
    }
  });
  return found ?? dayStart(f.day);
}

/** The time of a tracking file's first event, else its day. */
export async function trackingFileStart(f: LogFile): Promise<number> {
  for (const line of (await head(f.file)).split("\n")) {
    const e = toTracking(line);
    if (e) return e.time;
  }
  return dayStart(f.day);
}

export interface MergeSource<T> {
  /** The time of the source's first item (when to open it). */
  start: number;
  /** A tie-breaker between sources starting together (lower first). */
  order: number;
  /** The source's items in batches. */
  open: () => AsyncGenerator<T[]>;
}

const MERGE_BATCH = 1024;

/**
 * The items of every source in time order (each source being in time order
 * itself; one that is not comes out in its own order), in batches. Sources
 * are opened only once the merge reaches their start; every open source is
 * closed when the consumer stops early.
 */
export async function* mergeByTime<T>(sources: Array<MergeSource<T>>, time: (item: T) => number): AsyncGenerator<T[]> {
  const pending = [...sources].sort((a, b) => a.start - b.start || a.order - b.order);
  interface Active {
    it: AsyncGenerator<T[]>;
    buf: T[];
    pos: number;
    /** time of buf[pos] */
    t: number;
    order: number;
  }
  const active: Active[] = [];
  let next = 0;
  /** Reads the source's next batch; false when it has no more. */
  const fill = async (a: Active): Promise<boolean> => {
    for (;;) {
      const r = await a.it.next();
      if (r.done) return false;
      if (r.value.length > 0) {
        a.buf = r.value;
        a.pos = 0;
        a.t = time(r.value[0] as T);
        return true;
      }
    }
  };
  const earliest = (): Active | undefined => {
    let min: Active | undefined;
    for (const a of active) if (min === undefined || a.t < min.t || (a.t === min.t && a.order < min.order)) min = a;
    return min;
  };
  let out: T[] = [];
  try {
    for (;;) {
      let min = earliest();
      while (next < pending.length) {
        const p = pending[next] as MergeSource<T>;
        if (min !== undefined && p.start > min.t) break;
        next++;
        const a: Active = { it: p.open(), buf: [], pos: 0, t: 0, order: p.order };
        if (await fill(a)) active.push(a);
        min = earliest();
      }
      if (min === undefined) break;
      out.push(min.buf[min.pos] as T);
      if (++min.pos < min.buf.length) min.t = time(min.buf[min.pos] as T);
      else if (!(await fill(min))) active.splice(active.indexOf(min), 1);
      if (out.length >= MERGE_BATCH) {
        yield out;
        out = [];
      }
    }
    if (out.length > 0) yield out;
  } finally {
    for (const a of active) await a.it.return([]);
  }
}
