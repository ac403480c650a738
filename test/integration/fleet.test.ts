// The seed's two-edge layout against one PostgreSQL organization store:
// mail1.contoso.com on 127.0.1.1 and mail2.mail.contoso.com on 127.0.1.2,
// each a real `sealpost serve --org URL` process with its own data folder
// (certificates, queues, logs); organization-wide settings made once with
// `sealpost --org URL shell -c`, and replicated to both within 5 seconds; the
// store stopped and started again under them.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { parseFormatList, runSealpost, shellC } from "../helpers/cli.js";
import { startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { DoorClient } from "../helpers/door.js";
import { startTestPg, type TestPg } from "../helpers/pg.js";

const EDGES = [
  { name: "mail1.contoso.com", ip: "127.0.1.1" },
  { name: "mail2.mail.contoso.com", ip: "127.0.1.2" },
] as const;
const PORT = 2525;

let work: string;
let pgServer: TestPg;
let url: string;
let root: OpenSslCa;
let wgCa: OpenSslCa;
let wg: IssuedCert;
const dirs: string[] = [];
const edges: RunningServer[] = [];

async function org(line: string): Promise<string> {
  const r = await runSealpost(["--org", url, "shell", "-c", line]);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The reply to MAIL FROM from a woodgrovebank.com sender, in clear or with Woodgrove's certificate. */
async function mailFrom(ip: string, sender: string, withCert: boolean): Promise<string> {
  const { client } = await TestSmtpClient.connect(ip, PORT);
  try {
    await client.cmd("EHLO mail.woodgrovebank.com");
    if (withCert) {
      await client.startTls({ key: wg.keyPem as string, cert: wg.certPem + wgCa.certPem });
      await client.cmd("EHLO mail.woodgrovebank.com");
    }
    return (await client.cmd(`MAIL FROM:<${sender}>`)).text;
  } finally {
    await client.quit().catch(() => undefined);
  }
}

async function startEdge(i: number): Promise<RunningServer> {
  return startServe(dirs[i] as string, { args: ["--org", url] });
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-fleet-"));
  pgServer = await startTestPg();
  url = await pgServer.createDatabase("contoso_org");
  const m = await runSealpost(["--org", url, "org", "migrate"]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /Migrated .*postgres:\*\*\*\*@/);
  assert.doesNotMatch(m.stdout + m.stderr, /sealpost-test/, "the password is never printed");

  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
  const contosoCa = await root.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256" });
  wgCa = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  wg = wgCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com", "mail.woodgrovebank.com"], keyType: "ec-p256" });
  const rootFile = path.join(work, "root.cer");
  writeFileSync(rootFile, root.certPem);

  // Organization-wide, once: trust, domains, each edge's receive connector.
  await org(`Add-TrustedRootCertificate -Path ${rootFile}`);
  await org("Set-TransportConfig -UseSystemTrustStore $false");
  await org("Set-DomainSecurePartner woodgrovebank.com -RevocationMode Soft");
  await org("New-AcceptedDomain -DomainName contoso.com");
  await org("New-Mailbox -PrimarySmtpAddress alice@contoso.com");
  for (const e of EDGES) {
    await org(`New-ReceiveConnector "${e.name}\\Inet" -Bindings ${e.ip}:${PORT} -DomainSecureEnabled:$true -AuthMechanism TLS`);
  }

  // Per server: its data folder and its certificate.
  for (const [i, e] of EDGES.entries()) {
    const dir = path.join(work, e.name);
    dirs.push(dir);
    assert.equal((await runSealpost(["--data", dir, "init", "--name", e.name])).code, 0);
    const leaf = contosoCa.issueLeaf({ subject: `CN=${e.name}`, dnsNames: [e.name, "mail.contoso.com"], keyType: "ec-p256" });
    const pfx = path.join(work, `${i}.pfx`);
    writeFileSync(pfx, contosoCa.pfx(leaf, "pw", { withChain: true }));
    const r = await shellC(dir, `Import-ExchangeCertificate -Path ${pfx} -Password pw | Enable-ExchangeCertificate -Services SMTP`);
    assert.equal(r.code, 0, r.stderr);
  }
  edges.push(...(await Promise.all(EDGES.map((_, i) => startEdge(i)))));
});

after(async () => {
  await Promise.all(edges.map((e) => e.stop()));
  await pgServer?.stop();
  root?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("the fleet: one organization store, two edges", () => {
  test("1. one Set-TransportConfig reaches both edges within 5 s: plaintext from the partner refused, mutual TLS accepted", async () => {
    for (const e of EDGES) assert.match(await mailFrom(e.ip, "a@woodgrovebank.com", false), /^250 /, "not a partner yet");
    const t0 = Date.now();
    await org("Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com");
    for (const e of EDGES) {
      await waitUntil(`${e.name} enforcing`, async () => /^451 4\.7\.3 /.test(await mailFrom(e.ip, "a@woodgrovebank.com", false)) || undefined, 5000);
    }
    assert.ok(Date.now() - t0 < 5000, `applied on both edges within 5 s (${Date.now() - t0} ms)`);
    for (const e of EDGES) assert.match(await mailFrom(e.ip, "a@woodgrovebank.com", true), /^250 /, `${e.name} accepts the partner over mutual TLS`);

    // Local edits of organization settings are refused on an edge, saying where to make them.
    const local = await shellC(dirs[0] as string, "Set-TransportConfig -TLSSendDomainSecureList fabrikam.com");
    assert.notEqual(local.code, 0);
    assert.match(local.stderr, /synchronizes its organization settings from postgres:\/\/postgres:\*\*\*\*@.*make the change there \(sealpost --org/);

    const status = parseFormatList(await org("Test-EdgeSynchronization | Format-List"));
    assert.deepEqual(status.map((s) => s.Name).sort(), EDGES.map((e) => e.name).sort());
    for (const s of status) {
      assert.equal(s.AppliedVersion, s.CurrentVersion);
      assert.equal(s.Status, "InSync");
    }
    // The admin audit log lives in the organization store: the change, by whom, from where.
    const audit = parseFormatList(await org("Get-AdminAuditLog -Cmdlets Set-TransportConfig -ResultSize 3 | Format-List"));
    assert.equal(audit[0]?.CmdletName, "Set-TransportConfig");
    assert.equal(audit[0]?.CmdletParameters, "{TLSReceiveDomainSecureList=woodgrovebank.com}");
    assert.equal(audit[0]?.Succeeded, "True");
    assert.equal(audit[0]?.Via, "shell");
    assert.ok((edges[0] as RunningServer).metric("sealpost_org_store_reachable").then((v) => assert.equal(v, 1)));
  });

  test("2. the store stopped: both edges go on enforcing, a restarted edge serves its last copy; changes after it returns reach both", async () => {
    await pgServer.pause();
    try {
      for (const e of EDGES) {
        assert.match(await mailFrom(e.ip, "a@woodgrovebank.com", false), /^451 4\.7\.3 /);
        assert.match(await mailFrom(e.ip, "a@woodgrovebank.com", true), /^250 /);
      }
      await waitUntil("the store seen as unreachable", async () => ((await (edges[0] as RunningServer).metric("sealpost_org_store_reachable")) === 0 ? true : undefined), 10_000);
      // An edge started while the store is down serves its last replica.
      await (edges[0] as RunningServer).stop();
      edges[0] = await startEdge(0);
      assert.match((edges[0] as RunningServer).output(), /store unreachable: serving the last copy/);
      assert.match(await mailFrom(EDGES[0].ip, "a@woodgrovebank.com", false), /^451 4\.7\.3 /);
    } finally {
      await pgServer.resume();
    }
    await org("Set-TransportConfig -TLSReceiveDomainSecureList @{Add='fabrikam.com'}");
    for (const e of EDGES) {
      await waitUntil(`${e.name} has the change made after the store returned`, async () => /^451 4\.7\.3 /.test(await mailFrom(e.ip, "b@fabrikam.com", false)) || undefined, 15_000);
    }
    const settings = await org("Get-TransportConfig | Format-List TLSReceiveDomainSecureList");
    assert.match(settings, /fabrikam\.com/);
    assert.match(settings, /woodgrovebank\.com/);
  });

  test("3. one account for both edges: made at the organization store, it logs in at each edge's admin door (the first one restarted while the store was down); refusals and a failed login are in the one audit log", async () => {
    const pw = path.join(work, "carol.pw");
    writeFileSync(pw, "carol's long passphrase\n", { mode: 0o600 });
    const made = await runSealpost(["--org", url, "admin-user", "new", "carol", "--role", "Server Management", "--password-file", pw]);
    assert.equal(made.code, 0, made.stderr);
    for (const e of edges) {
      const door = new DoorClient(e.admin);
      const login = await door.login("carol", "carol's long passphrase");
      assert.equal(login.status, 200, login.text);
      // Server Management may not change the organization's configuration, on any edge.
      const refused = await door.invoke("Set-TransportConfig", { TLSSendDomainSecureList: { Add: ["fabrikam.com"] } });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.json().error.code, "ROLE_REQUIRED");
    }
    assert.equal((await new DoorClient((edges[1] as RunningServer).admin).login("carol", "not carol's passphrase")).status, 401);
    assert.doesNotMatch(await org("Get-TransportConfig | Format-List TLSSendDomainSecureList"), /fabrikam/);
    const log = parseFormatList(await org("Get-AdminAuditLog -UserIds carol | Format-List"));
    assert.deepEqual(log.map((r) => `${r.CmdletName} ${r.Result} ${r.Via}`), [
      "Session LoginFailed http",
      "Set-TransportConfig RefusedByRole http",
      "Session Succeeded http",
      "Set-TransportConfig RefusedByRole http",
      "Session Succeeded http",
    ]);
    assert.ok(log.every((r) => r.ClientIP === "127.0.0.1" && r.Caller === "carol"), JSON.stringify(log));
  });
});
