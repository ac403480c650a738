// Runs the real sealpost command line as a child process, the way an
// administrator (or an acceptance script) does.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const SEALPOST_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/sealpost.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runSealpost(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SEALPOST_BIN, ...args], {
      cwd: opts.cwd ?? process.cwd(),
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/** `sealpost --data DIR shell -c LINE` */
export function shellC(dataDir: string, line: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return runSealpost(["--data", dataDir, "shell", "-c", line], opts);
}

/** Parses Format-List output into property maps (one per object). */
export function parseFormatList(text: string): Array<Record<string, string>> {
  return text
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .filter(Boolean)
    .map((block) => {
      const o: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const m = /^(\S+)\s*: ?(.*)$/.exec(line);
        if (m) o[m[1] as string] = m[2] as string;
      }
      return o;
    });
}
