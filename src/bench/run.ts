// `npm run bench`: Sealpost against Postfix on this machine, in one run.
//   npm run bench                 the full benchmark (about 10 minutes)
//   npm run bench -- --quick      fewer messages per run, same scenarios (under 5 minutes)
//   npm run bench -- --smoke      Sealpost only, a handful of messages (CI)
//   npm run bench -- --scenarios relay-e2e --no-idle    scenario (d) alone
// Options: --workers N (Sealpost's; default one per core but the generator's), --runs R,
// --scenarios a,b (names below), --sealpost-only, --no-idle, --no-limits,
// --no-fsync-count (skip perf stat's fsync count), --sched none|rr
// (NODE_CLUSTER_SCHED_POLICY for Sealpost's workers), --ab "workers=1 sched=none
// node=--flag,--flag KEY=value" (a second Sealpost with other settings, measured alternately), --sealpost-sink
// discard|maildir (default discard, as Postfix's), --profile DIR (V8 CPU
// profiles of Sealpost's processes), --node-args "..." (for Sealpost's
// processes, e.g. --perf-basic-prof), --keep (leave the work folder),
// --postfix-relay-reuse yes|no (relay-e2e: Contoso-Postfix's
// smtp_tls_connection_reuse; default yes, its faster setting here).
//
// Both servers run at once on their own loopback addresses with the same
// PKI; runs alternate Sealpost, Postfix, Sealpost, ... and each figure is
// the median of its runs. docs/performance.md explains the method.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { defaultWorkers } from "../server/cluster.js";
import { idleSessions } from "./idle.js";
import { startFsyncCounter } from "./fsyncs.js";
import { fsyncRate, handshakeRate, opensslSpeed, type MachineLimits } from "./limits.js";
import { runLoad, type LoadOptions } from "./loadgen.js";
import { CLIENT_NAME, createPki, PARTNER_DOMAIN, SERVER_NAME, type BenchPki } from "./pki.js";
import { ensurePostfix, setupPostfix, waitListening, type PostfixInstance } from "./postfix.js";
import { machineCpuSeconds, treeCpuSeconds, treeSummary } from "./procstat.js";
import { measureRelay, randomHost, RELAY_SCENARIO, setupPostfixRelay, startSealpostRelay, type RelayPair } from "./relay.js";
import { idleText, limitsText, ratioLines, relayTable, runLine, summarize, table, type Row, type RunRecord } from "./report.js";
import { configureSealpost, SINK_MAILBOX, startSealpost, type RunningSealpost } from "./sealpost.js";
import { SinkReader } from "./sink.js";

interface Scenario {
  name: string;
  connections: number;
  perConnection: number;
  total: number;
  quickTotal: number;
  resume: boolean;
  /** Scenario (d): submitted to Contoso, counted in Woodgrove's sink (relay.ts). */
  relay?: boolean;
}

export const SCENARIOS: Scenario[] = [
  { name: "mtls-inbound-1", connections: 16, perConnection: 1, total: 2000, quickTotal: 600, resume: false },
  { name: "mtls-inbound-20", connections: 16, perConnection: 20, total: 8000, quickTotal: 3200, resume: false },
  { name: "mtls-inbound-1-c64", connections: 64, perConnection: 1, total: 2000, quickTotal: 640, resume: false },
  { name: "mtls-inbound-20-c64", connections: 64, perConnection: 20, total: 8000, quickTotal: 3200, resume: false },
  { name: "mtls-inbound-1-resume", connections: 16, perConnection: 1, total: 2000, quickTotal: 600, resume: true },
  // Submitted like mail from an organization's hub (20 messages a connection), relayed domain-secured to the partner.
  { name: RELAY_SCENARIO, connections: 16, perConnection: 20, total: 4000, quickTotal: 1200, resume: false, relay: true },
];
const IDLE_SESSIONS = 5000;
const SIZE = 10 * 1024;
const PORT = 2525;

