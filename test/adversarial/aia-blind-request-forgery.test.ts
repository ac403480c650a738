// Defect: AIA fetching was a blind request forgery. A certificate from an
// unknown issuer listing 20 attacker-chosen caIssuers URLs made the edge send
// HTTP GETs to those hosts, ports and paths (here: a "victim" on loopback)
// before refusing the certificate; an inbound MAIL FROM:<> (no partner named)
// made a client certificate do the same.
//
// Fixed by one outbound fetch policy for every fetch on a certificate's
// say-so (only public unicast addresses on ports 80 and 443 unless an
// administrator allows more; checked on the address connected to), a cap on
// AIA fetches per verification, no AIA fetch for the null reverse-path, and
// an AIA cache by URL. This test reproduces the attack through the trust
// engine as the server wires it, and over a real SMTP session.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";
import { AdminApi } from "../../src/admin/api.js";
import { readCertificates } from "../../src/pki/certs.js";
import { EdgeProcess } from "../../src/server/edge.js";

/** The "victim": HTTP servers on 127.0.0.1 (several ports) that count every connection and request. */
class Victim {
  readonly requests: Array<{ port: number; method: string; path: string }> = [];
  connections = 0;
  readonly servers: http.Server[] = [];
  readonly ports: number[] = [];

  static async start(count: number): Promise<Victim> {
    const v = new Victim();
    for (let i = 0; i < count; i++) {
      const server = http.createServer((req, res) => {
        v.requests.push({ port: (req.socket.localPort as number) ?? 0, method: req.method ?? "", path: req.url ?? "" });
        res.writeHead(404).end();
      });
      server.on("connection", () => v.connections++);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      v.servers.push(server);
      v.ports.push((server.address() as AddressInfo).port);
    }
    return v;
  }

  reset(): void {
    this.requests.length = 0;
    this.connections = 0;
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }
}

let work: string;
let victim: Victim;
let root: OpenSslCa;
let partnerCa: OpenSslCa;
let tailspinCa: OpenSslCa;
let rogueRoot: OpenSslCa;
let rogueCa: OpenSslCa;
let attacker: IssuedCert;
let aiaUrls: string[];
let httpUrls: string[];
let aiaServer: http.Server;
let aiaPort: number;
let aiaHits = 0;

const der = (pem: string): Buffer => readCertificates(Buffer.from(pem))[0] as Buffer;

/** A server's data folder trusting `root` only. */
async function dataFolder(name: string): Promise<AdminApi> {
  const api = await AdminApi.openWithDefaults(path.join(work, name));
  await api.setServerName("mail1.contoso.com");
  await api.trust.add("root", Buffer.from(root.certPem));
  await api.trust.setSettings({ useSystemTrustStore: false });
  return api;
}

/** What a lab (or these tests) must say to let fetches reach loopback at these ports. */
function allowLoopback(api: AdminApi, ports: number[]): void {
  api.transportServer.set({ outboundFetchAllowedRanges: { replace: ["127.0.0.0/8"] }, outboundFetchAllowedPorts: { replace: ports.map(String) } });
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-aia-forgery-"));
  victim = await Victim.start(3);
  const [p0, p1, p2] = victim.ports as [number, number, number];
  root = await OpenSslCa.createRoot({ name: "O=Common Trust,CN=Common Root CA", keyType: "ec-p256" });
  // The partner's issuing CA is reachable only through AIA (served from loopback): a "leaf-only" partner.
  partnerCa = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  tailspinCa = await root.createIntermediate({ name: "O=Tailspin Toys,CN=Tailspin Issuing CA", keyType: "ec-p256" });
  aiaServer = http.createServer((req, res) => {
    aiaHits++;
    if (req.url === "/woodgrove-ca.cer") return void res.writeHead(200, { "content-type": "application/pkix-cert" }).end(der(partnerCa.certPem));
    if (req.url === "/tailspin-ca.cer") return void res.writeHead(200, { "content-type": "application/pkix-cert" }).end(der(tailspinCa.certPem));
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => aiaServer.listen(0, "127.0.0.1", r));
  aiaPort = (aiaServer.address() as AddressInfo).port;

  // The attacker's certificate: from an issuer nobody trusts, naming 20 caIssuers URLs chosen to hit the
  // victim's ports and paths (an admin API, a metadata service path, ...), plus https/ldap/file/ftp ones.
  rogueRoot = await OpenSslCa.createRoot({ name: "CN=Rogue Root", keyType: "ec-p256" });
  rogueCa = await rogueRoot.createIntermediate({ name: "CN=Rogue Issuing CA", keyType: "ec-p256" });
  httpUrls = [
    `http://127.0.0.1:${p0}/admin/delete?all=1`,
    `http://127.0.0.1:${p1}/latest/meta-data/iam/`,
    `http://127.0.0.1:${p2}/internal/reset`,
    `http://2130706433:${p0}/decimal`,
    `http://0x7f.1:${p1}/hex`,
    `http://127.1:${p2}/short`,
    `http://[::ffff:127.0.0.1]:${p0}/mapped`,
    `http://localhost:${p1}/by-name`,
    `http://127.0.0.1:${p2}/x1`,
    `http://127.0.0.1:${p0}/x2`,
    `http://127.0.0.1:${p1}/x3`,
    `http://127.0.0.1:${p2}/x4`,
    `http://127.0.0.1:${p0}/x5`,
    `http://127.0.0.1:${p1}/x6`,
    `http://127.0.0.1/default-port`,
    `http://169.254.169.254/latest/meta-data/`,
  ];
  aiaUrls = [
    ...httpUrls,
    `https://127.0.0.1:${p0}/tls`,
    `ldap://127.0.0.1:${p1}/cn=x`,
    "file:///etc/passwd",
    `ftp://127.0.0.1:${p2}/x`,
  ];
  assert.equal(aiaUrls.length, 20);
  attacker = rogueCa.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256", aiaIssuerUrl: aiaUrls });
});

