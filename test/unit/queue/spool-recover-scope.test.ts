// Spool.recover with a scope (the segments of one process that exited) and
// the done file of an adopted segment whose last line a kill cut short.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Spool, type SpoolEnvelope } from "../../../src/queue/spool.js";

const env = (n: number): SpoolEnvelope => ({ receivedAt: new Date().toISOString(), mailFrom: `s${n}@example.org`, rcptTo: [{ address: "r@example.com", params: {} }], mailParams: {}, connector: "Inet", sessionId: "S", meta: { n } });

/** A closed segment with `n` messages, renamed as if process `pid` (started at `startMs`) wrote it. */
async function segmentOf(dir: string, pid: number, startMs: number, n: number): Promise<string[]> {
  const spool = new Spool({ dir });
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => spool.append(env(i), Buffer.from(`m${i}\r\n`))));
  await spool.close();
  const spoolDir = path.join(dir, "spool");
  const mine = readdirSync(spoolDir).find((f) => f.startsWith(`${process.pid}-`) && f.endsWith(".seg")) as string;
  renameSync(path.join(spoolDir, mine), path.join(spoolDir, `${pid}-${startMs}-0.seg`));
  return ids;
}

test("a scope reads only the segments it names and leaves every other one alone", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-scope-"));
  try {
    // Pids far above pid_max: no live process has them.
    const dead = await segmentOf(dir, 9_000_001, 1000, 3);
    const other = await segmentOf(dir, 9_000_002, 1000, 2);
    const later = await segmentOf(dir, 9_000_001, 5000, 1); // the same pid, a later process
    const r = await Spool.recover(dir, { segments: (s) => s.pid === 9_000_001 && s.startMs <= 2000 });
    assert.deepEqual(r.pending.map((p) => p.id).sort(), [...dead].sort());
    const all = await Spool.recover(dir);
    assert.deepEqual(all.pending.map((p) => p.id).sort(), [...dead, ...other, ...later].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an adopted segment whose .done file ends in a cut line: the next done mark starts a fresh line", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-scope-"));
  try {
    const ids = await segmentOf(dir, 9_000_003, 1000, 2);
    const seg = path.join(dir, "spool", "9000003-1000-0.seg");
    appendFileSync(`${seg}.done`, `${ids[0]}\n${(ids[1] as string).slice(0, 10)}`); // the writer was killed mid-line
    const { pending } = await Spool.recover(dir, { segments: (s) => s.pid === 9_000_003 });
    assert.deepEqual(pending.map((p) => p.id), [ids[1]]);
    const spool = new Spool({ dir });
    spool.adopt(pending);
    assert.ok(spool.holds("9000003-1000-0.seg"));
    await spool.markDone(ids[1] as string);
    await spool.close();
    // Every record done: the segment is gone, and a new recovery finds nothing.
    assert.equal(existsSync(seg), false);
    assert.deepEqual((await Spool.recover(dir)).pending, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the .done file of an adopted segment is read back whole after a cut line", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-scope-"));
  try {
    const ids = await segmentOf(dir, 9_000_004, 1000, 3);
    const seg = path.join(dir, "spool", "9000004-1000-0.seg");
    appendFileSync(`${seg}.done`, (ids[0] as string).slice(0, 7));
    const { pending } = await Spool.recover(dir);
    const spool = new Spool({ dir });
    spool.adopt(pending);
    await spool.markDone(ids[1] as string);
    await spool.close();
    // Without the fresh line, ids[1] would be glued to the cut one and come back.
    assert.deepEqual((await Spool.recover(dir)).pending.map((p) => p.id).sort(), [ids[0], ids[2]].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
