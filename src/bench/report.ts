// The benchmark's figures: one record per run, medians per scenario and
// server, the printed table and the RATIO / IDLE lines scripts read.
import type { LoadResult } from "./loadgen.js";
import type { IdleResult } from "./idle.js";
import type { MachineLimits } from "./limits.js";

/** "sealpost", "postfix", or "sealpost-b" (an A/B variant). */
export type ServerName = string;

export interface RunRecord {
  scenario: string;
  server: ServerName;
  load: LoadResult;
  /** Acknowledged messages whose queue id reached the sink. */
  inSink: number;
  /** Server process tree CPU from the start of the run until the sink had every message, s. */
  serverCpuS: number;
  /** fsync + fdatasync calls on the machine over the same span (perf stat), when countable. */
  fsyncs?: number;
  /** Average cores of busy CPU that were neither the server's nor the generator's over the same span. */
  otherCores: number;
  /** Average cores stolen by the hypervisor. */
  stealCores: number;
  /** The relay scenario (relay.ts): `load`'s elapsed time and latencies are then end to end, these are the submission's. */
  relay?: RelayFacts;
}

export interface RelayFacts {
  /** The load generator's time to submit every message to Contoso, ms. */
  submitMs: number;
  /** Submission latency (to Contoso's 250), ms. */
  submitP50: number;
  submitP99: number;
  /** Inbound sessions Woodgrove saw during the run (Contoso's outbound sessions). */
  sessions: number;
  /** Relay attempts Contoso recorded as deferred or failed. */
  failed: number;
  /** Messages Woodgrove's sink received more than once. */
  duplicates: number;
  /** Messages Woodgrove recorded as received domain-secured (Sealpost's tracking log only). */
  secured?: number;
  contosoCpuS: number;
  woodgroveCpuS: number;
}

