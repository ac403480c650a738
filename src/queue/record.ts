// The spool's on-disk format. A segment file starts with a 32-byte segment
// header, then one record per accepted message:
//
//   segment header: "SPSG", version (1), 3 reserved, 16-byte random salt,
//                   CRC-32 of bytes 0..23, 4 reserved
//
//   record:
//   offset size
//   0      4    magic "SPL1"
//   4      1    version (1)
//   5      3    reserved, zero
//   8      4    total record length in bytes, header included (uint32 LE)
//   12     4    envelope length in bytes (uint32 LE)
//   16     4    CRC-32 of bytes 0..15 followed by the payload, seeded with
//               the CRC of the segment's salt (uint32 LE)
//   20     ...  payload: envelope (UTF-8 JSON) then the message bytes
//
// The CRC covers the length fields too, so a torn or bit-flipped length can
// never make the reader accept garbage as a record. Only the tail of a
// segment can be torn (records are appended and each batch is fdatasynced
// before it is acknowledged), but the reader resynchronises on the next
// valid record anyway so one damaged block costs one record, not a segment.
// The salt is why resynchronising is safe: a message body may contain bytes
// that look like a record (a sender could craft one with a forged envelope),
// but without the segment's secret salt its CRC cannot match.
import { crc32 } from "./crc32.js";

export const RECORD_MAGIC = Buffer.from("SPL1", "latin1");
export const RECORD_VERSION = 1;
export const HEADER_BYTES = 20;
export const SEGMENT_MAGIC = Buffer.from("SPSG", "latin1");
export const SEGMENT_HEADER_BYTES = 32;
const MAX_RECORD = 0xffffffff;

export interface DecodedRecord {
  offset: number;
  id: string;
  /** The stored envelope without its id. */
  envelope: Record<string, unknown>;
  message: Buffer;
}

export interface SkippedRegion {
  offset: number;
  reason: string;
}

/** A new segment's header with a fresh random salt; `seed` chains every record's CRC. */
export function newSegmentHeader(salt: Buffer): { header: Buffer; seed: number } {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeUInt8(RECORD_VERSION, 4);
  salt.copy(header, 8, 0, 16);
  header.writeUInt32LE(crc32(header.subarray(0, 24)), 24);
  return { header, seed: crc32(header.subarray(8, 24)) };
}

function readSegmentHeader(buf: Buffer): number | undefined {
  if (buf.length < SEGMENT_HEADER_BYTES || !buf.subarray(0, 4).equals(SEGMENT_MAGIC)) return undefined;
  if (buf.readUInt8(4) !== RECORD_VERSION || crc32(buf.subarray(0, 24)) !== buf.readUInt32LE(24)) return undefined;
  return crc32(buf.subarray(8, 24));
}

/** The stored envelope (JSON with the id), encoded once when the message is handed over. */
export function encodeEnvelope(id: string, envelope: object): Buffer {
  return Buffer.from(JSON.stringify({ ...envelope, id }), "utf8");
}

/**
 * The buffers of one record, ready for writev (the message is not copied).
 * Built when the record's segment is known, since the CRC is seeded by it.
 */
export function encodeRecord(seed: number, env: Buffer, message: Buffer): Buffer[] {
  const size = recordSize(env, message);
  if (size > MAX_RECORD) throw new RangeError(`a spool record is limited to ${MAX_RECORD} bytes`);
  const header = Buffer.alloc(HEADER_BYTES);
  RECORD_MAGIC.copy(header, 0);
  header.writeUInt8(RECORD_VERSION, 4);
  header.writeUInt32LE(size, 8);
  header.writeUInt32LE(env.length, 12);
  header.writeUInt32LE(crc32(message, crc32(env, crc32(header.subarray(0, 16), seed))), 16);
  return [header, env, message];
}

export function recordSize(env: Buffer, message: Buffer): number {
  return HEADER_BYTES + env.length + message.length;
}

export const MAX_RECORD_BYTES = MAX_RECORD;

type Attempt = { ok: true; record: DecodedRecord; size: number } | { ok: false; reason: string };

function tryRecord(buf: Buffer, off: number, seed: number): Attempt {
  const rest = buf.length - off;
  if (rest < HEADER_BYTES) return { ok: false, reason: "truncated header" };
  if (!buf.subarray(off, off + 4).equals(RECORD_MAGIC)) return { ok: false, reason: "bad magic" };
  if (buf.readUInt8(off + 4) !== RECORD_VERSION) return { ok: false, reason: "unknown version" };
  const size = buf.readUInt32LE(off + 8);
  const envLen = buf.readUInt32LE(off + 12);
  if (size < HEADER_BYTES + envLen) return { ok: false, reason: "inconsistent lengths" };
  if (size > rest) return { ok: false, reason: "truncated record" };
  const env = buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + envLen);
  const msg = buf.subarray(off + HEADER_BYTES + envLen, off + size);
  const crc = crc32(msg, crc32(env, crc32(buf.subarray(off, off + 16), seed)));
  if (crc !== buf.readUInt32LE(off + 16)) return { ok: false, reason: "CRC mismatch" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(env.toString("utf8"));
  } catch {
    return { ok: false, reason: "envelope is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || typeof (parsed as { id?: unknown }).id !== "string") {
    return { ok: false, reason: "envelope has no id" };
  }
  const { id, ...envelope } = parsed as { id: string } & Record<string, unknown>;
  // Copy the message out so a pending message does not pin the whole segment buffer.
  return { ok: true, record: { offset: off, id, envelope, message: Buffer.from(msg) }, size };
}

/** Every valid record of a segment's bytes, in order; damaged regions are skipped and listed. */
export function parseSegment(buf: Buffer): { records: DecodedRecord[]; skipped: SkippedRegion[] } {
  const records: DecodedRecord[] = [];
  const skipped: SkippedRegion[] = [];
  if (buf.length === 0) return { records, skipped };
  const seed = readSegmentHeader(buf);
  // The header is written with the first batch, before any acknowledgement:
  // without it nothing in the file was ever acknowledged.
  if (seed === undefined) return { records, skipped: [{ offset: 0, reason: "damaged segment header" }] };
  let off = SEGMENT_HEADER_BYTES;
  while (off < buf.length) {
    const a = tryRecord(buf, off, seed);
    if (a.ok) {
      records.push(a.record);
      off += a.size;
      continue;
    }
    skipped.push({ offset: off, reason: a.reason });
    // Resynchronise: the next offset holding a magic that starts a valid record.
    let next = buf.indexOf(RECORD_MAGIC, off + 1);
    while (next !== -1 && !tryRecord(buf, next, seed).ok) next = buf.indexOf(RECORD_MAGIC, next + 1);
    if (next === -1) break;
    off = next;
  }
  return { records, skipped };
}
