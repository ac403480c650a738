// Lines that would repeat for every message (a Domain Security verdict's
// warning: a partner accepted on the weak-crypto floor, a revocation status
// unknown under Soft) are written to the server log once per interval each,
// not once per message. The protocol log, which is per session by design,
// still gets every one.

export class LineThrottle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs = 10 * 60_000,
    private readonly max = 1000,
  ) {}

  /** True when `line` was not let through within the interval (and records it now). */
  pass(line: string, now = Date.now()): boolean {
    const at = this.last.get(line);
    if (at !== undefined && now - at < this.intervalMs) return false;
    this.last.delete(line);
    if (this.last.size >= this.max) this.last.delete(this.last.keys().next().value as string);
    this.last.set(line, now);
    return true;
  }
}

/** The one throttle for verdict warnings of this process (inbound and outbound). */
export const verdictWarnings = new LineThrottle();

/** Writes each of a verdict's warnings to the server log (throttled) as "warning: <where>: <warning>". */
export function logVerdictWarnings(log: ((line: string) => void) | undefined, where: string, warnings: readonly string[]): void {
  if (!log) return;
  for (const w of warnings) {
    const line = `warning: ${where}: ${w}`;
    if (verdictWarnings.pass(line)) log(line);
  }
}
