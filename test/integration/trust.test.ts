// The trust layer end to end through the management shell: Test-Certificate
// against an OpenSSL CA whose CRLs and OCSP answers are served over loopback
// HTTP, with partner options set by Set-DomainSecurePartner.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash, X509Certificate } from "node:crypto";
import { OpenSslCa, opensslSha1, type IssuedCert } from "../helpers/openssl-ca.js";
import { shellC, runSealpost } from "../helpers/cli.js";

let work: string;
let root: OpenSslCa;
let woodgrove: OpenSslCa;
let server: http.Server;
let base: string;
const hits: string[] = [];
let watchServer: http.Server;
let watchBase: string;
const watchHits: string[] = [];

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-trust-"));
  server = http.createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url === "/root.crl") return void res.end(root.crl({ der: true }));
    if (req.url === "/woodgrove.crl") return void res.end(woodgrove.crl({ der: true }));
    if (req.url === "/ocsp" && req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.setHeader("content-type", "application/ocsp-response");
        res.end(woodgrove.ocspRespond(Buffer.concat(chunks)));
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  watchServer = http.createServer((req, res) => {
    watchHits.push(req.url ?? "");
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => watchServer.listen(0, "127.0.0.1", r));
  watchBase = `http://127.0.0.1:${(watchServer.address() as AddressInfo).port}`;
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
  woodgrove = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256", crlUrl: `${base}/root.crl` });
});

after(() => {
  server.close();
  watchServer.close();
  root.cleanup();
  rmSync(work, { recursive: true, force: true });
});

function write(name: string, ...pems: string[]): string {
  const file = path.join(work, name);
  writeFileSync(file, pems.join(""));
  return file;
}

async function org(name: string): Promise<string> {
  const dir = path.join(work, name);
  const r = await shellC(dir, `Add-TrustedRootCertificate -Path ${write("root.pem", root.certPem)}`);
  assert.equal(r.code, 0, r.stderr);
  // The CRL/OCSP servers are on loopback, which the outbound fetch policy refuses unless allowed (port 9:
  // the "unreachable" test's, so it stays a connection failure, not a refusal by the policy).
  const port = (u: string) => new URL(u).port;
  const allow = await shellC(dir, `Set-TransportServer -OutboundFetchAllowedRanges 127.0.0.0/8 -OutboundFetchAllowedPorts ${port(base)},${port(watchBase)},9`);
  assert.equal(allow.code, 0, allow.stderr);
  return dir;
}

