// A real process appends to the spool and is killed with SIGKILL mid-stream;
// every id it printed (i.e. acknowledged) must be recovered with its bytes.
// This proves the acknowledgement/recovery plumbing end to end; it cannot
// prove the fdatasync (kill -9 keeps the page cache) — the recording-io unit
// test in test/unit/queue/spool.test.ts does that.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Spool } from "../../src/queue/spool.js";
import { killTestMessage } from "../helpers/spool-messages.js";

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../helpers/spool-child.js");

test("every id acknowledged before kill -9 is recovered with the right bytes", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-spool-kill-"));
  try {
    const child = spawn(process.execPath, [CHILD, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      // Kill ~0.5 s after the first acknowledgement, so start-up time does not matter.
      timer ??= setTimeout(() => child.kill("SIGKILL"), 500);
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const failsafe = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, sig) => resolve(sig)));
    clearTimeout(failsafe);
    assert.equal(signal, "SIGKILL", err);

    // A line cut by the kill was never complete: only whole lines count.
    const acked = out.split("\n").slice(0, -1).map((l) => {
      const [id = "", n] = l.split(" ");
      return { id, n: Number(n) };
    });
    assert.ok(acked.length > 10, `only ${acked.length} messages acknowledged`);

    const { pending } = await Spool.recover(dir);
    const byId = new Map(pending.map((p) => [p.id, p]));
    for (const a of acked) {
      const p = byId.get(a.id);
      assert.ok(p, `acknowledged message ${a.id} (#${a.n}) was not recovered`);
      assert.deepEqual(p.message, killTestMessage(a.n), `message ${a.id} has different bytes`);
      assert.equal((p.envelope.meta as { n: number }).n, a.n);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
