// Runs `sealpost --data DIR serve` as a child process, as an administrator
// does, and talks to its admin endpoint (token from DIR/admin.token).
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** bin/sealpost.js, from dist/src/devtools/. */
const SEALPOST_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/sealpost.js");

export interface RunningServer {
  child: ChildProcess;
  dataDir: string;
  /** "ip:port" of the admin endpoint */
  admin: string;
  output: () => string;
  /** GET an admin path with the token. */
  get: (p: string) => Promise<string>;
  /** Sum of every series of a metric (optionally with a label value). */
  metric: (name: string, labels?: Record<string, string>) => Promise<number>;
  stop: () => Promise<number>;
  kill9: () => Promise<void>;
}

export function startServe(dataDir: string, opts: { workers?: number; env?: NodeJS.ProcessEnv; args?: string[] } = {}): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SEALPOST_BIN, "--data", dataDir, "serve", "--admin", "127.0.0.1:0", "--workers", String(opts.workers ?? 0), ...(opts.args ?? [])], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...opts.env },
    });
    let out = "";
    let started = false;
    // A server that did not start in time is killed, not left running: its pipes would keep the test file alive.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`serve did not start: ${out}`));
    }, 30_000);
    const onOut = (d: Buffer) => {
      out += d.toString();
      const m = /admin API https?:\/\/([\d.]+:\d+)/.exec(out);
      if (m && !started) {
        started = true;
        clearTimeout(timer);
        const admin = m[1] as string;
        const token = () => readFileSync(path.join(dataDir, "admin.token"), "utf8").trim();
        const get = async (p: string) => {
          const r = await fetch(`http://${admin}${p}`, { headers: { authorization: `Bearer ${token()}` } });
          if (!r.ok) throw new Error(`GET ${p}: ${r.status}`);
          return r.text();
        };
        resolve({
          child,
          dataDir,
          admin,
          output: () => out,
          get,
          metric: async (name, labels = {}) => {
            const text = await get("/metrics");
            let sum = 0;
            for (const line of text.split("\n")) {
              const mm = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line.trim());
              if (!mm || mm[1] !== name) continue;
              const l = mm[2] ?? "";
              if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(mm[3]);
            }
            return sum;
          },
          stop: () =>
            new Promise((r) => {
              if (child.exitCode !== null) return r(child.exitCode);
              child.once("exit", (code) => r(code ?? -1));
              child.kill("SIGTERM");
            }),
          kill9: () =>
            new Promise((r) => {
              if (child.exitCode !== null) return r();
              child.once("exit", () => r());
              child.kill("SIGKILL");
            }),
        });
      }
    };
    child.stdout.on("data", onOut);
    child.stderr.on("data", onOut);
    child.once("exit", () => {
      if (!started) reject(new Error(`serve exited: ${out}`));
    });
  });
}

export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const randomLoopback = (): string => `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
