// Defect: a revoked partner certificate stayed accepted until the cached
// CRL's nextUpdate (30 days for some CAs), and nothing but deleting files in
// DIR/revocation refreshed it.
//
// Fixed by a maximum age for every cached CRL and OCSP answer, independent of
// nextUpdate (Set-TransportServer -RevocationCacheMaxAge, default 24 hours):
// refreshed in the background near it, before answering past it; and by
// Update-RevocationCache (`sealpost trust update-revocation`), which fetches
// again at once. This test reproduces it with an OpenSSL CA whose CRLs have a
// nextUpdate 30 days out, served from loopback, and a clock the trust layer
// takes as a parameter.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { parseFormatList, runSealpost, shellC } from "../helpers/cli.js";
import { AdminApi } from "../../src/admin/api.js";
import { readCertificates } from "../../src/pki/certs.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

let work: string;
let root: OpenSslCa;
let woodgrove: OpenSslCa;
let crlServer: http.Server;
let crlBase: string;
let crlRequests = 0;

const der = (pem: string): Buffer => readCertificates(Buffer.from(pem))[0] as Buffer;

function partnerLeaf(n: string): IssuedCert {
  return woodgrove.issueLeaf({ subject: `CN=${n}.woodgrovebank.com`, dnsNames: ["woodgrovebank.com"], keyType: "ec-p256", crlUrl: `${crlBase}/woodgrove.crl` });
}

/** A data folder trusting the common root, its CRL server allowed by the outbound fetch policy. */
async function dataFolder(name: string, now?: () => Date): Promise<{ dir: string; api: AdminApi }> {
  const dir = path.join(work, name);
  const api = await AdminApi.openWithDefaults(dir, now ? { now } : {});
  await api.trust.add("root", Buffer.from(root.certPem));
  await api.trust.setSettings({ useSystemTrustStore: false });
  api.transportServer.set({ outboundFetchAllowedRanges: { replace: ["127.0.0.1"] }, outboundFetchAllowedPorts: { replace: [new URL(crlBase).port] } });
  return { dir, api };
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-revoked-partner-"));
  // Every request gets the CA's current CRL, valid for 30 days (as some public CAs publish them).
  crlServer = http.createServer((req, res) => {
    crlRequests++;
    const ca = req.url === "/root.crl" ? root : req.url === "/woodgrove.crl" ? woodgrove : undefined;
    if (!ca) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/pkix-crl" }).end(ca.crl({ der: true, days: 30 }));
  });
  await new Promise<void>((r) => crlServer.listen(0, "127.0.0.1", r));
  crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
  woodgrove = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
});

