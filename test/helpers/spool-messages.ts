// Deterministic messages for the spool kill test: the child appends message
// n and prints its id; the parent rebuilds message n to compare the bytes.
import { createHash } from "node:crypto";
import type { SpoolEnvelope } from "../../src/queue/spool.js";

export function killTestMessage(n: number): Buffer {
  // Sizes from a few hundred bytes to ~256 KiB, so a kill often lands mid-write.
  const len = 200 + ((n * 7919) % 17 === 0 ? 256 * 1024 : (n * 104729) % 20000);
  const seed = createHash("sha256").update(`message ${n}`).digest("hex");
  return Buffer.from(`Subject: kill test ${n}\r\n\r\n${seed.repeat(Math.ceil(len / seed.length)).slice(0, len)}\r\n`);
}

export function killTestEnvelope(n: number): SpoolEnvelope {
  return {
    receivedAt: new Date().toISOString(),
    mailFrom: `sender@example.org`,
    rcptTo: [{ address: `rcpt${n}@example.com`, params: {} }],
    mailParams: {},
    connector: "Inet",
    sessionId: n.toString(16).padStart(16, "0"),
    meta: { n },
  };
}
