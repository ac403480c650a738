// `npm run fuzz -- --minutes N`: coverage-guided fuzzing of every target in
// targets/index.ts with jazzer.js, the time split between them by weight.
//
// Per target, one worker process (worker.ts) runs libFuzzer with the
// committed seeds (corpus/<target>/) and regressions (regressions/<target>/)
// as read-only inputs; what the run adds to the corpus goes to a temporary
// folder (kept only with --keep-corpus DIR). A crash, a hang (timeout) or
// running out of memory is saved as a regression input in
// regressions/<target>/ (the replay test then runs it in `npm test`), and
// the target is restarted for the rest of its time to look for others.
// Prints per target: executions, executions/s, new corpus entries, crashes;
// exits 1 when anything was found or a worker failed.
//
// Options: --minutes N (default 1), --targets a,b, --keep-corpus DIR.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { TARGETS, type TargetInfo } from "./targets/index.js";

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/test/fuzz
const root = path.resolve(here, "..", "..", "..");
const source = path.join(root, "test", "fuzz");

interface Args {
  minutes: number;
  targets: TargetInfo[];
  keepCorpus?: string;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { minutes: 1, targets: [...TARGETS] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--minutes" && v !== undefined) {
      out.minutes = Number(v);
      i++;
      if (!(out.minutes > 0)) throw new Error("--minutes needs a positive number");
    } else if (a === "--targets" && v !== undefined) {
      out.targets = v.split(",").map((n) => {
        const t = TARGETS.find((x) => x.name === n.trim());
        if (!t) throw new Error(`unknown target '${n}' (known: ${TARGETS.map((x) => x.name).join(", ")})`);
        return t;
      });
      i++;
    } else if (a === "--keep-corpus" && v !== undefined) {
      out.keepCorpus = path.resolve(v);
      i++;
    } else {
      throw new Error(`unknown option '${a}' (use --minutes N, --targets a,b, --keep-corpus DIR)`);
    }
  }
  return out;
}

interface Finding {
  kind: string;
  file: string;
  signature: string;
  excerpt: string;
}

interface WorkerRun {
  executions: number;
  execPerSec: number;
  newUnits: number;
  seconds: number;
  findings: Finding[];
  failure?: string;
  addon?: string;
}

const ARTIFACT = /^(crash|timeout|oom|leak)-[0-9a-f]+$/;

/** What libFuzzer printed about the finding: the exception and its stack, or the timeout line. */
function excerptOf(log: string): { signature: string; excerpt: string } {
  const lines = log.split("\n");
  const start = lines.findIndex((l) => /==\d+== (Uncaught Exception|ERROR: libFuzzer)|^==\d+== /.test(l));
  const body = start < 0 ? [] : lines.slice(start, start + 14);
  const cut = body.findIndex((l) => l.startsWith("MS: ") || l.startsWith("SUMMARY"));
  const excerpt = (cut < 0 ? body : body.slice(0, cut)).join("\n");
  const head = (body[0] ?? "").replace(/^==\d+== /, "");
  const frame = body.find((l) => /^\s+at /.test(l))?.trim() ?? "";
  // The message names the input's details; the exception type and first frame name the defect.
  const signature = `${head.replace(/:.*$/, "")} ${head.match(/(\w+Error|InvariantViolation|Exception)\b/)?.[0] ?? ""} ${frame}`;
  return { signature, excerpt };
}

function runWorker(t: TargetInfo, seconds: number, corpus: string, artifacts: string, logFile: string): Promise<WorkerRun> {
  const inputs = [corpus, path.join(source, "corpus", t.name), path.join(source, "regressions", t.name)].filter((d) => fs.existsSync(d));
  const args = [path.join(here, "worker.js"), "--target", t.name, "--seconds", String(seconds), "--artifacts", artifacts, ...inputs];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const log = fs.createWriteStream(logFile);
    let tail = "";
    let status = { executions: 0, execPerSec: 0 };
    const final: Record<string, number> = {};
    let addon: string | undefined;
    let pending = "";
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      const text = pending + chunk.toString("utf8");
      const lines = text.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) {
        tail = (tail + l + "\n").slice(-20_000);
        const m = /^#(\d+)\s.*exec\/s: (\d+)/.exec(l);
        if (m) status = { executions: Number(m[1]), execPerSec: Number(m[2]) };
        const s = /^stat::(\w+):\s+(\d+)/.exec(l);
        if (s) final[s[1] as string] = Number(s[2]);
        const d = /^Done (\d+) runs in/.exec(l);
        if (d) status.executions = Number(d[1]);
        const a = /^sealpost-fuzz: addon (.*)$/.exec(l);
        if (a) addon = a[1];
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    // libFuzzer stops itself at -max_total_time; this is the guard for when it cannot.
    const guard = setTimeout(() => child.kill("SIGKILL"), (seconds + 60) * 1000 + 3 * t.timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(guard);
      log.end();
      const elapsed = (Date.now() - started) / 1000;
      const executions = final.number_of_executed_units ?? status.executions;
      const findings: Finding[] = [];
      for (const f of fs.readdirSync(artifacts)) {
        if (!ARTIFACT.test(f)) continue;
        findings.push({ kind: f.split("-")[0] as string, file: path.join(artifacts, f), ...excerptOf(tail) });
      }
      const run: WorkerRun = {
        executions,
        execPerSec: final.average_exec_per_sec ?? (status.execPerSec || (elapsed > 0 ? Math.round(executions / elapsed) : 0)),
        newUnits: fs.readdirSync(corpus).length,
        seconds: elapsed,
        findings,
        ...(addon ? { addon } : {}),
      };
      if (findings.length === 0 && code !== 0) {
        run.failure = `the worker exited with ${signal ?? `code ${code}`} without a finding; its log: ${logFile}\n${tail.split("\n").slice(-25).join("\n")}`;
      }
      resolve(run);
    });
  });
}

