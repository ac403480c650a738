// The admin door against a real `sealpost --data D serve`: what issue 14
// asks to show. A login as an Organization Management user, InvokeCommand of
// Set-TransportConfig -TLSReceiveDomainSecureList {"Add": [...]} changes the
// list (the shell and an SMTP session see it); the same call without the
// CSRF token, without a session, with a foreign Origin or as View-Only is
// refused and changes nothing; Get-AdminAuditLog shows who did what and the
// refusals; Server Management cannot create accounts, tokens or role
// assignments; Import-ExchangeCertificate -FileData imports a PFX; no file
// parameter reads a server path; CmdletInfo lists what Get-Command lists for
// each role; HTTPS on 127.0.0.2 with --admin-cert, and plain HTTP to it fails.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { shellC } from "../helpers/cli.js";
import { DoorClient, doorRequest } from "../helpers/door.js";
import { OpenSslCa } from "../helpers/openssl-ca.js";
import { randomLoopback, startServe, type RunningServer } from "../helpers/serve.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { AdminApi } from "../../src/admin/api.js";
import type { Caller, RoleGroup } from "../../src/adminapi/identity.js";
import { allCmdlets } from "../../src/shell/cmdlets/index.js";
import { Shell } from "../../src/shell/shell.js";
import { makeShellHost } from "../../src/cli/common.js";

let work: string;
let dir: string;
let server: RunningServer;
let smtpHost: string;
const SMTP_PORT = 2525;
const PASSWORDS = { alice: "alice-password-123", victor: "victor-password-123", sam: "sam-password-1234" };

