// CPU time and resident memory of a server's whole process tree, read from
// /proc: Sealpost's primary and workers, Postfix's master and every daemon
// it spawned (smtpd, cleanup, qmgr, discard, tlsmgr, ...).
//
// CPU: utime + stime of every live process of the tree, plus cutime +
// cstime (children that exited and were reaped: a Postfix smtpd that served
// its max_use and left, say). A reaped child's time moves into its parent's
// cutime, so the sum never counts a tick twice; the difference of two
// samples is the tree's CPU time in between.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
  rssPages: number;
}

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17, rss 24.
  const n = (field: number) => Number(f[field - 3]);
  return { pid, ppid: n(4), comm, ticks: n(14) + n(15) + n(16) + n(17), rssPages: n(24) };
}

/** `root` and all its descendants that are alive now. */
export function processTree(root: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) all.push(s);
  }
  const children = new Map<number, ProcStat[]>();
  for (const s of all) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const top = all.find((s) => s.pid === root);
  if (!top) return [];
  const out: ProcStat[] = [];
  const stack = [top];
  while (stack.length > 0) {
    const s = stack.pop() as ProcStat;
    out.push(s);
    stack.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

/** CPU seconds used by the tree so far (see the module comment). */
export function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((a, s) => a + s.ticks, 0) / ticksPerSecond();
}

const PAGE = 4096;

/** Sum of the resident set sizes of the tree, MB (shared pages are counted once per process: an upper bound). */
export function treeRssMb(root: number): { mb: number; processes: number } {
  const tree = processTree(root);
  return { mb: tree.reduce((a, s) => a + s.rssPages, 0) * PAGE / (1024 * 1024), processes: tree.length };
}

/** Names and counts of the tree's processes, e.g. "node×3" or "master, smtpd×16, cleanup, qmgr". */
export function treeSummary(root: number): string {
  const counts = new Map<string, number>();
  for (const s of processTree(root)) counts.set(s.comm, (counts.get(s.comm) ?? 0) + 1);
  return [...counts].map(([c, n]) => (n > 1 ? `${c}×${n}` : c)).join(", ");
}

/** CPU seconds the whole machine spent busy (all but idle and iowait), and of it stolen by the hypervisor, from /proc/stat. */
export function machineCpuSeconds(): { busy: number; steal: number } {
  const line = readFileSync("/proc/stat", "latin1").split("\n")[0] ?? "";
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return { busy: (user + nice + system + irq + softirq + steal) / ticksPerSecond(), steal: steal / ticksPerSecond() };
}