after(() => {
  crlServer?.close();
  root?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("a revoked partner certificate", () => {
  test("is seen revoked once the cached CRL is older than 24 hours, though its nextUpdate is 30 days out", async () => {
    let clock = new Date();
    const { api } = await dataFolder("max-age", () => clock);
    try {
      const leaf = partnerLeaf("mx1");
      const chain = [der(leaf.certPem), der(woodgrove.certPem)];
      const engine = await api.ctx.trust();
      const first = await engine.verifyForDomain(chain, "woodgrovebank.com", {}, { role: "client", revocationMode: "Hard" });
      assert.equal(first.code, "OK", first.reason);

      woodgrove.revoke(leaf, "keyCompromise");
      // The CA now publishes the revocation; the cached CRL (fetched a moment ago) says nothing of it.
      clock = new Date(clock.getTime() + 12 * HOUR);
      assert.equal((await engine.verifyForDomain(chain, "woodgrovebank.com", {}, { role: "client", revocationMode: "Hard" })).code, "OK", "within 24 hours the cached CRL answers");

      // A day and a minute after the fetch: before the fix the 30-day nextUpdate kept it "good" for a month.
      clock = new Date(clock.getTime() + 12 * HOUR + MIN);
      const later = await engine.verifyForDomain(chain, "woodgrovebank.com", {}, { role: "client", revocationMode: "Hard" });
      assert.equal(later.code, "CERT_REVOKED", later.reason);
      assert.match(later.reason, /revoked \(keyCompromise\)/);
    } finally {
      await api.close();
    }
  });

  test("a cached CRL within both bounds is not 'revocation unknown' while its server is down", async () => {
    // Woodgrove's CRL from a server of its own, which then goes down.
    const own = http.createServer((_req, res) => void res.writeHead(200).end(woodgrove.crl({ der: true, days: 30 })));
    await new Promise<void>((r) => own.listen(0, "127.0.0.1", r));
    const ownUrl = `http://127.0.0.1:${(own.address() as AddressInfo).port}/woodgrove.crl`;
    let clock = new Date();
    const { api } = await dataFolder("server-down", () => clock);
    api.transportServer.set({ outboundFetchAllowedPorts: { add: [new URL(ownUrl).port], remove: [] } });
    const leaf = woodgrove.issueLeaf({ subject: "CN=mx2.woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256", crlUrl: ownUrl });
    const chain = [der(leaf.certPem), der(woodgrove.certPem)];
    try {
      const engine = await api.ctx.trust();
      assert.equal((await engine.verify(chain, { role: "client", revocationMode: "Hard" })).code, "OK");
      own.closeAllConnections();
      await new Promise<void>((r) => own.close(() => r()));
      clock = new Date(clock.getTime() + 20 * HOUR);
      const v = await engine.verify(chain, { role: "client", revocationMode: "Hard" });
      assert.equal(v.code, "OK", v.reason);
      // Past the maximum age, with no way to refresh: unknown, saying why (Hard refuses).
      clock = new Date(clock.getTime() + 5 * HOUR);
      const stale = await engine.verify(chain, { role: "client", revocationMode: "Hard" });
      assert.equal(stale.code, "REVOCATION_UNKNOWN");
      assert.match(stale.reason, /longer ago than the revocation cache's maximum age of 24 hours and could not be refreshed: it could not be fetched \(connection refused\)/);
    } finally {
      own.close();
      await api.close();
    }
  });

  test("the maximum age is a setting: Set-TransportServer -RevocationCacheMaxAge, Exchange's TimeSpan form", async () => {
    let clock = new Date();
    const { dir, api } = await dataFolder("setting", () => clock);
    try {
      const set = await shellC(dir, "Set-TransportServer -RevocationCacheMaxAge 02:00:00");
      assert.equal(set.code, 0, set.stderr);
      const [v] = parseFormatList((await shellC(dir, "Get-TransportServer | FL RevocationCacheMaxAge")).stdout);
      assert.equal(v?.RevocationCacheMaxAge, "02:00:00");
      const leaf = partnerLeaf("mx3");
      const chain = [der(leaf.certPem), der(woodgrove.certPem)];
      const engine = await api.ctx.trust();
      assert.equal((await engine.verify(chain, { role: "client" })).code, "OK");
      woodgrove.revoke(leaf, "superseded");
      clock = new Date(clock.getTime() + 2 * HOUR + MIN);
      // The shell wrote the setting in another process: it is read within a second (the clock above is the
      // trust layer's; the setting's own re-read is by real time), so wait for it, not for a fixed time.
      const deadline = Date.now() + 5000;
      let code = "";
      while (Date.now() < deadline && (code = (await engine.verify(chain, { role: "client" })).code) !== "CERT_REVOKED") {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(code, "CERT_REVOKED");
      const bad = await shellC(dir, "Set-TransportServer -RevocationCacheMaxAge 00:00:30");
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /RevocationCacheMaxAge '00:00:30' is not valid: it must be from 00:01:00 to 90\.00:00:00/);
    } finally {
      await api.close();
    }
  });

  test("Update-RevocationCache (shell) and `trust update-revocation` (CLI) fetch again at once; Test-Certificate and a running engine then see the revocation", async () => {
    let clock = new Date();
    const { dir, api } = await dataFolder("update", () => clock);
    const leaf = partnerLeaf("mx4");
    const file = path.join(work, "mx4.pem");
    writeFileSync(file, leaf.certPem + woodgrove.certPem);
    try {
      // A running engine (this process) and Test-Certificate (the shell, another process) both see it good.
      const engine = await api.ctx.trust();
      const chain = [der(leaf.certPem), der(woodgrove.certPem)];
      assert.equal((await engine.verify(chain, { role: "client" })).code, "OK");
      const t1 = await shellC(dir, `Test-Certificate -Path ${file} -Domain woodgrovebank.com`);
      assert.match(t1.stdout, /Verdict: PASS OK/, t1.stderr);

      woodgrove.revoke(leaf, "keyCompromise");
      const t2 = await shellC(dir, `Test-Certificate -Path ${file} -Domain woodgrovebank.com`);
      assert.match(t2.stdout, /Verdict: PASS OK/, "the cached CRL still answers");

      const before = crlRequests;
      const up = await runSealpost(["--data", dir, "shell", "-c", "Update-RevocationCache | FL"]);
      assert.equal(up.code, 0, up.stderr);
      const rows = parseFormatList(up.stdout);
      assert.equal(crlRequests, before + 2, "both CRLs (the root's and Woodgrove's) were fetched again");
      const wg = rows.find((r) => r.Url === `${crlBase}/woodgrove.crl`);
      assert.ok(wg, up.stdout);
      assert.equal(wg.Source, "CRL");
      assert.equal(wg.Status, "Updated");
      assert.equal(wg.Subject, "CN=Woodgrove Issuing CA, O=Woodgrove Bank");
      assert.match(wg.ThisUpdate ?? "", /^\d{4}-\d\d-\d\dT/);
      assert.ok(new Date(wg.NextUpdate ?? "").getTime() - new Date(wg.ThisUpdate ?? "").getTime() >= 29 * DAY, "nextUpdate 30 days out");

      const t3 = await shellC(dir, `Test-Certificate -Path ${file} -Domain woodgrovebank.com`);
      assert.match(t3.stdout, /Verdict: FAIL CERT_REVOKED: .*revoked \(keyCompromise\)/);
      // The running engine reads the refreshed file at its next check (files are re-read at most every second).
      clock = new Date(clock.getTime() + 2000);
      const v = await engine.verify(chain, { role: "client" });
      assert.equal(v.code, "CERT_REVOKED", v.reason);

      // One URL, one certificate (its file, or its thumbprint once the cache knows it), and the CLI form.
      const other = partnerLeaf("mx5");
      const otherFile = path.join(work, "mx5.pem");
      writeFileSync(otherFile, other.certPem + woodgrove.certPem);
      const byUrl = await shellC(dir, `Update-RevocationCache -Url ${crlBase}/woodgrove.crl`);
      assert.equal(byUrl.code, 0, byUrl.stderr);
      assert.match(byUrl.stdout, /^Source\s+Status\s+ThisUpdate\s+NextUpdate\s+Url/m);
      assert.match(byUrl.stdout, new RegExp(`CRL\\s+Updated\\s+\\S+\\s+\\S+\\s+${crlBase.replace(/\./g, "\\.")}/woodgrove\\.crl`));
      const byPath = await shellC(dir, `Update-RevocationCache -Path ${otherFile}`);
      assert.equal(byPath.code, 0, byPath.stderr);
      assert.match(byPath.stdout, /CRL\s+Updated/);
      const byThumb = await shellC(dir, `Update-RevocationCache -Certificate ${woodgrove.sha1}`);
      assert.equal(byThumb.code, 0, byThumb.stderr);
      assert.match(byThumb.stdout, new RegExp(`CRL\\s+Updated\\s+\\S+\\s+\\S+\\s+${crlBase.replace(/\./g, "\\.")}/root\\.crl`), "an issuing CA the cache knows: its CRL, from the root");
      const cli = await runSealpost(["--data", dir, "--json", "trust", "update-revocation", "--url", `${crlBase}/woodgrove.crl`]);
      assert.equal(cli.code, 0, cli.stderr);
      const json = JSON.parse(cli.stdout) as Array<{ Source: string; Status: string; Url: string; ThisUpdate: string; NextUpdate: string }>;
      assert.deepEqual(json.map((j) => [j.Source, j.Status, j.Url]), [["CRL", "Updated", `${crlBase}/woodgrove.crl`]]);
      // A URL the cache has never used, and a failure, are said plainly.
      const none = await shellC(dir, "Update-RevocationCache -Url http://127.0.0.1:9/none.crl");
      assert.notEqual(none.code, 0);
      assert.match(none.stderr, /Nothing in this server's revocation cache comes from http:\/\/127\.0\.0\.1:9\/none\.crl/);
      const tooMany = await shellC(dir, `Update-RevocationCache -Url ${crlBase}/woodgrove.crl -Path ${otherFile}`);
      assert.notEqual(tooMany.code, 0);
      assert.match(tooMany.stderr, /give one of -Url, -Certificate or -Path/);
    } finally {
      await api.close();
    }
  });
});