interface TargetResult {
  name: string;
  executions: number;
  seconds: number;
  /** libFuzzer's executions per second (of the fuzzing loop, without start-up), weighted by executions. */
  rate: number;
  newUnits: number;
  crashes: number;
  saved: string[];
  failures: string[];
}

async function fuzzTarget(t: TargetInfo, seconds: number, tmp: string, keepCorpus: string | undefined, addonNote: { text?: string | undefined }): Promise<TargetResult> {
  const corpus = fs.mkdtempSync(path.join(tmp, `${t.name}-corpus-`));
  const regressions = path.join(source, "regressions", t.name);
  const result: TargetResult = { name: t.name, executions: 0, seconds: 0, rate: 0, newUnits: 0, crashes: 0, saved: [], failures: [] };
  const signatures = new Set<string>();
  const deadline = Date.now() + seconds * 1000;
  for (let attempt = 1; attempt <= 4; attempt++) {
    const left = Math.floor((deadline - Date.now()) / 1000);
    if (left < 3 && attempt > 1) break;
    const artifacts = fs.mkdtempSync(path.join(tmp, `${t.name}-artifacts-`));
    const log = path.join(tmp, `${t.name}-${attempt}.log`);
    const run = await runWorker(t, Math.max(left, 3), corpus, artifacts, log);
    addonNote.text ??= run.addon;
    if (run.executions > 0) result.rate = (result.rate * result.executions + run.execPerSec * run.executions) / (result.executions + run.executions);
    result.executions += run.executions;
    result.seconds += run.seconds;
    result.newUnits = run.newUnits;
    if (run.failure) {
      result.failures.push(run.failure);
      break;
    }
    for (const f of run.findings) {
      result.crashes++;
      const bytes = fs.readFileSync(f.file);
      const name = `${f.kind}-${createHash("sha1").update(bytes).digest("hex")}`;
      console.log(`\n[${t.name}] ${f.kind} (log: ${log}):\n${f.excerpt}\n`);
      if (signatures.has(f.signature)) continue; // the same defect again
      signatures.add(f.signature);
      fs.mkdirSync(regressions, { recursive: true });
      const dest = path.join(regressions, name);
      fs.writeFileSync(dest, bytes);
      result.saved.push(path.relative(root, dest));
    }
    if (run.findings.length === 0) break;
  }
  if (keepCorpus) {
    const dest = path.join(keepCorpus, t.name);
    fs.mkdirSync(dest, { recursive: true });
    for (const f of fs.readdirSync(corpus)) fs.copyFileSync(path.join(corpus, f), path.join(dest, f));
  }
  return result;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")).join("\n");
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const total = args.minutes * 60;
  const weights = args.targets.reduce((s, t) => s + t.weight, 0);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sealpost-fuzz-"));
  console.log(`fuzzing ${args.targets.length} target(s) for ${args.minutes} minute(s); work folder ${tmp}`);
  const results: TargetResult[] = [];
  const addon: { text?: string | undefined } = {};
  for (const t of args.targets) {
    const share = Math.max(5, Math.floor((total * t.weight) / weights));
    console.log(`[${t.name}] ${share} s`);
    const r = await fuzzTarget(t, share, tmp, args.keepCorpus, addon);
    results.push(r);
    console.log(
      `[${t.name}] executions ${r.executions} in ${Math.round(r.seconds)} s, ${Math.round(r.rate)}/s, new corpus entries ${r.newUnits}, crashes ${r.crashes}` +
        (r.failures.length ? `, worker failures ${r.failures.length}` : ""),
    );
    for (const f of r.failures) console.log(f);
  }
  if (addon.text) console.log(`\nlibFuzzer addon: ${addon.text}`);
  console.log("");
  console.log(
    table([
      ["target", "executions", "exec/s", "new corpus", "crashes"],
      ...results.map((r) => [r.name, String(r.executions), String(Math.round(r.rate)), String(r.newUnits), String(r.crashes)]),
    ]),
  );
  const crashes = results.reduce((s, r) => s + r.crashes, 0);
  const failures = results.reduce((s, r) => s + r.failures.length, 0);
  const saved = results.flatMap((r) => r.saved);
  console.log(`\ntotal: executions ${results.reduce((s, r) => s + r.executions, 0)}, crashes ${crashes}${failures ? `, worker failures ${failures}` : ""}`);
  if (saved.length) console.log(`regression inputs saved (npm test replays them):\n  ${saved.join("\n  ")}`);
  if (args.keepCorpus) console.log(`corpus entries kept in ${args.keepCorpus}`);
  if (crashes === 0 && failures === 0) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`logs kept in ${tmp}`);
  return crashes > 0 || failures > 0 ? 1 : 0;
}

process.exitCode = await main();
