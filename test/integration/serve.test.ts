// `sealpost serve`: first start makes a self-signed SMTP certificate and an
// admin token (0600, printed once); the admin endpoint is loopback-only and
// authenticated; SIGTERM stops it cleanly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SEALPOST_BIN, runSealpost } from "../helpers/cli.js";

function startServe(dataDir: string): Promise<{ stop: () => Promise<number>; address: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SEALPOST_BIN, "--data", dataDir, "serve", "--admin", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 20_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /admin API http:\/\/([\d.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          address: m[1] as string,
          output: () => out,
          stop: () =>
            new Promise((r) => {
              child.once("exit", (code) => r(code ?? -1));
              child.kill("SIGTERM");
            }),
        });
      }
    });
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", () => reject(new Error(`serve exited: ${out}`)));
  });
}

test("first start: self-signed certificate, token printed once, authenticated loopback admin API", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-serve-"));
  try {
    await runSealpost(["--data", dir, "init", "--name", "edge.example.net"]);
    const first = await startServe(dir);
    const token = readFileSync(path.join(dir, "admin.token"), "utf8").trim();
    assert.equal(statSync(path.join(dir, "admin.token")).mode & 0o777, 0o600);
    assert.ok(first.output().includes(token), "the token is printed at first start");
    assert.match(first.output(), /Created a self-signed certificate [0-9A-F]{40} for edge\.example\.net/);

    const health = await fetch(`http://${first.address}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok", server: "edge.example.net" });
    assert.equal((await fetch(`http://${first.address}/api/certificates`)).status, 401);
    assert.equal((await fetch(`http://${first.address}/api/certificates`, { headers: { authorization: "Bearer wrong" } })).status, 401);
    const certs = (await (await fetch(`http://${first.address}/api/certificates`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<{ Services: string; CertificateDomains: string[] }>;
    assert.equal(certs.length, 1);
    assert.equal(certs[0]?.Services, "SMTP");
    assert.deepEqual(certs[0]?.CertificateDomains, ["edge.example.net"]);
    assert.equal(await first.stop(), 0);

    // second start: no new certificate, token not printed again
    const second = await startServe(dir);
    assert.ok(!second.output().includes(token));
    assert.doesNotMatch(second.output(), /Created a self-signed certificate/);
    assert.equal(await second.stop(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the admin endpoint refuses to listen outside loopback", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-serve-"));
  try {
    const r = await runSealpost(["--data", dir, "serve", "--admin", "0.0.0.0:8025"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /must listen on loopback/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
