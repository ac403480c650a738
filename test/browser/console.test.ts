// The console in a real browser (Debian's chromium) against a real
// `sealpost --data D serve --admin 127.0.0.1:0`: the seed's procedures by
// clicking only (the two Domain Secure lists, Domain Security on the
// Internet send connector and the Inet receive connector, verbose logging,
// the certificate request signed by an OpenSSL CA, completed and enabled
// for SMTP, the CA's root trusted), each change checked with `sealpost
// shell -c Get-...` and in Get-AdminAuditLog under the console user's name;
// then mail from a Woodgrove edge over mutual TLS shows as Domain Secured in
// Message tracking and the Counters page's counter moves; the shown shell commands (no secret in
// them); confirmation; roles; CSRF refusal; logout; the page's headers;
// axe-core (WCAG 2.1 A and AA) on every page and with dialogs open; a
// screenshot of every page in the folder printed at the start.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { parseFormatList, shellC } from "../helpers/cli.js";
import { OpenSslCa } from "../helpers/openssl-ca.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { artifactsDir, assertAccessible, launch, screenshot } from "./browser.js";

const PASSWORDS = { alice: "alice-password-123", victor: "victor-password-123", sam: "sam-password-1234" } as const;
const LABELS: Record<string, string> = {
  certificates: "Certificates",
  "receive-connectors": "Receive connectors",
  "queue-viewer": "Queue Viewer",
  "send-connectors": "Send connectors",
  "transport-settings": "Transport settings",
  partners: "Partners",
  "accepted-domains": "Accepted domains",
  "trusted-roots": "Trusted roots and intermediates",
  "message-tracking": "Message tracking",
  "protocol-logs": "Protocol logs",
  counters: "Counters",
  "test-mail-flow": "Test mail flow",
};
const PAGES = Object.keys(LABELS);

let work: string;
let dir: string;
let server: RunningServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let shots: string;
let base: string;
let root: OpenSslCa;
let smtpHost: string;
let crlServer: http.Server;
let crlBase: string;
const SMTP_PORT = 2525;
const pageErrors: string[] = [];

async function sh(line: string): Promise<string> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}`);
  return r.stdout;
}

async function fl(line: string): Promise<Array<Record<string, string>>> {
  return parseFormatList(await sh(`${line} | Format-List`));
}

/** The page by its address (#/id), drawn. */
async function open(p: Page, id: string): Promise<void> {
  await p.goto(`${base}/#/${id}`);
  await p.locator(`main[data-page="${id}"][data-ready]`).waitFor();
}

/** The page by a click in the console tree, drawn (again, when it is the current one). */
async function go(p: Page, label: string): Promise<void> {
  const id = Object.keys(LABELS).find((k) => LABELS[k] === label) as string;
  await p.getByRole("navigation", { name: "Console tree" }).getByRole("link", { name: label, exact: true }).click();
  await p.locator(`main[data-page="${id}"][data-ready]`).waitFor();
}

async function logIn(p: Page, name: keyof typeof PASSWORDS): Promise<void> {
  await p.goto(`${base}/`);
  await p.getByLabel("User name:").fill(name);
  await p.getByLabel("Password:").fill(PASSWORDS[name]);
  await p.getByRole("button", { name: "Log On" }).click();
  await p.getByText(`Logged on as ${name}`).waitFor();
  await p.locator("main[data-ready]").waitFor();
}