after(async () => {
  await victim?.stop();
  aiaServer?.close();
  root?.cleanup();
  rogueRoot?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("AIA blind request forgery", () => {
  test("the default policy: verifying the attacker's certificate sends nothing to the victim", async () => {
    const api = await dataFolder("default");
    try {
      victim.reset();
      const engine = await api.ctx.trust();
      for (const role of ["client", "server"] as const) {
        const v = await engine.verify([der(attacker.certPem)], { role });
        assert.equal(v.code, "CHAIN_UNTRUSTED");
      }
      // Test-Certificate, as an administrator would run it on the file, is no different.
      const file = path.join(work, "attacker.pem");
      writeFileSync(file, attacker.certPem);
      const t = await api.partners.testCertificate(readFileSync(file), { domain: "woodgrovebank.com" });
      assert.equal(t.code, "CHAIN_UNTRUSTED");
      assert.deepEqual(victim.requests, [], "no request reached the victim");
      assert.equal(victim.connections, 0, "not even a connection");
    } finally {
      await api.close();
    }
  });

  test("with loopback allowed explicitly: at most the cap (3) of requests, only to http: URLs, GET only", async () => {
    const api = await dataFolder("allowed");
    try {
      allowLoopback(api, [...victim.ports, 80]);
      victim.reset();
      const v = await (await api.ctx.trust()).verify([der(attacker.certPem)], { role: "client" });
      assert.equal(v.code, "CHAIN_UNTRUSTED");
      assert.ok(victim.requests.length <= 3, `${victim.requests.length} requests reached the victim: ${JSON.stringify(victim.requests)}`);
      assert.equal(victim.connections, victim.requests.length, "no connection without an http request (no TLS, no other protocol)");
      const httpPaths = new Set(httpUrls.map((u) => new URL(u).pathname + new URL(u).search));
      for (const r of victim.requests) {
        assert.equal(r.method, "GET");
        assert.ok(httpPaths.has(r.path), `${r.path} is one of the http: URLs`);
      }
    } finally {
      await api.close();
    }
  });

  test("a leaf-only partner (its CA reachable only by AIA) still verifies when the AIA host is allowed; the fetched CA is cached by URL", async () => {
    const api = await dataFolder("leaf-only");
    try {
      const leaf = (n: number) =>
        partnerCa.issueLeaf({ subject: `CN=mx${n}.woodgrovebank.com`, dnsNames: ["woodgrovebank.com"], keyType: "ec-p256", aiaIssuerUrl: `http://127.0.0.1:${aiaPort}/woodgrove-ca.cer` });
      const [a, b, c] = [leaf(1), leaf(2), leaf(3)];
      // Not allowed: the chain cannot be completed (and nothing is sent).
      aiaHits = 0;
      const engine = await api.ctx.trust();
      const refused = await engine.verify([der(a.certPem)], { role: "client", revocationMode: "Soft" });
      assert.equal(refused.code, "CHAIN_UNTRUSTED");
      assert.equal(aiaHits, 0);
      // Allowed: the policy is read at the next fetch. (A presentation refused in the last minute is
      // answered from the verdict cache until it expires, so another leaf is shown here.)
      allowLoopback(api, [aiaPort]);
      const ok = await (await api.ctx.trust()).verify([der(b.certPem)], { role: "client", revocationMode: "Soft" });
      assert.equal(ok.code, "OK", ok.reason);
      assert.equal(ok.chain[1]?.source, "aia");
      assert.equal(aiaHits, 1);
      // Another leaf of the same CA: no second fetch.
      const ok2 = await (await api.ctx.trust()).verify([der(c.certPem)], { role: "client", revocationMode: "Soft" });
      assert.equal(ok2.code, "OK", ok2.reason);
      assert.equal(aiaHits, 1, "the issuer came from the AIA cache");
      // Without fetchIssuers (the null reverse-path) nothing is fetched.
      const d = tailspinCa.issueLeaf({ subject: "CN=mx.tailspintoys.com", dnsNames: ["tailspintoys.com"], keyType: "ec-p256", aiaIssuerUrl: `http://127.0.0.1:${aiaPort}/tailspin-ca.cer` });
      const before = aiaHits;
      const noFetch = await (await api.ctx.trust()).verify([der(d.certPem)], { role: "client", revocationMode: "Soft", fetchIssuers: false });
      assert.equal(noFetch.code, "CHAIN_UNTRUSTED");
      assert.equal(aiaHits, before);
      // The same presentation with fetching (a MAIL FROM naming the partner) is not answered by that failure.
      const withFetch = await (await api.ctx.trust()).verify([der(d.certPem)], { role: "client", revocationMode: "Soft" });
      assert.equal(withFetch.code, "OK", withFetch.reason);
      assert.equal(aiaHits, before + 1);
    } finally {
      await api.close();
    }
  });
});

describe("inbound MAIL FROM:<> over a real SMTP session", () => {
  let edge: EdgeProcess;
  let host: string;
  const PORT = 2525;

  before(async () => {
    const api = await dataFolder("edge");
    const server = root.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256" });
    const contoso = await server;
    const cert = contoso.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com"], keyType: "ec-p256" });
    const view = await api.certificates.importCertificate({ data: contoso.pfx(cert, "pw", { withChain: true }), password: "pw" });
    await api.certificates.enableCertificate(view.Thumbprint, "SMTP");
    host = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    await api.transport.newAcceptedDomain({ domainName: "contoso.com" });
    await api.transport.newMailbox({ primarySmtpAddress: "alice@contoso.com" });
    await api.transport.setConfig({ tlsReceiveDomainSecureList: { replace: ["woodgrovebank.com", "fabrikam.com", "tailspintoys.com"] } });
    await api.connectors.set("Inet", { bindings: [`${host}:${PORT}`], domainSecureEnabled: true, authMechanism: ["Tls"] });
    // Loopback allowed, so that only the rule for the null reverse-path can keep the victim quiet.
    allowLoopback(api, [...victim.ports, 80]);
    await api.close();
    edge = new EdgeProcess({ dataDir: path.join(work, "edge"), watchIntervalMs: 100 });
    await edge.start();
  });

  after(async () => {
    await edge?.stop();
  });

  async function session(): Promise<TestSmtpClient> {
    const { client } = await TestSmtpClient.connect(host, PORT);
    await client.cmd("EHLO mail.attacker.example");
    await client.startTls({ servername: "mail1.contoso.com", key: attacker.keyPem as string, cert: attacker.certPem });
    await client.cmd("EHLO mail.attacker.example");
    return client;
  }

  test("MAIL FROM:<> with the attacker's client certificate causes no fetch (it is normal mail)", async () => {
    victim.reset();
    const c = await session();
    const r = await c.cmd("MAIL FROM:<>");
    assert.equal(r.code, 250, r.text);
    assert.equal((await c.cmd("RCPT TO:<alice@contoso.com>")).code, 250);
    await c.cmd("RSET");
    // A second null-path transaction on the same session: still nothing.
    assert.equal((await c.cmd("MAIL FROM:<>")).code, 250);
    await c.quit();
    assert.deepEqual(victim.requests, [], "the null reverse-path fetched on the certificate's say-so");
    assert.equal(victim.connections, 0);
  });

  test("only a MAIL FROM naming a partner lets the certificate cause fetches, and then at most the cap", async () => {
    victim.reset();
    const c = await session();
    const r = await c.cmd("MAIL FROM:<a@woodgrovebank.com>");
    assert.match(r.text, /^451 4\.7\.5 Domain security: /);
    await c.quit();
    assert.ok(victim.requests.length <= 3, JSON.stringify(victim.requests));
  });
});