async function testCert(dir: string, cert: IssuedCert, domain = "woodgrovebank.com"): Promise<string> {
  const file = write(`${cert.serial}.pem`, cert.certPem, woodgrove.certPem);
  const r = await shellC(dir, `Test-Certificate -Path ${file} -Domain ${domain}`);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe("Test-Certificate with real revocation sources", () => {
  test("a valid partner certificate passes, with the chain and each check shown", async () => {
    const dir = await org("valid");
    const leaf = woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], crlUrl: `${base}/woodgrove.crl` });
    const out = await testCert(dir, leaf);
    assert.match(out, /\[0\] CN=woodgrovebank\.com/);
    assert.match(out, /\[1\] CN=Woodgrove Issuing CA, O=Woodgrove Bank/);
    assert.match(out, /\[2\] CN=Common Root CA, O=Common Trust\s+\(anchor\)/);
    assert.match(out, /\[PASS\] revocation of CN=woodgrovebank\.com: not revoked \(CRL http/);
    assert.match(out, /\[PASS\] name matches woodgrovebank\.com/);
    assert.match(out, /Verdict: PASS OK/);
  });

  test("revoked by CRL, and revoked by OCSP", async () => {
    const dir = await org("revoked");
    const byCrl = woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], crlUrl: `${base}/woodgrove.crl` });
    const byOcsp = woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], ocspUrl: `${base}/ocsp` });
    woodgrove.revoke(byCrl, "keyCompromise");
    woodgrove.revoke(byOcsp, "keyCompromise");
    assert.match(await testCert(dir, byCrl), /Verdict: FAIL CERT_REVOKED: .*revoked.*CRL http/);
    assert.match(await testCert(dir, byOcsp), /Verdict: FAIL CERT_REVOKED: .*revoked.*OCSP http/);
  });

  test("no revocation information: Hard refuses, Soft passes with a warning", async () => {
    const dir = await org("soft");
    const leaf = woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"] });
    assert.match(await testCert(dir, leaf), /Verdict: FAIL REVOCATION_UNKNOWN: .*no CRL distribution point or OCSP responder/i);
    const set = await shellC(dir, "Set-DomainSecurePartner woodgrovebank.com -RevocationMode Soft");
    assert.equal(set.code, 0, set.stderr);
    const out = await testCert(dir, leaf);
    assert.match(out, /\[WARN\] The revocation status of CN=woodgrovebank\.com is unknown/);
    assert.match(out, /Verdict: PASS OK/);
  });

  test("an unreachable distribution point is 'unknown', never a pass", async () => {
    const dir = await org("unreachable");
    const leaf = woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], crlUrl: "http://127.0.0.1:9/nothing.crl" });
    assert.match(await testCert(dir, leaf), /Verdict: FAIL REVOCATION_UNKNOWN/);
  });

  test("an unverified chain's distribution point is never fetched", async () => {
    const dir = await org("unverified");
    const rogue = await OpenSslCa.createRoot({ name: "CN=Rogue Root", keyType: "ec-p256" });
    try {
      const leaf = rogue.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], crlUrl: `${watchBase}/attacker.crl`, ocspUrl: `${watchBase}/ocsp` });
      const file = write("rogue.pem", leaf.certPem, rogue.certPem);
      const r = await shellC(dir, `Test-Certificate -Path ${file} -Domain woodgrovebank.com`);
      assert.match(r.stdout, /Verdict: FAIL CHAIN_UNTRUSTED/);
      assert.deepEqual(watchHits, [], "no request reached the address the certificate named");
    } finally {
      rogue.cleanup();
    }
  });

  test("partner options change the verdict: Subdomains, CertificateNames, AllowedIssuers", async () => {
    const dir = await org("partner");
    const host = woodgrove.issueLeaf({ subject: "CN=mx1.woodgrovebank.com", dnsNames: ["mx1.woodgrovebank.com"], crlUrl: `${base}/woodgrove.crl` });
    assert.match(await testCert(dir, host), /Verdict: FAIL NAME_MISMATCH/);
    assert.equal((await shellC(dir, "Set-DomainSecurePartner woodgrovebank.com -NameMatch Subdomains")).code, 0);
    assert.match(await testCert(dir, host), /Verdict: PASS OK/);
    // Pinned by key, from the CA certificates' files (a name alone pins nothing and is refused).
    const fabrikam = await root.createIntermediate({ name: "O=Fabrikam,CN=Fabrikam Issuing CA", keyType: "ec-p256" });
    const fabrikamFile = write("fabrikam-ca.pem", fabrikam.certPem);
    const woodgroveFile = write("woodgrove-ca.pem", woodgrove.certPem);
    const byName = await shellC(dir, 'Set-DomainSecurePartner woodgrovebank.com -AllowedIssuers "CN=Woodgrove Issuing CA, O=Woodgrove Bank"');
    assert.notEqual(byName.code, 0);
    assert.match(byName.stderr, /is a name, and a name does not identify a CA/);
    assert.equal((await shellC(dir, `Set-DomainSecurePartner woodgrovebank.com -AllowedIssuers ${fabrikamFile}`)).code, 0);
    assert.match(await testCert(dir, host), /Verdict: FAIL ISSUER_NOT_ALLOWED/);
    assert.equal((await shellC(dir, `Set-DomainSecurePartner woodgrovebank.com -AllowedIssuers @{Add="${woodgroveFile}"}`)).code, 0);
    assert.match(await testCert(dir, host), /Verdict: PASS OK/);
    assert.equal((await shellC(dir, "Set-DomainSecurePartner woodgrovebank.com -AllowWeakCrypto $true")).code, 0);
    const json = await runSealpost(["--data", dir, "--json", "partner", "show", "WoodgroveBank.com"]);
    const key = (pem: string) => createHash("sha256").update(new X509Certificate(pem).publicKey.export({ format: "der", type: "spki" })).digest("hex").toUpperCase();
    assert.deepEqual(JSON.parse(json.stdout), {
      Domain: "woodgrovebank.com",
      NameMatch: "Subdomains",
      CertificateNames: [],
      AllowedIssuers: [
        `CN=Fabrikam Issuing CA, O=Fabrikam (key SHA-256 ${key(fabrikam.certPem)}; thumbprint ${opensslSha1(fabrikam.certPem)})`,
        `CN=Woodgrove Issuing CA, O=Woodgrove Bank (key SHA-256 ${key(woodgrove.certPem)}; thumbprint ${opensslSha1(woodgrove.certPem)})`,
      ],
      Mode: "Enforce",
      RevocationMode: "Hard",
      AllowWeakCrypto: true,
    });
    // The CLI takes the same files; a bad one changes nothing.
    const notCa = await runSealpost(["--data", dir, "partner", "set", "woodgrovebank.com", "--allowed-issuers", write("leaf.pem", host.certPem)]);
    assert.notEqual(notCa.code, 0);
    assert.match(notCa.stderr, /is not a CA certificate/);
    const cli = await runSealpost(["--data", dir, "--json", "partner", "set", "woodgrovebank.com", "--allowed-issuers", woodgroveFile, "--allow-weak-crypto", "false"]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((JSON.parse(cli.stdout) as { AllowedIssuers: string[] }).AllowedIssuers.length, 1);
    assert.equal((JSON.parse(cli.stdout) as { AllowWeakCrypto: boolean }).AllowWeakCrypto, false);
    // bad values change nothing
    const bad = await shellC(dir, "Set-DomainSecurePartner woodgrovebank.com -NameMatch Subdomains -Mode Sometimes");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Mode 'Sometimes' is not valid/);
    const verify = await runSealpost(["--data", dir, "cert", "verify", write("host.pem", host.certPem, woodgrove.certPem), "--domain", "woodgrovebank.com"]);
    assert.equal(verify.code, 0, verify.stdout);
  });
});
