// One account for every edge of a fleet, on a real PostgreSQL: an
// administrator creates it against the organization store; two edges (each
// with its own connection, as serve opens it) log it in by password and by
// token, and their audit records form one log that either edge reads. An
// edge that cannot reach the store logs nobody in through it, but its local
// administrator's token still works, and it recovers when the store returns.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureLocalAdminToken, IdentityAdmin, localAdminTokenFile } from "../../src/adminapi/accounts.js";
import { fleetIdentityStore, type FleetIdentityStore } from "../../src/adminapi/fleet-identity.js";
import type { Caller } from "../../src/adminapi/identity.js";
import { isSealpostError } from "../../src/errors/errors.js";
import { migratePg, PgOrgStore } from "../../src/org/pg/pg-org-store.js";
import { startTestPg, type TestPg } from "../helpers/pg.js";

let pgServer: TestPg;
let url: string;
let work: string;
const closers: Array<() => Promise<void>> = [];

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-idfleet-"));
  pgServer = await startTestPg();
  url = await pgServer.createDatabase();
  await migratePg(url);
});

after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await pgServer?.stop();
  rmSync(work, { recursive: true, force: true });
});

const operator: Caller = { name: "ops", roles: ["Organization Management"], via: "cli", from: "local", authenticatedBy: "local" };

function edge(name: string): { ids: IdentityAdmin; store: FleetIdentityStore; dir: string } {
  const dir = path.join(work, name);
  mkdirSync(dir, { mode: 0o700 });
  const store = fleetIdentityStore(url);
  closers.push(() => store.close());
  return { ids: new IdentityAdmin(store, () => new Date(), { localAdminTokenFile: () => localAdminTokenFile(dir) }), store, dir };
}

test("an account made at the organization store works on every edge; both edges' audit records are one log", async () => {
  const org = await PgOrgStore.open(url);
  closers.push(() => org.close());
  const admin = new IdentityAdmin(org);
  await admin.createUser({ name: "alice", roleGroups: ["Server Management"], password: "alice's long passphrase" }, operator);
  const token = await admin.createToken("alice", { description: "monitoring" }, operator);

  const mail1 = edge("mail1");
  const mail2 = edge("mail2");
  assert.deepEqual(await mail1.ids.verifyPassword("alice", "alice's long passphrase"), { name: "alice", roles: ["Server Management"], authenticatedBy: "password" });
  assert.deepEqual((await mail2.ids.verifyToken(token.Token))?.name, "alice");
  assert.equal(await mail2.ids.verifyPassword("alice", "wrong passphrase!"), undefined);
  // The use is recorded in the store, for every edge to see.
  assert.notEqual((await admin.listTokens("alice"))[0]?.LastUsed, null);

  // Disabled once, refused everywhere.
  await admin.setUser("alice", { enabled: false }, operator);
  assert.equal(await mail1.ids.verifyToken(token.Token), undefined);
  assert.equal(await mail2.ids.verifyPassword("alice", "alice's long passphrase"), undefined);
  await admin.setUser("alice", { enabled: true }, operator);

  const rec = (cmdlet: string, from: string) => ({ at: new Date(), user: "alice", from, via: "http" as const, cmdlet, parameters: { Identity: "contoso.com", Password: "leaked?" }, result: "Succeeded" as const });
  await mail1.ids.recordAudit(rec("Retry-Queue", "192.0.2.10"));
  await mail2.ids.recordAudit(rec("Suspend-Queue", "192.0.2.20"));
  for (const reader of [mail1.ids, mail2.ids, admin]) {
    const log = await reader.auditLog({ users: ["alice"] });
    assert.deepEqual(log.map((r) => `${r.CmdletName}@${r.ClientIP}`), ["Suspend-Queue@192.0.2.20", "Retry-Queue@192.0.2.10"]);
    assert.equal(log[0]?.CmdletParameters.Password, "****");
  }
});

test("the store down: no login through it (ORG_UNREACHABLE, never the password in the message), the local administrator's token still works; back up, logins work again", async () => {
  const mail3 = edge("mail3");
  const local = ensureLocalAdminToken(mail3.dir);
  await pgServer.pause();
  try {
    await assert.rejects(mail3.ids.verifyPassword("alice", "alice's long passphrase"), (e: unknown) => {
      assert.ok(isSealpostError(e, "ORG_UNREACHABLE"), String(e));
      assert.doesNotMatch(e.message, new RegExp(decodeURIComponent(new URL(url).password)));
      return true;
    });
    assert.deepEqual(await mail3.ids.verifyToken(local.token), { name: "local-admin", roles: ["Organization Management"], authenticatedBy: "token" });
  } finally {
    await pgServer.resume();
  }
  assert.equal((await mail3.ids.verifyPassword("alice", "alice's long passphrase"))?.name, "alice");
});

test("once closed (the server stopping), the edge's identity store opens no new connection", async () => {
  const mail4 = edge("mail4");
  assert.equal((await mail4.ids.listUsers()).length, 1);
  await mail4.store.close();
  await assert.rejects(mail4.ids.verifyPassword("alice", "alice's long passphrase"), (e: unknown) => isSealpostError(e, "ORG_UNREACHABLE") && /closed/.test(e.message));
  await mail4.store.close();
});
