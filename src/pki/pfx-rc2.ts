// RC2-CBC decryption (RFC 2268), only for reading legacy PKCS#12 files.
// OpenSSL 1.x and `openssl pkcs12 -legacy` encrypt the certificates with
// pbeWithSHAAnd40BitRC2-CBC, and Node's bundled OpenSSL 3 leaves RC2 in the
// legacy provider, which it does not load. RC2 is never used to encrypt.

// PITABLE from RFC 2268 section 2: a permutation of 0..255 from the digits of pi.
const PITABLE = Uint8Array.from(Buffer.from(
  "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2" +
  "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82" +
  "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626" +
  "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7" +
  "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec" +
  "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731" +
  "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9" +
  "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad",
  "hex",
));

/** The 64 16-bit subkeys for a key with `effectiveBits` effective key bits. */
function expandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  const t = key.length;
  if (t < 1 || t > 128) throw new RangeError("RC2 key must be 1 to 128 bytes");
  const l = new Uint8Array(128);
  l.set(key);
  for (let i = t; i < 128; i++) l[i] = PITABLE[(l[i - 1]! + l[i - t]!) & 0xff]!;
  const t8 = (effectiveBits + 7) >> 3;
  const tm = 0xff >> (8 * t8 - effectiveBits);
  l[128 - t8] = PITABLE[l[128 - t8]! & tm]!;
  for (let i = 127 - t8; i >= 0; i--) l[i] = PITABLE[l[i + 1]! ^ l[i + t8]!]!;
  const k = new Uint16Array(64);
  for (let i = 0; i < 64; i++) k[i] = l[2 * i]! | (l[2 * i + 1]! << 8);
  return k;
}

const SHIFTS = [1, 2, 3, 5] as const;

function decryptBlock(k: Uint16Array, block: Uint8Array): Uint8Array {
  const r = [0, 1, 2, 3].map((i) => block[2 * i]! | (block[2 * i + 1]! << 8));
  let j = 63;
  const rMix = (): void => {
    for (let i = 3; i >= 0; i--) {
      const s = SHIFTS[i]!;
      const x = r[i]!;
      const a = r[(i + 3) & 3]!;
      const b = r[(i + 2) & 3]!;
      const c = r[(i + 1) & 3]!;
      const rotated = ((x >>> s) | (x << (16 - s))) & 0xffff;
      r[i] = (rotated - k[j--]! - (a & b) - (~a & c)) & 0xffff;
    }
  };
  const rMash = (): void => {
    for (let i = 3; i >= 0; i--) r[i] = (r[i]! - k[r[(i + 3) & 3]! & 63]!) & 0xffff;
  };
  for (let n = 0; n < 5; n++) rMix();
  rMash();
  for (let n = 0; n < 6; n++) rMix();
  rMash();
  for (let n = 0; n < 5; n++) rMix();
  const out = new Uint8Array(8);
  for (let i = 0; i < 4; i++) {
    out[2 * i] = r[i]! & 0xff;
    out[2 * i + 1] = r[i]! >> 8;
  }
  return out;
}

/** CBC decryption with PKCS#7 padding removal; throws on a bad length or padding. */
export function rc2CbcDecrypt(key: Uint8Array, effectiveBits: number, iv: Uint8Array, data: Uint8Array): Buffer {
  if (iv.length !== 8) throw new RangeError("RC2 IV must be 8 bytes");
  if (data.length === 0 || data.length % 8 !== 0) throw new Error("RC2 ciphertext length is not a multiple of 8");
  const k = expandKey(key, effectiveBits);
  const out = Buffer.alloc(data.length);
  let prev = iv;
  for (let off = 0; off < data.length; off += 8) {
    const c = data.subarray(off, off + 8);
    const p = decryptBlock(k, c);
    for (let i = 0; i < 8; i++) out[off + i] = p[i]! ^ prev[i]!;
    prev = c;
  }
  const pad = out[out.length - 1]!;
  if (pad < 1 || pad > 8) throw new Error("bad RC2 padding");
  for (let i = out.length - pad; i < out.length; i++) if (out[i] !== pad) throw new Error("bad RC2 padding");
  return out.subarray(0, out.length - pad);
}
