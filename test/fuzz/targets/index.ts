// The fuzz targets, with what the runner needs to know about each. A
// target's module is targets/<name>.js and exports fuzz(data: Buffer).

export interface TargetInfo {
  name: string;
  /** Largest input libFuzzer generates (octets). */
  maxLen: number;
  /** An input that runs longer than this is a hang (milliseconds). */
  timeoutMs: number;
  /** fuzz() returns a Promise (runs on jazzer's asynchronous loop). */
  async: boolean;
  /** Share of the run's time, relative to the others. */
  weight: number;
}

export const TARGETS: readonly TargetInfo[] = [
  { name: "smtp-command", maxLen: 4096, timeoutMs: 2000, async: false, weight: 1 },
  { name: "data-framing", maxLen: 4096, timeoutMs: 2000, async: false, weight: 1 },
  { name: "header-firewall", maxLen: 4096, timeoutMs: 2000, async: false, weight: 1 },
  { name: "pki-certificate", maxLen: 8192, timeoutMs: 5000, async: false, weight: 1 },
  { name: "pki-request", maxLen: 2048, timeoutMs: 5000, async: true, weight: 1 },
  // Key derivation is capped at 2,000,000 PBKDF2 iterations per attempt (pfx-crypto.ts):
  // an input may legitimately take seconds, so only far longer is a hang.
  { name: "pki-pfx", maxLen: 8192, timeoutMs: 30000, async: true, weight: 1 },
  { name: "pki-revocation", maxLen: 8192, timeoutMs: 5000, async: false, weight: 1 },
  { name: "shell-parser", maxLen: 8192, timeoutMs: 2000, async: false, weight: 1 },
];

export function targetNamed(name: string): TargetInfo | undefined {
  return TARGETS.find((t) => t.name === name);
}
