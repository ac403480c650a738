// Defect: changes that turn Domain Security off for the listed partners went
// by without a word.
//
// Found by an administrator's routine changes on a server with partners in
// both lists: `Set-ReceiveConnector Inet -DomainSecureEnabled:$false` (the
// connector that receives the partners' mail), Domain Security taken from
// the send connector that carries the partners' mail, a more specific send
// connector without it, an FQDN no certificate names, and removing or
// disabling the last SMTP certificate (`Remove-ExchangeCertificate`,
// `Enable-ExchangeCertificate -Services None`, `sealpost cert remove`) were
// all accepted silently: partners' mail then arrived unverified and
// unmarked, or was held, or refused. Each must now be refused without -Force
// (--force), naming the partners, the direction and why, and change nothing;
// with -Force it is made and a WARNING on stderr says the same. Changes of
// the partner lists themselves are explicit and stay unguarded, as do changes
// that leave Domain Security working. All through the real command line on a
// real data folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runSealpost, shellC, type CliResult } from "../helpers/cli.js";

const base = mkdtempSync(path.join(os.tmpdir(), "sealpost-ds-off-"));
const dir = path.join(base, "data");
let thumb = "";

test.after(() => rmSync(base, { recursive: true, force: true }));

async function ok(line: string): Promise<CliResult> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}: ${r.stderr}`);
  return r;
}

async function json<T>(line: string): Promise<T> {
  const r = await runSealpost(["--data", dir, "--json", "shell", "-c", line]);
  assert.equal(r.code, 0, `${line}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Everything the guarded changes could touch, as stored. */
async function state(): Promise<string> {
  return JSON.stringify([
    await json<unknown>("Get-ReceiveConnector"),
    await json<unknown>("Get-SendConnector"),
    (await json<Array<{ Thumbprint: string; Services: string }>>("Get-ExchangeCertificate")).map((c) => [c.Thumbprint, c.Services]),
    await json<unknown>("Get-TransportConfig"),
  ]);
}

function assertRefused(r: CliResult, what: string, direction: RegExp, why: RegExp): void {
  assert.notEqual(r.code, 0, `${what} must be refused without -Force; it exited 0 (${r.stderr})`);
  assert.match(r.stderr, /would turn Domain Security off for listed partners/, what);
  assert.match(r.stderr, direction, `${what}: names the partner and the direction`);
  assert.match(r.stderr, why, `${what}: says why`);
  assert.match(r.stderr, /[Aa]dd -Force to do it anyway/, what);
  assert.doesNotMatch(r.stderr, /^WARNING/m, what);
}

function assertWarned(r: CliResult, what: string, direction: RegExp): void {
  assert.equal(r.code, 0, `${what} with -Force: ${r.stderr}`);
  const warning = r.stderr.split("\n").find((l) => l.startsWith("WARNING: "));
  assert.ok(warning, `${what} with -Force prints a WARNING line on stderr: ${r.stderr}`);
  assert.match(warning, /turns Domain Security off for listed partners/);
  assert.match(warning, direction, what);
}

const INBOUND = /inbound mail from woodgrovebank\.com \(TLSReceiveDomainSecureList\)/;
const OUTBOUND = /outbound mail to woodgrovebank\.com \(TLSSendDomainSecureList\)/;

test("setup: Domain Security with woodgrovebank.com in both directions (the seed's procedures 2-4)", async () => {
  const init = await runSealpost(["--data", dir, "init", "--name", "mail1.contoso.com"]);
  assert.equal(init.code, 0, init.stderr);
  const made = await json<Array<{ Thumbprint: string }>>("New-ExchangeCertificate -SubjectName CN=mail1.contoso.com -DomainName mail1.contoso.com,mail.contoso.com");
  thumb = made[0]?.Thumbprint ?? "";
  assert.match(thumb, /^[0-9A-F]{40}$/);
  await ok("Set-ReceiveConnector Inet -DomainSecureEnabled:$true -AuthMechanism TLS");
  await ok("Set-SendConnector Internet -DomainSecureEnabled:$true -Fqdn mail.contoso.com");
  await ok("Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com -TLSSendDomainSecureList woodgrovebank.com");
});

