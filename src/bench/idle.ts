// Scenario (e): many idle TLS sessions. Opens `count` connections, each
// through STARTTLS with the partner's client certificate (a full handshake)
// and EHLO, leaves them idle, and reads the resident memory of the server's
// whole process tree once they are all open (and again after they closed).
import { BenchConnection, BenchError } from "./client.js";
import { clientContext, type LoadOptions } from "./loadgen.js";
import { treeRssMb } from "./procstat.js";

export interface IdleResult {
  opened: number;
  failures: Record<string, number>;
  baselineMb: number;
  /** RSS of the tree with every session open (after a short settle). */
  loadedMb: number;
  /** Per idle session, KB: (loaded - baseline) / opened. */
  perSessionKb: number;
  openSeconds: number;
  processes: number;
}

export async function idleSessions(
  o: Pick<LoadOptions, "host" | "port" | "servername" | "ehlo" | "key" | "cert">,
  serverPid: number,
  count: number,
  concurrency = 32,
  settleMs = 3000,
): Promise<IdleResult> {
  const baseline = treeRssMb(serverPid);
  const context = clientContext(o);
  const open: BenchConnection[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      let c: BenchConnection | undefined;
      try {
        c = await BenchConnection.connect(o.host, o.port, 60_000);
        await c.open(o.ehlo, { servername: o.servername, context });
        open.push(c);
      } catch (e) {
        c?.close();
        const reason = e instanceof BenchError ? e.reason : (e as Error).message;
        failures[reason] = (failures[reason] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    const openSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, settleMs));
    const loaded = treeRssMb(serverPid);
    return {
      opened: open.length,
      failures,
      baselineMb: baseline.mb,
      loadedMb: loaded.mb,
      perSessionKb: open.length ? ((loaded.mb - baseline.mb) * 1024) / open.length : 0,
      openSeconds,
      processes: loaded.processes,
    };
  } finally {
    for (const c of open) c.close();
  }
}
