// `sealpost demo` (what `npm run demo` runs) end to end: it must exit 0 and
// its summary must show both directions domain-secured, the three refusals
// or holds, and counters consistent with them. Runs on its own loopback /16
// so it never meets the fleet test's 127.0.1.x servers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runSealpost } from "../helpers/cli.js";

test("the demo runs the seed scenario and every expected outcome happens", async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), "sealpost-demo-test-"));
  const dir = path.join(work, "demo");
  try {
    const r = await runSealpost(["demo", "--dir", dir, "--net", `127.${100 + Math.floor(Math.random() * 100)}`]);
    assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
    const s = r.stdout;
    assert.match(s, /PS> Set-TransportConfig -TLSSendDomainSecureList woodgrovebank\.com/);
    assert.match(s, /PS> Set-SendConnector Internet -DomainSecureEnabled:\$True/);
    assert.match(s, /PS> Set-ReceiveConnector Inet -DomainSecureEnabled:\$True -AuthMechanism TLS/);
    assert.match(s, /ok Contoso → Woodgrove \(alice → bob\)\s+delivered, domain-secured\s+delivered, domain-secured/);
    assert.match(s, /ok Woodgrove → Contoso \(bob → alice\)\s+delivered, domain-secured\s+delivered via mail[12], domain-secured/);
    assert.match(s, /ok plaintext sender claiming woodgrovebank\.com\s+refused 451 4\.7\.3/);
    assert.match(s, /ok certificate for another domain \(fabrikam\.com\)\s+refused 451 4\.7\.5/);
    assert.match(s, /ok Woodgrove stripped of STARTTLS\s+queued \(Retry\), nothing sent\s+queued \(Retry\); MAIL commands sent: 0/);
    assert.match(s, /ok counters/);
    assert.match(s, /Certificate subject/);
    assert.match(s, /Every expected outcome happened/);
    assert.doesNotMatch(s, /-----BEGIN/);
    // Left for inspection.
    assert.ok(existsSync(path.join(dir, "mail1.contoso.com", "logs", "protocol", "SmtpSend")));
    assert.ok(readdirSync(path.join(dir, "mail.woodgrovebank.com", "maildir", "woodgrovebank.com", "bob", "new")).length >= 2);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
