import { test } from "node:test";
import assert from "node:assert/strict";
import { RESTART_BACKOFF, restartDelay } from "../../../src/server/cluster.js";

test("worker restarts: the first at once, then 1 s doubling, capped at 60 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => restartDelay(n)), [0, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  assert.equal(RESTART_BACKOFF.maxMs, 60_000);
  assert.ok(RESTART_BACKOFF.stableMs >= 10_000, "a slot is reset only after a worker served a while");
});