async function sh(line: string): Promise<string> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}`);
  return r.stdout;
}

async function receiveList(): Promise<string[]> {
  const r = await shellC(dir, "Get-TransportConfig");
  assert.equal(r.code, 0, r.stderr);
  const m = /TLSReceiveDomainSecureList\s*:\s*(.*)/.exec(r.stdout);
  return (m?.[1] ?? "").split(/[,\s{}]+/).filter(Boolean);
}

async function mailFrom(domain: string): Promise<string> {
  const { client } = await TestSmtpClient.connect(smtpHost, SMTP_PORT);
  await client.cmd("EHLO client.example");
  const r = await client.cmd(`MAIL FROM:<someone@${domain}>`);
  await client.cmd("QUIT").catch(() => undefined);
  return r.text;
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-door-"));
  dir = path.join(work, "data");
  smtpHost = randomLoopback();
  await sh("Get-TransportConfig");
  await sh(`Set-ReceiveConnector Inet -Bindings ${smtpHost}:${SMTP_PORT} -DomainSecureEnabled $true`);
  for (const [name, role] of [["alice", "Organization Management"], ["victor", "View-Only Organization Management"], ["sam", "Server Management"]] as const) {
    const pw = path.join(work, `${name}.pw`);
    writeFileSync(pw, `${PASSWORDS[name]}\n`, { mode: 0o600 });
    await sh(`New-AdminUser ${name} -RoleGroup "${role}" -PasswordFile ${pw}`);
  }
  server = await startServe(dir);
});

after(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("the admin door on a running server", () => {
  let alice: DoorClient;

  test("login: an HttpOnly SameSite=Strict session cookie and a CSRF token; GET Session returns them again; the token file is named, not printed", async () => {
    const token = readFileSync(path.join(dir, "admin.token"), "utf8").trim();
    assert.ok(!server.output().includes(token), "the first-start token is not printed");
    assert.match(server.output(), new RegExp(`Admin API token created for local-admin: read it from ${path.join(dir, "admin.token").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    alice = new DoorClient(server.admin);
    const r = await alice.login("alice", PASSWORDS.alice);
    assert.equal(r.status, 200, r.text);
    const setCookie = String(r.headers["set-cookie"]?.[0]);
    assert.match(setCookie, /^sealpost_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\//);
    assert.doesNotMatch(setCookie, /Secure/, "plain HTTP on loopback: no Secure attribute");
    assert.deepEqual(r.json().RoleGroups, ["Organization Management"]);
    const again = await alice.get("/adminapi/v1/Session");
    assert.equal(again.status, 200);
    assert.equal(again.json().Name, "alice");
    assert.equal(again.json().CsrfToken, alice.csrf);
    // A second login is a new session id.
    const other = new DoorClient(server.admin);
    await other.login("alice", PASSWORDS.alice);
    assert.notEqual(other.cookie, alice.cookie);
  });

  test("InvokeCommand Set-TransportConfig {Add: [fabrikam.com]} changes the list: the shell and an SMTP session see it", async () => {
    assert.match(await mailFrom("fabrikam.com"), /^250 /, "before: fabrikam.com is not held to Domain Security");
    const r = await alice.invoke("Set-TransportConfig", { TLSReceiveDomainSecureList: { Add: ["fabrikam.com"] } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json(), { value: [] });
    assert.deepEqual(await receiveList(), ["fabrikam.com"]);
    const get = await alice.invoke("Get-TransportConfig");
    assert.deepEqual(get.json().value[0].TLSReceiveDomainSecureList, ["fabrikam.com"]);
    // The receive path decides each MAIL FROM on the configuration as committed.
    assert.equal(await mailFrom("fabrikam.com"), "451 4.7.3 Must issue a STARTTLS command first");
  });

  test("the same call without the CSRF token, without a session, with a foreign Origin, or as View-Only is refused and changes nothing", async () => {
    const edit = { TLSReceiveDomainSecureList: { Add: ["woodgrovebank.com"] } };
    const noCsrf = await alice.invoke("Set-TransportConfig", edit, { omit: ["csrf"] });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.json().error.code, "ADMIN_CSRF_REFUSED");
    const wrongCsrf = await alice.invoke("Set-TransportConfig", edit, { headers: { "x-csrf-token": "x".repeat(43) } });
    assert.equal(wrongCsrf.status, 403);
    const noSession = await alice.invoke("Set-TransportConfig", edit, { omit: ["cookie", "csrf"] });
    assert.equal(noSession.status, 401);
    assert.equal(noSession.json().error.code, "UNAUTHORIZED");
    const foreign = await alice.invoke("Set-TransportConfig", edit, { headers: { origin: "http://evil.example" } });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json().error.code, "ADMIN_ORIGIN_REFUSED");
    const noOrigin = await alice.invoke("Set-TransportConfig", edit, { omit: ["origin"] });
    assert.equal(noOrigin.status, 403);
    const form = await alice.invoke("Set-TransportConfig", edit, { headers: { "content-type": "application/x-www-form-urlencoded" } });
    assert.equal(form.status, 415);
    const victor = new DoorClient(server.admin);
    assert.equal((await victor.login("victor", PASSWORDS.victor)).status, 200);
    const viewOnly = await victor.invoke("Set-TransportConfig", edit);
    assert.equal(viewOnly.status, 403);
    assert.equal(viewOnly.json().error.code, "ROLE_REQUIRED");
    assert.match(viewOnly.json().error.message, /Organization Management/);
    assert.equal((await victor.invoke("Get-TransportConfig")).status, 200, "View-Only reads");
    assert.deepEqual(await receiveList(), ["fabrikam.com"]);
  });

  test("Get-AdminAuditLog shows the change with the user's name and the refused call as refused; failed logins are recorded, never the password", async () => {
    const bad = await new DoorClient(server.admin).login("alice", "not-the-password-at-all");
    assert.equal(bad.status, 401);
    const r = await shellC(dir, "Get-AdminAuditLog", {});
    assert.equal(r.code, 0, r.stderr);
    const json = await shellC(dir, "Get-AdminAuditLog -Cmdlets Set-TransportConfig,Session");
    assert.equal(json.code, 0, json.stderr);
    const api = await AdminApi.open(dir);
    try {
      const log = await api.identity.auditLog({});
      const change = log.find((a) => a.CmdletName === "Set-TransportConfig" && a.Caller === "alice" && a.Result === "Succeeded");
      assert.ok(change, JSON.stringify(log, null, 1));
      assert.deepEqual(change.CmdletParameters, { TLSReceiveDomainSecureList: { Add: ["fabrikam.com"] } });
      assert.equal(change.Via, "http");
      assert.match(change.ClientIP, /^(::ffff:)?127\./);
      const refused = log.find((a) => a.CmdletName === "Set-TransportConfig" && a.Caller === "victor");
      assert.equal(refused?.Result, "RefusedByRole");
      assert.equal(refused?.Succeeded, false);
      const forged = log.find((a) => a.CmdletName === "Set-TransportConfig" && a.Caller === "alice" && a.Result === "Invalid");
      assert.match(forged?.Error ?? "", /ADMIN_CSRF_REFUSED/, "the call without the CSRF token is recorded as refused");
      const failedLogin = log.find((a) => a.Result === "LoginFailed" && a.Caller === "alice");
      assert.ok(failedLogin, "the failed login is recorded");
      assert.doesNotMatch(JSON.stringify(log), /not-the-password-at-all|alice-password-123/);
    } finally {
      await api.close();
    }
    assert.match(r.stdout, /alice/);
    assert.match(r.stdout, /RefusedByRole/);
  });

  test("a Server Management user cannot create an account, a token or a role assignment", async () => {
    const sam = new DoorClient(server.admin);
    assert.equal((await sam.login("sam", PASSWORDS.sam)).status, 200);
    const tries: Array<[string, Record<string, unknown>]> = [
      ["New-AdminUser", { Name: "mallory", RoleGroup: ["Organization Management"], Password: "mallory-password-1" }],
      ["New-AdminToken", { User: "alice" }],
      ["New-AdminToken", { User: "sam" }],
      ["Set-AdminUser", { Identity: "sam", RoleGroup: ["Organization Management"] }],
    ];
    for (const [cmdlet, params] of tries) {
      const r = await sam.invoke(cmdlet, params);
      assert.equal(r.status, 403, `${cmdlet}: ${r.text}`);
      assert.match(r.json().error.message, /Organization Management/);
    }
    const users = (await alice.invoke("Get-AdminUser")).json().value as Array<{ Name: string; RoleGroups: RoleGroup[] }>;
    assert.deepEqual(users.map((u) => u.Name).sort(), ["alice", "sam", "victor"]);
    assert.deepEqual(users.find((u) => u.Name === "sam")?.RoleGroups, ["Server Management"]);
    // What Server Management may do, it does.
    assert.equal((await sam.invoke("Get-ExchangeCertificate")).status, 200);
  });

  test("Import-ExchangeCertificate -FileData over HTTP imports a PFX (the password only in the body)", async () => {
    const ca = await OpenSslCa.createRoot({ name: "O=Door Test,CN=Door Test Root", keyType: "ec-p256" });
    try {
      const leaf = ca.issueLeaf({ subject: "CN=door.example.net", dnsNames: ["door.example.net"], keyType: "ec-p256" });
      const pfx = ca.pfx(leaf, "pfx-password-42");
      const r = await alice.invoke("Import-ExchangeCertificate", { FileData: pfx.toString("base64"), Password: "pfx-password-42", FriendlyName: "door" });
      assert.equal(r.status, 200, r.text);
      const imported = r.json().value[0] as { Thumbprint: string; CertificateDomains: string[] };
      assert.deepEqual(imported.CertificateDomains, ["door.example.net"]);
      assert.match(await sh(`Get-ExchangeCertificate ${imported.Thumbprint} | Format-List`), /door\.example\.net/);
      const wrong = await alice.invoke("Import-ExchangeCertificate", { FileData: pfx.toString("base64"), Password: "wrong" });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.json().error.code, "PFX_BAD_PASSWORD");
      const api = await AdminApi.open(dir);
      try {
        assert.doesNotMatch(JSON.stringify(await api.identity.auditLog({})), /pfx-password-42/);
      } finally {
        await api.close();
      }
    } finally {
      ca.cleanup();
    }
  });

  test("no parameter of any cmdlet reads a server path over HTTP: every file parameter in CmdletInfo and the table is refused", async () => {
    const info = (await alice.get("/adminapi/v1/CmdletInfo")).json().value as Array<{ Name: string; ClientSide: boolean; Parameters: Array<{ Name: string; Type: string; ClientFile?: string }> }>;
    const fromInfo = info.flatMap((c) => c.Parameters.filter((p) => p.ClientFile).map((p) => `${c.Name} -${p.Name}`)).sort();
    const fromTable = allCmdlets().flatMap((c) => c.params.filter((p) => /^(Path|.+File)$/i.test(p.name) || p.clientFile).map((p) => `${c.name} -${p.name}`)).sort();
    assert.deepEqual(fromInfo, fromTable, "CmdletInfo marks every file parameter of the table");
    const secret = path.join(dir, "admin.token");
    const token = readFileSync(secret, "utf8").trim();
    let tried = 0;
    for (const c of info) {
      if (c.ClientSide) continue;
      for (const p of c.Parameters) {
        if (!p.ClientFile) continue;
        tried++;
        const value = p.Type === "listedit" || p.Type === "strings" ? [secret] : secret;
        const r = await alice.invoke(c.Name, { [p.Name]: value });
        assert.equal(r.status, 400, `${c.Name} -${p.Name}: ${r.text}`);
        assert.ok(!r.text.includes(token), `${c.Name} -${p.Name} leaked the file`);
        if (p.ClientFile !== "entries") assert.equal(r.json().error.code, "ADMIN_SERVER_PATH", `${c.Name} -${p.Name}`);
      }
    }
    assert.ok(tried >= 10, `${tried}`);
  });

  test("CmdletInfo lists the same cmdlets as Get-Command for each role", async () => {
    const clients: Record<string, DoorClient> = { alice, victor: new DoorClient(server.admin), sam: new DoorClient(server.admin) };
    await clients.victor?.login("victor", PASSWORDS.victor);
    await clients.sam?.login("sam", PASSWORDS.sam);
    const roleOf: Record<string, RoleGroup> = { alice: "Organization Management", victor: "View-Only Organization Management", sam: "Server Management" };
    const api = await AdminApi.open(dir);
    try {
      const counts: number[] = [];
      for (const [name, client] of Object.entries(clients)) {
        const info = (await client.get("/adminapi/v1/CmdletInfo")).json().value as Array<{ Name: string }>;
        const caller: Caller = { name, roles: [roleOf[name] as RoleGroup], via: "shell", from: "local", authenticatedBy: "local" };
        const shell = new Shell({ ...makeShellHost(api), caller }, allCmdlets());
        const listed = (await shell.runObjects("Get-Command")) as Array<{ Name: string }>;
        assert.deepEqual(info.map((c) => c.Name), listed.map((c) => c.Name), name);
        counts.push(info.length);
      }
      assert.ok((counts[0] as number) > (counts[2] as number) && (counts[2] as number) > (counts[1] as number), `OM > SM > View-Only: ${counts.join(", ")}`);
    } finally {
      await api.close();
    }
    const enums = (await alice.get("/adminapi/v1/CmdletInfo")).json().value.find((c: { Name: string }) => c.Name === "Set-DomainSecurePartner");
    assert.deepEqual(enums.Parameters.find((p: { Name: string }) => p.Name === "NameMatch").Values, ["Exact", "Subdomains"]);
  });

  test("bearer tokens: the first-start token is local-admin; an account's token carries its roles; logout ends the session", async () => {
    const token = readFileSync(path.join(dir, "admin.token"), "utf8").trim();
    const me = await doorRequest(server.admin, "/adminapi/v1/Session", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.json().Name, "local-admin");
    const issued = await doorRequest(server.admin, "/adminapi/v1/Token", { body: {}, headers: { origin: alice.origin, "content-type": "application/json", cookie: alice.cookie, "x-csrf-token": alice.csrf } });
    assert.equal(issued.status, 200, issued.text);
    const t = issued.json().Token as string;
    const viaToken = await doorRequest(server.admin, "/adminapi/v1/InvokeCommand", {
      body: { CmdletInput: { CmdletName: "Get-TransportConfig" } },
      headers: { authorization: `Bearer ${t}`, origin: alice.origin, "content-type": "application/json" },
    });
    assert.equal(viaToken.status, 200, viaToken.text);
    const out = await doorRequest(server.admin, "/adminapi/v1/Session", { method: "DELETE", body: {}, headers: { origin: alice.origin, "content-type": "application/json", cookie: alice.cookie, "x-csrf-token": alice.csrf } });
    assert.equal(out.status, 200);
    assert.equal((await alice.get("/adminapi/v1/Session")).status, 401);
  });
});

