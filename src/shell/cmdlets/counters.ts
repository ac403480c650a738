// Get-Counter: the server's counters as Exchange names them, read from the
// running server (its admin endpoint aggregates every worker).
import { callRunningServer } from "../../adminapi/local-server.js";
import { SealpostError } from "../../errors/errors.js";
import { EXCHANGE_COUNTERS, totalsFromExposition } from "../../metrics/counters.js";
import type { CmdletDef } from "../shell.js";

export interface CounterSample {
  Path: string;
  CookedValue: number;
}

export async function readCounters(dataDir: string, pattern?: string): Promise<CounterSample[]> {
  const totals = totalsFromExposition(await callRunningServer(dataDir, "/metrics"));
  const re = pattern
    ? new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i")
    : undefined;
  const exchange = EXCHANGE_COUNTERS.map((c) => ({ Path: c.path, CookedValue: totals.get(c.metric) ?? 0 }));
  const all = [...exchange, ...[...totals].filter(([k]) => k.startsWith("sealpost_")).map(([k, v]) => ({ Path: k, CookedValue: v }))];
  const hits = re ? all.filter((c) => re.test(c.Path)) : exchange;
  if (hits.length === 0) throw new SealpostError("NOT_FOUND", `No counter matches '${pattern ?? ""}'.`);
  return hits;
}

export const counterCmdlets: CmdletDef[] = [
  {
    name: "Get-Counter",
    synopsis: 'Reads counters: Get-Counter "\\MSExchange Secure Mail Transport\\*", or sealpost_* metric names.',
    table: ["Path", "CookedValue"],
    params: [{ name: "Counter", type: "string", position: 0 }],
    async run(args, ctx) {
      return readCounters(ctx.api.ctx.dir.root, args.Counter as string | undefined);
    },
  },
];
