// Secrets (PFX passwords, later database URLs) come from a prompt without
// echo, a file, or an environment variable, so they never need to be on a
// command line or in shell history. Values are returned, never logged.
import { readFileSync } from "node:fs";
import readline from "node:readline";
import { Writable } from "node:stream";
import { SealpostError } from "../errors/errors.js";

export interface SecretSource {
  /** Read from this file (first line, trailing newline removed). */
  file?: string;
  /** Read from this environment variable. */
  env?: string;
}

export function readSecretFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new SealpostError("SECRET_UNAVAILABLE", `The password file ${file} could not be read: ${(e as NodeJS.ErrnoException).code ?? "error"}.`);
  }
  return text.replace(/\r?\n$/, "");
}

export function secretFromSource(src: SecretSource, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (src.file !== undefined) return readSecretFile(src.file);
  if (src.env !== undefined) {
    const v = env[src.env];
    if (v === undefined) throw new SealpostError("SECRET_UNAVAILABLE", `The environment variable ${src.env} is not set.`);
    return v;
  }
  return undefined;
}

/** Asks on the terminal without echo. Refuses when stdin is not a terminal. */
export async function promptSecret(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (!input.isTTY) {
    throw new SealpostError(
      "SECRET_UNAVAILABLE",
      "A password is needed but there is no terminal to ask on: give it with a password file or an environment variable.",
    );
  }
  let muted = false;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!muted) output.write(chunk);
      cb();
    },
  });
  const rl = readline.createInterface({ input, output: sink, terminal: true, historySize: 0 });
  try {
    output.write(prompt);
    muted = true;
    const answer = await new Promise<string>((resolve) => rl.question("", resolve));
    return answer;
  } finally {
    muted = false;
    output.write("\n");
    rl.close();
  }
}