test("receive connector: -DomainSecureEnabled:$false on the partners' connector is refused without -Force, warned with it", async () => {
  const before = await state();
  const r = await shellC(dir, "Set-ReceiveConnector Inet -DomainSecureEnabled:$false");
  assertRefused(r, "Set-ReceiveConnector -DomainSecureEnabled:$false", INBOUND, /receive connector mail1\.contoso\.com\\Inet without Domain Security/);
  assert.equal(await state(), before, "nothing changed");
  const forced = await shellC(dir, "Set-ReceiveConnector Inet -DomainSecureEnabled:$false -Force");
  assertWarned(forced, "Set-ReceiveConnector -DomainSecureEnabled:$false", INBOUND);
  assert.equal((await json<Array<{ DomainSecureEnabled: boolean }>>("Get-ReceiveConnector Inet"))[0]?.DomainSecureEnabled, false);
  await ok("Set-ReceiveConnector Inet -DomainSecureEnabled:$true");
  // An FQDN no SMTP certificate names: the connector could not offer STARTTLS.
  assertRefused(await shellC(dir, "Set-ReceiveConnector Inet -Fqdn edge.contoso.com"), "Set-ReceiveConnector -Fqdn", INBOUND, /no SMTP certificate of this server would name its FQDN edge\.contoso\.com/);
  // Disabling or removing the only connector that takes the partners' mail with Domain Security.
  for (const line of ["Set-ReceiveConnector Inet -Enabled:$false", "Remove-ReceiveConnector Inet -Confirm:$false"]) {
    assertRefused(await shellC(dir, line), line, INBOUND, /no enabled receive connector with DomainSecureEnabled would remain/);
  }
  assert.equal(await state(), before, "nothing changed");
});

test("send connector: Domain Security off, a more specific connector without it, an unnamed FQDN, removal", async () => {
  const before = await state();
  assertRefused(await shellC(dir, "Set-SendConnector Internet -DomainSecureEnabled:$false"), "Set-SendConnector -DomainSecureEnabled:$false", OUTBOUND, /held.*the send connector Internet does not have DomainSecureEnabled/);
  assertRefused(
    await shellC(dir, 'New-SendConnector Woodgrove -AddressSpaces "SMTP:woodgrovebank.com;1"'),
    "New-SendConnector for the partner without Domain Security",
    OUTBOUND,
    /held.*the send connector Woodgrove does not have DomainSecureEnabled/,
  );
  assertRefused(await shellC(dir, "Set-SendConnector Internet -Fqdn other.contoso.com"), "Set-SendConnector -Fqdn", OUTBOUND, /no SMTP certificate of this server would name other\.contoso\.com, the FQDN of the send connector Internet/);
  assertRefused(await shellC(dir, "Remove-SendConnector Internet -Confirm:$false"), "Remove-SendConnector", OUTBOUND, /Removing the send connector Internet.*would have no route/);
  assertRefused(await shellC(dir, "Set-SendConnector Internet -Enabled:$false"), "Set-SendConnector -Enabled:$false", OUTBOUND, /would have no route/);
  // The command line's subcommand goes through the same admin API.
  assertRefused(await runSealpost(["--data", dir, "send-connector", "set", "Internet", "--domain-secure-enabled", "false"]), "sealpost send-connector set", OUTBOUND, /held/);
  assert.equal(await state(), before, "nothing changed");
  assertWarned(await runSealpost(["--data", dir, "send-connector", "set", "Internet", "--domain-secure-enabled", "false", "--force"]), "sealpost send-connector set --force", OUTBOUND);
  assert.equal((await json<Array<{ DomainSecureEnabled: boolean }>>("Get-SendConnector Internet"))[0]?.DomainSecureEnabled, false);
  await ok("Set-SendConnector Internet -DomainSecureEnabled:$true");
  assertWarned(await shellC(dir, 'New-SendConnector Woodgrove -AddressSpaces "SMTP:woodgrovebank.com;1" -Force'), "New-SendConnector -Force", OUTBOUND);
  // Removing it gives the partner its domain-secured route back: no guard.
  const back = await ok("Remove-SendConnector Woodgrove");
  assert.doesNotMatch(back.stderr, /WARNING/);
  assert.equal(await state(), before);
});