const log = (l: string) => process.stdout.write(`${l}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target {
  name: string;
  host: string;
  pid: () => number;
  sink: SinkReader;
}

function loadOptions(pki: BenchPki, t: Target, s: Pick<Scenario, "connections" | "perConnection" | "resume">, total: number): LoadOptions {
  return {
    host: t.host,
    port: PORT,
    servername: SERVER_NAME,
    ehlo: CLIENT_NAME,
    key: pki.client.keyPem as string,
    cert: pki.clientChainPem,
    connections: s.connections,
    perConnection: s.perConnection,
    total,
    size: SIZE,
    resume: s.resume,
    mailFrom: `bench@${PARTNER_DOMAIN}`,
    rcptTo: SINK_MAILBOX,
  };
}

/** One measured run: load, then wait until the sink has every acknowledged message. */
async function measure(pki: BenchPki, t: Target, s: Scenario, total: number, countFsyncs = false): Promise<RunRecord> {
  const fsyncs = countFsyncs ? await startFsyncCounter() : undefined;
  const cpu0 = treeCpuSeconds(t.pid());
  const m0 = machineCpuSeconds();
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const load = await runLoad(loadOptions(pki, t, s, total));
  const inSink = await t.sink.waitFor(load.ids, 120_000);
  const serverCpuS = treeCpuSeconds(t.pid()) - cpu0;
  const self = process.cpuUsage(self0);
  const m1 = machineCpuSeconds();
  const wall = (performance.now() - t0) / 1000;
  // Busy CPU that is neither the server's nor this process's (the generator): other work on the
  // machine, plus kernel time no process is charged for (softirq). Large values mean the figures are disturbed.
  const otherCores = Math.max(0, m1.busy - m0.busy - serverCpuS - (self.user + self.system) / 1e6) / wall;
  const stealCores = (m1.steal - m0.steal) / wall;
  const syncs = await fsyncs?.stop();
  return { scenario: s.name, server: t.name, load, inSink, serverCpuS, otherCores, stealCores, ...(syncs !== undefined ? { fsyncs: syncs } : {}) };
}

async function machineLimits(pki: BenchPki, work: string): Promise<MachineLimits> {
  const speed = opensslSpeed(2);
  const hs = await handshakeRate(pki, work, randomHost(), 3);
  return {
    ecdsaSignPerSec: speed.sign,
    ecdsaVerifyPerSec: speed.verify,
    mtlsHandshakesPerSec: hs.rate,
    mtlsProtocol: hs.protocol,
    fsyncPerSec: fsyncRate(work, 2),
    cpus: os.availableParallelism?.() ?? os.cpus().length,
  };
}

interface Variant {
  name: string;
  workers: number;
  sched?: string;
  sink: "discard" | "maildir";
  env: Record<string, string>;
  /** Extra node flags for this variant's processes. */
  node?: string[];
}

/** "--ab 'workers=1 sched=none sink=maildir ENV=value'": a second Sealpost, measured in the same run (A/B of settings). */
function parseVariant(name: string, text: string, base: Variant): Variant {
  const out: Variant = { ...base, name, env: { ...base.env } };
  for (const kv of text.split(/\s+/).filter(Boolean)) {
    const eq = kv.indexOf("=");
    const k = eq < 0 ? kv : kv.slice(0, eq);
    const val = eq < 0 ? "" : kv.slice(eq + 1);
    if (k === "workers") out.workers = Number(val);
    else if (k === "sched") out.sched = val;
    else if (k === "sink") out.sink = val === "maildir" ? "maildir" : "discard";
    else if (k === "node") out.node = val.split(",").filter(Boolean);
    else if (k) out.env[k] = val;
  }
  return out;
}

async function main(): Promise<number> {
  const { values: v } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      "sealpost-only": { type: "boolean", default: false },
      workers: { type: "string" },
      runs: { type: "string" },
      scenarios: { type: "string" },
      "no-idle": { type: "boolean", default: false },
      "no-limits": { type: "boolean", default: false },
      "no-fsync-count": { type: "boolean", default: false },
      sched: { type: "string" },
      ab: { type: "string" },
      profile: { type: "string" },
      "node-args": { type: "string" },
      "sealpost-sink": { type: "string", default: "discard" },
      "postfix-relay-reuse": { type: "string", default: "yes" },
      keep: { type: "boolean", default: false },
    },
  });
  const base: Variant = {
    name: "sealpost",
    // One core is the load generator's: Sealpost gets a worker per remaining core (measured
    // on 2 cores: one worker beats two by 4-18 %, docs/performance.md); --workers overrides.
    workers: v.workers !== undefined ? Number(v.workers) : Math.max(1, defaultWorkers() - 1),
    ...(v.sched ? { sched: v.sched } : {}),
    sink: v["sealpost-sink"] === "maildir" ? "maildir" : "discard",
    env: {},
  };
  const variants = [base, ...(v.ab ? [parseVariant("sealpost-b", v.ab, base)] : [])];
  // The machine's speed drifts by 20-40 % from one run to the next (both servers alike): the
  // full benchmark takes the median of 5 alternated runs, the quick one of 3.
  const runs = v.runs !== undefined ? Number(v.runs) : v.quick ? 3 : 5;
  const wanted = v.scenarios ? v.scenarios.split(",") : SCENARIOS.map((s) => s.name);
  const scenarios = SCENARIOS.filter((s) => wanted.includes(s.name));
  const inbound = scenarios.filter((s) => !s.relay);
  const relayScenario = scenarios.find((s) => s.relay);
  const work = mkdtempSync(path.join(os.tmpdir(), "sealpost-bench-"));
  // Postfix's daemons (user postfix) must reach their queue and data folders.
  chmodSync(work, 0o755);
  let pki: BenchPki | undefined;
  const running: RunningSealpost[] = [];
  const relays: RelayPair[] = [];
  let relaysStarting: Promise<void> | undefined;
  let postfix: PostfixInstance | undefined;
  let postfixStarted = false;
  const cleanup = async () => {
    await relaysStarting?.catch(() => undefined);
    for (const r of relays.splice(0)) {
      try {
        await r.stop();
      } catch (e) {
        log(`warning: stopping the ${r.name} relay: ${(e as Error).message}`);
      }
    }
    if (postfixStarted) {
      try {
        postfix?.stop();
      } catch (e) {
        log(`warning: stopping postfix: ${(e as Error).message}`);
      }
      postfixStarted = false;
    }
    await Promise.all(running.splice(0).map((r) => r.stop()));
    await pki?.close();
    pki = undefined;
    if (!v.keep) rmSync(work, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  // Postfix runs detached (postfix start): an error outside main's own await chain must stop it too.
  const onCrash = (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error)?.stack ?? String(e)}\n`);
    void cleanup().finally(() => process.exit(1));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("uncaughtException", onCrash);
  try {
    pki = await createPki();
    // V8 CPU profiles of every Sealpost process, written when it stops (they hide native TLS work: use perf too).
    const nodeArgs = v.profile ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(v.profile)}`] : [];
    // e.g. --node-args=--perf-basic-prof, so that perf names Sealpost's JavaScript frames.
    if (v["node-args"]) nodeArgs.push(...v["node-args"].split(" ").filter(Boolean));
    // Scenario (d)'s two Sealposts (per variant) start while the inbound one does.
    const startSealpostRelays = async () => {
      for (const va of variants) {
        const env = { ...va.env, ...(va.sched ? { NODE_CLUSTER_SCHED_POLICY: va.sched } : {}) };
        const r = await startSealpostRelay(work, pki as BenchPki, { name: va.name, workers: va.workers, env, nodeArgs: [...nodeArgs, ...(va.node ?? [])] });
        relays.push(r);
        log(r.describe());
      }
    };
    if (v.smoke || relayScenario) {
      relaysStarting = startSealpostRelays();
      // Awaited below; a failure meanwhile must not count as unhandled.
      relaysStarting.catch(() => undefined);
    }
    const targets: Target[] = [];
    for (const va of variants) {
      const host = randomHost();
      const dataDir = path.join(work, va.name);
      await configureSealpost(dataDir, pki, `${host}:${PORT}`);
      const env = { ...va.env, ...(va.sched ? { NODE_CLUSTER_SCHED_POLICY: va.sched } : {}) };
      const r = await startSealpost(dataDir, { workers: va.workers, sink: va.sink, env, nodeArgs: [...nodeArgs, ...(va.node ?? [])] });
      running.push(r);
      const t: Target = { name: va.name, host, pid: () => r.pid, sink: SinkReader.sealpost(dataDir) };
      await waitListening(host, PORT);
      targets.push(t);
      const extra = Object.entries(va.env).map(([k, x]) => `, ${k}=${x}`).join("");
      log(`${va.name}: ${host}:${PORT}, ${va.workers === 0 ? "one process" : `${va.workers} worker(s)`}${va.sched ? `, scheduling ${va.sched}` : ""}, sink ${va.sink}${extra}, data ${dataDir} [${treeSummary(r.pid)}]`);
    }
    const sp = targets[0] as Target;
    await relaysStarting;
    if (v.smoke) return await smoke(pki, sp, relays[0] as RelayPair);

    let version = "(not run)";
    if (!v["sealpost-only"]) {
      version = ensurePostfix(log);
      const pfHost = randomHost();
      postfix = setupPostfix(work, pki, pfHost, PORT);
      postfix.start();
      postfixStarted = true;
      await waitListening(pfHost, PORT);
      const pfx = postfix;
      const pf: Target = { name: "postfix", host: pfHost, pid: () => pfx.masterPid(), sink: SinkReader.postfix(pfx.maillog) };
      targets.push(pf);
      log(`Postfix ${version}: ${pfHost}:${PORT}, config ${postfix.dir}/conf [${treeSummary(pf.pid())}]`);
      if (relayScenario) {
        const pr = setupPostfixRelay(work, pki, { reuse: v["postfix-relay-reuse"] !== "no" });
        relays.push(pr.pair);
        await pr.start();
        log(pr.pair.describe());
      }
    }

    const limits = v["no-limits"] ? undefined : await machineLimits(pki, work);
    if (limits) log(limitsText(limits, []));

    // Warm-up: JIT, the verdict and CRL caches, Postfix's process pool; not measured.
    if (inbound.length > 0 || !v["no-idle"]) {
      for (const t of targets) {
        await measure(pki, t, { ...(SCENARIOS[0] as Scenario), name: "warm-up" }, 200);
        await measure(pki, t, { ...(SCENARIOS[1] as Scenario), name: "warm-up" }, 400);
      }
    }
    const relayLoad = { pki, size: SIZE, drainTimeoutMs: 120_000 };
    if (relayScenario) for (const r of relays) log(runLine(await measureRelay(relayLoad, r, { ...relayScenario, name: "warm-up" }, 400)));
    log(`${v.quick ? "quick" : "full"} run: ${runs} runs per server and scenario, alternating ${targets.map((t) => t.name).join(", ")}; ${SIZE} octet messages`);
    const records: RunRecord[] = [];
    for (const s of scenarios) {
      const total = v.quick ? s.quickTotal : s.total;
      log(`${s.name}: C=${s.connections}, ${s.perConnection} message(s) per connection, N=${total}${s.resume ? ", TLS session resumption" : ""}`);
      for (let i = 0; i < runs; i++) {
        for (const t of s.relay ? relays : targets) {
          const r =
            "tracker" in t
              ? await measureRelay({ ...relayLoad, drainTimeoutMs: Math.max(120_000, total * 60) }, t, s, total, !v["no-fsync-count"])
              : await measure(pki, t, s, total, !v["no-fsync-count"]);
          records.push(r);
          log(runLine(r));
          await sleep(500);
        }
      }
    }
    const rows = scenarios.flatMap((s) => targets.map((t) => summarize(records, s.name, t.name))).filter((r): r is Row => r !== undefined);
    const idle = v["no-idle"] ? undefined : await idleSessions(loadOptions(pki, sp, SCENARIOS[0] as Scenario, 0), sp.pid(), IDLE_SESSIONS);
    if (idle) log(idleText(idle));

    log("");
    log(`Sealpost (${base.workers === 0 ? "one process" : `${base.workers} worker(s)`}, sink ${base.sink}) vs Postfix ${version}, ${SIZE}-octet messages, medians of ${runs} runs each, msg/s counts only messages found in the sink`);
    if (limits) log(limitsText(limits, []));
    log(table(rows));
    if (relayScenario) {
      log(`${RELAY_SCENARIO} (scenario d): msg/s and p50/p99 above are end to end, from the start of the first submission to Contoso until the message was in Woodgrove's sink; details (medians):`);
      log(relayTable(records, RELAY_SCENARIO, relays.map((r) => r.name)));
    }
    const disturbed = records.filter((r) => r.otherCores > 0.25 || r.stealCores > 0.1);
    if (disturbed.length > 0) {
      log(`WARNING: ${disturbed.length} of ${records.length} runs had more than 0.25 core of other work or 0.1 core stolen on the machine (see "other" in the run lines): the figures are disturbed; run again on a quiet machine`);
    }
    const duplicates = records.reduce((a, r) => a + (r.relay?.duplicates ?? 0), 0);
    if (duplicates > 0) log(`WARNING: ${duplicates} relayed message(s) reached Woodgrove's sink more than once (see the relay run lines)`);
    const lost = rows.reduce((a, r) => a + (r.acked - r.inSink), 0);
    log(lost === 0 ? "no acknowledged message was lost (every queue id from a 250 reply was found in the server's sink)" : `WARNING: ${lost} acknowledged message(s) never reached the sink`);
    for (const r of rows.filter((x) => x.failed > 0)) log(`failures ${r.scenario} ${r.server}: ${Object.entries(r.failures).map(([k, n]) => `${k}: ${n}`).join("; ")}`);
    for (const line of ratioLines(rows, scenarios.map((s) => s.name))) log(line);
    if (idle) log(`IDLE-5000-MB ${Math.round(idle.loadedMb)}`);
    return lost === 0 ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("uncaughtException", onCrash);
    await cleanup();
  }
}