/** The open dialog's shell command, then Run (or the given button), then Finish; returns the command shown. */
async function runDialog(p: Page, runLabel = "Run", what = "dialog"): Promise<string> {
  const dlg = p.locator("dialog[open]");
  await dlg.waitFor();
  await assertAccessible(p, `${what} (open)`);
  await screenshot(p, shots, `dialog-${what}`);
  const command = (await dlg.locator("pre.command").textContent()) ?? "";
  await dlg.getByRole("button", { name: runLabel, exact: true }).click();
  await dlg.getByRole("button", { name: "Finish" }).waitFor({ timeout: 20_000 }).catch(async (e) => {
    throw new Error(`${what}: ${(await dlg.locator(".error").textContent()) ?? ""} ${String(e)}`);
  });
  const ran = (await dlg.locator("pre.command").textContent()) ?? "";
  await dlg.getByRole("button", { name: "Finish" }).click();
  await dlg.waitFor({ state: "detached" });
  await p.locator("main[data-ready]").waitFor();
  return ran || command;
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-browser-"));
  dir = path.join(work, "data");
  shots = artifactsDir();
  console.log(`# browser screenshots: ${shots}`);
  await sh("Get-TransportConfig");
  smtpHost = randomLoopback();
  await sh(`Set-ReceiveConnector Inet -Bindings ${smtpHost}:${SMTP_PORT}`);
  for (const [name, role] of [["alice", "Organization Management"], ["victor", "View-Only Organization Management"], ["sam", "Server Management"]] as const) {
    const pw = path.join(work, `${name}.pw`);
    writeFileSync(pw, `${PASSWORDS[name]}\n`, { mode: 0o600 });
    await sh(`New-AdminUser ${name} -RoleGroup "${role}" -PasswordFile ${pw}`);
  }
  root = await OpenSslCa.createRoot({ name: "DC=com,DC=Contoso,CN=Contoso Root CA", keyType: "ec-p256" });
  // The root's CRL over loopback HTTP (the seed's PKI environment), allowed by the outbound fetch policy.
  crlServer = http.createServer((req, res) => {
    if (req.url !== "/root.crl") return void res.writeHead(404).end();
    res.end(root.crl({ der: true }));
  });
  await new Promise<void>((r) => crlServer.listen(0, "127.0.0.1", r));
  crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
  await sh(`Set-TransportServer -OutboundFetchAllowedRanges 127.0.0.1 -OutboundFetchAllowedPorts ${new URL(crlBase).port}`);
  server = await startServe(dir);
  base = `http://${server.admin}`;
  browser = await launch();
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
});

