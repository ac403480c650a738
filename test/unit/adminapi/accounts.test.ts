// IdentityAdmin on a real SQLite organization store (the single server's):
// accounts, passwords, tokens, the local administrator, the audit trail.
// The same store methods run on PostgreSQL in the contract suite
// (test/integration/org-store-contract.test.ts) and across two edges in
// test/integration/admin-identity-fleet.test.ts.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { ensureLocalAdminToken, IdentityAdmin, LOCAL_ADMIN_NAME, localAdminTokenFile, TOKEN_PREFIX } from "../../../src/adminapi/accounts.js";
import type { Caller, RoleGroup } from "../../../src/adminapi/identity.js";
import { isSealpostError, type ErrorCode } from "../../../src/errors/errors.js";
import { SqliteOrgStore } from "../../../src/org/sqlite/sqlite-org-store.js";
import { openDatabase, type Db } from "../../../src/store/sqlite.js";

const O: RoleGroup = "Organization Management";
const S: RoleGroup = "Server Management";
const V: RoleGroup = "View-Only Organization Management";
const PW = "correct horse battery";

const caller = (name: string, roles: RoleGroup[], authenticatedBy: Caller["authenticatedBy"] = "password"): Caller => ({ name, roles, via: "http", from: "127.0.0.1", authenticatedBy });
const admin = caller("root-admin", [O]);
const serverAdmin = caller("sam", [S]);

let dir: string;
let db: Db;
let store: SqliteOrgStore;
let clock: Date;
let ids: IdentityAdmin;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-ids-"));
  db = openDatabase(path.join(dir, "sealpost.db"));
  store = new SqliteOrgStore(db);
  clock = new Date("2026-12-04T03:00:00.000Z");
  ids = new IdentityAdmin(store, () => clock, { localAdminTokenFile: () => localAdminTokenFile(dir) });
});