/** CI: a few messages through Sealpost only; exit 0 when they all reached the sink. */
async function smoke(pki: BenchPki, sp: Target, relay: RelayPair): Promise<number> {
  const s: Scenario = { name: "smoke", connections: 4, perConnection: 5, total: 20, quickTotal: 20, resume: false };
  const a = await measure(pki, sp, s, 20);
  log(runLine(a));
  const b = await measure(pki, sp, { ...s, name: "smoke-resume", perConnection: 1, total: 8, resume: true }, 8);
  log(runLine(b));
  const ok = a.load.acked === 20 && a.inSink === 20 && b.load.acked === 8 && b.inSink === 8 && b.load.resumed > 0;
  log(ok ? "SMOKE OK: 28 messages acknowledged and found in the sink, TLS sessions resumed" : "SMOKE FAILED");
  // Scenario (d) in miniature: 10 messages submitted to Contoso, relayed domain-secured, found in Woodgrove's sink.
  const r = await measureRelay({ pki, size: SIZE, drainTimeoutMs: 30_000 }, relay, { name: "smoke-relay", connections: 2, perConnection: 5 }, 10);
  log(runLine(r));
  const relayOk = r.load.acked === 10 && r.inSink === 10 && r.relay?.secured === 10 && r.relay.duplicates === 0;
  log(relayOk ? "SMOKE RELAY OK: 10 messages submitted to Contoso reached Woodgrove's sink, domain-secured" : "SMOKE RELAY FAILED");
  return ok && relayOk ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
