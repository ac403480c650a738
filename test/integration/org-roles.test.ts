// The shipped roles (sql/roles.sql) on a real PostgreSQL: an administrator's
// role changes the configuration through the shell; an edge's role reads it,
// keeps its own status row, and can do nothing else — row-level security
// stops it from touching another edge's row.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { runSealpost } from "../helpers/cli.js";
import { startTestPg, type TestPg } from "../helpers/pg.js";
import { migratePg, PgOrgStore } from "../../src/org/pg/pg-org-store.js";
import { openServerContext, setServerName, type ServerContext } from "../../src/admin/context.js";
import { EdgeSync } from "../../src/sync/edge-sync.js";

const ROLES_SQL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../sql/roles.sql");

let server: TestPg;
let ownerUrl: string;
const urlAs = (user: string) => {
  const u = new URL(ownerUrl);
  u.username = user;
  u.password = `${user}-pw`;
  return u.toString();
};
let work: string;
const contexts: ServerContext[] = [];

async function asRole(user: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: urlAs(user) });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-roles-"));
  server = await startTestPg();
  ownerUrl = await server.createDatabase("roles_org");
  await migratePg(ownerUrl);
  const owner = new pg.Client({ connectionString: ownerUrl });
  await owner.connect();
  await owner.query(readFileSync(ROLES_SQL, "utf8"));
  // Applying it twice is harmless (an upgrade re-runs it).
  await owner.query(readFileSync(ROLES_SQL, "utf8"));
  for (const [user, role] of [["alice", "sealpost_admin"], ["edge_mail1", "sealpost_edge"], ["edge_mail2", "sealpost_edge"]] as const) {
    await owner.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${user}') THEN CREATE ROLE ${user} LOGIN PASSWORD '${user}-pw' IN ROLE ${role}; END IF; END $$`);
  }
  await owner.end();
});

