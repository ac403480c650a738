// What every fuzz target shares. A target is `fuzz(data: Buffer)`: it runs
// the real code on the input and throws only when an invariant is broken —
// an exception the code is not supposed to throw (rethrown as is, so the
// report shows where it came from) or an InvariantViolation. Expected
// rejections (a SealpostError, a parse that returns undefined) are fine.
// Targets import nothing from the fuzzing engine: the replay test runs them
// with plain node.

export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvariantViolation";
  }
}

export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new InvariantViolation(typeof message === "string" ? message : message());
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** Rethrows `e` unless it is an instance of one of `allowed`. */
export function allowOnly(e: unknown, ...allowed: ErrorClass[]): void {
  if (allowed.some((c) => e instanceof c)) return;
  throw e;
}

/** Runs `f`; an exception of an allowed class is an expected rejection (undefined), anything else propagates. */
export function expectOnly<T>(f: () => T, ...allowed: ErrorClass[]): T | undefined {
  try {
    return f();
  } catch (e) {
    allowOnly(e, ...allowed);
    return undefined;
  }
}

export async function expectOnlyAsync<T>(f: () => Promise<T>, ...allowed: ErrorClass[]): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    allowOnly(e, ...allowed);
    return undefined;
  }
}

/** A printable, bounded view of bytes for messages. */
export function show(b: Buffer | string, max = 120): string {
  const s = typeof b === "string" ? b : b.toString("latin1");
  const j = JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s);
  return `${j} (${s.length} ${typeof b === "string" ? "chars" : "octets"})`;
}

/**
 * Deterministic chunk boundaries for `data`, derived from its own bytes
 * (FNV-1a seeded xorshift), so that a replayed input splits the same way.
 * Sizes are mostly small (1..8) with some larger runs, to put boundaries
 * inside CRLF pairs and dot lines.
 */
export function pseudoRandomSplits(data: Buffer, salt = 0): Buffer[] {
  let h = 0x811c9dc5 ^ salt;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ (data[i] as number), 0x01000193);
  let x = h >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const out: Buffer[] = [];
  for (let pos = 0; pos < data.length; ) {
    const r = next();
    const size = r % 4 === 0 ? 1 + (r >>> 2) % 200 : 1 + (r >>> 2) % 8;
    out.push(data.subarray(pos, pos + size));
    pos += size;
  }
  return out;
}

/** One chunk per octet: every boundary that can exist. */
export function byteSplits(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i++) out.push(data.subarray(i, i + 1));
  return out;
}
