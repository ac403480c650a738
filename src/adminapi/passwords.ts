// Administrator passwords: scrypt hashes with their parameters stored beside
// each hash, verification in constant time (an unknown account costs one
// scrypt too, against DUMMY), and the length rules.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { SealpostError } from "../errors/errors.js";

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * scrypt's cost: N = 2^15, r = 8, p = 1 (about 32 MiB and some tens of
 * milliseconds per hash), a 16-byte salt, a 32-byte key. The parameters are
 * stored with each hash, so raising them later keeps old hashes working.
 */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1, keyLength: 32, saltLength: 16 } as const;
/** A stored hash asking for more than this is refused (a forged row cannot make a login cost gigabytes). */
const MAX_SCRYPT_N = 2 ** 20;

function scryptAsync(password: string, salt: Buffer, keyLength: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password.normalize("NFC"), salt, keyLength, opts, (e, key) => (e ? reject(e) : resolve(key))));
}

function scryptOptions(N: number, r: number, p: number): ScryptOptions {
  // Node refuses above maxmem (32 MiB by default), and 128·N·r is exactly 32 MiB at N = 2^15, r = 8.
  return { N, r, p, maxmem: 128 * N * r * 2 + 1024 * 1024 };
}

/** "scrypt$N$r$p$<salt>$<hash>" (base64). */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keyLength, saltLength } = SCRYPT_PARAMS;
  const salt = randomBytes(saltLength);
  const key = await scryptAsync(password, salt, keyLength, scryptOptions(N, r, p));
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

export function parseHash(stored: string): ParsedHash | undefined {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!(N >= 2 && N <= MAX_SCRYPT_N && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return undefined;
  const key = Buffer.from(m[5] as string, "base64");
  if (key.length < 16 || key.length > 64) return undefined;
  return { N, r, p, salt: Buffer.from(m[4] as string, "base64"), key };
}

/** A hash nobody's password matches, verified against when the account is unknown, so that costs the same. */
export const DUMMY: ParsedHash = { N: SCRYPT_PARAMS.N, r: SCRYPT_PARAMS.r, p: SCRYPT_PARAMS.p, salt: randomBytes(SCRYPT_PARAMS.saltLength), key: randomBytes(SCRYPT_PARAMS.keyLength) };

export async function passwordMatches(password: string, stored: ParsedHash): Promise<boolean> {
  const got = await scryptAsync(password, stored.salt, stored.key.length, scryptOptions(stored.N, stored.r, stored.p));
  return timingSafeEqual(got, stored.key);
}

export function checkPassword(password: unknown): string {
  if (typeof password !== "string" || password === "") throw new SealpostError("WEAK_PASSWORD", `A password of at least ${MIN_PASSWORD_LENGTH} characters is required.`);
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) throw new SealpostError("WEAK_PASSWORD", `The password is too short (${length} characters): give at least ${MIN_PASSWORD_LENGTH}; nothing was changed.`);
  if (length > MAX_PASSWORD_LENGTH) throw new SealpostError("WEAK_PASSWORD", `The password is longer than ${MAX_PASSWORD_LENGTH} characters; nothing was changed.`);
  return password;
}
