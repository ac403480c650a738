// Interop: swaks (Debian), an independent SMTP client, against a running
// edge with Domain Security: with Woodgrove's client certificate it is
// accepted and marked; without STARTTLS it is refused as SPEC §2 says.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { AdminApi } from "../../src/admin/api.js";
import { EdgeProcess } from "../../src/server/edge.js";

let work: string;
let root: OpenSslCa;
let woodgrove: OpenSslCa;
let wg: IssuedCert;
let edge: EdgeProcess;
let dataDir: string;
const host = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

function swaks(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("swaks", ["--server", host, "--port", "2525", "--helo", "mail.woodgrovebank.com", ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-swaks-"));
  root = await OpenSslCa.createRoot({ name: "CN=Interop Root", keyType: "ec-p256" });
  woodgrove = await root.createIntermediate({ name: "CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  wg = woodgrove.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });
  writeFileSync(path.join(work, "wg.pem"), wg.certPem + woodgrove.certPem);
  writeFileSync(path.join(work, "wg.key"), wg.keyPem as string, { mode: 0o600 });
  dataDir = path.join(work, "edge");
  const api = await AdminApi.openWithDefaults(dataDir);
  await api.setServerName("mail1.contoso.com");
  await api.certificates.newCertificate({ generateRequest: false, keySize: "P-256", services: ["SMTP"] });
  await api.trust.add("root", Buffer.from(root.certPem));
  // swaks sends its leaf alone, as many mail servers do: the intermediate is known to the organization.
  await api.trust.add("intermediate", Buffer.from(woodgrove.certPem));
  await api.trust.setSettings({ useSystemTrustStore: false });
  // The test PKI publishes no CRL: Soft revocation keeps this about the client.
  await api.partners.set("woodgrovebank.com", { revocationMode: "Soft" });
  await api.transport.newAcceptedDomain({ domainName: "contoso.com" });
  await api.transport.newMailbox({ primarySmtpAddress: "alice@contoso.com" });
  await api.transport.setConfig({ tlsReceiveDomainSecureList: { replace: ["woodgrovebank.com"] } });
  await api.connectors.set("Inet", { bindings: [`${host}:2525`], domainSecureEnabled: true, authMechanism: ["Tls"] });
  await api.close();
  edge = new EdgeProcess({ dataDir });
  await edge.start();
});

after(async () => {
  await edge?.stop();
  root.cleanup();
  rmSync(work, { recursive: true, force: true });
});

test("swaks with a client certificate: accepted and marked domain-secured", async () => {
  const r = await swaks(["--from", "a@woodgrovebank.com", "--to", "alice@contoso.com", "--tls", "--tls-cert", path.join(work, "wg.pem"), "--tls-key", path.join(work, "wg.key"), "--header", "Subject: via-swaks"]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /<~\s+250 2\.6\.0 .* Queued mail for delivery/);
  const dir = path.join(dataDir, "maildir", "contoso.com", "alice", "new");
  let msg = "";
  for (let i = 0; i < 100 && !msg; i++) {
    if (existsSync(dir)) msg = readdirSync(dir).map((f) => readFileSync(path.join(dir, f), "utf8")).find((m) => m.includes("via-swaks")) ?? "";
    if (!msg) await new Promise((res) => setTimeout(res, 50));
  }
  assert.match(msg, new RegExp(`x-domain-secure=pass smtp\\.mailfrom=woodgrovebank\\.com x-domain-secure\\.cert=${wg.sha1}`));
});

test("swaks without STARTTLS: 451 4.7.3", async () => {
  const r = await swaks(["--from", "a@woodgrovebank.com", "--to", "alice@contoso.com"]);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /<\*\*\s+451 4\.7\.3 Must issue a STARTTLS command first/);
});
