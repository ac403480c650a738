// CRC-32 (IEEE 802.3, the zlib/PNG polynomial, reflected 0xEDB88320).
// zlib.crc32 is native and ~10x faster, but only exists from Node 20.15 /
// 22.2 and we support Node >= 20.10: use it when present, else the
// table-driven version below (same results; the unit test checks both).
import zlib from "node:zlib";

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Table-driven CRC-32 of `buf`, continuing from `prev` (the CRC of the bytes before it). */
export function crc32Js(buf: Uint8Array, prev = 0): number {
  let c = (prev ^ 0xffffffff) >>> 0;
  // (Indexes are in range: a byte of buf, and a value masked to 0..255 of a 256-entry table.)
  for (let i = 0; i < buf.length; i++) c = (TABLE[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `buf`, continuing from `prev` so several buffers can be chained. */
export const crc32: (buf: Uint8Array, prev?: number) => number = native ? (buf, prev = 0) => native(buf, prev) >>> 0 : crc32Js;