export interface Row {
  scenario: string;
  server: ServerName;
  runs: number;
  msgsPerSec: number;
  hsPerSec: number;
  resumedPct: number;
  p50: number;
  p99: number;
  serverCpuMsPerMsg: number;
  genCpuMsPerMsg: number;
  /** Median fsync + fdatasync calls per acknowledged message; undefined when not counted. */
  fsyncsPerMsg: number | undefined;
  acked: number;
  inSink: number;
  failed: number;
  failures: Record<string, number>;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Messages per second counting only what reached the sink. */
export function rate(r: RunRecord): number {
  return r.inSink / (r.load.elapsedMs / 1000);
}

export function summarize(records: RunRecord[], scenario: string, server: ServerName): Row | undefined {
  const rs = records.filter((r) => r.scenario === scenario && r.server === server);
  if (rs.length === 0) return undefined;
  const failures: Record<string, number> = {};
  for (const r of rs) for (const [k, v] of Object.entries(r.load.failures)) failures[k] = (failures[k] ?? 0) + v;
  return {
    scenario,
    server,
    runs: rs.length,
    msgsPerSec: median(rs.map(rate)),
    hsPerSec: median(rs.map((r) => r.load.handshakes / (r.load.elapsedMs / 1000))),
    resumedPct: median(rs.map((r) => (r.load.handshakes ? (100 * r.load.resumed) / r.load.handshakes : 0))),
    p50: median(rs.map((r) => r.load.latencyP50)),
    p99: median(rs.map((r) => r.load.latencyP99)),
    serverCpuMsPerMsg: median(rs.map((r) => (r.load.acked ? (1000 * r.serverCpuS) / r.load.acked : 0))),
    genCpuMsPerMsg: median(rs.map((r) => (r.load.acked ? r.load.cpuMs / r.load.acked : 0))),
    fsyncsPerMsg: rs.every((r) => r.fsyncs !== undefined && r.load.acked > 0) ? median(rs.map((r) => (r.fsyncs as number) / r.load.acked)) : undefined,
    acked: rs.reduce((a, r) => a + r.load.acked, 0),
    inSink: rs.reduce((a, r) => a + r.inSink, 0),
    failed: rs.reduce((a, r) => a + r.load.failed, 0),
    failures,
  };
}

export function runLine(r: RunRecord): string {
  const l = r.load;
  const s = l.elapsedMs / 1000;
  const lost = l.acked - r.inSink;
  return (
    `  ${r.scenario.padEnd(22)} ${r.server.padEnd(10)} ${rate(r).toFixed(1).padStart(8)} msg/s  ${(l.handshakes / s).toFixed(1).padStart(7)} hs/s` +
    `${l.resumed ? ` (${l.resumed} resumed)` : ""}  p50 ${l.latencyP50.toFixed(1)} ms  p99 ${l.latencyP99.toFixed(1)} ms  ` +
    `server CPU ${r.serverCpuS.toFixed(2)} s  generator CPU ${(l.cpuMs / 1000).toFixed(2)} s  other ${r.otherCores.toFixed(2)} core${r.stealCores >= 0.01 ? ` (steal ${r.stealCores.toFixed(2)})` : ""}` +
    `${r.fsyncs !== undefined ? `  ${r.fsyncs} fsyncs` : ""}  ${l.acked} acked, ${r.inSink} in sink` +
    `${lost ? `, ${lost} LOST` : ""}${l.failed ? `, ${l.failed} failed (${Object.entries(l.failures).map(([k, v]) => `${k}: ${v}`).join("; ")})` : ""}` +
    (r.relay ? `\n  ${"".padEnd(22)} ${"".padEnd(10)} ${relayText(r)}` : "")
  );
}

/** The relay run's second line: submission, Contoso's sessions to Woodgrove, CPU of each server. */
function relayText(r: RunRecord): string {
  const x = r.relay as RelayFacts;
  const n = r.load.acked || 1;
  return (
    `end to end ${r.inSink} in Woodgrove's sink in ${(r.load.elapsedMs / 1000).toFixed(2)} s; submission ${(r.load.acked / (x.submitMs / 1000)).toFixed(1)} msg/s ` +
    `(${(x.submitMs / 1000).toFixed(2)} s, p50 ${x.submitP50.toFixed(1)} ms, p99 ${x.submitP99.toFixed(1)} ms); ${x.sessions} session(s) Contoso → Woodgrove; ` +
    `CPU ms/msg Contoso ${((1000 * x.contosoCpuS) / n).toFixed(2)}, Woodgrove ${((1000 * x.woodgroveCpuS) / n).toFixed(2)}` +
    `${x.failed ? `; ${x.failed} relay attempt(s) deferred or failed` : ""}${x.secured !== undefined ? `; ${x.secured} received domain-secured` : ""}` +
    `${x.duplicates ? `; ${x.duplicates} DUPLICATE deliveries` : ""}`
  );
}

/** Medians of the relay runs' own figures, one line per server. */
export function relayTable(records: RunRecord[], scenario: string, servers: ServerName[]): string {
  const head = "| server     | runs | e2e msg/s | submit msg/s | submit p50 ms | e2e p50 ms | e2e p99 ms | sessions/run | Contoso CPU ms/msg | Woodgrove CPU ms/msg | fsync/msg | deferred | domain-secured |";
  const sep = "|------------|-----:|----------:|-------------:|--------------:|-----------:|-----------:|-------------:|-------------------:|---------------------:|----------:|---------:|---------------:|";
  const lines = [head, sep];
  for (const server of servers) {
    const rs = records.filter((r) => r.scenario === scenario && r.server === server && r.relay);
    if (rs.length === 0) continue;
    const f = (rr: RunRecord) => rr.relay as RelayFacts;
    const per = (v: (rr: RunRecord) => number) => median(rs.map((rr) => (rr.load.acked ? v(rr) / rr.load.acked : 0)));
    const secured = rs.every((rr) => f(rr).secured !== undefined) ? `${rs.reduce((a, rr) => a + (f(rr).secured as number), 0)}/${rs.reduce((a, rr) => a + rr.inSink, 0)}` : "n/a";
    const cells = [
      server.padEnd(10),
      String(rs.length).padStart(4),
      median(rs.map(rate)).toFixed(1).padStart(9),
      median(rs.map((rr) => rr.load.acked / (f(rr).submitMs / 1000))).toFixed(1).padStart(12),
      median(rs.map((rr) => f(rr).submitP50)).toFixed(1).padStart(13),
      median(rs.map((rr) => rr.load.latencyP50)).toFixed(1).padStart(10),
      median(rs.map((rr) => rr.load.latencyP99)).toFixed(1).padStart(10),
      median(rs.map((rr) => f(rr).sessions)).toFixed(0).padStart(12),
      per((rr) => 1000 * f(rr).contosoCpuS).toFixed(2).padStart(18),
      per((rr) => 1000 * f(rr).woodgroveCpuS).toFixed(2).padStart(20),
      (rs.every((rr) => rr.fsyncs !== undefined) ? per((rr) => rr.fsyncs as number).toFixed(2) : "n/a").padStart(9),
      String(rs.reduce((a, rr) => a + f(rr).failed, 0)).padStart(8),
      secured.padStart(14),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

const COLUMNS: Array<[string, number]> = [
  ["scenario", 22], ["server", 10], ["runs", 4], ["msg/s", 8], ["hs/s", 8], ["resumed", 7], ["p50 ms", 7], ["p99 ms", 7],
  ["srv CPU ms/msg", 14], ["gen CPU ms/msg", 14], ["fsync/msg", 9], ["acked", 7], ["in sink", 7], ["failed", 6],
];

export function table(rows: Row[]): string {
  const cell = (v: string, w: number, left = false) => (left ? v.padEnd(w) : v.padStart(w));
  const head = "| " + COLUMNS.map(([n, w], i) => cell(n, w, i < 2)).join(" | ") + " |";
  const sep = "|" + COLUMNS.map(([, w], i) => (i < 2 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|";
  const lines = rows.map((r) => {
    const v = [
      r.scenario, r.server, String(r.runs), r.msgsPerSec.toFixed(1), r.hsPerSec.toFixed(1), `${r.resumedPct.toFixed(0)}%`,
      r.p50.toFixed(1), r.p99.toFixed(1), r.serverCpuMsPerMsg.toFixed(2), r.genCpuMsPerMsg.toFixed(2), r.fsyncsPerMsg === undefined ? "n/a" : r.fsyncsPerMsg.toFixed(2),
      String(r.acked), String(r.inSink), String(r.failed),
    ];
    return "| " + v.map((x, i) => cell(x, (COLUMNS[i] as [string, number])[1], i < 2)).join(" | ") + " |";
  });
  return [head, sep, ...lines].join("\n");
}

export function limitsText(m: MachineLimits, extra: string[]): string {
  return [
    `machine: ${m.cpus} CPU(s); ECDSA P-256 (openssl speed): ${m.ecdsaSignPerSec.toFixed(0)} sign/s, ${m.ecdsaVerifyPerSec.toFixed(0)} verify/s; ` +
      `bare mutual-TLS handshakes (openssl s_server/s_time -new, ${m.mtlsProtocol}, sequential): ${m.mtlsHandshakesPerSec.toFixed(0)}/s; ` +
      `write(10 KiB)+fdatasync: ${m.fsyncPerSec.toFixed(0)}/s`,
    ...extra,
  ].join("\n");
}

export function idleText(r: IdleResult): string {
  const f = Object.entries(r.failures);
  return (
    `idle sessions: ${r.opened} open (TLS + client certificate + EHLO) in ${r.openSeconds.toFixed(1)} s; server tree RSS ${r.baselineMb.toFixed(0)} MB before, ` +
    `${r.loadedMb.toFixed(0)} MB with them open (${r.processes} processes), ${r.perSessionKb.toFixed(1)} KB per session` +
    (f.length ? `; failures: ${f.map(([k, v]) => `${k}: ${v}`).join("; ")}` : "")
  );
}

export function ratioLines(rows: Row[], scenarios: string[]): string[] {
  const out: string[] = [];
  for (const s of scenarios) {
    const a = rows.find((r) => r.scenario === s && r.server === "sealpost");
    const b = rows.find((r) => r.scenario === s && r.server === "postfix");
    if (!a || !b || b.msgsPerSec === 0) continue;
    out.push(`RATIO ${s} ${(a.msgsPerSec / b.msgsPerSec).toFixed(2)}`);
  }
  return out;
}