after(async () => {
  for (const c of contexts) await c.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("an administrator's role changes the configuration; the audit names the role", async () => {
  const r = await runSealpost(["--org", urlAs("alice"), "shell", "-c", "Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com"], { env: { SEALPOST_ADMIN: "Alice Admin" } });
  assert.equal(r.code, 0, r.stderr);
  // The configuration version it made names the administrator and the database role ...
  const versions = await runSealpost(["--org", urlAs("alice"), "--json", "org", "versions"]);
  const rows = JSON.parse(versions.stdout) as Array<{ Caller: string; CmdletParameters: string }>;
  assert.equal(rows[0]?.Caller, "Alice Admin (alice)");
  assert.equal(rows[0]?.CmdletParameters, "Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com");
  // ... and the admin audit log (in the organization store) has the call.
  const audit = await runSealpost(["--org", urlAs("alice"), "--json", "org", "audit"]);
  assert.equal(audit.code, 0, audit.stderr);
  const calls = JSON.parse(audit.stdout) as Array<{ Caller: string; CmdletName: string; CmdletParameters: unknown; Succeeded: boolean; ClientIP: string }>;
  assert.equal(calls[0]?.Caller, "Alice Admin");
  assert.equal(calls[0]?.CmdletName, "Set-TransportConfig");
  assert.deepEqual(calls[0]?.CmdletParameters, { TLSReceiveDomainSecureList: "woodgrovebank.com" });
  assert.equal(calls[0]?.Succeeded, true);
  assert.equal(calls[0]?.ClientIP, "local");
});

test("an edge's role syncs and reports its own status, and can do nothing else", async () => {
  const dir = path.join(work, "mail1");
  const ctx = openServerContext(dir);
  contexts.push(ctx);
  setServerName(ctx, "mail1.contoso.com");
  const sync = new EdgeSync({ url: urlAs("edge_mail1"), ctx, softwareVersion: "test", log: () => undefined });
  await sync.start();
  await sync.stop();
  assert.equal(sync.status().reachable, true);
  assert.deepEqual((await ctx.org.getSettings()).tlsReceiveDomainSecureList, ["woodgrovebank.com"]);
  const own = await asRole("edge_mail1", "SELECT server_name, db_user FROM edge_status");
  assert.deepEqual(own.rows, [{ server_name: "mail1.contoso.com", db_user: "edge_mail1" }]);

  // Another edge sees only its own row, and cannot overwrite, claim or delete mail1's.
  assert.equal((await asRole("edge_mail2", "SELECT * FROM edge_status")).rowCount, 0);
  await assert.rejects(
    asRole("edge_mail2", "INSERT INTO edge_status (server_name, fqdn, software_version, applied_version) VALUES ('mail1.contoso.com', 'x', 'x', 999) ON CONFLICT (server_name) DO UPDATE SET applied_version = 999"),
    /row-level security|violates/,
  );
  assert.equal((await asRole("edge_mail2", "UPDATE edge_status SET applied_version = 999 WHERE server_name = 'mail1.contoso.com'")).rowCount, 0);
  await assert.rejects(asRole("edge_mail2", "INSERT INTO edge_status (server_name, fqdn, software_version, applied_version, db_user) VALUES ('fake', 'x', 'x', 1, 'edge_mail1')"), /row-level security/);
  await assert.rejects(asRole("edge_mail1", "DELETE FROM edge_status"), /permission denied/);
  // Configuration is read-only for an edge.
  await assert.rejects(asRole("edge_mail1", "UPDATE org_version SET version = version + 1"), /permission denied/);
  await assert.rejects(asRole("edge_mail1", "INSERT INTO org_settings (key, value) VALUES ('x', '1')"), /permission denied/);
  await assert.rejects(asRole("edge_mail1", "CREATE TABLE evil (x int)"), /permission denied/);

  // Through the shell, an edge's credentials get a clear refusal, and nothing changes.
  const before = await (await PgOrgStore.open(urlAs("alice"))).exportSnapshot();
  const r = await runSealpost(["--org", urlAs("edge_mail1"), "shell", "-c", "Set-TransportConfig -TLSSendDomainSecureList fabrikam.com"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /refused by the organization store .*permission denied.*sealpost_admin/);
  assert.doesNotMatch(r.stderr, /edge_mail1-pw/);
  const store = await PgOrgStore.open(urlAs("alice"));
  assert.deepEqual(await store.exportSnapshot(), before);
  const edges = await runSealpost(["--org", urlAs("alice"), "--json", "org", "edges"]);
  assert.equal((JSON.parse(edges.stdout) as Array<{ Name: string }>)[0]?.Name, "mail1.contoso.com");
  await store.close();
});

test("accounts and the admin audit trail: the administrator's role manages accounts; an edge's role reads them, records a token's use and appends audit records as itself, and nothing more", async () => {
  const admin = await PgOrgStore.open(urlAs("alice"));
  const edge = await PgOrgStore.open(urlAs("edge_mail1"));
  try {
    const now = new Date();
    await admin.addAdminUser({ name: "carol", roleGroups: ["Server Management"], passwordHash: "scrypt$32768$8$1$c2FsdA$aGFzaA", enabled: true, createdAt: now, changedAt: now });
    await admin.addAdminToken({ id: "tok1", tokenSha256: "a".repeat(64), user: "carol", description: "", createdAt: now });
    // An edge logs administrators in from the shared accounts.
    assert.equal((await edge.getAdminUser("carol"))?.roleGroups[0], "Server Management");
    assert.equal((await edge.adminTokenBySha256("a".repeat(64)))?.user, "carol");
    await edge.touchAdminToken("tok1", now);
    assert.equal((await admin.adminTokenBySha256("a".repeat(64)))?.lastUsedAt?.getTime(), now.getTime());
    // ... but cannot make, change or remove an account or a token.
    await assert.rejects(edge.addAdminUser({ name: "mallory", roleGroups: ["Organization Management"], passwordHash: "x", enabled: true, createdAt: now, changedAt: now }), (e: unknown) => (e as { code?: string }).code === "ORG_PERMISSION_DENIED");
    await assert.rejects(edge.updateAdminUser("carol", () => ({ roleGroups: ["Organization Management"] })), (e: unknown) => (e as { code?: string }).code === "ORG_PERMISSION_DENIED");
    await assert.rejects(edge.removeAdminToken("tok1"), (e: unknown) => (e as { code?: string }).code === "ORG_PERMISSION_DENIED");
    await assert.rejects(asRole("edge_mail1", "UPDATE admin_tokens SET user_key = 'alice'"), /permission denied/);
    assert.equal((await edge.getAdminUser("carol"))?.roleGroups[0], "Server Management");

    // Both append audit records, each as itself; nobody rewrites or deletes one.
    const rec = { at: now, user: "carol", from: "127.0.0.1", via: "http", cmdlet: "Retry-Queue", parameters: { Identity: "contoso.com" }, result: "Succeeded" };
    await edge.appendAdminAudit(rec);
    await admin.appendAdminAudit({ ...rec, cmdlet: "New-AdminUser" });
    const writers = await asRole("alice", "SELECT cmdlet, db_user FROM admin_audit WHERE cmdlet IN ('Retry-Queue', 'New-AdminUser') ORDER BY id");
    assert.deepEqual(writers.rows, [{ cmdlet: "Retry-Queue", db_user: "edge_mail1" }, { cmdlet: "New-AdminUser", db_user: "alice" }]);
    assert.deepEqual((await edge.adminAuditLog({ cmdlets: ["Retry-Queue", "New-AdminUser"] })).map((r) => r.cmdlet), ["New-AdminUser", "Retry-Queue"], "one answer from any edge");
    await assert.rejects(asRole("edge_mail1", "INSERT INTO admin_audit (at, user_name, from_address, via, cmdlet, parameters, result, db_user) VALUES (now(), 'x', 'x', 'http', 'x', '{}', 'Succeeded', 'alice')"), /row-level security/);
    for (const who of ["edge_mail1", "alice"]) {
      await assert.rejects(asRole(who, "UPDATE admin_audit SET result = 'Succeeded'"), /permission denied/);
      await assert.rejects(asRole(who, "DELETE FROM admin_audit"), /permission denied/);
    }
  } finally {
    await admin.close();
    await edge.close();
  }
});
