// Watches the serve processes every two seconds: the resident memory of
// each server's process group (primary + workers, from /proc), and worker
// or primary exits the soak did not cause (a crash, say on hostile input).
//
// Memory growth over the second half of the run is measured without
// counting the jumps that restarts cause: the samples are cut into stretches
// during which the group's set of processes stayed the same, the first 20 s
// after a change are left out (a new process warms up), and the growth of
// each stretch (median of its last three samples minus median of its first
// three) is added up. A leak shows as growth in every stretch; a restart
// (smaller, then growing back to its working size) does not.
import type { ServeProcess } from "./servers.js";
import { ALL_SERVERS, SERVER_NAMES, type ServerKey } from "./topology.js";

interface Sample {
  at: number;
  rssMb: number;
  pids: string;
}

const WARMUP_MS = 20_000;
const PAGE_MB = 4096 / (1024 * 1024);

export interface MemoryResult {
  server: ServerKey;
  /** Summed growth within stretches of the second half, MB. */
  growthMb: number;
  /** The second half's first and last sample, MB (restarts included). */
  firstMb: number;
  lastMb: number;
  maxMb: number;
  stretches: number;
  /** Seconds of the second half covered by the stretches measured. */
  coveredS: number;
}

export class Monitor {
  readonly samples: Record<ServerKey, Sample[]> = { mail1: [], mail2: [], woodgrove: [] };
  readonly unexpected: string[] = [];
  private lastWorkers: Record<ServerKey, number[]> = { mail1: [], mail2: [], woodgrove: [] };
  private lastExitCount: Record<ServerKey, number> = { mail1: 0, mail2: 0, woodgrove: 0 };
  private timer: NodeJS.Timeout | undefined;
  private restarting = new Set<ServerKey>();
  sampling = false;

  constructor(
    private readonly servers: Record<ServerKey, ServeProcess>,
    private readonly say: (s: string) => void,
  ) {}

  start(): void {
    const tick = () => {
      this.tick();
      this.timer = setTimeout(tick, 2000);
    };
    this.timer = setTimeout(tick, 2000);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    for (const k of ALL_SERVERS) {
      const s = this.servers[k];
      const exits = s.unexpectedExits.length;
      if (exits > this.lastExitCount[k]) {
        const e = s.unexpectedExits[exits - 1];
        this.unexpected.push(`${SERVER_NAMES[k]}: the serve primary exited on its own (${e?.signal ?? e?.code}) at ${new Date(e?.at ?? now).toISOString()}; see serve-logs/${k}.log`);
        this.lastExitCount[k] = exits;
        if (!this.restarting.has(k)) {
          this.restarting.add(k);
          this.say(`${SERVER_NAMES[k]} exited on its own: restarting it`);
          void s
            .start()
            .catch((err) => this.unexpected.push(`${SERVER_NAMES[k]}: restart after its own exit failed: ${(err as Error).message.slice(0, 300)}`))
            .finally(() => this.restarting.delete(k));
        }
      }
      if (!s.up) {
        this.lastWorkers[k] = [];
        continue;
      }
      const tree = s.tree();
      const workers = tree.filter((p) => p.ppid === s.pid && p.rssPages > 0).map((p) => p.pid);
      for (const w of this.lastWorkers[k]) {
        if (!workers.includes(w) && !s.killed.has(w)) {
          this.unexpected.push(`${SERVER_NAMES[k]}: worker ${w} exited without a fault injected (around ${new Date(now).toISOString()}); see serve-logs/${k}.log`);
          s.killed.add(w);
        }
      }
      this.lastWorkers[k] = workers;
      if (this.sampling) {
        this.samples[k].push({ at: now, rssMb: tree.reduce((a, p) => a + p.rssPages, 0) * PAGE_MB, pids: tree.map((p) => p.pid).sort((a, b) => a - b).join(",") });
      }
    }
  }

  /** Memory growth of each group over [from, to]. */
  memory(from: number, to: number): MemoryResult[] {
    return ALL_SERVERS.map((k) => {
      const all = this.samples[k].filter((x) => x.at >= from && x.at <= to);
      let growth = 0;
      let stretches = 0;
      let covered = 0;
      let i = 0;
      while (i < all.length) {
        let j = i;
        while (j + 1 < all.length && (all[j + 1] as Sample).pids === (all[i] as Sample).pids) j++;
        // A stretch [i, j] of one process set; leave out its warm-up unless it began before `from`.
        const startedAt = i === 0 ? -Infinity : (all[i] as Sample).at;
        const usable = all.slice(i, j + 1).filter((x) => x.at >= startedAt + WARMUP_MS);
        if (usable.length >= 6) {
          const med = (xs: Sample[]) => xs.map((x) => x.rssMb).sort((a, b) => a - b)[1] as number;
          growth += med(usable.slice(-3)) - med(usable.slice(0, 3));
          stretches++;
          covered += ((usable[usable.length - 1] as Sample).at - (usable[0] as Sample).at) / 1000;
        }
        i = j + 1;
      }
      return {
        server: k,
        growthMb: growth,
        firstMb: all[0]?.rssMb ?? 0,
        lastMb: all[all.length - 1]?.rssMb ?? 0,
        maxMb: Math.max(0, ...all.map((x) => x.rssMb)),
        stretches,
        coveredS: covered,
      };
    });
  }
}
