// One `sealpost serve` of the soak: a real child process (a primary and its
// workers) on its own data folder, started and stopped as an administrator
// would, killed with SIGKILL as a fault, restarted on the same folder. Its
// standard output goes to a file in the soak's folder. The process tree and
// resident memory come from /proc (src/bench/procstat.ts).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { processTree } from "../bench/procstat.js";

const PROJECT = fileURLToPath(new URL("../../../", import.meta.url));
let bin = path.join(PROJECT, "bin", "sealpost.js");

/** The sealpost command line the soak runs (the frozen copy once freezeBuild() made one). */
export function sealpostBin(): string {
  return bin;
}

/**
 * Copies the compiled program (dist/src, bin, package.json; node_modules by
 * a symbolic link) into `dir` and runs every server and shell command from
 * there, so that a rebuild of the working tree during a long run never
 * mixes two versions of the program in one server (a worker restarted after
 * a kill would load the new files). The copy is checked by starting it
 * (`sealpost --version`); a copy taken in the middle of a rebuild is taken
 * again (bounded).
 */
export async function freezeBuild(dir: string): Promise<string> {
  let last = "";
  for (let i = 0; i < 6; i++) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, "dist"), { recursive: true });
    fs.cpSync(path.join(PROJECT, "dist", "src"), path.join(dir, "dist", "src"), { recursive: true });
    fs.cpSync(path.join(PROJECT, "bin"), path.join(dir, "bin"), { recursive: true });
    fs.copyFileSync(path.join(PROJECT, "package.json"), path.join(dir, "package.json"));
    fs.symlinkSync(path.join(PROJECT, "node_modules"), path.join(dir, "node_modules"), "dir");
    const candidate = path.join(dir, "bin", "sealpost.js");
    // Loads the whole command line's module graph (serve, shell, cluster) without starting anything.
    const probe = spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(path.join(dir, "dist", "src", "cli", "main.js"))}); await import(${JSON.stringify(path.join(dir, "dist", "src", "server", "cluster.js"))});`], { encoding: "utf8", timeout: 60_000 });
    if (probe.status === 0) {
      bin = candidate;
      return candidate;
    }
    last = (probe.stderr || probe.stdout || "").slice(0, 800);
    await sleep(10_000);
  }
  throw new Error(`could not take a consistent copy of the build (is it being rebuilt?): ${last}`);
}

const all = new Set<ServeProcess>();
// Whatever ends this process (a signal, an exception, an exit hook of a dependency), no server outlives it.
process.on("exit", () => {
  for (const s of all) s.killNow();
});

export interface ServeOptions {
  /** e.g. mail1 */
  label: string;
  dataDir: string;
  workers: number;
  /** Extra arguments to serve (e.g. --org URL is given through the environment instead). */
  args?: string[];
  env?: Record<string, string>;
  logFile: string;
}

export class ServeProcess {
  child: ChildProcess | undefined;
  /** pids this harness killed on purpose (so their disappearance is not a crash). */
  readonly killed = new Set<number>();
  /** pids seen as workers of this server. */
  readonly seenWorkers = new Set<number>();
  /** Exits of the primary that the harness did not cause. */
  readonly unexpectedExits: Array<{ at: number; code: number | null; signal: NodeJS.Signals | null }> = [];
  starts = 0;
  /** A start is in progress (not yet listening). */
  starting = false;
  private expectingExit = false;
  private log: fs.WriteStream;

  constructor(readonly o: ServeOptions) {
    all.add(this);
    fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
    this.log = fs.createWriteStream(o.logFile, { flags: "a" });
  }

  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  get up(): boolean {
    return this.pid !== undefined;
  }

  /** Starts serve and resolves once its admin endpoint is listening (its last line says so). */
  start(timeoutMs = 90_000): Promise<void> {
    if (this.up) return Promise.resolve();
    this.starts++;
    this.expectingExit = false;
    this.starting = true;
    return new Promise<void>((resolve, reject) => {
      const args = [sealpostBin(), "--data", this.o.dataDir, "serve", "--admin", "127.0.0.1:0", "--workers", String(this.o.workers), ...(this.o.args ?? [])];
      // A process group of its own: a Ctrl-C at the terminal reaches the soak, which stops the servers itself.
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, SEALPOST_LOG_FORMAT: "json", ...this.o.env } });
      this.child = child;
      this.log.write(`--- soak: start #${this.starts} at ${new Date().toISOString()} pid ${child.pid}\n`);
      let head = "";
      let started = false;
      const timer = setTimeout(() => {
        if (started) return;
        child.kill("SIGKILL");
        reject(new Error(`${this.o.label}: serve did not start within ${timeoutMs / 1000} s: ${head.slice(-2000)}`));
      }, timeoutMs);
      const onOut = (d: Buffer) => {
        this.log.write(d);
        if (started) return;
        head += d.toString();
        if (/admin API http:\/\/[\d.]+:\d+/.test(head)) {
          started = true;
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onOut);
      child.stderr?.on("data", onOut);
      child.once("exit", (code, signal) => {
        this.log.write(`--- soak: pid ${child.pid} exited (${signal ?? code}) at ${new Date().toISOString()}\n`);
        if (!started) {
          clearTimeout(timer);
          reject(new Error(`${this.o.label}: serve exited (${signal ?? code}) before it started: ${head.slice(-2000)}`));
        } else if (!this.expectingExit) this.unexpectedExits.push({ at: Date.now(), code, signal });
      });
    }).finally(() => {
      this.starting = false;
    });
  }

  /** SIGKILL of the whole tree at once, without waiting (the soak is ending in a hurry). */
  killNow(): void {
    this.expectingExit = true;
    for (const p of this.tree().map((x) => x.pid)) {
      this.killed.add(p);
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
  }

  /** The primary and every descendant (workers), alive now. */
  tree(): Array<{ pid: number; ppid: number; rssPages: number }> {
    const pid = this.pid;
    return pid === undefined ? [] : processTree(pid);
  }

  /** The workers: the primary's direct children. */
  workers(): number[] {
    const pid = this.pid;
    if (pid === undefined) return [];
    return this.tree()
      .filter((p) => p.ppid === pid && p.rssPages > 0)
      .map((p) => p.pid)
      .sort((a, b) => a - b);
  }

  /** kill -9 of one worker; the primary should start another. Returns the pid killed. */
  killWorker(pick: (pids: number[]) => number): number | undefined {
    const ws = this.workers();
    if (ws.length === 0) return undefined;
    const victim = pick(ws);
    this.killed.add(victim);
    try {
      process.kill(victim, "SIGKILL");
    } catch {
      return undefined;
    }
    return victim;
  }

  /** kill -9 of the whole server (primary and workers at once, as a power cut would), then waits for the exit. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || !this.up) return;
    this.expectingExit = true;
    const pids = this.tree().map((p) => p.pid);
    for (const p of pids) {
      this.killed.add(p);
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await waitExit(child, 10_000);
    // Workers are not the harness's children: wait (bounded) until /proc no longer shows them.
    for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
  }

  /** A clean stop (SIGTERM), SIGKILL after 30 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.up) return;
    this.expectingExit = true;
    const pids = this.tree().map((p) => p.pid);
    for (const p of pids) this.killed.add(p);
    child.kill("SIGTERM");
    if (!(await waitExit(child, 30_000))) {
      for (const p of this.tree().map((x) => x.pid)) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // gone
        }
      }
      await waitExit(child, 5000);
    }
    for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
  }

  async closeLog(): Promise<void> {
    await new Promise<void>((r) => this.log.end(() => r()));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}
