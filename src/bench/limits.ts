// The machine's limits, measured in the same run as the servers and printed
// beside their figures: ECDSA P-256 sign/verify rates (`openssl speed`), a
// bare mutual-TLS handshake rate without SMTP (`openssl s_server` with a
// required client certificate against `openssl s_time -new`, one handshake at
// a time, on loopback) and the disk's write+fdatasync rate in the folder
// the servers' queues live in.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import type { BenchPki } from "./pki.js";
import { waitListening } from "./postfix.js";

export interface MachineLimits {
  ecdsaSignPerSec: number;
  ecdsaVerifyPerSec: number;
  /** Full mutual-TLS handshakes per second, openssl s_time -new (sequential). */
  mtlsHandshakesPerSec: number;
  mtlsProtocol: string;
  /** write(10 KiB) + fdatasync per second, sequential. */
  fsyncPerSec: number;
  cpus: number;
}

export function opensslSpeed(seconds = 2): { sign: number; verify: number } {
  const r = spawnSync("openssl", ["speed", "-seconds", String(seconds), "ecdsap256"], { encoding: "utf8" });
  const m = /256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/.exec(r.stdout ?? "");
  return m ? { sign: Number(m[1]), verify: Number(m[2]) } : { sign: 0, verify: 0 };
}

export function fsyncRate(dir: string, seconds = 2, size = 10 * 1024): number {
  const file = path.join(dir, `fsync-probe-${process.pid}`);
  const fd = openSync(file, "w");
  const buf = Buffer.alloc(size, 0x61);
  let n = 0;
  const t0 = performance.now();
  try {
    while (performance.now() - t0 < seconds * 1000) {
      writeSync(fd, buf);
      fdatasyncSync(fd);
      n++;
    }
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Bare mutual-TLS handshakes per second between openssl s_server (client certificate required) and s_time. */
export async function handshakeRate(pki: BenchPki, dir: string, host: string, seconds = 3): Promise<{ rate: number; protocol: string }> {
  const caFile = path.join(dir, "s_server-ca.pem");
  const chainFile = path.join(dir, "s_server-chain.pem");
  writeFileSync(caFile, pki.root.certPem + pki.partnerCa.certPem);
  writeFileSync(chainFile, pki.orgCa.certPem);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = spawn(
    "openssl",
    ["s_server", "-quiet", "-accept", `${host}:${port}`, "-cert", pki.server.certPath, "-key", pki.server.keyPath as string, "-cert_chain", chainFile, "-CAfile", caFile, "-Verify", "2"],
    // Its verify lines go nowhere: an unread pipe would fill and stall it.
    { stdio: "ignore" },
  );
  // Never left behind, even when the benchmark is interrupted meanwhile.
  const reap = () => server.kill("SIGTERM");
  process.once("exit", reap);
  try {
    await waitListening(host, port);
    const probe = spawnSync("openssl", ["s_client", "-brief", "-connect", `${host}:${port}`, "-cert", pki.client.certPath, "-key", pki.client.keyPath as string], { input: "", encoding: "utf8", timeout: 5000 });
    const protocol = /Protocol version: (\S+)/.exec(`${probe.stdout}${probe.stderr}`)?.[1] ?? "?";
    const t0 = performance.now();
    const out = await new Promise<string>((resolve) => {
      const c = spawn("openssl", ["s_time", "-connect", `${host}:${port}`, "-new", "-time", String(seconds), "-cert", pki.client.certPath, "-key", pki.client.keyPath as string]);
      let text = "";
      c.stdout.on("data", (d: Buffer) => (text += d.toString()));
      c.stderr.on("data", (d: Buffer) => (text += d.toString()));
      c.on("close", () => resolve(text));
    });
    const wall = (performance.now() - t0) / 1000;
    // "1234 connections in 4 real seconds, ...": whole seconds only, so the wall time is ours.
    const real = /(\d+) connections in \d+ real seconds/.exec(out);
    const rate = real ? Number(real[1]) / wall : 0;
    return { rate, protocol };
  } finally {
    process.off("exit", reap);
    server.kill("SIGTERM");
  }
}
