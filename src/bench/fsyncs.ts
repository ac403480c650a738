// Counts fsync and fdatasync calls made on the whole machine during a run
// (`perf stat -a` on the syscall tracepoints), so the table can show the
// durable writes each server pays per message. Only the server being
// measured is busy during its run (the other one is idle, the load
// generator never syncs), so the count is that server's. Without a working
// perf (not installed, no tracepoints, no permission) the figure is absent.
import { spawn, spawnSync } from "node:child_process";

const EVENTS = "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync";

let available: boolean | undefined;

export function fsyncCounting(): boolean {
  if (available === undefined) {
    const r = spawnSync("perf", ["stat", "-a", "-x", ",", "-e", EVENTS, "--", "true"], { encoding: "utf8", timeout: 10_000 });
    available = r.status === 0 && /syscalls:sys_enter_fsync/.test(r.stderr ?? "") && !/not supported|<not counted>/.test(r.stderr ?? "");
  }
  return available;
}

export interface FsyncCounter {
  /** Stops counting; the number of fsync + fdatasync calls since start, or undefined when unknown. */
  stop(): Promise<number | undefined>;
}

export async function startFsyncCounter(): Promise<FsyncCounter> {
  if (!fsyncCounting()) return { stop: async () => undefined };
  const child = spawn("perf", ["stat", "-a", "-x", ",", "-e", EVENTS], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => child.once("close", () => r()));
  // perf needs a moment to open its counters on every CPU.
  await new Promise((r) => setTimeout(r, 300));
  return {
    async stop() {
      child.kill("SIGINT");
      await exited;
      let n = 0;
      let seen = 0;
      for (const line of err.split("\n")) {
        const m = /^(\d+),[^,]*,syscalls:sys_enter_f(?:data)?sync,/.exec(line);
        if (m) {
          n += Number(m[1]);
          seen++;
        }
      }
      return seen === 2 ? n : undefined;
    },
  };
}
