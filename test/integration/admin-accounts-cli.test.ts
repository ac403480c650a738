// Accounts and tokens from the command line and the shell on a single
// server's data folder: created, listed, changed and removed through the
// admin door (checked and audited), passwords from files, never echoed or
// stored in clear, tokens shown once and then working as logins.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../../src/admin/api.js";
import { isSealpostError } from "../../src/errors/errors.js";
import { SqliteOrgStore } from "../../src/org/sqlite/sqlite-org-store.js";
import { allCmdlets } from "../../src/shell/cmdlets/index.js";
import { Shell } from "../../src/shell/shell.js";
import { parseFormatList, runSealpost, shellC } from "../helpers/cli.js";

let work: string;
let dir: string;
const PW1 = "alice-passphrase-1234";
const PW2 = "bob's passphrase, long enough";

before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-accounts-"));
  dir = path.join(work, "data");
  writeFileSync(path.join(work, "pw1"), `${PW1}\n`, { mode: 0o600 });
  writeFileSync(path.join(work, "pw2"), `${PW2}\n`, { mode: 0o600 });
  writeFileSync(path.join(work, "short"), "too-short\n", { mode: 0o600 });
});

after(() => rmSync(work, { recursive: true, force: true }));

const cli = (...args: string[]) => runSealpost(["--data", dir, ...args]);
const json = async (...args: string[]) => {
  const r = await cli("--json", ...args);
  assert.equal(r.code, 0, r.stderr || r.stdout);
  return JSON.parse(r.stdout) as unknown;
};
const errorCode = async (...args: string[]) => {
  const r = await cli("--json", ...args);
  assert.notEqual(r.code, 0);
  return (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
};

/** The database and its journal files, as bytes. */
function dbText(): string {
  return readdirSync(dir)
    .filter((f) => f.startsWith("sealpost.db"))
    .map((f) => readFileSync(path.join(dir, f)).toString("latin1"))
    .join("");
}

function withApi<T>(fn: (api: AdminApi) => Promise<T>): Promise<T> {
  const api = AdminApi.open(dir);
  return fn(api).finally(() => api.close());
}

test("admin-user new / the shell's New-AdminUser: passwords from files, listed without a hash, stored only as scrypt", async () => {
  const r = await cli("admin-user", "new", "alice", "--role", "Organization Management", "--password-file", path.join(work, "pw1"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Name\s+: alice/);
  const s = await shellC(dir, `New-AdminUser bob -RoleGroup "View-Only Organization Management","Server Management" -PasswordFile ${path.join(work, "pw2")}`);
  assert.equal(s.code, 0, s.stderr);
  const users = parseFormatList((await shellC(dir, "Get-AdminUser | Format-List")).stdout);
  assert.deepEqual(users.map((u) => [u.Name, u.RoleGroups, u.Enabled]), [
    ["alice", "{Organization Management}", "True"],
    ["bob", "{Server Management, View-Only Organization Management}", "True"],
  ]);
  const listed = (await json("admin-user", "list")) as Array<Record<string, unknown>>;
  assert.deepEqual(listed.map((u) => u.Name), ["alice", "bob"]);
  for (const out of [r.stdout, r.stderr, s.stdout, s.stderr, JSON.stringify(listed)]) {
    assert.ok(!out.includes(PW1) && !out.includes(PW2), "no password is printed");
    assert.doesNotMatch(out, /scrypt/);
  }
  const db = dbText();
  assert.ok(!db.includes(PW1) && !db.includes(PW2), "no password in the data folder's database");
  assert.equal(await withApi(async (api) => (await api.identity.verifyPassword("bob", PW2))?.name), "bob");
});

test("refusals: a short password, a bad name, an unknown role group, a duplicate; nothing is created", async () => {
  assert.equal((await errorCode("admin-user", "new", "carol", "--role", "Server Management", "--password-file", path.join(work, "short"))).code, "WEAK_PASSWORD");
  assert.equal((await errorCode("admin-user", "new", "carol/x", "--role", "Server Management", "--password-file", path.join(work, "pw1"))).code, "INVALID_ARGUMENT");
  const role = await errorCode("admin-user", "new", "carol", "--role", "Domain Admins", "--password-file", path.join(work, "pw1"));
  assert.equal(role.code, "INVALID_ARGUMENT");
  assert.match(role.message, /not a role group/);
  assert.equal((await errorCode("admin-user", "new", "ALICE", "--role", "Server Management", "--password-file", path.join(work, "pw1"))).code, "ALREADY_EXISTS");
  assert.equal((await errorCode("admin-user", "list", "carol")).code, "NOT_FOUND");
  assert.deepEqual(((await json("admin-user", "list")) as Array<{ Name: string }>).map((u) => u.Name), ["alice", "bob"]);
});

test("admin-token new shows the token once; it logs in with the owner's roles; list never shows it; remove revokes it", async () => {
  const t = (await json("admin-token", "new", "bob", "--description", "monitoring", "--expires-in", "1.00:00:00")) as { Token: string; Id: string; Expires: string };
  assert.match(t.Token, /^spt_[A-Za-z0-9_-]{43}$/);
  assert.ok(Math.abs(new Date(t.Expires).getTime() - Date.now() - 86_400_000) < 120_000, t.Expires);
  const listed = (await json("admin-token", "list", "--user", "bob")) as Array<Record<string, unknown>>;
  assert.deepEqual(listed.map((x) => x.Id), [t.Id]);
  assert.equal(listed[0]?.Token, undefined);
  assert.ok(!JSON.stringify(listed).includes(t.Token));
  assert.deepEqual(await withApi((api) => api.identity.verifyToken(t.Token)), { name: "bob", roles: ["Server Management", "View-Only Organization Management"], authenticatedBy: "token", tokenId: t.Id });
  assert.equal((await errorCode("admin-token", "new", "bob", "--expires-in", "forever")).code, "INVALID_ARGUMENT");
  assert.equal((await errorCode("admin-token", "new", "nobody")).code, "NOT_FOUND");

  // Disabled, the account's token stops working; enabled again, it works.
  const off = (await json("admin-user", "set", "bob", "--disable")) as { Enabled: boolean };
  assert.equal(off.Enabled, false);
  assert.equal(await withApi((api) => api.identity.verifyToken(t.Token)), undefined);
  await json("admin-user", "set", "bob", "--enable", "--role", "Server Management");
  assert.deepEqual((await withApi((api) => api.identity.verifyToken(t.Token)))?.roles, ["Server Management"]);

  const shellToken = parseFormatList((await shellC(dir, "New-AdminToken alice -Description 'from the shell' | Format-List")).stdout)[0];
  assert.match(shellToken?.Token ?? "", /^spt_/);
  const gone = await cli("admin-token", "remove", t.Id);
  assert.equal(gone.code, 0, gone.stderr);
  assert.equal(await withApi((api) => api.identity.verifyToken(t.Token)), undefined);
  assert.equal((await errorCode("admin-token", "remove", t.Id)).code, "NOT_FOUND");
  // Removing an account removes its tokens.
  const r = await shellC(dir, "Remove-AdminUser alice -Confirm:$false");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await withApi((api) => api.identity.verifyToken(shellToken?.Token ?? "")), undefined);
  assert.deepEqual(await json("admin-token", "list"), []);
});

test("every change is in the admin audit log (cli and shell), with the password as ****; a caller without Organization Management is refused and recorded", async () => {
  // A shell whose caller is a Server Management account (as the door makes one).
  await withApi(async (api) => {
    const shell = new Shell({ api, cwd: work, env: {}, readSecret: async () => "", readLine: async () => "", caller: { name: "sam", roles: ["Server Management"], via: "http", from: "192.0.2.7", authenticatedBy: "password" } }, allCmdlets());
    await assert.rejects(shell.runLine(`New-AdminUser mallory -RoleGroup "Organization Management" -Password ${JSON.stringify(PW1)}`), (e: unknown) => isSealpostError(e, "ROLE_REQUIRED") && /Organization Management/.test(e.message));
    await assert.rejects(shell.runLine("New-AdminToken bob"), (e: unknown) => isSealpostError(e, "ROLE_REQUIRED"));
  });
  assert.equal((await errorCode("admin-user", "list", "mallory")).code, "NOT_FOUND");

  const log = (await json("org", "audit", "--cmdlet", "New-AdminUser,New-AdminToken,Remove-AdminToken,Set-AdminUser,Remove-AdminUser", "--limit", "100")) as Array<{
    Caller: string;
    CmdletName: string;
    CmdletParameters: Record<string, unknown>;
    Succeeded: boolean;
    Result: string;
    ClientIP: string;
    Via: string;
  }>;
  const line = (r: (typeof log)[number]) => `${r.Via} ${r.CmdletName} ${r.Result}`;
  assert.deepEqual(log.map(line).reverse(), [
    "cli New-AdminUser Succeeded",
    "shell New-AdminUser Succeeded",
    "cli New-AdminUser Invalid",
    "cli New-AdminUser Invalid",
    "cli New-AdminUser Invalid",
    "cli New-AdminUser Invalid",
    "cli New-AdminToken Succeeded",
    "cli New-AdminToken Invalid",
    "cli New-AdminToken Invalid",
    "cli Set-AdminUser Succeeded",
    "cli Set-AdminUser Succeeded",
    "shell New-AdminToken Succeeded",
    "cli Remove-AdminToken Succeeded",
    "cli Remove-AdminToken Invalid",
    "shell Remove-AdminUser Succeeded",
    "http New-AdminUser RefusedByRole",
    "http New-AdminToken RefusedByRole",
  ]);
  const refused = log[1];
  assert.equal(refused?.Caller, "sam");
  assert.equal(refused?.ClientIP, "192.0.2.7");
  assert.equal(refused?.Succeeded, false);
  for (const r of log.filter((x) => x.CmdletName === "New-AdminUser" && x.Result !== "RefusedByRole")) assert.equal(r.CmdletParameters.Password, "****", JSON.stringify(r));
  const text = JSON.stringify(log) + dbText();
  assert.ok(!text.includes(PW1) && !text.includes(PW2), "no password in the audit trail");
  assert.doesNotMatch(text, /spt_[A-Za-z0-9_-]{43}/, "no token in the audit trail or the database");

  // Get-AdminAuditLog's filters.
  const mine = parseFormatList((await shellC(dir, "Get-AdminAuditLog -UserIds sam -Cmdlets New-AdminToken | Format-List")).stdout);
  assert.deepEqual(mine.map((r) => [r.Caller, r.CmdletName, r.Result]), [["sam", "New-AdminToken", "RefusedByRole"]]);
  assert.equal(parseFormatList((await shellC(dir, "Get-AdminAuditLog -EndDate 2000-01-01 | Format-List")).stdout).length, 0);
  assert.equal(parseFormatList((await shellC(dir, "Get-AdminAuditLog -StartDate 2000-01-01 -ResultSize 2 | Format-List")).stdout).length, 2);
  const bad = await shellC(dir, "Get-AdminAuditLog -StartDate yesterday-ish");
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /-StartDate 'yesterday-ish' is not a date/);
});

test("an edge synchronized from an organization store keeps no accounts of its own: it refuses and says where they are", async () => {
  const edgeDir = path.join(work, "edge");
  const api = await AdminApi.openWithDefaults(edgeDir);
  try {
    (api.ctx.org as SqliteOrgStore).importSnapshot(await api.ctx.org.exportSnapshot(), "postgres://sealpost@org.contoso.com/sealpost");
  } finally {
    await api.close();
  }
  const r = await runSealpost(["--data", edgeDir, "--json", "admin-user", "new", "carol", "--role", "Server Management", "--password-file", path.join(work, "pw1")]);
  assert.notEqual(r.code, 0);
  const e = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(e.code, "ORG_READ_ONLY");
  assert.match(e.message, /organization store postgres:\/\/sealpost@org\.contoso\.com\/sealpost.*--org/);
});