after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSealpostError(e), `expected ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    assert.doesNotMatch(e.message, new RegExp(PW));
    return true;
  });
}

function dbBytes(): string {
  db.pragma("wal_checkpoint(TRUNCATE)");
  return readFileSync(path.join(dir, "sealpost.db")).toString("latin1");
}

test("an account: created by Organization Management, listed without its hash, stored as an scrypt hash only; the configuration is untouched", async () => {
  const v0 = await store.version();
  const view = await ids.createUser({ name: "alice", roleGroups: [O], password: PW }, admin);
  assert.deepEqual(view, { Name: "alice", RoleGroups: [O], Enabled: true, ClientCertificateThumbprint: null, WhenCreated: clock.toISOString(), WhenChanged: clock.toISOString() });
  assert.deepEqual(await ids.listUsers(), [view]);
  assert.deepEqual(await ids.listUsers("ALICE"), [view]);
  assert.doesNotMatch(JSON.stringify(await ids.listUsers()), /scrypt/);
  const stored = await store.getAdminUser("alice");
  assert.match(stored?.passwordHash ?? "", /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.ok(!dbBytes().includes(PW), "the password is not in the database file");
  assert.equal(await store.version(), v0, "accounts are not configuration");
  await rejectsWith(ids.listUsers("nobody"), "NOT_FOUND");
});

test("refusals change nothing: names, the built-in name, short passwords, unknown roles, duplicates, and callers without Organization Management", async () => {
  const before = await ids.listUsers();
  for (const name of ["", "a b", "x".repeat(65), "bob/evil", "bob\n", "Ünï"]) {
    await rejectsWith(ids.createUser({ name, roleGroups: [V], password: PW }, admin), "INVALID_ARGUMENT", /not a valid account name/);
  }
  await rejectsWith(ids.createUser({ name: "Local-Admin", roleGroups: [V], password: PW }, admin), "INVALID_ARGUMENT", /built-in/);
  await rejectsWith(ids.createUser({ name: "bob", roleGroups: [V], password: "short-11ch!" }, admin), "WEAK_PASSWORD", /at least 12/);
  await rejectsWith(ids.createUser({ name: "bob", roleGroups: [V], password: "x".repeat(1025) }, admin), "WEAK_PASSWORD");
  await rejectsWith(ids.createUser({ name: "bob", roleGroups: ["Domain Admins" as RoleGroup], password: PW }, admin), "INVALID_ARGUMENT", /not a role group/);
  await rejectsWith(ids.createUser({ name: "bob", roleGroups: [], password: PW }, admin), "INVALID_ARGUMENT");
  await rejectsWith(ids.createUser({ name: "ALICE", roleGroups: [V], password: PW }, admin), "ALREADY_EXISTS");
  await rejectsWith(ids.createUser({ name: "bob", roleGroups: [V], password: PW, clientCertificateThumbprint: "nothex" }, admin), "INVALID_ARGUMENT", /thumbprint/);
  // Server Management cannot create an account, not even a View-Only one; the refusal names the role that would allow it.
  await rejectsWith(ids.createUser({ name: "bob", roleGroups: [V], password: PW }, serverAdmin), "ROLE_REQUIRED", /"Organization Management"/);
  await rejectsWith(ids.createUser({ name: "bob", roleGroups: [V], password: PW }, caller("vera", [V])), "ROLE_REQUIRED", /"Organization Management"/);
  assert.deepEqual(await ids.listUsers(), before);
});

test("verifyPassword: the account and its roles, or nothing; an unknown or disabled account costs an scrypt too", async () => {
  assert.deepEqual(await ids.verifyPassword("alice", PW), { name: "alice", roles: [O], authenticatedBy: "password" });
  assert.deepEqual(await ids.verifyPassword("Alice", PW), { name: "alice", roles: [O], authenticatedBy: "password" });
  assert.equal(await ids.verifyPassword("alice", `${PW} `), undefined);
  assert.equal(await ids.verifyPassword("alice", ""), undefined);
  assert.equal(await ids.verifyPassword("mallory", PW), undefined);
  assert.equal(await ids.verifyPassword(LOCAL_ADMIN_NAME, PW), undefined);
  assert.equal(await ids.verifyPassword("../../etc", PW), undefined);

  const time = async (fn: () => Promise<unknown>) => {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await fn();
      runs.push(performance.now() - t0);
    }
    return runs.sort((a, b) => a - b)[1] as number;
  };
  const known = await time(() => ids.verifyPassword("alice", "wrong password!"));
  const unknown = await time(() => ids.verifyPassword("nobody-here", "wrong password!"));
  assert.ok(known > 5, `an scrypt hash takes time (${known.toFixed(1)} ms)`);
  assert.ok(unknown > known * 0.3, `an unknown account costs about as much as a known one (${unknown.toFixed(1)} vs ${known.toFixed(1)} ms)`);
});

test("Set-AdminUser: password, roles, certificate, disabling; only Organization Management, and never a no-op", async () => {
  await ids.createUser({ name: "bob", roleGroups: [V], password: PW }, admin);
  clock = new Date(clock.getTime() + 60_000);
  const next = await ids.setUser("BOB", { password: "a new passphrase", roleGroups: [S, V], clientCertificateThumbprint: `${"ab:cd:".repeat(9)}ab:cd` }, admin);
  assert.deepEqual(next.RoleGroups, [S, V]);
  assert.equal(next.ClientCertificateThumbprint, "ABCD".repeat(10));
  assert.equal(next.WhenChanged, clock.toISOString());
  assert.notEqual(next.WhenCreated, next.WhenChanged);
  assert.equal(await ids.verifyPassword("bob", PW), undefined, "the old password no longer works");
  assert.deepEqual(await ids.verifyPassword("bob", "a new passphrase"), { name: "bob", roles: [S, V], authenticatedBy: "password" });
  assert.deepEqual(await ids.userByClientCertificate("abcd".repeat(10)), { name: "bob", roles: [S, V], authenticatedBy: "client-certificate" });
  assert.equal(await ids.userByClientCertificate("not a thumbprint"), undefined);
  assert.equal(await ids.userByClientCertificate("EF".repeat(20)), undefined);

  await rejectsWith(ids.setUser("bob", {}, admin), "INVALID_ARGUMENT", /nothing to change/);
  await rejectsWith(ids.setUser("bob", { roleGroups: [O] }, serverAdmin), "ROLE_REQUIRED", /"Organization Management"/);
  await rejectsWith(ids.setUser("bob", { password: "x" }, admin), "WEAK_PASSWORD");
  await rejectsWith(ids.setUser("carol", { enabled: false }, admin), "NOT_FOUND");
  await rejectsWith(ids.setUser(LOCAL_ADMIN_NAME, { enabled: false }, admin), "INVALID_ARGUMENT", /built-in/);
  assert.deepEqual((await ids.listUsers("bob"))[0]?.RoleGroups, [S, V], "a refused change changed nothing");

  await ids.setUser("bob", { enabled: false }, admin);
  assert.equal(await ids.verifyPassword("bob", "a new passphrase"), undefined, "a disabled account cannot log in");
  assert.equal(await ids.userByClientCertificate("ABCD".repeat(10)), undefined);
  await ids.setUser("bob", { enabled: true, clientCertificateThumbprint: null }, admin);
  assert.equal((await ids.listUsers("bob"))[0]?.ClientCertificateThumbprint, null);
  assert.ok(await ids.verifyPassword("bob", "a new passphrase"));
});

test("tokens: shown once, stored as a digest, carry the owner's current roles, expire, die with a disabled or removed owner", async () => {
  const t = await ids.createToken("bob", { description: "nightly export" }, admin);
  assert.match(t.Token, new RegExp(`^${TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`));
  assert.match(t.Id, /^[0-9a-f]{16}$/);
  assert.equal(t.User, "bob");
  assert.equal(t.Expires, null);
  assert.ok(!dbBytes().includes(t.Token.slice(TOKEN_PREFIX.length)), "the token is not in the database");
  const listed = await ids.listTokens("bob");
  assert.deepEqual(listed.map((x) => x.Id), [t.Id]);
  assert.ok(!JSON.stringify(listed).includes(t.Token), "listing never shows the token");
  assert.equal(listed[0]?.LastUsed, null);

  assert.deepEqual(await ids.verifyToken(t.Token), { name: "bob", roles: [S, V], authenticatedBy: "token", tokenId: t.Id });
  assert.equal((await ids.listTokens("bob"))[0]?.LastUsed, clock.toISOString(), "its use is recorded");
  assert.equal(await ids.verifyToken(`${t.Token}x`), undefined);
  assert.equal(await ids.verifyToken(`${TOKEN_PREFIX}${"A".repeat(43)}`), undefined);
  assert.equal(await ids.verifyToken(""), undefined);
  // The owner's roles as they are now.
  await ids.setUser("bob", { roleGroups: [V] }, admin);
  assert.deepEqual((await ids.verifyToken(t.Token))?.roles, [V]);
  await ids.setUser("bob", { enabled: false }, admin);
  assert.equal(await ids.verifyToken(t.Token), undefined);
  await ids.setUser("bob", { enabled: true }, admin);

  // Expiry, by the clock.
  const short = await ids.createToken("bob", { expires: new Date(clock.getTime() + 3_600_000) }, admin);
  assert.ok(await ids.verifyToken(short.Token));
  clock = new Date(clock.getTime() + 3_600_000);
  assert.equal(await ids.verifyToken(short.Token), undefined, "an expired token proves nothing");
  assert.equal((await ids.listTokens()).find((x) => x.Id === short.Id)?.Expired, true);
  await rejectsWith(ids.createToken("bob", { expires: new Date(clock.getTime() - 1) }, admin), "INVALID_ARGUMENT", /future/);

  // Who may issue and revoke.
  await rejectsWith(ids.createToken("bob", {}, serverAdmin), "ROLE_REQUIRED", /"Organization Management"/);
  await rejectsWith(ids.createToken("nobody", {}, admin), "NOT_FOUND");
  await rejectsWith(ids.createToken(LOCAL_ADMIN_NAME, {}, admin), "INVALID_ARGUMENT", /built-in/);
  await rejectsWith(ids.createToken("bob", { description: "a\nb" }, admin), "INVALID_ARGUMENT");
  // An account logged in with its password may issue itself a token (a script's login), with its own roles; a token cannot mint tokens.
  const own = await ids.createToken("bob", { description: "login" }, caller("bob", [V], "password"));
  assert.deepEqual((await ids.verifyToken(own.Token))?.roles, [V]);
  await rejectsWith(ids.createToken("bob", {}, caller("bob", [V], "token")), "ROLE_REQUIRED");
  await rejectsWith(ids.removeToken(t.Id, caller("vera", [V])), "ROLE_REQUIRED");
  await ids.removeToken(own.Id, caller("bob", [V], "token"));
  assert.equal(await ids.verifyToken(own.Token), undefined, "an account may revoke its own token");
  await ids.removeToken(t.Id, admin);
  assert.equal(await ids.verifyToken(t.Token), undefined);
  await rejectsWith(ids.removeToken(t.Id, admin), "NOT_FOUND");
  await rejectsWith(ids.removeToken("../x", admin), "INVALID_ARGUMENT");

  // Removing the account removes its tokens.
  const last = await ids.createToken("bob", {}, admin);
  await rejectsWith(ids.removeUser("bob", serverAdmin), "ROLE_REQUIRED");
  await ids.removeUser("bob", admin);
  assert.equal(await ids.verifyToken(last.Token), undefined);
  assert.deepEqual(await store.listAdminTokens("bob"), []);
  await rejectsWith(ids.removeUser("bob", admin), "NOT_FOUND");
});

test("the local administrator: DIR/admin.token (0600) proves Organization Management as local-admin; nothing else does", async () => {
  assert.equal(await ids.verifyToken("anything"), undefined, "no file, no local administrator");
  const { token, created, file } = ensureLocalAdminToken(dir);
  assert.equal(created, true);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(ensureLocalAdminToken(dir), { token, created: false, file });
  assert.deepEqual(await ids.verifyToken(token), { name: LOCAL_ADMIN_NAME, roles: [O], authenticatedBy: "token" });
  assert.equal(await ids.verifyToken(token.slice(1)), undefined);
  assert.equal(await ids.verifyToken(`${token}\n`), undefined);
  // A replaced file takes effect at once.
  writeFileSync(file, "another-local-token-value\n", { mode: 0o600 });
  assert.equal(await ids.verifyToken(token), undefined);
  assert.equal((await ids.verifyToken("another-local-token-value"))?.name, LOCAL_ADMIN_NAME);
  // An org-only admin API (no data folder) has no local administrator.
  const orgOnly = new IdentityAdmin(store, () => clock, {
    localAdminTokenFile: () => {
      throw new Error("no data folder");
    },
  });
  assert.equal(await orgOnly.verifyToken("another-local-token-value"), undefined);
});

test("the audit trail: secrets redacted again on the way in, Exchange's property names on the way out", async () => {
  await ids.recordAudit({
    at: clock,
    user: "alice",
    from: "127.0.0.1",
    via: "http",
    cmdlet: "Import-ExchangeCertificate",
    parameters: { FileData: Buffer.alloc(100).toString("base64"), Password: PW, FriendlyName: "mail1" },
    result: "Succeeded",
  });
  await ids.recordAudit({ at: new Date(clock.getTime() + 1000), user: "bob", from: "::1", via: "shell", cmdlet: "New-AdminUser", parameters: { Name: "x" }, result: "RefusedByRole", error: `ROLE_REQUIRED: needs "Organization Management"` });
  const log = await ids.auditLog();
  assert.deepEqual(log[1], {
    RunDate: clock.toISOString(),
    Caller: "alice",
    CmdletName: "Import-ExchangeCertificate",
    CmdletParameters: { FileData: "<100 bytes>", Password: "****", FriendlyName: "mail1" },
    Succeeded: true,
    Result: "Succeeded",
    Error: null,
    ClientIP: "127.0.0.1",
    Via: "http",
  });
  assert.equal(log[0]?.Succeeded, false);
  assert.equal(log[0]?.Result, "RefusedByRole");
  assert.match(log[0]?.Error ?? "", /ROLE_REQUIRED/);
  assert.deepEqual((await ids.auditLog({ users: ["BOB"] })).map((r) => r.CmdletName), ["New-AdminUser"]);
  assert.ok(!dbBytes().includes(PW), "no password in the audit trail");
});
