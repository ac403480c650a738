// The soak cannot rot: `npm run soak -- --minutes 0.5` with a fixed seed (the
// whole topology — PKI, DNS, CRLs, PostgreSQL, three `sealpost serve` with two
// workers each — mixed traffic and a few faults) must exit 0 and print a
// summary whose key lines hold: nothing lost, no clear-text partner delivery,
// faults injected, PASS. Runs on a loopback /16 of its own. The seed's
// schedule starts with a CRL outage, a store outage, a worker killed and a
// configuration change, and no whole server killed: in a run this short a
// single duplicate (which a kill -9 in the middle of a send may cause, and
// the full soak allows for 1 % of the messages around a kill) would fail it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const RUN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/soak/run.js");

test("npm run soak -- --minutes 0.5: no invariant violated, and the summary says so", { timeout: 240_000 }, async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), "sealpost-soak-test-"));
  const net = `127.${150 + Math.floor(Math.random() * 100)}`;
  let keep = false;
  try {
    const { code, out } = await new Promise<{ code: number; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [RUN, "--minutes", "0.5", "--seed", "11", "--dir", path.join(work, "soak"), "--net", net], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      child.on("error", reject);
      child.on("close", (c) => resolve({ code: c ?? -1, out }));
    });
    keep = code !== 0;
    assert.equal(code, 0, `${out.slice(-8000)}\n(folder kept: ${work})`);
    assert.match(out, /seed 11 \(replay with --seed 11\)/);
    assert.match(out, /\[\s*\d+ s\] sessions \d+ · acknowledged \d+/);
    assert.match(out, /^ {2}messages sent\s+[1-9]\d*/m);
    assert.match(out, /^ {2}acknowledged\s+[1-9]\d*/m);
    assert.match(out, /^ {2}delivered\s+[1-9]\d*/m);
    assert.match(out, /^ {2}lost\s+0\b/m);
    assert.match(out, /^ {2}faults injected\s+[1-9]\d*\s+\(kill-worker \d+, kill-server \d+, mx-down \d+, crl-down \d+, pg-stop \d+, config \d+\)/m);
    assert.match(out, /^ {2}clear-text partner deliveries\s+0\b/m);
    assert.match(out, /^ {2}refused as expected\s+\d+/m);
    assert.match(out, /^ {2}duplicates\s+\d+/m);
    assert.match(out, /memory growth, second half/);
    assert.match(out, /^ {2}violations\s+0\b/m);
    assert.match(out, /^RESULT: PASS/m);
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
});
