// Seed procedures 1 and 2 through `sealpost --data DIR shell -c`, with the
// commands as the seed writes them (only the paths changed), an independent
// CA made with the OpenSSL command line, and real TLS handshakes in Node.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { X509Certificate } from "node:crypto";
import { OpenSslCa, opensslSha1, runOpenssl } from "../helpers/openssl-ca.js";
import { parseFormatList, shellC, runSealpost } from "../helpers/cli.js";
import { AdminApi } from "../../src/admin/api.js";

let work: string;
let root: OpenSslCa;
let issuing: OpenSslCa;
let crlServer: http.Server;
let crlBase: string;

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-seed-"));
  // CRLs are served over loopback HTTP, as the seed's "PKI environment" requires.
  crlServer = http.createServer((req, res) => {
    const ca = req.url === "/root.crl" ? root : req.url === "/issuing.crl" ? issuing : undefined;
    if (!ca) return void res.writeHead(404).end();
    res.end(ca.crl({ der: true }));
  });
  await new Promise<void>((r) => crlServer.listen(0, "127.0.0.1", r));
  crlBase = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}`;
  root = await OpenSslCa.createRoot({ name: "O=Fabrikam Trust,CN=Common Root CA", keyType: "ec-p256" });
  issuing = await root.createIntermediate({ name: "DC=com,DC=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
});

after(() => {
  crlServer.close();
  root.cleanup();
  rmSync(work, { recursive: true, force: true });
});

function dataDir(name: string): string {
  return path.join(work, name);
}

async function ok(dir: string, line: string): Promise<string> {
  const r = await shellC(dir, line, { cwd: work });
  assert.equal(r.code, 0, `${line}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** A TLS server with the store's credentials for `fqdn`; a client that trusts `caPem` connects. */
async function handshake(dir: string, fqdn: string, caPem: string): Promise<{ authorized: boolean; fingerprint: string; error?: string }> {
  const api = AdminApi.open(dir);
  const creds = api.ctx.certs.tlsCredentialsFor(fqdn);
  await api.close();
  assert.ok(creds, `no certificate for ${fqdn}`);
  const server = tls.createServer({ key: creds.key, cert: creds.cert, minVersion: "TLSv1.2" }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise((resolve, reject) => {
      const sock = tls.connect({ host: "127.0.0.1", port, servername: fqdn, ca: caPem, rejectUnauthorized: false }, () => {
        const peer = sock.getPeerX509Certificate();
        resolve({
          authorized: sock.authorized,
          fingerprint: (peer?.fingerprint ?? "").replace(/:/g, ""),
          ...(sock.authorizationError ? { error: String(sock.authorizationError) } : {}),
        });
        sock.end();
      });
      sock.on("error", reject);
    });
  } finally {
    server.close();
  }
}