test("certificates: disabling or removing the last SMTP certificate is refused without -Force, in the shell and in sealpost cert", async () => {
  const before = await state();
  const both = [INBOUND, OUTBOUND];
  for (const [what, r] of [
    ["Enable-ExchangeCertificate -Services None", await shellC(dir, `Enable-ExchangeCertificate ${thumb} -Services None`)],
    ["Get-ExchangeCertificate | Enable-ExchangeCertificate -Services None", await shellC(dir, "Get-ExchangeCertificate | Enable-ExchangeCertificate -Services None")],
    ["Remove-ExchangeCertificate", await shellC(dir, `Remove-ExchangeCertificate ${thumb} -Confirm:$false`)],
    ["Get-ExchangeCertificate | Remove-ExchangeCertificate", await shellC(dir, "Get-ExchangeCertificate | Remove-ExchangeCertificate")],
    ["sealpost cert enable --services None", await runSealpost(["--data", dir, "cert", "enable", thumb, "--services", "None"])],
    ["sealpost cert remove", await runSealpost(["--data", dir, "cert", "remove", thumb])],
  ] as const) {
    for (const d of both) assertRefused(r, what, d, new RegExp(`certificate ${thumb}`));
    assert.match(r.stderr, /could not offer STARTTLS/, what);
    assert.match(r.stderr, /could not be sent from mail1\.contoso\.com: no SMTP certificate/, what);
  }
  assert.equal(await state(), before, "nothing changed");
  // With a second SMTP certificate naming both FQDNs, the first is not the last: no guard.
  const second = (await json<Array<{ Thumbprint: string }>>("New-ExchangeCertificate -SubjectName CN=mail1.contoso.com -DomainName mail1.contoso.com,mail.contoso.com"))[0]?.Thumbprint as string;
  const quiet = await ok(`Enable-ExchangeCertificate ${thumb} -Services None`);
  assert.doesNotMatch(quiet.stderr, /WARNING/);
  // Now the second is the last: removing it with --force goes through, with the warning.
  const forced = await runSealpost(["--data", dir, "cert", "remove", second, "--force"]);
  assertWarned(forced, "sealpost cert remove --force", INBOUND);
  assert.match(forced.stderr, OUTBOUND);
  const left = await json<Array<{ Thumbprint: string }>>("Get-ExchangeCertificate");
  assert.deepEqual(left.map((c) => c.Thumbprint), [thumb]);
  await ok(`Enable-ExchangeCertificate ${thumb} -Services SMTP`);
});

test("explicit partner changes and changes that keep Domain Security working need no -Force", async () => {
  for (const line of ["Set-ReceiveConnector Inet -MaxMessageSize 20MB", "Set-SendConnector Internet -ProtocolLoggingLevel Verbose", "Set-TransportConfig -TLSSendDomainSecureList $null", "Set-TransportConfig -TLSReceiveDomainSecureList @{Remove='woodgrovebank.com'}"]) {
    const r = await ok(line);
    assert.doesNotMatch(r.stderr, /WARNING/, line);
  }
  // No partner listed any more: nothing to protect.
  const r = await ok("Set-ReceiveConnector Inet -DomainSecureEnabled:$false");
  assert.doesNotMatch(r.stderr, /WARNING/);
});
