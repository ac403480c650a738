// Faults at random moments (from the seeded generator): kill -9 of a worker,
// kill -9 of a whole server and its restart on the same data folder,
// Woodgrove's MX unreachable (its address points nowhere, or its lookups
// fail), the CRL server gone, the organization store stopped, and
// configuration changes made with `sealpost shell -c` against the store
// while sessions are open (each recorded in the ConfigModel, with when each
// edge reported it applied). Outages last a bounded time and are all undone
// by restore(); every wait is bounded.
import { spawn } from "node:child_process";
import pg from "pg";
import { BASELINE, FABRIKAM, WOODGROVE, type ConfigModel, type ContosoConfig } from "./model.js";
import type { Prng } from "./prng.js";
import { sealpostBin, sleep } from "./servers.js";
import { ALL_SERVERS, CONTOSO_EDGES, SERVER_NAMES, type ServerKey, type Topology } from "./topology.js";

export type FaultKind = "kill-worker" | "kill-server" | "mx-down" | "crl-down" | "pg-stop" | "config";

export const FAULT_WEIGHTS: Record<FaultKind, number> = {
  "kill-worker": 3,
  "kill-server": 2,
  "mx-down": 1,
  "crl-down": 1,
  "pg-stop": 1,
  config: 3,
};

export interface FaultRecord {
  kind: FaultKind;
  detail: string;
  target?: ServerKey;
  start: number;
  end?: number;
  /** For kills: when the process (or its replacement) was back. */
  recovered?: number;
  ok: boolean;
  error?: string;
}

type ConfigChange = { label: string; apply: string; revert: string; change: (c: ContosoConfig) => ContosoConfig };

const CONFIG_CHANGES: ConfigChange[] = [
  {
    label: "TLSReceiveDomainSecureList without woodgrovebank.com",
    apply: `Set-TransportConfig -TLSReceiveDomainSecureList @{Remove='${WOODGROVE}'}`,
    revert: `Set-TransportConfig -TLSReceiveDomainSecureList @{Add='${WOODGROVE}'}`,
    change: (c) => ({ ...c, recvList: c.recvList.filter((d) => d !== WOODGROVE) }),
  },
  {
    label: "TLSReceiveDomainSecureList with fabrikam.com",
    apply: `Set-TransportConfig -TLSReceiveDomainSecureList @{Add='${FABRIKAM}'}`,
    revert: `Set-TransportConfig -TLSReceiveDomainSecureList @{Remove='${FABRIKAM}'}`,
    change: (c) => ({ ...c, recvList: [...c.recvList, FABRIKAM] }),
  },
  {
    label: "woodgrovebank.com -Mode ReportOnly",
    apply: `Set-DomainSecurePartner ${WOODGROVE} -Mode ReportOnly`,
    revert: `Set-DomainSecurePartner ${WOODGROVE} -Mode Enforce`,
    change: (c) => ({ ...c, mode: "ReportOnly" }),
  },
  {
    label: "woodgrovebank.com -CertificateNames mail.fabrikam.com",
    apply: `Set-DomainSecurePartner ${WOODGROVE} -CertificateNames @{Add='mail.fabrikam.com'}`,
    revert: `Set-DomainSecurePartner ${WOODGROVE} -CertificateNames @{Remove='mail.fabrikam.com'}`,
    change: (c) => ({ ...c, certificateNames: [...c.certificateNames, "mail.fabrikam.com"] }),
  },
  {
    label: "woodgrovebank.com -RevocationMode Soft",
    apply: `Set-DomainSecurePartner ${WOODGROVE} -RevocationMode Soft`,
    revert: `Set-DomainSecurePartner ${WOODGROVE} -RevocationMode Hard`,
    change: (c) => ({ ...c, revocationMode: "Soft" }),
  },
  {
    label: "TLSSendDomainSecureList without woodgrovebank.com",
    apply: `Set-TransportConfig -TLSSendDomainSecureList @{Remove='${WOODGROVE}'}`,
    revert: `Set-TransportConfig -TLSSendDomainSecureList @{Add='${WOODGROVE}'}`,
    change: (c) => ({ ...c, sendList: c.sendList.filter((d) => d !== WOODGROVE) }),
  },
];

