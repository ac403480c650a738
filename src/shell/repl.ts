// The interactive management shell: a prompt with history (kept in the data
// folder, mode 0600, without lines that carry a literal -Password) and tab
// completion of cmdlet and parameter names.
import { appendFileSync, chmodSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
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

export async function runInteractive(shell: Shell, dataDir: string, serverName: string): Promise<number> {
  const historyFile = path.join(dataDir, "shell_history");
  const history = existsSync(historyFile) ? readFileSync(historyFile, "utf8").split("\n").filter(Boolean).reverse().slice(0, HISTORY_MAX) : [];
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    history,
    historySize: HISTORY_MAX,
    removeHistoryDuplicates: true,
    completer: (line: string) => completeLine(shell, line),
  });
  // Remove a sensitive line from readline's in-memory history as well.
  rl.on("history", (h: string[]) => {
    if (h[0] !== undefined && isSensitiveLine(h[0])) h.shift();
  });
  process.stdout.write(`Sealpost management shell on ${serverName}. Get-Command lists the cmdlets; exit to leave.\n`);
  const ask = () => new Promise<string | undefined>((resolve) => {
    rl.question(`[${serverName}] PS> `, resolve);
    rl.once("close", () => resolve(undefined));
  });
  for (;;) {
    const line = await ask();
    if (line === undefined) break;
    const trimmed = line.trim();
    if (trimmed === "") continue;
    if (/^(exit|quit)$/i.test(trimmed)) break;
    if (!isSensitiveLine(trimmed)) {
      appendFileSync(historyFile, `${trimmed}\n`, { mode: 0o600 });
      chmodSync(historyFile, 0o600);
    }
    rl.pause();
    try {
      const out = await shell.runLine(trimmed);
      if (out !== "") process.stdout.write(`${out}\n`);
    } catch (e) {
      process.stderr.write(`${errorMessage(e)}\n`);
    }
    rl.resume();
  }
  rl.close();
  return 0;
}
