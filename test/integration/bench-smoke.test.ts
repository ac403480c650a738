// The benchmark cannot rot: `npm run bench -- --smoke` (Sealpost only, a
// test PKI made with the OpenSSL command line, `sealpost serve` with one
// worker, a few messages over mutual TLS with and without resumption) must
// exit 0 with every acknowledged message found in the sink.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const RUN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/bench/run.js");

test("npm run bench -- --smoke: messages flow through Sealpost and reach the sink", { timeout: 60_000 }, async () => {
  const { code, out } = await new Promise<{ code: number; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [RUN, "--smoke"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (c) => resolve({ code: c ?? -1, out }));
  });
  assert.equal(code, 0, out);
  assert.match(out, /SMOKE OK: 28 messages acknowledged and found in the sink, TLS sessions resumed/);
  assert.match(out, /smoke {2,}sealpost .* 20 acked, 20 in sink/);
});
