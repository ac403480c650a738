// The remote command line against a real `sealpost serve`: login stores an
// API token (logins.json, mode 0600, keyed by the server's origin), the
// shell runs here with every table cmdlet sent over HTTP — pipelines and
// formatting stay local, a local -Path file travels as FileData, a file
// result is written here — the audit log names the user and the door, and
// logout removes the login (and the token on the server when it may).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runSealpost, shellC } from "../helpers/cli.js";
import { OpenSslCa } from "../helpers/openssl-ca.js";
import { randomLoopback, startServe, type RunningServer } from "../helpers/serve.js";
import { AdminApi } from "../../src/admin/api.js";

let work: string;
let dir: string;
let config: string;
let server: RunningServer;
let url: string;

const remote = (args: string[], cwd?: string) => runSealpost(["--server", url, ...args], { env: { XDG_CONFIG_HOME: config }, ...(cwd ? { cwd } : {}) });

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-remote-"));
  dir = path.join(work, "data");
  config = path.join(work, "config");
  writeFileSync(path.join(work, "alice.pw"), "alice-password-123\n", { mode: 0o600 });
  writeFileSync(path.join(work, "victor.pw"), "victor-password-123\n", { mode: 0o600 });
  for (const line of [
    // SMTP on an address of its own: the default 127.0.0.1:2525 may be another test's.
    `Set-ReceiveConnector Inet -Bindings ${randomLoopback()}:2525`,
    `New-AdminUser alice -RoleGroup "Organization Management" -PasswordFile ${path.join(work, "alice.pw")}`,
    `New-AdminUser victor -RoleGroup "View-Only Organization Management" -PasswordFile ${path.join(work, "victor.pw")}`,
  ]) {
    const r = await shellC(dir, line);
    assert.equal(r.code, 0, r.stderr);
  }
  server = await startServe(dir);
  url = `http://${server.admin}`;
});

after(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("before login: a clear error naming the login command", async () => {
  const r = await remote(["shell", "-c", "Get-TransportConfig"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /No login for http:\/\/127\.0\.0\.1:\d+: run sealpost --server .* login --user NAME/);
  const local = await remote(["trust", "list"]);
  assert.notEqual(local.code, 0, "--server with a local command is refused, not run on a local folder");
  assert.match(local.stderr, /--server works with shell, login and logout/);
});

test("login stores a token in logins.json (mode 0600), keyed by the server's origin; a wrong password stores nothing", async () => {
  const bad = await remote(["login", "--user", "alice", "--password-file", path.join(work, "victor.pw")]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /user name or password is wrong/);
  assert.ok(!existsSync(path.join(config, "sealpost", "logins.json")));
  const r = await remote(["login", "--user", "alice", "--password-file", path.join(work, "alice.pw")]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Logged in to http:\/\/127\.0\.0\.1:\d+ as alice \(Organization Management\)/);
  const file = path.join(config, "sealpost", "logins.json");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(config, "sealpost")).mode & 0o777, 0o700);
  const logins = JSON.parse(readFileSync(file, "utf8")) as Record<string, { user: string; token: string }>;
  assert.equal(logins[url]?.user, "alice");
  assert.match(logins[url]?.token ?? "", /^spt_/);
  assert.ok(!r.stdout.includes(logins[url]?.token as string), "the token is not printed");
});

test("the remote shell: a table cmdlet over HTTP, the pipeline and formatting here; the shell on the server sees the change", async () => {
  const set = await remote(["shell", "-c", "Set-TransportConfig -TLSReceiveDomainSecureList @{Add='fabrikam.com'}"]);
  assert.equal(set.code, 0, set.stderr);
  const get = await remote(["shell", "-c", "Get-TransportConfig | Format-List TLSReceiveDomainSecureList"]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /TLSReceiveDomainSecureList\s*:\s*\{?fabrikam\.com\}?/);
  const local = await shellC(dir, "Get-TransportConfig");
  assert.match(local.stdout, /fabrikam\.com/);
  const cmds = await remote(["shell", "-c", "Get-Command *-AdminUser"]);
  assert.match(cmds.stdout, /New-AdminUser/);
  const api = await AdminApi.open(dir);
  try {
    const rec = (await api.identity.auditLog({})).find((a) => a.CmdletName === "Set-TransportConfig");
    assert.equal(rec?.Caller, "alice");
    assert.equal(rec?.Via, "http");
    assert.equal(rec?.Result, "Succeeded");
  } finally {
    await api.close();
  }
});

test("a local file travels as FileData; a file result is written here; a server path is never read", async () => {
  const ca = await OpenSslCa.createRoot({ name: "O=Remote Test,CN=Remote Test Root", keyType: "ec-p256" });
  try {
    const leaf = ca.issueLeaf({ subject: "CN=remote.example.net", dnsNames: ["remote.example.net"], keyType: "ec-p256" });
    const here = path.join(work, "client");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(here);
    writeFileSync(path.join(here, "remote.pfx"), ca.pfx(leaf, "pfx-pass-1"));
    writeFileSync(path.join(here, "pfx.pw"), "pfx-pass-1\n");
    const imp = await remote(["shell", "-c", "Import-ExchangeCertificate -Path remote.pfx -PasswordFile pfx.pw -PrivateKeyExportable $true"], here);
    assert.equal(imp.code, 0, imp.stderr);
    const thumb = /[0-9A-F]{40}/.exec(imp.stdout)?.[0];
    assert.ok(thumb, imp.stdout);
    const exp = await remote(["shell", "-c", `Export-ExchangeCertificate ${thumb} -Path out.pfx -PasswordFile pfx.pw`], here);
    assert.equal(exp.code, 0, exp.stderr);
    assert.equal(statSync(path.join(here, "out.pfx")).mode & 0o777, 0o600);
    assert.ok(statSync(path.join(here, "out.pfx")).size > 100);
    assert.ok(!existsSync(path.join(dir, "out.pfx")), "nothing written on the server's side");
  } finally {
    ca.cleanup();
  }
});

test("a View-Only login is refused a change with the role that would allow it; logout removes the login", async () => {
  const v = await runSealpost(["--server", url, "login", "--user", "victor", "--password-file", path.join(work, "victor.pw")], { env: { XDG_CONFIG_HOME: path.join(work, "config2") } });
  assert.equal(v.code, 0, v.stderr);
  const refused = await runSealpost(["--server", url, "shell", "-c", "Set-TransportConfig -TLSReceiveDomainSecureList @{Add='woodgrovebank.com'}"], { env: { XDG_CONFIG_HOME: path.join(work, "config2") } });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /needs the role group "Organization Management"/);
  const out = await remote(["logout"]);
  assert.equal(out.code, 0, out.stderr);
  const logins = JSON.parse(readFileSync(path.join(config, "sealpost", "logins.json"), "utf8")) as Record<string, unknown>;
  assert.equal(logins[url], undefined);
  const after = await remote(["shell", "-c", "Get-TransportConfig"]);
  assert.notEqual(after.code, 0);
  assert.match(after.stderr, /No login/);
});
