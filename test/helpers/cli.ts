// Runs the real sealpost command line the way an administrator (or an
// acceptance script) does, and gives back its exit code, standard output and
// standard error.
//
// By default the program runs in this process: the same `main(argv)` that
// bin/sealpost.js calls, with what it writes to process.stdout and
// process.stderr captured, its exit code taken from its return value and
// process.exitCode, and the process state it may change (environment, working
// directory, umask, exitCode) put back afterwards. A child process costs about
// a second of CPU, most of it loading the program's modules; in process that
// is paid once per test file. Calls are run one at a time, so two of them
// never see each other's environment or working directory.
//
// spawnSealpost runs bin/sealpost.js as a child process, for tests that are
// about the process itself (serve, signals, exit codes of the binary, what a
// fresh process sees). runSealpost spawns too for `serve` and `demo` and when
// stdin input is given; SEALPOST_TEST_SPAWN=1 makes every call spawn (to
// compare the two ways on the whole suite).
import { AsyncLocalStorage } from "node:async_hooks";
import { spawn } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

export const SEALPOST_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../bin/sealpost.js");
const MAIN_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli/main.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** The subcommands that are a process's life (a server, the demo's fleet): always a child process. */
const PROCESS_COMMANDS = new Set(["serve", "demo"]);

export function runSealpost(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  if (process.env.SEALPOST_TEST_SPAWN === "1" || opts.input !== undefined || args.some((a) => PROCESS_COMMANDS.has(a))) return spawnSealpost(args, opts);
  return runInProcess(args, opts);
}

/** `sealpost --data DIR shell -c LINE` */
export function shellC(dataDir: string, line: string, opts: CliOptions = {}): Promise<CliResult> {
  return runSealpost(["--data", dataDir, "shell", "-c", line], opts);
}

/** bin/sealpost.js as a child process: stdin gets `input` (or nothing) and is closed. */
export function spawnSealpost(args: string[], opts: CliOptions = {}): Promise<CliResult> {
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

// ---- in process ----

interface Capture {
  out: Buffer[];
  err: Buffer[];
}

const capture = new AsyncLocalStorage<Capture>();
let streamsPatched = false;

/**
 * Routes writes to process.stdout / process.stderr made inside a captured call
 * (its async context, so timers and promises it started count too) to that
 * call's buffers; every other write (the test runner's own reports) goes
 * through untouched.
 */
function patchStreams(): void {
  if (streamsPatched) return;
  streamsPatched = true;
  for (const [stream, key] of [
    [process.stdout, "out"],
    [process.stderr, "err"],
  ] as const) {
    const original = stream.write;
    const patched = function (this: NodeJS.WriteStream, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
      const c = capture.getStore();
      if (c === undefined) return (original as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
      const done = typeof encoding === "function" ? encoding : cb;
      const enc = typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8";
      c[key].push(typeof chunk === "string" ? Buffer.from(chunk, enc) : Buffer.from(chunk as Uint8Array));
      if (typeof done === "function") process.nextTick(done as () => void);
      return true;
    };
    stream.write = patched as typeof stream.write;
  }
}

type Main = (argv: string[]) => Promise<number>;
let mainFn: Promise<Main> | undefined;
let queue: Promise<unknown> = Promise.resolve();

function loadMain(): Promise<Main> {
  mainFn ??= import(pathToFileURL(MAIN_JS).href).then((m: { main: Main }) => m.main);
  return mainFn;
}

/** One call after another: the environment and working directory are process-wide. */
function runInProcess(args: string[], opts: CliOptions): Promise<CliResult> {
  const run = queue.then(() => callMain(args, opts));
  queue = run.catch(() => undefined);
  return run;
}

async function callMain(args: string[], opts: CliOptions): Promise<CliResult> {
  const main = await loadMain();
  patchStreams();
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const savedUmask = process.umask();
  const savedExitCode = process.exitCode;
  const c: Capture = { out: [], err: [] };
  let code: number;
  try {
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      // As for a child process: a variable given as undefined is left out.
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (opts.cwd !== undefined) process.chdir(opts.cwd);
    process.exitCode = undefined;
    code = await capture.run(c, async () => {
      try {
        return await main([process.execPath, SEALPOST_BIN, ...args]);
      } catch (err) {
        // What bin/sealpost.js does with a rejection of main().
        process.stderr.write(`sealpost: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
      }
    });
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    for (const [k, v] of Object.entries(savedEnv)) if (process.env[k] !== v) process.env[k] = v;
    process.chdir(savedCwd);
    process.umask(savedUmask);
    process.exitCode = savedExitCode;
  }
  return { code, stdout: Buffer.concat(c.out).toString("utf8"), stderr: Buffer.concat(c.err).toString("utf8") };
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