describe("HTTPS with --admin-cert on 127.0.0.2", () => {
  test("serves HTTPS only: plain HTTP to it fails; the cookie is Secure", async () => {
    await server.stop();
    const thumb = /Thumbprint\s*:\s*([0-9A-F]{40})/.exec(await sh("Get-ExchangeCertificate | Format-List Thumbprint,Subject"))?.[1];
    assert.ok(thumb);
    server = await startServe(dir, { args: ["--admin", "127.0.0.2:0", "--admin-cert", thumb] });
    assert.match(server.output(), /admin API https:\/\/127\.0\.0\.2:\d+/);
    const health = await doorRequest(server.admin, "/health", { scheme: "https" });
    assert.equal(health.status, 200);
    const plain = await new Promise<string>((resolve) => {
      const [h, p] = server.admin.split(":");
      const req = http.get({ host: h, port: Number(p), path: "/health" }, (res) => resolve(`answered ${res.statusCode ?? 0}`));
      req.on("error", (e) => resolve(`failed: ${e.message}`));
      req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    });
    assert.match(plain, /^failed/);
    const c = new DoorClient(server.admin, "https");
    const r = await c.login("alice", PASSWORDS.alice);
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers["set-cookie"]?.[0]), /; Secure/);
    assert.equal((await c.invoke("Get-TransportConfig")).status, 200);
    // Local tools find the HTTPS endpoint and pin its certificate.
    assert.match(await sh('Get-Counter "\\MSExchange Secure Mail Transport\\*"'), /Domain-Secured/i);
  });

  test("--admin-cert smtp serves the SMTP certificate; an unknown thumbprint stops serve with a clear error", async () => {
    await server.stop();
    server = await startServe(dir, { args: ["--admin", "127.0.0.2:0", "--admin-cert", "smtp"] });
    assert.equal((await doorRequest(server.admin, "/health", { scheme: "https" })).status, 200);
    await server.stop();
    await assert.rejects(startServe(dir, { args: ["--admin", "127.0.0.2:0", "--admin-cert", "0000000000000000000000000000000000000000"] }), /No certificate|not found|0000000000000000000000000000000000000000/i);
  });
});