describe("seed procedures 1 and 2 through the management shell", () => {
  test("request, sign with an OpenSSL CA, import | enable, Get-ExchangeCertificate | FL, TLS", async () => {
    const dir = dataDir("mail1");
    await ok(dir, "Get-ExchangeCertificate"); // creates the data folder
    // 1. the request, exactly as the seed writes it (path changed)
    await ok(
      dir,
      'New-ExchangeCertificate -GenerateRequest -FriendlyName "Internet certificate" -Path ./request.p7c -SubjectName "DC=com,DC=Contoso,CN=mail1.contoso.com"  -DomainName mail.contoso.com',
    );
    const reqText = runOpenssl(["req", "-in", path.join(work, "request.p7c"), "-noout", "-subject", "-verify", "-nameopt", "RFC2253"]).toString();
    assert.match(reqText, /CN=mail1\.contoso\.com,DC=Contoso,DC=com/);
    const pending = parseFormatList(await ok(dir, "Get-ExchangeCertificate | FL"));
    assert.equal(pending.length, 1);
    assert.equal(pending[0]?.Status, "PendingRequest");
    assert.equal(pending[0]?.FriendlyName, "Internet certificate");

    // the PKI administrator signs it
    const issued = issuing.signRequest(path.join(work, "request.p7c"), { eku: "both", crlUrl: `${crlBase}/issuing.crl` });
    const issuedPath = path.join(work, "mail1-issued.cer");
    writeFileSync(issuedPath, issued.certPem + issuing.certPem);

    // 2. import bound to the pending request's key, enabled for SMTP in the same pipeline
    await ok(dir, `Import-ExchangeCertificate -Path ${JSON.stringify(issuedPath)} | Enable-ExchangeCertificate -Services SMTP`);
    // until the organization trusts the common root, the certificate is untrusted
    assert.equal(parseFormatList(await ok(dir, "Get-ExchangeCertificate | FL"))[0]?.Status, "Untrusted");
    const rootPath = path.join(work, "root.cer");
    writeFileSync(rootPath, root.certPem);
    await ok(dir, `Add-TrustedRootCertificate -Path ${rootPath}`);
    // The CRLs are on loopback: allowed explicitly (the outbound fetch policy refuses loopback by default).
    await ok(dir, `Set-TransportServer -OutboundFetchAllowedRanges 127.0.0.1 -OutboundFetchAllowedPorts ${new URL(crlBase).port}`);
    const [cert] = parseFormatList(await ok(dir, "Get-ExchangeCertificate |FL"));
    assert.ok(cert);
    assert.equal(cert.Thumbprint, opensslSha1(issued.certPath));
    assert.equal(cert.Services, "SMTP");
    assert.equal(cert.Status, "Valid");
    assert.equal(cert.HasPrivateKey, "True");
    assert.equal(cert.PrivateKeyExportable, "False");
    assert.equal(cert.Subject, "CN=mail1.contoso.com, DC=Contoso, DC=com");
    assert.equal(cert.Issuer, "CN=Contoso Issuing CA, DC=Contoso, DC=com");
    assert.equal(cert.SerialNumber, issued.serial);
    assert.equal(cert.CertificateDomains, "{mail1.contoso.com, mail.contoso.com}");
    assert.equal(cert.KeySize, "2048");

    // the default table shows Thumbprint, Services, Subject
    const table = await ok(dir, "Get-ExchangeCertificate");
    assert.match(table, /^Thumbprint\s+Services\s+Subject/m);
    assert.match(table, new RegExp(`${issued.sha1}\\s+SMTP\\s+CN=mail1\\.contoso\\.com`));

    // the certificate serves TLS for both names, with the chain the CA sent
    for (const name of ["mail.contoso.com", "mail1.contoso.com"]) {
      const h = await handshake(dir, name, root.certPem);
      assert.equal(h.authorized, true, h.error);
      assert.equal(h.fingerprint, issued.sha1);
    }
    // private keys are files of mode 0600 in a 0700 folder
    const keysDir = path.join(dir, "keys");
    assert.equal(statSync(keysDir).mode & 0o777, 0o700);
    for (const f of readdirSync(keysDir)) assert.equal(statSync(path.join(keysDir, f)).mode & 0o777, 0o600);
  });

  test("issued certificate as DER, as PKCS#7 (.p7b) and with ECDSA keys", async () => {
    const dir = dataDir("mail2");
    // The CA hands out the leaf alone: the store completes the chain from the
    // organization's known intermediates.
    const interPath = path.join(work, "issuing-ca.cer");
    writeFileSync(interPath, issuing.certPem);
    await ok(dir, `Add-IntermediateCertificate -Path ${interPath}`);
    // Each certificate's NotBefore is later than the one before it (the server presents the latest), not
    // left to the clock: both may be issued within the same second.
    for (const [form, keyArgs, hoursAgo] of [
      ["der", "-KeySize 3072", 2],
      ["p7b", "-KeyAlgorithm ECDSA", 1],
    ] as const) {
      const req = path.join(work, `mail2-${form}.req`);
      await ok(dir, `New-ExchangeCertificate -GenerateRequest -Path ${req} -SubjectName "C=US,O=Contoso,CN=mail2.mail.contoso.com" -DomainName mail.contoso.com ${keyArgs}`);
      const issued = issuing.signRequest(req, { startDate: new Date(Date.now() - hoursAgo * 3_600_000), days: 365 });
      const file = path.join(work, `mail2.${form === "der" ? "cer" : "p7b"}`);
      if (form === "der") writeFileSync(file, runOpensslBuffer(["x509", "-in", issued.certPath, "-outform", "DER"]));
      else writeFileSync(file, issuing.p7b([issued.certPem]));
      await ok(dir, `Import-ExchangeCertificate -Path ${file}`);
      await ok(dir, `Enable-ExchangeCertificate -Thumbprint ${issued.sha1} -Services SMTP`);
      const [c] = parseFormatList(await ok(dir, `Get-ExchangeCertificate -Thumbprint ${issued.sha1} | Format-List`));
      assert.equal(c?.Services, "SMTP");
      assert.equal(c?.KeyAlgorithm, form === "der" ? "RSA" : "ECDSA");
      assert.equal(c?.KeySize, form === "der" ? "3072" : "256");
      const h = await handshake(dir, "mail2.mail.contoso.com", root.certPem);
      assert.equal(h.authorized, true, h.error);
      assert.equal(h.fingerprint, issued.sha1, "the newest CA-issued certificate is served");
      // a second import of the same certificate is refused
      const again = await shellC(dir, `Import-ExchangeCertificate -Path ${file}`, { cwd: work });
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /already in this server's store/);
    }
  });

  test("a PFX made by openssl pkcs12 -export imports and is enabled in one pipeline", async () => {
    const dir = dataDir("pfx-import");
    const leaf = issuing.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com", "mail.contoso.com"], keyType: "rsa2048" });
    const pfxPath = path.join(work, "import.pfx");
    writeFileSync(pfxPath, issuing.pfx(leaf, "Pässwörd€ 1", { withChain: true }));
    await ok(dir, `Import-ExchangeCertificate -Path ${pfxPath} -Password "Pässwörd€ 1" | Enable-ExchangeCertificate -Services SMTP`);
    const [c] = parseFormatList(await ok(dir, "Get-ExchangeCertificate | FL"));
    assert.equal(c?.Thumbprint, leaf.sha1);
    assert.equal(c?.Services, "SMTP");
    assert.equal(c?.PrivateKeyExportable, "False", "Import-ExchangeCertificate marks keys non-exportable by default");
    const h = await handshake(dir, "mail.contoso.com", root.certPem);
    assert.equal(h.authorized, true, h.error);
    assert.equal(h.fingerprint, leaf.sha1);
  });

  test("the password can come from the environment or a file instead of the command line", async () => {
    const dir = dataDir("pfx-secret");
    const leaf = issuing.issueLeaf({ subject: "CN=secret.contoso.com", dnsNames: ["secret.contoso.com"] });
    const pfxPath = path.join(work, "secret.pfx");
    writeFileSync(pfxPath, issuing.pfx(leaf, "from-env"));
    const r = await shellC(dir, `Import-ExchangeCertificate -Path ${pfxPath} -Password $env:SEALPOST_TEST_PFX`, { cwd: work, env: { SEALPOST_TEST_PFX: "from-env" } });
    assert.equal(r.code, 0, r.stderr);
    const pw = path.join(work, "pw.txt");
    writeFileSync(pw, "from-env\n", { mode: 0o600 });
    const dir2 = dataDir("pfx-secret-file");
    await ok(dir2, `Import-ExchangeCertificate -Path ${pfxPath} -PasswordFile ${pw}`);
    const dir3 = dataDir("pfx-secret-cli");
    const cli = await runSealpost(["--data", dir3, "--json", "cert", "import", pfxPath, "--password-file", pw, "--enable", "SMTP"]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((JSON.parse(cli.stdout) as { Thumbprint: string; Services: string }).Thumbprint, leaf.sha1);
  });

  test("export to PFX: openssl pkcs12 opens it and it serves a TLS handshake", async () => {
    const dir = dataDir("export");
    await ok(dir, 'New-ExchangeCertificate -GenerateRequest -Path ./export.req -SubjectName "CN=edge.contoso.com" -PrivateKeyExportable $true');
    const issued = issuing.signRequest(path.join(work, "export.req"));
    const cer = path.join(work, "export.cer");
    writeFileSync(cer, issued.certPem + issuing.certPem);
    await ok(dir, `Import-ExchangeCertificate -Path ${cer} | Enable-ExchangeCertificate -Services SMTP`);
    const out = path.join(work, "backup.pfx");
    await ok(dir, `Export-ExchangeCertificate -Thumbprint ${issued.sha1} -Path ${out} -Password "B4ckup!" -BinaryEncoded`);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const dump = runOpenssl(["pkcs12", "-in", out, "-passin", "pass:B4ckup!", "-nodes"]).toString();
    assert.match(dump, /BEGIN PRIVATE KEY/);
    const certsInDump = [...dump.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
    assert.equal(certsInDump[0]?.fingerprint.replace(/:/g, ""), issued.sha1);
    assert.ok(certsInDump.some((c) => c.subject.includes("Contoso Issuing CA")), "the chain travels with the backup");
    // the backup restores on another server and serves TLS
    const server = tls.createServer({ pfx: readFileSync(out), passphrase: "B4ckup!" }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const authorized = await new Promise<boolean>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port, servername: "edge.contoso.com", ca: root.certPem }, () => {
        resolve(s.authorized);
        s.end();
      });
      s.on("error", reject);
    });
    server.close();
    assert.equal(authorized, true);
    const restored = dataDir("restored");
    await ok(restored, `Import-ExchangeCertificate -Path ${out} -Password "B4ckup!" | Enable-ExchangeCertificate -Services SMTP`);
    const h = await handshake(restored, "edge.contoso.com", root.certPem);
    assert.equal(h.fingerprint, issued.sha1);
  });

  test("a self-signed certificate (New-ExchangeCertificate without -GenerateRequest) serves TLS", async () => {
    const dir = dataDir("selfsigned");
    await runSealpost(["--data", dir, "init", "--name", "edge1.fabrikam.example"]);
    const out = await ok(dir, "New-ExchangeCertificate");
    const thumb = /^([0-9A-F]{40})\s+SMTP\s+CN=edge1\.fabrikam\.example/m.exec(out)?.[1];
    assert.ok(thumb, out);
    const api = AdminApi.open(dir);
    const creds = api.ctx.certs.tlsCredentialsFor("edge1.fabrikam.example");
    await api.close();
    assert.ok(creds);
    const h = await handshake(dir, "edge1.fabrikam.example", creds.cert);
    assert.equal(h.authorized, true, h.error);
    assert.equal(h.fingerprint, thumb);
    const [c] = parseFormatList(await ok(dir, `Get-ExchangeCertificate ${thumb} | FL`));
    assert.equal(c?.IsSelfSigned, "True");
    assert.equal(c?.Issuer, "CN=edge1.fabrikam.example");
  });
});

function runOpensslBuffer(args: string[]): Buffer {
  return runOpenssl(args);
}
