// The revocation layer against CAs, CRLs and OCSP responses made by the
// OpenSSL command line, served by Node http servers bound to 127.0.0.1 (port 0).
// The clock is injected; stats.fetches proves what the cache did. The
// outbound fetch policy refuses loopback by default, so every checker here
// is given a fetcher that allows 127.0.0.0/8 on any port.
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { OpenSslCa, opensslDate, runOpenssl, type IssuedCert } from "../../helpers/openssl-ca.js";
import { readCertificates } from "../../../src/pki/certs.js";
import { RevocationChecker, httpFetcher, type Fetcher, type RevocationOptions, type RevocationStatus } from "../../../src/pki/trust/revocation.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** The fetcher of a lab: loopback allowed explicitly. */
const fetcher = httpFetcher({ policy: { allowedRanges: ["127.0.0.0/8"], allowedPorts: ["1-65535"] } });
/** For tests of the nextUpdate logic alone: a maximum age that never bites first. */
const LONG_MAX_AGE = { maxAgeMs: 60 * DAY };

type Route = (body: Buffer, req: http.IncomingMessage) => Buffer;

/** An http server on 127.0.0.1 that serves registered paths and counts hits. */
class Loopback {
  readonly routes = new Map<string, Route>();
  readonly hits = new Map<string, number>();
  readonly requests: { path: string; method: string; contentType: string | undefined }[] = [];
  private server!: http.Server;
  private base = "";

