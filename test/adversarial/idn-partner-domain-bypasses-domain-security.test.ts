// Defect: internationalized partner domains bypassed Domain Security in both
// directions. With bücher.example listed (stored as xn--bcher-kva.example):
// - inbound, MAIL FROM:<x@bücher.example> SMTPUTF8 (also BÜCHER.EXAMPLE)
//   over plain TCP got 250 and was delivered; the fullwidth spelling of
//   woodgrovebank.com was accepted unmarked, without TLS;
// - outbound, mail to bob@bücher.example went out in clear to an MX that
//   offers no STARTTLS (the queue key and the send-list match compared the
//   raw Unicode string).
// Reproduced here as found: a real `sealpost serve`, a plain SMTP client on
// loopback, a loopback DNS server and an MX without STARTTLS.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { FakeSmtpServer } from "../helpers/fake-smtp.js";
import { parseFormatList, runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { ZoneServer } from "../../src/dns/zone-server.js";

const PORT = 2525;
const SUBMIT = 2526;
const H = randomLoopback();
const MX = randomLoopback();
let work: string;
let dir: string;
let dns: ZoneServer;
let mx: FakeSmtpServer;
let server: RunningServer;

async function ok(line: string): Promise<void> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-idn-"));
  dir = path.join(work, "edge");
  dns = await ZoneServer.start({ host: "127.0.0.1", port: 0 });
  dns.set("xn--bcher-kva.example", "MX", [{ preference: 10, exchange: "mx.xn--bcher-kva.example" }]);
  dns.set("mx.xn--bcher-kva.example", "A", [MX]);
  // The clear-text MX an attacker would love to be sent a partner's mail.
  mx = await FakeSmtpServer.start({ host: MX, port: PORT, name: "mx.attacker.example", starttls: false });
  assert.equal((await runSealpost(["--data", dir, "init", "--name", "mail1.contoso.com"])).code, 0);
  for (const line of [
    "New-AcceptedDomain -DomainName contoso.com",
    "New-Mailbox -PrimarySmtpAddress alice@contoso.com",
    // The administrator types the Unicode spelling; it is stored as the A-label.
    "Set-TransportConfig -TLSReceiveDomainSecureList bücher.example,woodgrovebank.com -TLSSendDomainSecureList bücher.example",
    `Set-ReceiveConnector Inet -Bindings ${H}:${PORT} -DomainSecureEnabled:$true -AuthMechanism TLS`,
    `New-ReceiveConnector Internal -Usage Internal -Bindings ${H}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
    "Set-SendConnector Internet -DomainSecureEnabled:$true",
    `Set-SendConnector Internet -Port ${PORT}`,
    `Set-TransportServer mail1.contoso.com -ExternalDNSServers ${dns.address}`,
  ]) {
    await ok(line);
  }
  server = await startServe(dir);
});

after(async () => {
  await server?.stop();
  await mx?.close();
  await dns?.close();
  rmSync(work, { recursive: true, force: true });
});

async function mailFrom(sender: string, port = PORT): Promise<string> {
  const { client } = await TestSmtpClient.connect(H, port);
  try {
    await client.cmd("EHLO attacker.example");
    return (await client.cmd(`MAIL FROM:<${sender}> SMTPUTF8`)).text;
  } finally {
    await client.quit().catch(() => undefined);
  }
}

test("the stored list holds the A-label the administrator's Unicode spelling stands for", async () => {
  const r = await shellC(dir, "Get-TransportConfig | Format-List TLSReceiveDomainSecureList,TLSSendDomainSecureList");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /xn--bcher-kva\.example/);
  assert.doesNotMatch(r.stdout, /bücher/);
});

test("inbound: every spelling of a listed IDN partner over plain TCP is refused, never accepted as 'not a partner'", async () => {
  // The A-label was always refused; the Unicode spelling is the same partner.
  assert.match(await mailFrom("x@xn--bcher-kva.example"), /^451 4\.7\.3/);
  assert.match(await mailFrom("x@bücher.example"), /^451 4\.7\.3/, "the U-label is the same partner: TLS required");
  assert.match(await mailFrom("x@XN--BCHER-KVA.EXAMPLE"), /^451 4\.7\.3/, "ASCII case does not matter");
  assert.match(await mailFrom("x@bücher.example."), /^451 4\.7\.3|^501/, "a trailing dot is the same name or refused");
  // Spellings that need UTS #46 mapping are not valid on the wire: refused as bad syntax, never 250.
  assert.match(await mailFrom("x@BÜCHER.EXAMPLE"), /^501 5\.1\.7/);
  assert.match(await mailFrom("x@ｗｏｏｄｇｒｏｖｅｂａｎｋ.com"), /^501 5\.1\.7/);
  assert.match(await mailFrom("x@woodgrovebank。com"), /^501 5\.1\.7/);
  assert.match(await mailFrom("x@bu\u0308cher.example"), /^501 5\.1\.7/, "not NFC");
  // An honest non-partner is still ordinary mail.
  assert.match(await mailFrom("x@fabrikam.com"), /^250/);
  assert.match(await mailFrom("x@bücher-other.example"), /^250/);
});

test("inbound: a recipient whose domain cannot be normalized is refused with 553 5.1.3", async () => {
  const { client } = await TestSmtpClient.connect(H, PORT);
  await client.cmd("EHLO client.example");
  assert.match((await client.cmd("MAIL FROM:<x@fabrikam.com> SMTPUTF8")).text, /^250/);
  assert.match((await client.cmd("RCPT TO:<alice@ｃｏｎｔｏｓｏ.com>")).text, /^553 5\.1\.3/);
  assert.match((await client.cmd("RCPT TO:<alice@CONTOSO.com>")).text, /^250/);
  await client.quit();
});

test("outbound: mail to bob@bücher.example is never sent in clear to an MX without STARTTLS", async () => {
  const { client } = await TestSmtpClient.connect(H, SUBMIT);
  await client.cmd("EHLO internal.contoso.com");
  assert.match((await client.cmd("MAIL FROM:<alice@contoso.com> SMTPUTF8")).text, /^250/);
  assert.match((await client.cmd("RCPT TO:<bob@bücher.example>")).text, /^250/);
  assert.match((await client.cmd("DATA")).text, /^354/);
  assert.match((await client.cmd("From: <alice@contoso.com>\r\nTo: <bob@bücher.example>\r\nSubject: idn-1\r\n\r\nsecret\r\n.")).text, /^250 /);
  await client.quit();
  const q = await waitUntil("the partner's queue in Retry", async () => {
    const r = await shellC(dir, "Get-Queue xn--bcher-kva.example | Format-List");
    const v = r.code === 0 ? parseFormatList(r.stdout)[0] : undefined;
    return v?.Status === "Retry" ? v : undefined;
  });
  assert.match(q.LastError ?? "", /STARTTLS/);
  assert.equal(mx.count("MAIL"), 0, "no MAIL command reached the clear-text MX");
  assert.equal(mx.messages.length, 0);
});
