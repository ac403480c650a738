// The load generator: C concurrent connections, K messages per connection,
// S octets each, N messages in all, STARTTLS with a client certificate (a
// full handshake per connection, or TLS session resumption with --resume).
// It reports messages/s, handshakes/s, per-message latency, failures by
// reason, its own CPU time, and the queue ids the server acknowledged (so
// the caller can check every one reached the server's sink).
//
// Run alone: node dist/src/bench/loadgen.js --host 127.0.0.2 --port 2525
//   --key client.key --cert client-chain.pem [-c 16] [-k 1] [-n 2000] [-s 10240] [--resume]
import { readFileSync } from "node:fs";
import tls from "node:tls";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { BenchConnection, BenchError, buildMessage } from "./client.js";

export interface LoadOptions {
  host: string;
  port: number;
  /** SNI and EHLO names. */
  servername: string;
  ehlo: string;
  key: string;
  /** Client certificate and chain, PEM. */
  cert: string;
  connections: number;
  perConnection: number;
  total: number;
  size: number;
  resume: boolean;
  mailFrom: string;
  rcptTo: string;
  timeoutMs?: number;
}

export interface LoadResult {
  /** Messages acknowledged with 250 after DATA. */
  acked: number;
  /** Queue ids from the 250 replies, in order of acknowledgement. */
  ids: string[];
  /** For each of `ids`: when its transaction started (performance.now(), ms; the connect for a connection's first). */
  starts: number[];
  /** When the load started (performance.now(), ms). */
  t0: number;
  failed: number;
  failures: Record<string, number>;
  elapsedMs: number;
  handshakes: number;
  resumed: number;
  /** Per message, from the start of its transaction (the connect, for a connection's first) to its 250, ms. */
  latencyP50: number;
  latencyP99: number;
  /** Generator CPU (user + system), ms. */
  cpuMs: number;
}

/** "250 2.6.0 <0192...@mail.contoso.com> Queued mail" (Sealpost), "250 2.0.0 Ok: queued as 4Xyz" (Postfix). */
export function queueIdOf(text: string): string | undefined {
  return /<([0-9a-f]{16,})@/.exec(text)?.[1] ?? /queued as ([0-9A-Za-z]+)/.exec(text)?.[1];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Parsing the key and chain once, not per connection, keeps the generator's share of the CPU small. */
export function clientContext(o: Pick<LoadOptions, "key" | "cert">): tls.SecureContext {
  return tls.createSecureContext({ key: o.key, cert: o.cert, minVersion: "TLSv1.2" });
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const body = buildMessage(o.size, o.mailFrom, o.rcptTo);
  const context = clientContext(o);
  const data = Buffer.concat([body, Buffer.from(".\r\n")]);
  const envelope = `MAIL FROM:<${o.mailFrom}> SIZE=${body.length}\r\nRCPT TO:<${o.rcptTo}>\r\nDATA\r\n`;
  const ids: string[] = [];
  const starts: number[] = [];
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let handshakes = 0;
  let resumed = 0;
  let assigned = 0;
  let session: Buffer | undefined;
  const fail = (reason: string, n: number) => {
    failures[reason] = (failures[reason] ?? 0) + n;
    failed += n;
  };

  const oneConnection = async (k: number): Promise<void> => {
    let start = performance.now();
    let done = 0;
    let conn: BenchConnection | undefined;
    try {
      conn = await BenchConnection.connect(o.host, o.port, o.timeoutMs);
      await conn.open(o.ehlo, {
        servername: o.servername,
        context,
        ...(o.resume && session ? { session } : {}),
        ...(o.resume ? { onSession: (s: Buffer) => (session = s) } : {}),
      });
      handshakes++;
      if (conn.resumed) resumed++;
      for (let i = 0; i < k; i++) {
        conn.write(envelope);
        await conn.expect("MAIL", 250);
        await conn.expect("RCPT", 250);
        await conn.expect("DATA", 354);
        conn.write(data);
        const r = await conn.expect("end of DATA", 250);
        const id = queueIdOf(r.text);
        if (!id) throw new BenchError("end of DATA: no queue id in the reply");
        const now = performance.now();
        latencies.push(now - start);
        starts.push(start);
        start = now;
        ids.push(id);
        done++;
      }
      await conn.quit();
    } catch (e) {
      conn?.close();
      fail(e instanceof BenchError ? e.reason : `error: ${(e as Error).message}`, k - done);
    }
  };

  const worker = async (): Promise<void> => {
    while (assigned < o.total) {
      const k = Math.min(o.perConnection, o.total - assigned);
      assigned += k;
      await oneConnection(k);
    }
  };

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, o.connections) }, worker));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return {
    acked: ids.length,
    ids,
    starts,
    t0,
    failed,
    failures,
    elapsedMs,
    handshakes,
    resumed,
    latencyP50: percentile(latencies, 50),
    latencyP99: percentile(latencies, 99),
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "2525" },
      servername: { type: "string", default: "mail.contoso.com" },
      ehlo: { type: "string", default: "mail.woodgrovebank.com" },
      key: { type: "string" },
      cert: { type: "string" },
      c: { type: "string", short: "c", default: "16" },
      k: { type: "string", short: "k", default: "1" },
      n: { type: "string", short: "n", default: "2000" },
      s: { type: "string", short: "s", default: "10240" },
      from: { type: "string", default: "bench@woodgrovebank.com" },
      to: { type: "string", default: "sink@contoso.com" },
      resume: { type: "boolean", default: false },
    },
  });
  if (!v.key || !v.cert) throw new Error("give --key and --cert (client key and certificate chain, PEM)");
  const r = await runLoad({
    host: v.host,
    port: Number(v.port),
    servername: v.servername,
    ehlo: v.ehlo,
    key: readFileSync(v.key, "utf8"),
    cert: readFileSync(v.cert, "utf8"),
    connections: Number(v.c),
    perConnection: Number(v.k),
    total: Number(v.n),
    size: Number(v.s),
    resume: v.resume,
    mailFrom: v.from,
    rcptTo: v.to,
  });
  const s = r.elapsedMs / 1000;
  process.stdout.write(
    `${r.acked} acknowledged, ${r.failed} failed in ${s.toFixed(2)} s: ${(r.acked / s).toFixed(1)} msg/s, ` +
      `${(r.handshakes / s).toFixed(1)} handshakes/s (${r.resumed} resumed), latency p50 ${r.latencyP50.toFixed(1)} ms p99 ${r.latencyP99.toFixed(1)} ms, ` +
      `generator CPU ${(r.cpuMs / 1000).toFixed(2)} s\n`,
  );
  for (const [reason, n] of Object.entries(r.failures)) process.stdout.write(`  failed ${n}: ${reason}\n`);
  process.exitCode = r.failed > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`loadgen: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
