// CRC-32 (IEEE 802.3, the zlib/PNG polynomial, reflected 0xEDB88320).
// Own implementation because zlib.crc32 is missing from the Node 20 releases
// we support (engines >=20.10). Table-driven, one byte per step: fast enough
// for spool records (the fdatasync dominates by orders of magnitude).

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `buf`, continuing from `prev` (the CRC of the bytes before it) so several buffers can be chained. */
export function crc32(buf: Uint8Array, prev = 0): number {
  let c = (prev ^ 0xffffffff) >>> 0;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