export class Faults {
  readonly records: FaultRecord[] = [];
  /** Problems of the servers seen while injecting (a worker not replaced, a restart that failed). */
  readonly problems: string[] = [];
  private active = new Set<FaultKind>();
  private tasks = new Set<Promise<void>>();
  private aborting = false;
  private wake: Array<() => void> = [];
  private pool: pg.Pool;
  private pgBusy = false;
  private observer: NodeJS.Timeout | undefined;

  constructor(
    private readonly topo: Topology,
    private readonly rng: Prng,
    private readonly model: ConfigModel,
    private readonly say: (s: string) => void,
    private readonly o: { maxOutageMs: number },
  ) {
    this.pool = new pg.Pool({ connectionString: topo.orgUrl, max: 1, connectionTimeoutMillis: 2000, idleTimeoutMillis: 1000 });
    this.pool.on("error", () => undefined);
  }

  /** Polls the edges' status rows (twice a second) so the model knows when each edge applied each version. */
  startObserver(): void {
    const tick = async () => {
      if (this.topo.pg.running && !this.pgBusy) {
        try {
          const r = await this.pool.query<{ server_name: string; applied_version: string }>("SELECT server_name, applied_version FROM edge_status");
          const now = Date.now();
          for (const row of r.rows) {
            const edge = CONTOSO_EDGES.find((k) => SERVER_NAMES[k] === row.server_name);
            if (edge) this.model.observe(edge, Number(row.applied_version), now);
          }
        } catch {
          // the store is away: try again later
        }
      }
      this.observer = setTimeout(() => void tick(), 500);
    };
    void tick();
  }

