// Found under attack: with its receive connector's address already taken,
// `serve` forked a worker every second forever and ignored SIGTERM (only
// kill -9 stopped it). A binding that cannot be had stops the server at
// start with an error naming the address and the connector; restarts of
// failing workers back off; SIGTERM and SIGINT stop the primary and every
// worker within the shutdown timeout whatever the workers are doing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { SEALPOST_BIN, runSealpost, shellC } from "../helpers/cli.js";
import { childPids, isRunning } from "../helpers/proc.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";

const SHUTDOWN_S = 5;

async function setup(name: string): Promise<{ dir: string; host: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sealpost-crashloop-${name}-`));
  const host = randomLoopback();
  await runSealpost(["--data", dir, "init", "--name", "edge.example.net"]);
  const r = await shellC(dir, `Set-ReceiveConnector Inet -Bindings ${host}:2525`);
  assert.equal(r.code, 0, r.stderr);
  return { dir, host };
}

function occupy(host: string, port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer((s) => s.destroy());
    srv.once("error", () => resolve(undefined));
    srv.listen({ host, port, exclusive: true }, () => resolve(srv));
  });
}

/** True when something listens on the address (the test's probe is closed again at once). */
async function portTaken(host: string, port: number): Promise<boolean> {
  const srv = await occupy(host, port);
  if (!srv) return true;
  await closeServer(srv);
  return false;
}

const closeServer = (srv: net.Server | undefined) => new Promise<void>((r) => (srv ? srv.close(() => r()) : r()));

/** Every pid seen as a child of `pid` until stopped (workers come and go). */
function watchChildren(pid: number): { seen: Set<number>; stop: () => void } {
  const seen = new Set<number>();
  const t = setInterval(() => childPids(pid).forEach((p) => seen.add(p)), 25);
  return { seen, stop: () => clearInterval(t) };
}

/** Sends the signal and resolves with the exit code and how long the exit took. */
async function signalAndWait(server: RunningServer, sig: NodeJS.Signals, ms: number): Promise<{ code: number | null; signal: string | null; tookMs: number }> {
  const t0 = Date.now();
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => server.child.once("exit", (code, signal) => r({ code, signal })));
  server.child.kill(sig);
  const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref());
  const res = await Promise.race([exited, timeout]);
  if (!res) {
    server.child.kill("SIGKILL");
    return { code: null, signal: "timeout", tookMs: Date.now() - t0 };
  }
  return { ...res, tookMs: Date.now() - t0 };
}

async function assertAllGone(pids: Iterable<number>): Promise<void> {
  const list = [...pids];
  await waitUntil(`every worker (${list.join(", ")}) gone`, () => (list.every((p) => !isRunning(p)) ? true : undefined), 3000);
}

for (const workers of [2, 0]) {
  test(`a receive connector's address already in use: serve --workers ${workers} exits non-zero at once, naming the address and the connector`, async () => {
    const { dir, host } = await setup(`inuse${workers}`);
    const blocker = await occupy(host, 2525);
    assert.ok(blocker, "the test holds the port");
    try {
      const child = spawn(process.execPath, [SEALPOST_BIN, "--data", dir, "serve", "--admin", "127.0.0.1:0", "--workers", String(workers), "--shutdown-timeout", String(SHUTDOWN_S)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const kids = watchChildren(child.pid as number);
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      const code = await Promise.race([exited, new Promise<"running">((r) => setTimeout(() => r("running"), 30_000).unref())]);
      kids.stop();
      if (code === "running") {
        // What the administrator tried next: SIGTERM, then kill -9.
        child.kill("SIGTERM");
        const after = await Promise.race([exited, new Promise<"ignored">((r) => setTimeout(() => r("ignored"), 3000).unref())]);
        child.kill("SIGKILL");
        for (const p of kids.seen) if (isRunning(p)) process.kill(p, "SIGKILL");
        assert.fail(`serve kept running 30 s with its address in use (${kids.seen.size} worker(s) forked; SIGTERM ${after === "ignored" ? "ignored" : "obeyed"}):\n${out.slice(-2000)}`);
      }
      assert.equal(code, 1, out);
      assert.ok(out.includes(`${host}:2525 is already in use (receive connector Inet)`), out);
      if (workers > 0) assert.ok(kids.seen.size <= workers, `no worker was started again (${kids.seen.size} forked)`);
      await assertAllGone(kids.seen);
    } finally {
      await closeServer(blocker);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("workers crash-looping after start (their address taken while none ran): restarts back off, SIGTERM stops everything within the shutdown timeout", async () => {
  const { dir, host } = await setup("loop");
  const server = await startServe(dir, { workers: 2, args: ["--shutdown-timeout", String(SHUTDOWN_S)] });
  const primary = server.child.pid as number;
  const kids = watchChildren(primary);
  let blocker: net.Server | undefined;
  try {
    // Kill both workers; while their replacements start, another program takes the address.
    for (let attempt = 0; attempt < 10 && !blocker; attempt++) {
      const workers = await waitUntil("two workers", () => {
        const p = childPids(primary);
        return p.length === 2 ? p : undefined;
      });
      await waitUntil("workers listening", async () => ((await portTaken(host, 2525)) ? true : undefined));
      for (const p of workers) process.kill(p, "SIGKILL");
      const end = Date.now() + 3000;
      while (!blocker && Date.now() < end) {
        blocker = await occupy(host, 2525);
        if (!blocker) await new Promise((r) => setTimeout(r, 10));
      }
    }
    assert.ok(blocker, "the test took the address between two workers");
    // The replacements cannot listen: each failure is an ALERT, and the next start waits longer.
    // Two failed starts in a row (each a whole worker start-up: seconds on a busy machine).
    await waitUntil("restarts backing off", () => (/starting another in 2 s/.test(server.output()) ? true : undefined), 45_000).catch((e: Error) => {
      throw new Error(`${e.message}:\n${server.output().slice(-3000)}`);
    });
    const out = server.output();
    assert.match(out, new RegExp(`ALERT worker \\d+ could not start: ${host.replace(/\./g, "\\.")}:2525 is already in use \\(receive connector Inet\\)`));
    assert.match(out, /starting another in 1 s/);
    const forked = kids.seen.size;
    assert.ok(forked <= 2 + 2 + 4, `${forked} workers forked: restarts back off`);
    const r = await signalAndWait(server, "SIGTERM", SHUTDOWN_S * 1000 + 2000);
    kids.stop();
    assert.notEqual(r.signal, "timeout", `SIGTERM did not stop serve within ${SHUTDOWN_S} s:\n${server.output().slice(-2000)}`);
    assert.ok(r.tookMs <= SHUTDOWN_S * 1000 + 1000, `stopped in ${r.tookMs} ms`);
    assert.equal(r.code, 0, server.output().slice(-2000));
    await assertAllGone(kids.seen);
  } finally {
    kids.stop();
    await closeServer(blocker);
    await server.kill9();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIGTERM while replacement workers are still starting (right after a kill -9) stops the primary and every worker", async () => {
  const { dir } = await setup("starting");
  const server = await startServe(dir, { workers: 2, args: ["--shutdown-timeout", String(SHUTDOWN_S)] });
  const primary = server.child.pid as number;
  const kids = watchChildren(primary);
  try {
    const first = await waitUntil("two workers", () => {
      const p = childPids(primary);
      return p.length === 2 ? p : undefined;
    });
    for (const p of first) process.kill(p, "SIGKILL");
    // The replacements exist but have not finished starting.
    await waitUntil("replacement workers forked", () => (childPids(primary).filter((p) => !first.includes(p)).length === 2 ? true : undefined), 5000);
    await new Promise((r) => setTimeout(r, 150));
    const r = await signalAndWait(server, "SIGTERM", SHUTDOWN_S * 1000 + 2000);
    kids.stop();
    assert.notEqual(r.signal, "timeout", `SIGTERM did not stop serve within ${SHUTDOWN_S} s:\n${server.output().slice(-2000)}`);
    assert.equal(r.code, 0, server.output().slice(-2000));
    await assertAllGone(kids.seen);
  } finally {
    kids.stop();
    await server.kill9();
    for (const p of kids.seen) if (isRunning(p)) process.kill(p, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  test(`an idle primary with workers stops cleanly on ${sig}`, async () => {
    const { dir } = await setup(`idle-${sig}`);
    const server = await startServe(dir, { workers: 2, args: ["--shutdown-timeout", String(SHUTDOWN_S)] });
    try {
      const workers = await waitUntil("two workers", () => {
        const p = childPids(server.child.pid as number);
        return p.length === 2 ? p : undefined;
      });
      const r = await signalAndWait(server, sig, SHUTDOWN_S * 1000 + 2000);
      assert.equal(r.code, 0, server.output().slice(-2000));
      assert.ok(r.tookMs < 3000, `stopped in ${r.tookMs} ms`);
      await assertAllGone(workers);
      assert.doesNotMatch(server.output(), /killing them|not finished within/);
    } finally {
      await server.kill9();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
