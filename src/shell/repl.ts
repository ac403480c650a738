// The interactive management shell: a prompt with history (kept in the data
// folder, mode 0600, without lines that carry a literal -Password) and tab
// completion of cmdlet and parameter names.
import { appendFileSync, chmodSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { Writable } from "node:stream";
import { errorMessage } from "../errors/errors.js";
import type { Shell } from "./shell.js";

const HISTORY_MAX = 1000;

/** Lines that must not be remembered: they may carry a secret. */
export function isSensitiveLine(line: string): boolean {
  return /-Password(?!File)\b/i.test(line) && !/-Password\s*:?\s*(\$env:|\(Read-Host|\(Get-Content)/i.test(line);
}

export function completeLine(shell: Shell, line: string): [string[], string] {
  const segment = line.slice(line.lastIndexOf("|") + 1).replace(/^\s+/, "");
  const words = segment.split(/\s+/);
  const current = words[words.length - 1] ?? "";
  if (words.length <= 1) {
    const names = shell.cmdlets.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
    return [names.filter((n) => n.toLowerCase().startsWith(current.toLowerCase())).sort(), current];
  }
  if (current.startsWith("-")) {
    try {
      const def = shell.lookup(words[0] as string);
      const prefix = current.slice(1).toLowerCase();
      return [def.params.filter((p) => p.name.toLowerCase().startsWith(prefix)).map((p) => `-${p.name}`), current];
    } catch {
      return [[], current];
    }
  }
  return [[], current];
}

/**
 * Runs the prompt until exit or end of input. Secrets asked for by a cmdlet
 * (a PFX password) are read through the same line editor with echo off, so
 * no second reader competes for the terminal.
 */
export async function runInteractive(makeShell: (io: InteractiveIo) => Shell, dataDir: string, serverName: string): Promise<number> {
  const historyFile = path.join(dataDir, "shell_history");
  const history = existsSync(historyFile) ? readFileSync(historyFile, "utf8").split("\n").filter(Boolean).reverse().slice(0, HISTORY_MAX) : [];
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!muted) process.stdout.write(chunk);
      cb();
    },
  });
  // The completer is wired before the shell exists (the shell needs the editor for secrets).
  const ref: { shell?: Shell } = {};
  const rl = readline.createInterface({
    input: process.stdin,
    output,
    terminal: true,
    history,
    historySize: HISTORY_MAX,
    removeHistoryDuplicates: true,
    completer: (line: string) => (ref.shell ? completeLine(ref.shell, line) : [[], line]),
  });
  let closed = false;
  const waiting = new Set<(v: string | undefined) => void>();
  rl.on("close", () => {
    closed = true;
    for (const w of waiting) w(undefined);
  });
  const question = (prompt: string) =>
    new Promise<string | undefined>((resolve) => {
      if (closed) return resolve(undefined);
      waiting.add(resolve);
      rl.question(prompt, (answer) => {
        waiting.delete(resolve);
        resolve(answer);
      });
    });
  const io: InteractiveIo = {
    readLine: async (prompt) => (await question(prompt)) ?? "",
    readSecret: async (prompt) => {
      process.stdout.write(prompt);
      muted = true;
      let answer = "";
      try {
        answer = (await question("")) ?? "";
        return answer;
      } finally {
        muted = false;
        process.stdout.write("\n");
        // The secret must not stay in the line editor's history.
        const h = (rl as unknown as { history: string[] }).history;
        if (answer !== "" && h[0] === answer) h.shift();
      }
    },
  };
  const shell = makeShell(io);
  ref.shell = shell;
  // Remove a sensitive line from readline's in-memory history as well.
  rl.on("history", (h: string[]) => {
    if (h[0] !== undefined && isSensitiveLine(h[0])) h.shift();
  });
  process.stdout.write(`Sealpost management shell on ${serverName}. Get-Command lists the cmdlets; exit to leave.\n`);
  for (;;) {
    const line = await question(`[${serverName}] PS> `);
    if (line === undefined) break;
    const trimmed = line.trim();
    if (trimmed === "") continue;
    if (/^(exit|quit)$/i.test(trimmed)) break;
    if (!isSensitiveLine(trimmed)) {
      appendFileSync(historyFile, `${trimmed}\n`, { mode: 0o600 });
      chmodSync(historyFile, 0o600);
    }
    try {
      const out = await shell.runLine(trimmed);
      if (out !== "") process.stdout.write(`${out}\n`);
    } catch (e) {
      process.stderr.write(`${errorMessage(e)}\n`);
    }
  }
  rl.close();
  return 0;
}

export interface InteractiveIo {
  readLine(prompt: string): Promise<string>;
  readSecret(prompt: string): Promise<string>;
}