  static async start(): Promise<Loopback> {
    const lb = new Loopback();
    lb.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const p = req.url ?? "/";
        lb.hits.set(p, (lb.hits.get(p) ?? 0) + 1);
        lb.requests.push({ path: p, method: req.method ?? "", contentType: req.headers["content-type"] });
        const route = lb.routes.get(p);
        if (!route) {
          res.statusCode = 404;
          res.end();
          return;
        }
        try {
          res.end(route(Buffer.concat(chunks), req));
        } catch (e) {
          res.statusCode = 500;
          res.end(String(e));
        }
      });
    });
    await new Promise<void>((r) => lb.server.listen(0, "127.0.0.1", r));
    lb.base = `http://127.0.0.1:${(lb.server.address() as AddressInfo).port}`;
    return lb;
  }

  url(p: string): string {
    return `${this.base}${p}`;
  }

  serve(p: string, body: Buffer | Route): void {
    this.routes.set(p, typeof body === "function" ? body : () => body);
  }

  hitCount(p: string): number {
    return this.hits.get(p) ?? 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A loopback URL nothing listens on (connection refused). */
async function closedPortUrl(p: string): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}${p}`;
}

const der = (pem: string): Buffer => readCertificates(Buffer.from(pem))[0] as Buffer;
const seconds = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);
const sha256 = (s: string): string => crypto.createHash("sha256").update(s).digest("hex");

async function until(cond: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function assertUnknown(s: RevocationStatus, re: RegExp): string {
  assert.equal(s.status, "unknown", `expected unknown, got ${JSON.stringify(s)}`);
  assert.match((s as { reason: string }).reason, re);
  return (s as { reason: string }).reason;
}

let root: OpenSslCa;
let inter: OpenSslCa;
let other: OpenSslCa;
let twin: OpenSslCa;
let srv: Loopback;
let interDer: Buffer;
let responder: IssuedCert;
let otherResponder: IssuedCert;
let noEkuSigner: IssuedCert;
let tmp: string;
let clock: Date;
let serial = 0;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sealpost-revocation-"));
  srv = await Loopback.start();
  root = await OpenSslCa.createRoot({ name: "O=Test,CN=Revocation Root" });
  inter = await root.createIntermediate({ name: "O=Test,CN=Revocation Issuing CA", keyType: "ec-p256", crlUrl: srv.url("/root.crl") });
  other = await OpenSslCa.createRoot({ name: "O=Test,CN=Other CA" });
  twin = await OpenSslCa.createRoot({ name: "O=Test,CN=Revocation Issuing CA", keyType: "ec-p256" });
  interDer = der(inter.certPem);
  responder = inter.issueLeaf({ subject: "O=Test,CN=Issuing CA OCSP Responder", keyType: "ec-p256", eku: ["OCSPSigning"] });
  otherResponder = other.issueLeaf({ subject: "O=Test,CN=Other OCSP Responder", eku: ["OCSPSigning"] });
  noEkuSigner = inter.issueLeaf({ subject: "O=Test,CN=Not A Responder", keyType: "ec-p256", eku: "serverAuth" });
  srv.serve("/ocsp", (body) => inter.ocspRespond(body));
  srv.serve("/ocsp-hour", (body) => inter.ocspRespond(body, { minutes: 60 }));
  srv.serve("/ocsp-delegated", (body) => inter.ocspRespond(body, { signer: responder }));
  srv.serve("/ocsp-unrelated", (body) => inter.ocspRespond(body, { signer: otherResponder }));
  srv.serve("/ocsp-noeku", (body) => inter.ocspRespond(body, { signer: noEkuSigner }));
});

after(async () => {
  await srv.stop();
  for (const ca of [root, other, twin]) ca.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  clock = new Date();
});

function checker(opts: Partial<RevocationOptions> = {}): RevocationChecker {
  return new RevocationChecker({ cacheDir: path.join(tmp, `cache-${++serial}`), now: () => clock, fetcher, ...opts });
}

/** A leaf of the issuing CA with these pointers. */
function leaf(opts: { crlUrl?: string | string[]; ocspUrl?: string } = {}): { cert: IssuedCert; der: Buffer } {
  const cert = inter.issueLeaf({ subject: `CN=leaf${++serial}.example`, keyType: "ec-p256", dnsNames: [`leaf${serial}.example`], ...opts });
  return { cert, der: der(cert.certPem) };
}

/** The issuing CA's current CRL (DER) with this window, served at `p`. */
function publishCrl(p: string, lastUpdate = seconds(clock), nextUpdate = new Date(lastUpdate.getTime() + 7 * DAY), ca = inter): Buffer {
  const crl = ca.crl({ der: true, lastUpdate, nextUpdate });
  srv.serve(p, crl);
  return crl;
}

let customCount = 0;
/** A CRL made with extra CRL extensions (an `openssl ca -gencrl -crlexts` section). */
function customCrl(ca: OpenSslCa, extLines: string[], lastUpdate: Date, nextUpdate: Date): Buffer {
  const n = ++customCount;
  const cnf = path.join(ca.dir, "tmp", `custom-${n}.cnf`);
  const out = path.join(ca.dir, "tmp", `custom-${n}.crl`);
  fs.writeFileSync(cnf, `${fs.readFileSync(path.join(ca.dir, "ca.cnf"), "utf8")}\n[ custom_crl_ext ]\n${extLines.join("\n")}\n`);
  runOpenssl([
    "ca", "-gencrl", "-config", cnf, "-name", "CA_nocopy", "-crlexts", "custom_crl_ext",
    "-crl_lastupdate", opensslDate(lastUpdate), "-crl_nextupdate", opensslDate(nextUpdate), "-out", out,
  ]);
  return runOpenssl(["crl", "-in", out, "-outform", "DER"]);
}

// `openssl ca -gencrl` always writes nextUpdate. To get a CRL without one, the test drops the field from
// an OpenSSL-made CRL and signs the result again with the same CA key (node:crypto, SHA-256).
function tlvs(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < buf.length; ) {
    let len = buf[p + 1] as number;
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = buf.readUIntBE(p + 2, n);
      hdr += n;
    }
    out.push(buf.subarray(p, p + hdr + len));
    p += hdr + len;
  }
  return out;
}
function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
/** The content of a single TLV. */
const inner = (t: Buffer): Buffer => t.subarray(t[1]! & 0x80 ? 2 + (t[1]! & 0x7f) : 2);
function withoutNextUpdate(crlDer: Buffer, keyPath: string): Buffer {
  const [tbs, alg] = tlvs(inner(crlDer)) as [Buffer, Buffer];
  const fields = tlvs(inner(tbs));
  assert.equal(fields[4]![0], 0x17, "nextUpdate is the fifth field");
  const newTbs = tlv(0x30, Buffer.concat(fields.filter((_, i) => i !== 4)));
  const sig = crypto.sign("sha256", newTbs, fs.readFileSync(keyPath));
  return tlv(0x30, Buffer.concat([newTbs, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), sig]))]));
}

describe("CRL", () => {
  test("good via CRL (ECDSA-signed CRL of an intermediate), with the CRL's dates", async () => {
    const l = leaf({ crlUrl: srv.url("/good.crl") });
    const last = seconds(clock);
    publishCrl("/good.crl", last, new Date(last.getTime() + 7 * DAY));
    const rc = checker();
    const s = await rc.check(l.der, interDer);
    assert.deepEqual(s, { status: "good", source: "crl", url: srv.url("/good.crl"), thisUpdate: last, nextUpdate: new Date(last.getTime() + 7 * DAY) });
    assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 0, cacheHits: 0 });
  });

  test("revoked via CRL with keyCompromise and the revocation date", async () => {
    const l = leaf({ crlUrl: srv.url("/revoked.crl") });
    const plain = leaf({ crlUrl: srv.url("/revoked.crl") });
    const revokedAt = new Date("2025-03-04T05:06:07Z");
    inter.revoke(l.cert, "keyCompromise", { revokedAt });
    inter.revoke(plain.cert);
    publishCrl("/revoked.crl");
    const rc = checker();
    assert.deepEqual(await rc.check(l.der, interDer), {
      status: "revoked", source: "crl", url: srv.url("/revoked.crl"), revokedAt, reason: "keyCompromise",
    });
    const s = await rc.check(plain.der, interDer);
    assert.equal(s.status, "revoked");
    assert.equal("reason" in s, false, "no reason code in the CRL entry, none reported");
    assert.equal(rc.stats.fetches, 1, "one CRL load answers both");
  });

  test("a CA certificate against its root's RSA-signed CRL", async () => {
    publishCrl("/root.crl", seconds(clock), new Date(clock.getTime() + DAY), root);
    const s = await checker().check(interDer, der(root.certPem));
    assert.equal(s.status, "good");
    assert.equal((s as { source: string }).source, "crl");
  });

  test("a CRL signed by another CA is refused", async () => {
    const l = leaf({ crlUrl: srv.url("/wrong.crl") });
    srv.serve("/wrong.crl", other.crl({ der: true }));
    const rc = checker();
    const reason = assertUnknown(await rc.check(l.der, interDer), /is not signed by O=Test, CN=Revocation Issuing CA \(it names .*Other CA as its issuer\)$/);
    assert.ok(reason.startsWith(`the CRL at ${srv.url("/wrong.crl")} `), reason);
    assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 1, cacheHits: 0 });
    // Same name, different key: the signature check is what refuses it.
    srv.serve("/wrong.crl", twin.crl({ der: true }));
    assertUnknown(await checker().check(l.der, interDer), /is not signed by O=Test, CN=Revocation Issuing CA \(its signature does not verify with that CA's key\)$/);
    assert.equal(fs.existsSync(path.join(tmp, `cache-${serial}`, `${sha256(srv.url("/wrong.crl"))}.crl`)), false, "a refused CRL is not cached");
  });

  test("a CRL larger than maxCrlBytes is refused", async () => {
    const l = leaf({ crlUrl: srv.url("/big.crl") });
    const crl = publishCrl("/big.crl");
    assert.ok(crl.length > 200, `the CRL is ${crl.length} bytes`);
    const rc = checker({ maxCrlBytes: 200 });
    assertUnknown(await rc.check(l.der, interDer), new RegExp(`could not be fetched \\(it is ${crl.length} bytes, larger than the limit of 200 bytes\\)$`));
    assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 1, cacheHits: 0 });
    // A fetcher that ignores maxBytes does not get past the limit either.
    const lax: Fetcher = async () => crl;
    assertUnknown(await checker({ maxCrlBytes: 200, fetcher: lax }).check(l.der, interDer), /larger than the limit of 200 bytes/);
    // The same CRL within the limit is fine.
    assert.equal((await checker({ maxCrlBytes: crl.length }).check(l.der, interDer)).status, "good");
  });

  test("an unreachable CRL distribution point gives unknown", async () => {
    const url = await closedPortUrl("/gone.crl");
    const l = leaf({ crlUrl: url });
    const rc = checker();
    assert.deepEqual(await rc.check(l.der, interDer), { status: "unknown", reason: `the CRL at ${url} could not be fetched (connection refused)` });
    assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 1, cacheHits: 0 });
  });

  test("no pointers at all gives unknown without fetching", async () => {
    const l = leaf();
    const rc = checker();
    assert.deepEqual(await rc.check(l.der, interDer), { status: "unknown", reason: "the certificate names no CRL distribution point or OCSP responder" });
    assert.equal(rc.stats.fetches, 0);
  });

  test("an LDAP-only distribution point gives unknown with the LDAP reason", async () => {
    const l = leaf({ crlUrl: "ldap://127.0.0.1/cn=x" });
    const rc = checker();
    assertUnknown(await rc.check(l.der, interDer), /^the certificate's only CRL distribution points are LDAP URLs \(ldap:\/\/127\.0\.0\.1\/cn=x\), and Sealpost fetches CRLs over http: only$/);
    assert.equal(rc.stats.fetches, 0);
  });

  test("LDAP first, http second: the http distribution point is used", async () => {
    const l = leaf({ crlUrl: ["ldap://127.0.0.1/cn=x", srv.url("/second.crl")] });
    publishCrl("/second.crl");
    assert.equal((await checker().check(l.der, interDer)).status, "good");
  });

  test("a PEM CRL is accepted and cached as DER", async () => {
    const l = leaf({ crlUrl: srv.url("/pem.crl") });
    const pem = inter.crl({ lastUpdate: seconds(clock), nextUpdate: new Date(clock.getTime() + DAY) });
    srv.serve("/pem.crl", pem);
    const rc = checker();
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    const cached = fs.readFileSync(path.join(tmp, `cache-${serial}`, `${sha256(srv.url("/pem.crl"))}.crl`));
    assert.equal(cached[0], 0x30, "DER on disk");
  });

  test("a delta CRL is refused", async () => {
    const l = leaf({ crlUrl: srv.url("/delta.crl") });
    srv.serve("/delta.crl", customCrl(inter, ["2.5.29.27 = critical, ASN1:INTEGER:4096"], seconds(clock), new Date(clock.getTime() + DAY)));
    assertUnknown(await checker().check(l.der, interDer), /cannot be used: it is a delta CRL/);
  });

  test("an issuing distribution point must name the certificate's distribution point", async () => {
    const l = leaf({ crlUrl: srv.url("/idp.crl") });
    const last = seconds(clock);
    const next = new Date(clock.getTime() + DAY);
    srv.serve("/idp.crl", customCrl(inter, ["issuingDistributionPoint = critical, @idp", "[ idp ]", `fullname = URI:${srv.url("/elsewhere.crl")}`], last, next));
    assertUnknown(await checker().check(l.der, interDer), /does not cover this certificate: its issuing distribution point names a different distribution point/);
    srv.serve("/idp.crl", customCrl(inter, ["issuingDistributionPoint = critical, @idp", "[ idp ]", `fullname = URI:${srv.url("/idp.crl")}`, "onlyuser = TRUE"], last, next));
    assert.equal((await checker().check(l.der, interDer)).status, "good");
    srv.serve("/idp.crl", customCrl(inter, ["issuingDistributionPoint = critical, @idp", "[ idp ]", "onlysomereasons = keyCompromise"], last, next));
    assertUnknown(await checker().check(l.der, interDer), /it covers only some revocation reasons/);
  });

  // OCSP is asked first when the certificate names a responder (an answer about this one certificate,
  // usually fresher than the CRL): the CRL is then not fetched at all.
  test("OCSP first: when the responder answers, the CRL is not fetched", async () => {
    const l = leaf({ crlUrl: srv.url("/second-choice.crl"), ocspUrl: srv.url("/ocsp") });
    publishCrl("/second-choice.crl");
    const rc = checker();
    const s = await rc.check(l.der, interDer);
    assert.equal(s.status, "good");
    assert.equal((s as { source: string }).source, "ocsp");
    assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 0, cacheHits: 0 });
    assert.equal(srv.hitCount("/second-choice.crl"), 0);
  });

  test("when OCSP cannot be reached, the CRL answers; the dead responder is not waited for again at once", async () => {
    const goneOcsp = await closedPortUrl("/ocsp");
    const l = leaf({ crlUrl: srv.url("/fallback.crl"), ocspUrl: goneOcsp });
    publishCrl("/fallback.crl");
    const rc = checker();
    const s = await rc.check(l.der, interDer);
    assert.equal(s.status, "good");
    assert.equal((s as { source: string }).source, "crl");
    assert.deepEqual(rc.stats, { fetches: 2, fetchFailures: 1, cacheHits: 0 });
    // Within 5 minutes the responder is not asked again: the cached CRL answers at once.
    clock = new Date(clock.getTime() + 4 * MIN);
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.deepEqual(rc.stats, { fetches: 2, fetchFailures: 1, cacheHits: 1 });
    // Later it is tried again.
    clock = new Date(clock.getTime() + 2 * MIN);
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.fetches, 3);
  });

  test("when both routes fail, the reason names both (OCSP first)", async () => {
    const gone = await closedPortUrl("/gone.crl");
    const goneOcsp = await closedPortUrl("/ocsp");
    const l = leaf({ crlUrl: gone, ocspUrl: goneOcsp });
    assert.deepEqual(await checker().check(l.der, interDer), {
      status: "unknown",
      reason: `the OCSP responder at ${goneOcsp} could not be reached (connection refused); the CRL at ${gone} could not be fetched (connection refused)`,
    });
  });

  test("a CRL with 30,000 entries (beyond asn1js's node limit) is read and looked up", async () => {
    const big = await OpenSslCa.createRoot({ name: "O=Test,CN=Big CRL CA", keyType: "ec-p256" });
    try {
      const victim = big.issueLeaf({ subject: "CN=victim.example", keyType: "ec-p256", crlUrl: srv.url("/huge.crl") });
      const bystander = big.issueLeaf({ subject: "CN=bystander.example", keyType: "ec-p256", crlUrl: srv.url("/huge.crl") });
      big.revoke(victim, "keyCompromise", { revokedAt: new Date("2025-01-01T00:00:00Z") });
      const lines: string[] = [];
      for (let i = 0; i < 30_000; i++) {
        lines.push(`R\t301231000000Z\t240101000000Z,superseded\t7E${i.toString(16).toUpperCase().padStart(14, "0")}\tunknown\t/CN=filler${i}`);
      }
      fs.appendFileSync(big.indexPath, lines.join("\n") + "\n");
      const crl = big.crl({ der: true, lastUpdate: seconds(clock), nextUpdate: new Date(clock.getTime() + DAY) });
      assert.ok(crl.length > 30_000 * 30, `${crl.length} bytes`);
      srv.serve("/huge.crl", crl);
      const rc = checker();
      const bigDer = der(big.certPem);
      assert.deepEqual(await rc.check(der(victim.certPem), bigDer), {
        status: "revoked", source: "crl", url: srv.url("/huge.crl"), revokedAt: new Date("2025-01-01T00:00:00Z"), reason: "keyCompromise",
      });
      assert.equal((await rc.check(der(bystander.certPem), bigDer)).status, "good");
      assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 0, cacheHits: 1 });
    } finally {
      big.cleanup();
    }
  });

  test("garbage input never throws", async () => {
    const rc = checker();
    assertUnknown(await rc.check(Buffer.from("nope"), interDer), /^the certificate could not be parsed$/);
    assertUnknown(await rc.check(leaf().der, Buffer.alloc(0)), /^the issuer certificate could not be parsed$/);
    assertUnknown(await rc.check(interDer, interDer), /names O=Test, CN=Revocation Root as its issuer, not O=Test, CN=Revocation Issuing CA|names CN=Revocation Root, O=Test as its issuer/);
    const l = leaf({ crlUrl: srv.url("/junk.crl") });
    srv.serve("/junk.crl", Buffer.from("this is not a CRL"));
    assertUnknown(await rc.check(l.der, interDer), /^the CRL at .*\/junk\.crl is not a valid CRL \(/);
  });
});

describe("OCSP", () => {
  test("good via OCSP (POST application/ocsp-request)", async () => {
    const l = leaf({ ocspUrl: srv.url("/ocsp") });
    const before = srv.requests.length;
    const rc = checker();
    const s = await rc.check(l.der, interDer);
    assert.equal(s.status, "good");
    const g = s as Extract<RevocationStatus, { status: "good" }>;
    assert.equal(g.source, "ocsp");
    assert.equal(g.url, srv.url("/ocsp"));
    assert.ok(g.thisUpdate && Math.abs(g.thisUpdate.getTime() - clock.getTime()) < MIN, "thisUpdate is now");
    assert.equal(g.nextUpdate, undefined, "openssl ocsp without -nmin sets no nextUpdate");
    assert.deepEqual(srv.requests.slice(before), [{ path: "/ocsp", method: "POST", contentType: "application/ocsp-request" }]);
    assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 0, cacheHits: 0 });
  });

  test("revoked via OCSP with reason and time", async () => {
    const l = leaf({ ocspUrl: srv.url("/ocsp") });
    const revokedAt = new Date("2025-06-07T08:09:10Z");
    inter.revoke(l.cert, "keyCompromise", { revokedAt });
    assert.deepEqual(await checker().check(l.der, interDer), {
      status: "revoked", source: "ocsp", url: srv.url("/ocsp"), revokedAt, reason: "keyCompromise",
    });
  });

  test("a response signed by a delegated responder (OCSPSigning, issued by the CA) is accepted", async () => {
    const l = leaf({ ocspUrl: srv.url("/ocsp-delegated") });
    const s = await checker().check(l.der, interDer);
    assert.equal(s.status, "good");
    const r = leaf({ ocspUrl: srv.url("/ocsp-delegated") });
    inter.revoke(r.cert, "superseded");
    const t = await checker().check(r.der, interDer);
    assert.equal(t.status, "revoked");
    assert.equal((t as { reason?: string }).reason, "superseded");
  });

  test("a response signed by an unrelated responder is refused", async () => {
    const l = leaf({ ocspUrl: srv.url("/ocsp-unrelated") });
    const rc = checker();
    assertUnknown(
      await rc.check(l.der, interDer),
      /^the OCSP response from http:\/\/127\.0\.0\.1:\d+\/ocsp-unrelated was refused: it is not signed by O=Test, CN=Revocation Issuing CA or a responder it authorised \(the responder certificate O=Test, CN=Other OCSP Responder is not issued by O=Test, CN=Revocation Issuing CA\)$/,
    );
    assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 1, cacheHits: 0 });
  });

  test("a response signed by a certificate of the CA without OCSPSigning is refused", async () => {
    const l = leaf({ ocspUrl: srv.url("/ocsp-noeku") });
    assertUnknown(await checker().check(l.der, interDer), /the responder certificate O=Test, CN=Not A Responder lacks the OCSPSigning extended key usage\)$/);
  });

  test("a responder that does not know the certificate gives unknown", async () => {
    const l = leaf({ ocspUrl: srv.url("/ocsp") });
    // Drop the certificate from the CA database, so `openssl ocsp` answers "unknown".
    const lines = fs.readFileSync(inter.indexPath, "utf8").split("\n").filter((x) => x && x.split("\t")[3] !== l.cert.serial);
    fs.writeFileSync(inter.indexPath, lines.join("\n") + "\n");
    assertUnknown(await checker().check(l.der, interDer), /^the OCSP responder at .*\/ocsp does not know this certificate \(it answered "unknown"\)$/);
  });

  test("OCSP answers are cached: without nextUpdate for one hour after thisUpdate, with nextUpdate until then", async () => {
    const l = leaf({ ocspUrl: srv.url("/ocsp") });
    const rc = checker();
    const t0 = clock;
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.deepEqual(rc.stats, { fetches: 1, fetchFailures: 0, cacheHits: 1 });
    clock = new Date(t0.getTime() + 56 * MIN); // the last 10% of the hour: cached answer, background refresh
    const dir = path.join(tmp, `cache-${serial}`);
    const [file] = fs.readdirSync(dir).filter((f) => f.endsWith(".ocsp")).map((f) => path.join(dir, f));
    assert.ok(file && Math.abs(fs.statSync(file).mtimeMs - t0.getTime()) < 2, "stamped with the fetch time");
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.cacheHits, 2);
    await until(async () => Math.abs(fs.statSync(file).mtimeMs - clock.getTime()) < 2, "the background refresh");
    for (let i = 0; i < 5; i++) assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.fetches, 2, "one background refresh, not one per check");
    // Two hours on, by the injected clock, the responder's answer (thisUpdate = real time, no nextUpdate) is
    // itself too old: refused as a possible replay, not used.
    clock = new Date(t0.getTime() + 2 * HOUR);
    assertUnknown(
      await rc.check(l.der, interDer),
      /expired at .* and could not be refreshed: the OCSP response from .*\/ocsp is out of date \(it has no nextUpdate and was produced at /,
    );
    assert.equal(rc.stats.fetches, 3);

    const h = leaf({ ocspUrl: srv.url("/ocsp-hour") });
    clock = t0;
    const rc2 = checker();
    const s = await rc2.check(h.der, interDer);
    const g = s as Extract<RevocationStatus, { status: "good" }>;
    assert.ok(g.nextUpdate && Math.abs(g.nextUpdate.getTime() - g.thisUpdate!.getTime() - HOUR) < 5000, "-nmin 60");
    clock = new Date(t0.getTime() + 30 * MIN);
    assert.equal((await rc2.check(h.der, interDer)).status, "good");
    assert.equal(rc2.stats.fetches, 1);
    // A second worker on the same folder uses the disk copy.
    const rc3 = new RevocationChecker({ cacheDir: path.join(tmp, `cache-${serial}`), now: () => clock, fetcher });
    assert.equal((await rc3.check(h.der, interDer)).status, "good");
    assert.deepEqual(rc3.stats, { fetches: 0, fetchFailures: 0, cacheHits: 1 });
  });
});

describe("cache", () => {
  test("a second check does not fetch; a second checker on the same folder does not fetch", async () => {
    const l = leaf({ crlUrl: srv.url("/cache.crl") });
    const crl = publishCrl("/cache.crl");
    const cacheDir = path.join(tmp, "shared-cache");
    const a = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    assert.equal(fs.existsSync(cacheDir), false, "nothing is created or fetched at construction");
    assert.equal((await a.check(l.der, interDer)).status, "good");
    assert.equal((await a.check(l.der, interDer)).status, "good");
    assert.deepEqual(a.stats, { fetches: 1, fetchFailures: 0, cacheHits: 1 });
    assert.equal(srv.hitCount("/cache.crl"), 1);
    assert.equal(fs.statSync(cacheDir).mode & 0o777, 0o700);
    const file = path.join(cacheDir, `${sha256(srv.url("/cache.crl"))}.crl`);
    assert.deepEqual(fs.readFileSync(file), crl, "raw DER, file named by the URL's SHA-256");

    const b = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    assert.equal((await b.check(l.der, interDer)).status, "good");
    assert.deepEqual(b.stats, { fetches: 0, fetchFailures: 0, cacheHits: 1 });
    assert.equal(srv.hitCount("/cache.crl"), 1);
  });

  test("concurrent checks share one fetch", async () => {
    const l = leaf({ crlUrl: srv.url("/concurrent.crl") });
    publishCrl("/concurrent.crl");
    const rc = checker();
    const all = await Promise.all(Array.from({ length: 8 }, () => rc.check(l.der, interDer)));
    assert.ok(all.every((s) => s.status === "good"));
    assert.equal(rc.stats.fetches, 1);
    assert.equal(srv.hitCount("/concurrent.crl"), 1);
  });

  test("in the last 10% of the CRL's validity a background refresh picks up a new revocation", async () => {
    const l = leaf({ crlUrl: srv.url("/bg.crl") });
    const t0 = seconds(clock);
    publishCrl("/bg.crl", t0, new Date(t0.getTime() + 10 * DAY));
    const rc = checker(LONG_MAX_AGE);
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    inter.revoke(l.cert, "keyCompromise");
    const t1 = new Date(t0.getTime() + 9.5 * DAY);
    publishCrl("/bg.crl", t1, new Date(t1.getTime() + 10 * DAY));

    clock = new Date(t0.getTime() + 8 * DAY); // 80%: still fresh, no refresh
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.fetches, 1);

    clock = t1; // 95%: the cached answer now, a refresh in the background
    const s = await rc.check(l.der, interDer);
    assert.equal(s.status, "good", "the cached CRL answers while the refresh runs");
    await until(async () => (await rc.check(l.der, interDer)).status === "revoked", "the refreshed CRL");
    const r = await rc.check(l.der, interDer);
    assert.equal((r as { reason?: string }).reason, "keyCompromise");
    assert.equal(rc.stats.fetches, 2, "exactly one background fetch");
  });

  test("past nextUpdate + skew with the server down gives unknown; before that the cached CRL still answers", async () => {
    const own = await Loopback.start();
    try {
      const l = leaf({ crlUrl: own.url("/down.crl") });
      const t0 = seconds(clock);
      const next = new Date(t0.getTime() + DAY);
      own.serve("/down.crl", inter.crl({ der: true, lastUpdate: t0, nextUpdate: next }));
      const rc = checker(LONG_MAX_AGE);
      assert.equal((await rc.check(l.der, interDer)).status, "good");
      await own.stop();

      clock = new Date(next.getTime() + 2 * MIN); // past nextUpdate, within the 5 min skew
      assert.equal((await rc.check(l.der, interDer)).status, "good");
      await until(async () => rc.stats.fetchFailures === 1, "the failed background refresh");
      assert.equal(rc.stats.fetches, 2);

      clock = new Date(next.getTime() + 6 * MIN); // past nextUpdate + skew
      assert.deepEqual(await rc.check(l.der, interDer), {
        status: "unknown",
        reason: `the cached CRL from ${own.url("/down.crl")} expired at ${next.toISOString()} and could not be refreshed: it could not be fetched (connection refused)`,
      });
      assert.equal(rc.stats.fetches, 3);
    } finally {
      await own.stop().catch(() => undefined);
    }
  });

  test("an expired cached CRL is refreshed before answering when the server is up", async () => {
    const l = leaf({ crlUrl: srv.url("/expire.crl") });
    const t0 = seconds(clock);
    publishCrl("/expire.crl", t0, new Date(t0.getTime() + DAY));
    const rc = checker();
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    inter.revoke(l.cert, "cessationOfOperation");
    const t1 = new Date(t0.getTime() + 2 * DAY);
    publishCrl("/expire.crl", t1, new Date(t1.getTime() + DAY));
    clock = t1;
    const s = await rc.check(l.der, interDer);
    assert.equal(s.status, "revoked");
    assert.equal((s as { reason?: string }).reason, "cessationOfOperation");
    assert.equal(rc.stats.fetches, 2);
  });

  test("a CRL another worker refreshed on disk replaces the memory copy without a fetch", async () => {
    const l = leaf({ crlUrl: srv.url("/workers.crl") });
    const t0 = seconds(clock);
    publishCrl("/workers.crl", t0, new Date(t0.getTime() + DAY));
    const cacheDir = path.join(tmp, "workers-cache");
    const a = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    assert.equal((await a.check(l.der, interDer)).status, "good");

    inter.revoke(l.cert, "affiliationChanged");
    const t1 = new Date(t0.getTime() + DAY + 10 * MIN);
    publishCrl("/workers.crl", t1, new Date(t1.getTime() + DAY));
    const bClock = t1;
    const b = new RevocationChecker({ cacheDir, now: () => bClock, fetcher });
    assert.equal((await b.check(l.der, interDer)).status, "revoked", "b found the disk copy expired and fetched");
    assert.equal(b.stats.fetches, 1);

    clock = new Date(t0.getTime() + HOUR); // a's memory copy is still fresh by a's clock
    const s = await a.check(l.der, interDer);
    assert.equal(s.status, "revoked", "a re-read the newer disk file");
    assert.equal(a.stats.fetches, 1);
  });

  test("refreshDue refreshes entries near nextUpdate and leaves fresh ones alone", async () => {
    const l = leaf({ crlUrl: srv.url("/due.crl") });
    const t0 = seconds(clock);
    publishCrl("/due.crl", t0, new Date(t0.getTime() + 10 * DAY));
    const rc = checker(LONG_MAX_AGE);
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    await rc.refreshDue();
    assert.equal(rc.stats.fetches, 1, "fresh: nothing to do");

    inter.revoke(l.cert, "superseded");
    const t1 = new Date(t0.getTime() + 9.5 * DAY);
    publishCrl("/due.crl", t1, new Date(t1.getTime() + 10 * DAY));
    clock = t1;
    await rc.refreshDue();
    assert.equal(rc.stats.fetches, 2);
    assert.equal((await rc.check(l.der, interDer)).status, "revoked");
    assert.equal(rc.stats.fetches, 2, "the check used the refreshed copy");
  });

  test("a CRL without nextUpdate is used for one hour after it was fetched", async () => {
    const l = leaf({ crlUrl: srv.url("/no-next.crl") });
    const t0 = seconds(clock);
    srv.serve("/no-next.crl", withoutNextUpdate(inter.crl({ der: true, lastUpdate: t0 }), inter.keyPath));
    const cacheDir = path.join(tmp, "no-next-cache");
    const rc = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    const s = await rc.check(l.der, interDer);
    assert.deepEqual(s, { status: "good", source: "crl", url: srv.url("/no-next.crl"), thisUpdate: t0 });
    clock = new Date(t0.getTime() + 50 * MIN);
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    // Another worker dates the disk copy by its file time, which is the fetch time.
    const other = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    assert.equal((await other.check(l.der, interDer)).status, "good");
    assert.deepEqual([rc.stats.fetches, other.stats.fetches], [1, 0]);
    clock = new Date(t0.getTime() + HOUR + 6 * MIN); // past fetch + 1 h + skew: fetched again before answering
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.fetches, 2);
  });

  test("a damaged cache file is ignored and replaced", async () => {
    const l = leaf({ crlUrl: srv.url("/damaged.crl") });
    publishCrl("/damaged.crl");
    const cacheDir = path.join(tmp, "damaged-cache");
    fs.mkdirSync(cacheDir, { mode: 0o700 });
    const file = path.join(cacheDir, `${sha256(srv.url("/damaged.crl"))}.crl`);
    fs.writeFileSync(file, Buffer.from("garbage"));
    const rc = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.fetches, 1);
    assert.equal(fs.readFileSync(file)[0], 0x30);
  });
});

describe("maximum age", () => {
  test("a CRL valid for 30 days is fetched again after 24 hours (the default): in the background near the bound, before answering past it", async () => {
    const l = leaf({ crlUrl: srv.url("/month.crl") });
    const other = leaf({ crlUrl: srv.url("/month.crl") });
    const t0 = seconds(clock);
    publishCrl("/month.crl", t0, new Date(t0.getTime() + 30 * DAY));
    const rc = checker();
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    inter.revoke(l.cert, "keyCompromise");
    inter.revoke(other.cert, "superseded");
    publishCrl("/month.crl", new Date(t0.getTime() + HOUR), new Date(t0.getTime() + HOUR + 30 * DAY));

    clock = new Date(t0.getTime() + 20 * HOUR); // under 90% of 24 h: the cached copy, no fetch
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.fetches, 1);

    clock = new Date(t0.getTime() + 22 * HOUR); // the last 10% of the maximum age: answered, refreshed in the background
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    await until(async () => (await rc.check(l.der, interDer)).status === "revoked", "the background refresh");
    assert.equal(rc.stats.fetches, 2);

    // A second checker (another worker) whose copy is past 24 h old fetches before it answers.
    const cacheDir = path.join(tmp, "max-age-cache");
    const a = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    clock = t0;
    const fresh = leaf({ crlUrl: srv.url("/month2.crl") });
    publishCrl("/month2.crl", t0, new Date(t0.getTime() + 30 * DAY));
    assert.equal((await a.check(fresh.der, interDer)).status, "good");
    inter.revoke(fresh.cert, "cessationOfOperation");
    publishCrl("/month2.crl", new Date(t0.getTime() + HOUR), new Date(t0.getTime() + HOUR + 30 * DAY));
    clock = new Date(t0.getTime() + 24 * HOUR + MIN);
    const s = await a.check(fresh.der, interDer);
    assert.equal(s.status, "revoked", "past the maximum age the refresh is awaited");
    assert.equal(a.stats.fetches, 2);
  });

  test("within nextUpdate and the maximum age, a cached CRL answers while its server is down; past the age it is unknown, saying why", async () => {
    const own = await Loopback.start();
    try {
      const l = leaf({ crlUrl: own.url("/down-month.crl") });
      const t0 = seconds(clock);
      own.serve("/down-month.crl", inter.crl({ der: true, lastUpdate: t0, nextUpdate: new Date(t0.getTime() + 30 * DAY) }));
      const rc = checker({ maxAgeMs: 6 * HOUR });
      const fetchedAt = clock;
      assert.equal((await rc.check(l.der, interDer)).status, "good");
      await own.stop();

      clock = new Date(t0.getTime() + 4 * HOUR); // fresh by both bounds: no fetch at all
      assert.deepEqual(await rc.check(l.der, interDer), { status: "good", source: "crl", url: own.url("/down-month.crl"), thisUpdate: t0, nextUpdate: new Date(t0.getTime() + 30 * DAY) });
      assert.equal(rc.stats.fetches, 1);

      clock = new Date(t0.getTime() + 5.5 * HOUR); // due: still answers, the background refresh fails
      assert.equal((await rc.check(l.der, interDer)).status, "good");
      await until(async () => rc.stats.fetchFailures === 1, "the failed background refresh");

      clock = new Date(t0.getTime() + 6 * HOUR + MIN); // past the maximum age, server still down
      assert.deepEqual(await rc.check(l.der, interDer), {
        status: "unknown",
        reason: `the cached CRL from ${own.url("/down-month.crl")} was fetched at ${fetchedAt.toISOString()}, longer ago than the revocation cache's maximum age of 6 hours and could not be refreshed: it could not be fetched (connection refused)`,
      });
    } finally {
      await own.stop().catch(() => undefined);
    }
  });

  test("the maximum age may be a function (a setting read at each use), and applies to OCSP answers too", async () => {
    const l = leaf({ ocspUrl: srv.url("/ocsp-hour") });
    let maxAge = DAY;
    const rc = checker({ maxAgeMs: () => maxAge });
    const t0 = clock;
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    clock = new Date(t0.getTime() + 10 * MIN);
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.fetches, 1, "within nextUpdate (1 h) and the age");
    maxAge = 5 * MIN;
    inter.revoke(l.cert, "keyCompromise");
    const s = await rc.check(l.der, interDer);
    assert.equal(s.status, "revoked", "older than the new maximum age: asked again before answering");
    assert.equal(rc.stats.fetches, 2);
  });
});