  private async storeVersion(): Promise<number | undefined> {
    try {
      const r = await this.pool.query<{ version: string }>("SELECT version FROM org_version WHERE id = 1");
      return Number(r.rows[0]?.version);
    } catch {
      return undefined;
    }
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.records) out[r.kind] = (out[r.kind] ?? 0) + 1;
    return out;
  }

  /** Kills and restarts of `server` (or any) at time t, for the duplicate accounting. */
  kills(): FaultRecord[] {
    return this.records.filter((r) => r.kind === "kill-worker" || r.kind === "kill-server");
  }

  private sleepAbortable(ms: number): Promise<void> {
    if (this.aborting) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        const i = this.wake.indexOf(done);
        if (i >= 0) this.wake.splice(i, 1);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake.push(done);
    });
  }

  private available(): FaultKind[] {
    const s = this.topo.servers;
    const anyDown = ALL_SERVERS.some((k) => !s[k].up || s[k].starting) || this.active.has("kill-server");
    return (Object.keys(FAULT_WEIGHTS) as FaultKind[]).filter((k) => {
      if (k === "kill-worker") return ALL_SERVERS.some((x) => s[x].up && !s[x].starting && s[x].workers().length > 0);
      if (k === "kill-server") return !anyDown;
      if (k === "pg-stop") return !this.active.has("pg-stop") && !this.active.has("config");
      if (k === "config") return !this.active.has("config") && !this.active.has("pg-stop") && this.topo.pg.running;
      return !this.active.has(k);
    });
  }

  /** Runs the schedule until `until` (ms since epoch): one fault after another at random intervals. */
  async schedule(until: number, meanMs: number, firstAfterMs: number): Promise<void> {
    await this.sleepAbortable(firstAfterMs);
    while (!this.aborting && Date.now() < until - 2000) {
      const avail = this.available();
      if (avail.length > 0) {
        const weights = Object.fromEntries(avail.map((k) => [k, FAULT_WEIGHTS[k]])) as Record<FaultKind, number>;
        const kind = this.rng.weighted(weights);
        this.launch(kind, until);
      }
      const wait = Math.min(3 * meanMs, Math.max(2000, this.rng.exp(meanMs)));
      await this.sleepAbortable(Math.min(wait, Math.max(0, until - Date.now())));
    }
  }

  private launch(kind: FaultKind, until: number): void {
    this.active.add(kind);
    const outage = () => Math.min(this.o.maxOutageMs, Math.max(3000, until - Date.now() - 1000), this.rng.between(4000, this.o.maxOutageMs));
    let p: Promise<void>;
    switch (kind) {
      case "kill-worker":
        p = this.killWorker();
        break;
      case "kill-server":
        p = this.killServer(this.rng.pick(ALL_SERVERS), this.rng.between(300, 4000));
        break;
      case "mx-down":
        p = this.mxDown(outage(), this.rng.next() < 0.5 ? "refused" : "servfail");
        break;
      case "crl-down":
        p = this.crlDown(outage());
        break;
      case "pg-stop":
        p = this.pgStop(outage());
        break;
      case "config":
        p = this.config(this.rng.pick(CONFIG_CHANGES), outage());
        break;
    }
    const task = p
      .catch((e) => void this.problems.push(`${kind}: ${(e as Error).message}`))
      .finally(() => {
        this.active.delete(kind);
        this.tasks.delete(task);
      });
    this.tasks.add(task);
  }

  private record(kind: FaultKind, detail: string, target?: ServerKey): FaultRecord {
    const r: FaultRecord = { kind, detail, start: Date.now(), ok: true, ...(target ? { target } : {}) };
    this.records.push(r);
    this.say(`fault ${kind}: ${detail}`);
    return r;
  }

  private async killWorker(): Promise<void> {
    const s = this.topo.servers;
    const candidates = ALL_SERVERS.filter((k) => s[k].up && !s[k].starting && s[k].workers().length > 0);
    if (candidates.length === 0) return;
    const k = this.rng.pick(candidates);
    const before = s[k].workers().length;
    const pid = s[k].killWorker((pids) => this.rng.pick(pids));
    if (pid === undefined) return;
    const r = this.record("kill-worker", `kill -9 worker ${pid} of ${SERVER_NAMES[k]}`, k);
    // The primary must start another worker.
    for (let i = 0; i < 150; i++) {
      const now = s[k].workers();
      if (!now.includes(pid) && now.length >= before) {
        r.recovered = Date.now();
        break;
      }
      if (!s[k].up) break;
      await sleep(100);
    }
    r.end = Date.now();
    if (r.recovered === undefined && s[k].up) {
      r.ok = false;
      this.problems.push(`${SERVER_NAMES[k]}: worker ${pid} killed at ${iso(r.start)} was not replaced within 15 s`);
    }
  }

  async killServer(k: ServerKey, downMs: number): Promise<void> {
    const srv = this.topo.servers[k];
    if (!srv.up || srv.starting) return;
    const r = this.record("kill-server", `kill -9 of ${SERVER_NAMES[k]} (primary and workers), restart after ${(downMs / 1000).toFixed(1)} s`, k);
    await srv.kill9();
    await sleep(downMs);
    await this.restart(k, r);
  }

  private async restart(k: ServerKey, r?: FaultRecord): Promise<void> {
    const srv = this.topo.servers[k];
    let lastError = "";
    for (let i = 0; i < 3; i++) {
      try {
        await srv.start();
        if (r) r.recovered = Date.now();
        if (r) r.end = Date.now();
        return;
      } catch (e) {
        lastError = (e as Error).message;
        await sleep(2000);
      }
    }
    if (r) {
      r.ok = false;
      r.error = lastError;
    }
    this.problems.push(`${SERVER_NAMES[k]}: did not restart on its data folder: ${lastError.slice(0, 500)}`);
  }

  private async mxDown(ms: number, how: "refused" | "servfail"): Promise<void> {
    const dns = this.topo.dns;
    const r = this.record("mx-down", `Woodgrove's MX ${how === "refused" ? `points to ${this.topo.addr.dead} (connection refused)` : "lookups fail (SERVFAIL)"} for ${(ms / 1000).toFixed(0)} s`);
    if (how === "refused") dns.set("mail.woodgrovebank.com", "A", [this.topo.addr.dead]);
    else dns.servfail(WOODGROVE, true);
    try {
      await this.sleepAbortable(ms);
    } finally {
      if (how === "refused") dns.set("mail.woodgrovebank.com", "A", [this.topo.addr.woodgrove]);
      else dns.servfail(WOODGROVE, false);
      r.end = Date.now();
    }
  }

  private async crlDown(ms: number): Promise<void> {
    const r = this.record("crl-down", `the CRL server is gone for ${(ms / 1000).toFixed(0)} s`);
    await this.topo.crl.stop();
    try {
      await this.sleepAbortable(ms);
    } finally {
      await this.topo.crl.start();
      r.end = Date.now();
    }
  }

  private async pgStop(ms: number): Promise<void> {
    const r = this.record("pg-stop", `the organization store (PostgreSQL) stopped for ${(ms / 1000).toFixed(0)} s`);
    this.pgBusy = true;
    await this.pool.end().catch(() => undefined);
    this.pool = new pg.Pool({ connectionString: this.topo.orgUrl, max: 1, connectionTimeoutMillis: 2000, idleTimeoutMillis: 1000 });
    this.pool.on("error", () => undefined);
    this.pgBusy = false;
    await this.topo.pg.stop();
    try {
      await this.sleepAbortable(ms);
    } finally {
      await this.topo.pg.start();
      r.end = Date.now();
    }
  }

  /** One organization-wide change through the management shell; the model learns it, and when each edge applied it. */
  async change(label: string, line: string, next: ContosoConfig): Promise<boolean> {
    const v = this.model.begin(label, next);
    const res = await runShell(line, this.topo.orgUrl);
    if (res.code !== 0) {
      this.model.failed(v);
      this.problems.push(`configuration change "${line}" failed (exit ${res.code}): ${res.out.trim().slice(0, 400)}`);
      return false;
    }
    this.model.committed(v, await this.storeVersion());
    // Wait (bounded) until both edges report it; the observer keeps watching afterwards.
    for (let i = 0; i < 60 && CONTOSO_EDGES.some((e) => !v.appliedAt.has(e)); i++) await sleep(250);
    return true;
  }

  private async config(c: ConfigChange, holdMs: number): Promise<void> {
    const r = this.record("config", `${c.label} for ${(holdMs / 1000).toFixed(0)} s`);
    const before = this.model.current;
    if (!(await this.change(c.label, c.apply, c.change(before)))) {
      r.ok = false;
      r.end = Date.now();
      return;
    }
    await this.sleepAbortable(holdMs);
    // The undo must happen (the drain and the checks assume the baseline): a few tries, bounded.
    let undone = false;
    for (let i = 0; i < 4 && !undone; i++) {
      if (i > 0) await sleep(3000);
      undone = this.topo.pg.running && (await this.change(`undo: ${c.label}`, c.revert, before));
    }
    if (!undone) r.ok = false;
    r.end = Date.now();
  }

  /** Ends every outage now, waits for the fault tasks, and brings everything back (servers up, store up, configuration at the baseline). */
  /** No new fault from now on, and every outage's wait ends now (their undo follows). */
  halt(): void {
    this.aborting = true;
    for (const w of this.wake.splice(0)) w();
  }

  async restore(maxWaitMs = 120_000): Promise<void> {
    this.halt();
    await Promise.race([Promise.all([...this.tasks]), sleep(maxWaitMs)]);
    if (!this.topo.crl.up) await this.topo.crl.start();
    if (!this.topo.pg.running) await this.topo.pg.start();
    this.topo.dns.set("mail.woodgrovebank.com", "A", [this.topo.addr.woodgrove]);
    this.topo.dns.servfail(WOODGROVE, false);
    for (const k of ALL_SERVERS) if (!this.topo.servers[k].up) await this.restart(k);
    const cur = this.model.current;
    if (JSON.stringify(cur) !== JSON.stringify(BASELINE)) this.problems.push(`the configuration did not end at the baseline: ${JSON.stringify(cur)}`);
  }

  async close(): Promise<void> {
    if (this.observer) clearTimeout(this.observer);
    this.observer = undefined;
    await this.pool.end().catch(() => undefined);
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}

/** `sealpost shell -c LINE` against the organization store (the URL through the environment, never the command line). */
export function runShell(line: string, orgUrl: string, timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [sealpostBin(), "shell", "-c", line], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SEALPOST_ORG: orgUrl } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out });
    });
  });
}
