// The process tree as Linux shows it in /proc: the children of a process
// (a serve primary's workers) and whether a pid is still running. Used by
// tests that kill workers and check that a stop leaves nothing behind.
import { readdirSync, readFileSync } from "node:fs";

/** The running pids whose parent is `ppid` (zombies, dead but not yet reaped, left out). */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone while we looked
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) === ppid && fields[0] !== "Z") out.push(Number(name));
  }
  return out.sort((a, b) => a - b);
}

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