describe("updateCached / updateFor (Update-RevocationCache)", () => {
  test("every cached entry is fetched again at once and reported; NAME.json records where each came from", async () => {
    const cacheDir = path.join(tmp, "update-cache");
    const rc = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    const byCrl = leaf({ crlUrl: srv.url("/update.crl") });
    const byOcsp = leaf({ ocspUrl: srv.url("/ocsp-hour") });
    const t0 = seconds(clock);
    publishCrl("/update.crl", t0, new Date(t0.getTime() + 30 * DAY));
    assert.equal((await rc.check(byCrl.der, interDer)).status, "good");
    assert.equal((await rc.check(byOcsp.der, interDer)).status, "good");
    const meta = JSON.parse(fs.readFileSync(path.join(cacheDir, `${sha256(srv.url("/update.crl"))}.crl.json`), "utf8"));
    assert.deepEqual(meta, { kind: "crl", url: srv.url("/update.crl"), issuer: interDer.toString("base64") });

    inter.revoke(byCrl.cert, "keyCompromise");
    inter.revoke(byOcsp.cert, "affiliationChanged");
    const t1 = new Date(t0.getTime() + 1000);
    publishCrl("/update.crl", t1, new Date(t1.getTime() + 30 * DAY));
    clock = new Date(t0.getTime() + 2000);
    // Another process (the administrator's shell) on the same folder, with nothing in memory.
    const admin = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
    const updates = await admin.updateCached();
    assert.deepEqual(
      updates.map((u) => [u.source, u.ok, u.url, u.status]).sort(),
      [
        ["crl", true, srv.url("/update.crl"), undefined],
        ["ocsp", true, srv.url("/ocsp-hour"), "revoked"],
      ],
    );
    const crlUpdate = updates.find((u) => u.source === "crl");
    assert.deepEqual(crlUpdate?.thisUpdate, t1);
    assert.deepEqual(crlUpdate?.nextUpdate, new Date(t1.getTime() + 30 * DAY));
    assert.equal(crlUpdate?.subject, "CN=Revocation Issuing CA, O=Test");
    // The first checker sees both revocations from the files, without fetching.
    const fetchesBefore = rc.stats.fetches;
    await until(async () => (await rc.check(byCrl.der, interDer)).status === "revoked", "the refreshed CRL file");
    assert.equal((await rc.check(byOcsp.der, interDer)).status, "revoked");
    assert.equal(rc.stats.fetches, fetchesBefore);
  });

  test("-Url limits it to one CRL distribution point or responder; a failure is reported, not thrown", async () => {
    const own = await Loopback.start();
    try {
      const cacheDir = path.join(tmp, "update-url-cache");
      const rc = new RevocationChecker({ cacheDir, now: () => clock, fetcher });
      const a = leaf({ crlUrl: own.url("/a.crl") });
      const b = leaf({ crlUrl: own.url("/b.crl") });
      own.serve("/a.crl", inter.crl({ der: true }));
      own.serve("/b.crl", inter.crl({ der: true }));
      assert.equal((await rc.check(a.der, interDer)).status, "good");
      assert.equal((await rc.check(b.der, interDer)).status, "good");
      const one = await rc.updateCached({ url: own.url("/a.crl") });
      assert.deepEqual(one.map((u) => [u.url, u.ok]), [[own.url("/a.crl"), true]]);
      assert.deepEqual(await rc.updateCached({ url: "http://127.0.0.1:9/none.crl" }), []);
      await own.stop();
      const failed = await rc.updateCached({ url: own.url("/b.crl") });
      assert.equal(failed.length, 1);
      assert.equal(failed[0]?.ok, false);
      assert.equal(failed[0]?.error, `the CRL at ${own.url("/b.crl")} could not be fetched (connection refused)`);
      // The cached copy is kept and still answers.
      assert.equal((await rc.check(b.der, interDer)).status, "good");
    } finally {
      await own.stop().catch(() => undefined);
    }
  });

  test("updateFor fetches a certificate's OCSP answer and CRLs even when nothing is cached", async () => {
    const l = leaf({ crlUrl: srv.url("/for.crl"), ocspUrl: srv.url("/ocsp") });
    const subject = `CN=leaf${serial}.example`;
    publishCrl("/for.crl");
    const rc = checker();
    const out = await rc.updateFor(l.der, interDer);
    assert.deepEqual(out.map((u) => [u.source, u.ok, u.url]), [
      ["ocsp", true, srv.url("/ocsp")],
      ["crl", true, srv.url("/for.crl")],
    ]);
    assert.equal(out[0]?.status, "good");
    assert.equal(out[0]?.subject, subject);
    assert.equal(rc.stats.fetches, 2);
    assert.equal((await rc.check(l.der, interDer)).status, "good");
    assert.equal(rc.stats.fetches, 2, "the check answers from what the update fetched");
  });
});