after(async () => {
  await browser?.close();
  await server?.stop();
  crlServer?.close();
  root?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("the console in chromium", () => {
  test("served at / with a CSP without inline script and frame-ancestors 'none', nosniff; nothing outside web/", async () => {
    const r = await fetch(`${base}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /^text\/html/);
    const csp = r.headers.get("content-security-policy") ?? "";
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    const html = await r.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
    assert.doesNotMatch(html, /https?:\/\//, "nothing from another origin");
    const js = await fetch(`${base}/app/main.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    for (const p of ["/../package.json", "/%2e%2e/package.json", "/app/../../package.json", "/.ci/run", "/README.md"]) {
      const bad = await fetch(`${base}${p}`);
      assert.notEqual(bad.status, 200, p);
    }
  });

  test("login: a wrong password shows the API's code and message; the right one opens the console tree", async () => {
    const t0 = Date.now();
    await page.goto(`${base}/`);
    await page.getByLabel("User name:").waitFor();
    const ms = Date.now() - t0;
    const t1 = Date.now();
    await page.reload();
    await page.getByLabel("User name:").waitFor();
    const warm = Date.now() - t1;
    console.log(`# the login page was interactive in ${ms} ms (a new browser), ${warm} ms (reloaded)`);
    assert.ok(ms < 5000 && warm < 2000, `the first page took ${ms} ms, ${warm} ms reloaded`);
    await assertAccessible(page, "login page");
    await screenshot(page, shots, "login");
    await page.getByLabel("User name:").fill("alice");
    await page.getByLabel("Password:").fill("not-the-password");
    await page.getByRole("button", { name: "Log On" }).click();
    await page.getByRole("alert").filter({ hasText: "ADMIN_LOGIN_FAILED" }).waitFor();
    await logIn(page, "alice");
    const tree = page.getByRole("navigation", { name: "Console tree" });
    for (const label of ["Edge Transport (this server)", "Organization Configuration", "Hub Transport", "Toolbox", "Certificates", "Receive connectors", "Queue Viewer", "Send connectors", "Transport settings", "Partners", "Accepted domains", "Trusted roots and intermediates", "Message tracking", "Protocol logs", "Counters", "Test mail flow"]) {
      assert.equal(await tree.getByText(label, { exact: true }).count(), 1, label);
    }
  });

  test("Transport settings: both Domain Secure lists get woodgrovebank.com (validated as typed); the shell and the audit log see it", async () => {
    await go(page, "Transport settings");
    const send = page.getByLabel("Domain to add to the domains this organization sends domain-secured mail to:");
    await send.fill("http://woodgrovebank.com");
    await page.getByText("is not a domain name").first().waitFor();
    assert.equal(await send.getAttribute("aria-invalid"), "true");
    await send.fill("woodgrovebank.com");
    const addSend = page.locator("section", { has: page.getByRole("heading", { name: "TLSSendDomainSecureList" }) }).getByRole("button", { name: "Add" });
    await addSend.click();
    const copyDialog = page.locator("dialog[open]");
    await copyDialog.getByRole("button", { name: "What if" }).click();
    await copyDialog.getByText("What if: Set-TransportConfig would run with these parameters; nothing was changed.").waitFor();
    await copyDialog.locator(".whatif code", { hasText: 'Set-TransportConfig -TLSSendDomainSecureList @{Add="woodgrovebank.com"} -WhatIf' }).waitFor();
    await assertAccessible(page, "What if answer");
    assert.doesNotMatch((await fl("Get-TransportConfig"))[0]?.TLSSendDomainSecureList ?? "", /woodgrovebank/, "WhatIf changes nothing");
    await copyDialog.getByLabel("Shell command").focus();
    await copyDialog.getByRole("button", { name: "Copy command" }).click();
    await copyDialog.getByRole("status").filter({ hasText: "Copied." }).waitFor();
    assert.equal(await page.evaluate("navigator.clipboard.readText()"), 'Set-TransportConfig -TLSSendDomainSecureList @{Add="woodgrovebank.com"}');
    const cmd1 = await runDialog(page, "Run", "add-send-domain");
    assert.equal(cmd1, 'Set-TransportConfig -TLSSendDomainSecureList @{Add="woodgrovebank.com"}');
    const recv = page.getByLabel("Domain to add to the domains this organization receives domain-secured mail from:");
    await recv.fill("woodgrovebank.com");
    await page.locator("section", { has: page.getByRole("heading", { name: "TLSReceiveDomainSecureList" }) }).getByRole("button", { name: "Add" }).click();
    const cmd2 = await runDialog(page, "Run", "add-receive-domain");
    assert.equal(cmd2, 'Set-TransportConfig -TLSReceiveDomainSecureList @{Add="woodgrovebank.com"}');
    await page.getByRole("button", { name: "Remove woodgrovebank.com" }).first().waitFor();
    const [cfg] = await fl("Get-TransportConfig");
    assert.match(cfg?.TLSSendDomainSecureList ?? "", /woodgrovebank\.com/);
    assert.match(cfg?.TLSReceiveDomainSecureList ?? "", /woodgrovebank\.com/);
    // The shown command is the shell's own: it runs there and changes nothing more.
    await sh(cmd1);
    const audit = await fl("Get-AdminAuditLog -UserIds alice -Cmdlets Set-TransportConfig");
    assert.ok(audit.filter((a) => a.Succeeded === "True" || a.Result === "Succeeded").length >= 2, JSON.stringify(audit));
  });

  test("the server's refusal is shown with its code and message, and changes nothing", async () => {
    await go(page, "Send connectors");
    await page.getByRole("tab", { name: "Network" }).click();
    await page.getByLabel("Port:").fill("99999");
    await page.getByRole("button", { name: "Save" }).click();
    const dlg = page.locator("dialog[open]");
    await dlg.getByRole("button", { name: "Run" }).click();
    const alert = dlg.getByRole("alert");
    await alert.filter({ hasText: /[A-Z_]+: / }).waitFor();
    assert.match((await alert.textContent()) ?? "", /^[A-Z_]+: \S/);
    await dlg.getByRole("button", { name: "Cancel" }).click();
    const [c] = await fl("Get-SendConnector Internet");
    assert.equal(c?.Port, "25");
  });

  test('Send connectors: the Network tab\'s "Enable Domain Security (Mutual Auth TLS)" on Internet', async () => {
    await go(page, "Send connectors");
    await page.getByRole("tab", { name: "Network" }).click();
    await page.getByLabel("Enable Domain Security (Mutual Auth TLS)", { exact: true }).check();
    await screenshot(page, shots, "send-connector-network-tab");
    await assertAccessible(page, "send connector Network tab");
    await page.getByRole("button", { name: "Save" }).click();
    const cmd = await runDialog(page, "Run", "send-connector");
    assert.equal(cmd, "Set-SendConnector -Identity Internet -DomainSecureEnabled $true");
    const [c] = await fl("Get-SendConnector Internet");
    assert.equal(c?.DomainSecureEnabled, "True");
  });

  test('Receive connectors: the Authentication tab\'s "Transport Layer Security (TLS)" and "Enable Domain Security (Mutual Auth TLS)" on Inet, verbose logging', async () => {
    await go(page, "Receive connectors");
    await page.getByRole("tab", { name: "Authentication" }).click();
    assert.equal(await page.getByLabel("Transport Layer Security (TLS)", { exact: true }).isChecked(), true);
    await page.getByLabel("Enable Domain Security (Mutual Auth TLS)", { exact: true }).check();
    await assertAccessible(page, "receive connector Authentication tab");
    await screenshot(page, shots, "receive-connector-authentication-tab");
    await page.getByRole("tab", { name: "General" }).click();
    await page.getByLabel("Protocol logging level:").selectOption("Verbose");
    await page.getByRole("tab", { name: "Network" }).click();
    await assertAccessible(page, "receive connector Network tab");
    await page.getByRole("button", { name: "Save" }).click();
    const cmd = await runDialog(page, "Run", "receive-connector");
    assert.equal(cmd, "Set-ReceiveConnector -Identity Inet -ProtocolLoggingLevel Verbose -DomainSecureEnabled $true");
    const [c] = await fl("Get-ReceiveConnector Inet");
    assert.equal(c?.DomainSecureEnabled, "True");
    assert.equal(c?.ProtocolLoggingLevel, "Verbose");
    assert.match(c?.AuthMechanism ?? "", /Tls/);
    const audit = await fl("Get-AdminAuditLog -UserIds alice");
    for (const cmdlet of ["Set-TransportConfig", "Set-SendConnector", "Set-ReceiveConnector"]) {
      assert.ok(audit.some((a) => a.CmdletName === cmdlet && a.Caller === "alice"), `${cmdlet} audited under alice: ${JSON.stringify(audit)}`);
    }
  });

  test("Certificates: new request wizard → downloaded request → signed by an OpenSSL CA → Complete Pending Request (upload) → Enable for SMTP", async () => {
    await go(page, "Certificates");
    await page.getByRole("button", { name: "New Exchange Certificate…" }).click();
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Friendly name:").fill("Internet certificate");
    await dlg.getByLabel(/^Subject/).fill("DC=com,DC=Contoso,CN=mail1.contoso.com");
    await dlg.getByLabel(/^Domain names/).fill("mail.contoso.com");
    await assertAccessible(page, "new certificate wizard");
    await screenshot(page, shots, "dialog-new-certificate");
    assert.equal(await dlg.locator("pre.command").textContent(), 'New-ExchangeCertificate -GenerateRequest -FriendlyName "Internet certificate" -SubjectName "DC=com,DC=Contoso,CN=mail1.contoso.com" -DomainName mail.contoso.com -Path certificate-request.req');
    await dlg.getByRole("button", { name: "New", exact: true }).click();
    const link = dlg.getByRole("link", { name: "Download the certificate request" });
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const reqPath = path.join(work, "request.req");
    await download.saveAs(reqPath);
    assert.match(readFileSync(reqPath, "utf8"), /BEGIN CERTIFICATE REQUEST/);
    await dlg.getByRole("button", { name: "Finish" }).click();
    await page.locator("main[data-ready]").waitFor();
    await page.getByRole("cell", { name: "PendingRequest" }).waitFor();
    await page.getByRole("row", { name: /mail1\.contoso\.com/ }).getByRole("radio").check();

    // the PKI administrator signs it
    const issued = root.signRequest(reqPath, { eku: "both", crlUrl: `${crlBase}/root.crl` });
    const issuedPath = path.join(work, "mail1-issued.cer");
    writeFileSync(issuedPath, issued.certPem + root.certPem);

    await page.getByRole("button", { name: "Complete Pending Request…" }).click();
    const done = page.locator("dialog[open]");
    await done.getByLabel(/^Issued certificate/).setInputFiles(issuedPath);
    await done.locator("pre.command", { hasText: "mail1-issued.cer" }).waitFor();
    const cmd = await runDialog(page, "Complete", "complete-pending-request");
    assert.equal(cmd, "Import-ExchangeCertificate -Path mail1-issued.cer");
    const completed = page.getByRole("row", { name: /mail1\.contoso\.com/ }).filter({ hasNotText: "PendingRequest" });
    await completed.waitFor();
    await completed.getByRole("radio").check();
    await page.getByRole("button", { name: "Enable for SMTP…" }).click();
    const enable = await runDialog(page, "Enable", "enable-certificate");
    assert.match(enable, /^Enable-ExchangeCertificate -Thumbprint [0-9A-F]{40} -Services SMTP$/);
    const certs = (await fl("Get-ExchangeCertificate")).filter((c) => /CN=mail1\.contoso\.com/.test(c.Subject ?? ""));
    assert.equal(certs.length, 1, "the request became one certificate");
    assert.match(certs[0]?.Services ?? "", /SMTP/);
    assert.notEqual(certs[0]?.Status, "PendingRequest");
    assert.equal(certs[0]?.FriendlyName, "Internet certificate");
    await screenshot(page, shots, "certificates-enabled");
  });

  test("Trusted roots and intermediates: Add Trusted Root Certificate (upload) and the enabled certificate is no longer Untrusted", async () => {
    const before = (await fl("Get-ExchangeCertificate")).find((c) => /CN=mail1\.contoso\.com/.test(c.Subject ?? ""));
    assert.equal(before?.Status, "Untrusted", "the root is not trusted yet");
    const rootPath = path.join(work, "contoso-root.cer");
    writeFileSync(rootPath, root.certPem);
    await go(page, "Trusted roots and intermediates");
    await page.getByRole("button", { name: "Add Trusted Root Certificate…" }).click();
    await page.locator("dialog[open]").getByLabel(/^Certificate file/).setInputFiles(rootPath);
    await page.locator("dialog[open] pre.command", { hasText: "contoso-root.cer" }).waitFor();
    const cmd = await runDialog(page, "Add", "add-trusted-root");
    assert.equal(cmd, "Add-TrustedRootCertificate -Path contoso-root.cer");
    await page.getByRole("cell", { name: /Contoso Root CA/ }).first().waitFor();
    const after = (await fl("Get-ExchangeCertificate")).find((c) => /CN=mail1\.contoso\.com/.test(c.Subject ?? ""));
    // Trusted now; the request was signed without a CRL address, so revocation cannot be checked (not the console's business).
    assert.ok(after && after.Status !== "Untrusted", after?.Status);
  });

  test("Remove asks where the shell asks (the door's ConfirmationRequired), then runs with -Confirm:$false", async () => {
    await go(page, "Certificates");
    await page.getByRole("button", { name: "New Exchange Certificate…" }).click();
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel(/^Domain names/).fill("spare.contoso.com");
    await dlg.getByRole("button", { name: "New", exact: true }).click();
    await dlg.getByRole("button", { name: "Finish" }).click();
    const row = page.getByRole("row", { name: /spare\.contoso\.com/ });
    await row.getByRole("radio").check();
    await page.getByRole("button", { name: "Remove…" }).click();
    const rm = page.locator("dialog[open]");
    await rm.getByRole("button", { name: "Remove", exact: true }).click();
    await rm.getByRole("alert").filter({ hasText: "Confirm:" }).waitFor();
    await assertAccessible(page, "remove confirmation");
    assert.match((await rm.locator("pre.command").textContent()) ?? "", /-Confirm:\$false$/);
    await rm.getByRole("button", { name: "Yes" }).click();
    await rm.getByRole("button", { name: "Finish" }).click();
    const certs = await fl("Get-ExchangeCertificate");
    assert.ok(!certs.some((c) => /spare\.contoso\.com/.test(c.CertificateDomains ?? "")), "the spare request is gone");
    assert.ok(certs.some((c) => /mail1\.contoso\.com/.test(c.Subject ?? "") && /SMTP/.test(c.Services ?? "")), "the enabled certificate stays");
  });

  test("Import a PFX: the shown command reads the password from Read-Host; neither it nor the audit record holds the password", async () => {
    const leaf = root.issueLeaf({ subject: "CN=pfx.contoso.com", dnsNames: ["pfx.contoso.com"], keyType: "rsa2048", crlUrl: `${crlBase}/root.crl` });
    const pfxPassword = "Pfx-Secret-Value-42";
    const pfxPath = path.join(work, "pfx.pfx");
    writeFileSync(pfxPath, root.pfx(leaf, pfxPassword));
    await go(page, "Certificates");
    await page.getByRole("button", { name: "Import Exchange Certificate…" }).click();
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel("PFX file (PKCS#12):").setInputFiles(pfxPath);
    await dlg.getByLabel("Password:").fill(pfxPassword);
    await dlg.locator("pre.command", { hasText: "pfx.pfx" }).waitFor();
    const cmd = await runDialog(page, "Import", "import-pfx");
    assert.equal(cmd, "Import-ExchangeCertificate -Path pfx.pfx -Password (Read-Host -AsSecureString)");
    assert.ok(!cmd.includes(pfxPassword));
    const certs = await fl("Get-ExchangeCertificate");
    assert.ok(certs.some((c) => /pfx\.contoso\.com/.test(c.Subject ?? "")), JSON.stringify(certs));
    const audit = await sh("Get-AdminAuditLog -UserIds alice -Cmdlets Import-ExchangeCertificate | Format-List");
    assert.match(audit, /Import-ExchangeCertificate/);
    assert.doesNotMatch(audit, new RegExp(pfxPassword));
  });

  test("Accepted domains: New Accepted Domain from the console; mail for it arrives and Message tracking finds its RECEIVE and DELIVER events", async () => {
    await go(page, "Accepted domains");
    await page.getByRole("button", { name: "New Accepted Domain…" }).click();
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Accepted domain:").fill("contoso.com");
    await dlg.locator("pre.command", { hasText: "contoso.com" }).waitFor();
    const cmd = await runDialog(page, "New", "new-accepted-domain");
    assert.equal(cmd, "New-AcceptedDomain -DomainName contoso.com");
    await page.getByRole("cell", { name: "contoso.com", exact: true }).first().waitFor();
    await sh("New-Mailbox -PrimarySmtpAddress kim@contoso.com");
    const inbox = path.join(dir, "maildir", "contoso.com", "kim", "new");
    await waitUntil("the edge applies the accepted domain", async () => {
      const { client } = await TestSmtpClient.connect(smtpHost, SMTP_PORT);
      try {
        await client.cmd("EHLO client.fabrikam.example");
        const r = await client.send("pat@fabrikam.example", ["kim@contoso.com"], "From: <pat@fabrikam.example>\r\nTo: <kim@contoso.com>\r\nSubject: console tracking\r\nMessage-ID: <console-1@fabrikam.example>\r\n\r\nHello\r\n");
        return /^250 /.test(r[r.length - 1]?.text ?? "") || undefined;
      } finally {
        await client.quit();
      }
    });
    await waitUntil("delivered", () => existsSync(inbox) && readdirSync(inbox).length > 0);
    await go(page, "Message tracking");
    await page.getByLabel("Recipient:").fill("kim@contoso.com");
    await page.getByRole("button", { name: "Search" }).click();
    const results = page.getByRole("table", { name: "Message tracking results" });
    await results.getByRole("cell", { name: "DELIVER" }).first().waitFor({ timeout: 15_000 }).catch(async () => {
      await page.getByRole("button", { name: "Search" }).click();
      await results.getByRole("cell", { name: "DELIVER" }).first().waitFor();
    });
    await results.getByRole("cell", { name: "RECEIVE" }).first().waitFor();
    await assertAccessible(page, "message tracking with results");
    await screenshot(page, shots, "message-tracking-results");
  });

  test("mail from a Woodgrove edge over mutually authenticated TLS arrives: Message tracking shows it Domain Secured and the Counters page's counter moves", async () => {
    const wg = root.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com", "mail.woodgrovebank.com"], crlUrl: `${crlBase}/root.crl`, keyType: "ec-p256", eku: "both" });
    const { client } = await TestSmtpClient.connect(smtpHost, SMTP_PORT);
    try {
      await client.cmd("EHLO mail.woodgrovebank.com");
      await client.startTls({ servername: "mail1.contoso.com", key: wg.keyPem as string, cert: wg.certPem });
      await client.cmd("EHLO mail.woodgrovebank.com");
      const r = await client.send("a@woodgrovebank.com", ["kim@contoso.com"], "From: <a@woodgrovebank.com>\r\nTo: <kim@contoso.com>\r\nSubject: domain secured\r\nMessage-ID: <console-ds@woodgrovebank.com>\r\n\r\nHello\r\n");
      assert.match(r[r.length - 1]?.text ?? "", /^250 /, JSON.stringify(r));
    } finally {
      await client.quit();
    }
    await go(page, "Message tracking");
    await page.getByLabel("Sender:").fill("a@woodgrovebank.com");
    const results = page.getByRole("table", { name: "Message tracking results" });
    await waitUntil("the tracking events", async () => {
      await page.getByRole("button", { name: "Search" }).click();
      await results.waitFor();
      return (await results.getByRole("cell", { name: "DELIVER" }).count()) > 0 || undefined;
    });
    await results.getByText("Domain Secured", { exact: true }).first().waitFor();
    await screenshot(page, shots, "message-tracking-domain-secured");
    await go(page, "Counters");
    const row = page.getByRole("row", { name: /Domain-Secured Messages Received/ });
    assert.equal(((await row.getByRole("cell").last().textContent()) ?? "").trim(), "1");
    await screenshot(page, shots, "counters-after-domain-secured-mail");
  });

  test("keyboard: the properties' tabs move with the arrow keys; Escape closes a dialog and changes nothing", async () => {
    await go(page, "Receive connectors");
    await page.getByRole("tab", { name: "General" }).focus();
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.getByRole("tab", { name: "Authentication" }).getAttribute("aria-selected"), "true");
    assert.equal(await page.evaluate("document.activeElement.textContent"), "Authentication");
    await page.getByLabel("Enable Domain Security (Mutual Auth TLS)", { exact: true }).focus();
    await page.keyboard.press("Space");
    await page.getByRole("button", { name: "Save" }).focus();
    await page.keyboard.press("Enter");
    await page.locator("dialog[open]").waitFor();
    assert.equal(await page.locator("dialog[open] pre.command").textContent(), "Set-ReceiveConnector -Identity Inet -DomainSecureEnabled $false");
    await page.keyboard.press("Escape");
    await page.locator("dialog").waitFor({ state: "detached" });
    const [c] = await fl("Get-ReceiveConnector Inet");
    assert.equal(c?.DomainSecureEnabled, "True");
  });

  test("every page renders without an error, passes axe (WCAG 2.1 A, AA) and is saved as a screenshot", async () => {
    for (const id of PAGES) {
      await open(page, id);
      const errors = (await page.locator("main .error").allTextContents()).filter((t) => t.trim());
      assert.deepEqual(errors, [], `${id}: ${errors.join(" ")}`);
      await assertAccessible(page, id);
      await screenshot(page, shots, id);
    }
    assert.deepEqual(pageErrors, [], "no script error in the page");
  });

  test("CSRF: a request with the session cookie but without the X-CSRF-Token header is refused and changes nothing", async () => {
    const r = (await page.evaluate(async () => {
      const res = await fetch("/adminapi/v1/InvokeCommand", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ CmdletInput: { CmdletName: "Set-TransportConfig", Parameters: { TLSSendDomainSecureList: { Add: ["evil.example"] } } } }) });
      return { status: res.status, body: await res.json() };
    })) as { status: number; body: { error: { code: string } } };
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, "ADMIN_CSRF_REFUSED");
    const [cfg] = await fl("Get-TransportConfig");
    assert.doesNotMatch(cfg?.TLSSendDomainSecureList ?? "", /evil/);
  });

  test("Log Off ends the session: the login form returns and the old cookie no longer works", async () => {
    await page.getByRole("button", { name: "Log Off" }).click();
    await page.getByLabel("User name:").waitFor();
    const status = await page.evaluate(async () => (await fetch("/adminapi/v1/Session")).status);
    assert.equal(status, 401);
    await page.reload();
    await page.getByRole("button", { name: "Log On" }).waitFor();
  });

  test("View-Only Organization Management sees every page and can change nothing (controls disabled with the reason)", async () => {
    const viewer = await context.browser()!.newContext();
    const p = await viewer.newPage();
    try {
      await logIn(p, "victor");
      await open(p, "transport-settings");
      assert.equal(await p.getByLabel("Domain to add to the domains this organization sends domain-secured mail to:").isDisabled(), true);
      await p.getByText(/cannot run Set-TransportConfig; it needs Organization Management/).first().waitFor();
      assert.equal(await p.getByRole("button", { name: "Remove woodgrovebank.com" }).first().isDisabled(), true);
      await assertAccessible(p, "transport settings (view-only)");
      await screenshot(p, shots, "view-only-transport-settings");
      await open(p, "send-connectors");
      assert.equal(await p.getByRole("button", { name: "Save" }).isDisabled(), true);
      await open(p, "certificates");
      assert.equal(await p.getByRole("button", { name: "New Exchange Certificate…" }).isDisabled(), true);
      await assertAccessible(p, "certificates (view-only)");
    } finally {
      await viewer.close();
    }
  });

  test("a session the server ends (the account disabled) brings back the login form with the reason", async () => {
    const other = await context.browser()!.newContext();
    const p = await other.newPage();
    try {
      await logIn(p, "sam");
      await sh("Set-AdminUser sam -Enabled $false");
      await p.getByRole("navigation", { name: "Console tree" }).getByRole("link", { name: "Send connectors", exact: true }).click();
      await p.getByRole("alert").filter({ hasText: "Your session has ended" }).waitFor();
      await p.getByRole("button", { name: "Log On" }).waitFor();
      await assertAccessible(p, "login after the session ended");
    } finally {
      await sh("Set-AdminUser sam -Enabled $true");
      await other.close();
    }
  });

  test("Server Management changes this server's receive connectors, not the organization's send connectors or lists", async () => {
    const admin = await context.browser()!.newContext();
    const p = await admin.newPage();
    try {
      await logIn(p, "sam");
      await open(p, "receive-connectors");
      assert.equal(await p.getByRole("button", { name: "Save" }).isDisabled(), false);
      await open(p, "send-connectors");
      assert.equal(await p.getByRole("button", { name: "Save" }).isDisabled(), true);
      await p.getByText(/cannot run Set-SendConnector; it needs Organization Management/).waitFor();
      await open(p, "certificates");
      assert.equal(await p.getByRole("button", { name: "New Exchange Certificate…" }).isDisabled(), false);
      await screenshot(p, shots, "server-management-send-connectors");
    } finally {
      await admin.close();
    }
  });
});
