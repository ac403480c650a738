// Defect: certificate path building had no cost bound. After STARTTLS a
// client presented a leaf plus 2N cross-signed CA certificates (no trust
// needed) and claimed a partner at MAIL FROM: the unbounded depth-first
// search verified a signature for every (certificate, candidate) pair at
// every node of every path, so N=5 cost seconds of a worker's CPU (growth
// about N^7) and two such sessions froze the server. The same code verifies
// partner MX certificates in the primary process.
// Reproduced as found: two untrusted CAs "CN=Cross A" and "CN=Cross B" made
// with the OpenSSL command line certify each other's key N times each, so
// the peer's set holds N certificates named A issued by B and N named B
// issued by A, all with valid signatures and matching key identifiers:
// every A is a real issuer of every B and back, and every path through them
// is a real path (to nowhere). The leaf is issued by A. The chain is
// presented over a real TLS handshake on loopback (read with the receive
// path's own peerChain) and to the trust engine in both roles. Signature
// checks are counted at Node's X509Certificate.verify, the one place chain
// building verifies a signature, and must stay within the budget; the
// verdict is a refusal (CHAIN_TOO_COMPLEX when the budget ran out,
// CHAIN_UNTRUSTED when the set was explored within it). With A's root
// trusted the same presentation is validated, within the budget. AIA
// caIssuers fetches, the other cost a peer's certificates can cause, are
// capped per verification (3 distinct http: URLs over the whole building).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import http from "node:http";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { OpenSslCa, type IssuedCert } from "../helpers/openssl-ca.js";
import { readCertificates } from "../../src/pki/certs.js";
import { TrustEngine, type RevocationSource } from "../../src/pki/trust/engine.js";
import { DEFAULT_CHAIN_LIMITS, validateChain } from "../../src/pki/trust/chain.js";
import { parseCert } from "../../src/pki/trust/parsed.js";
import { peerChain } from "../../src/smtp/receive/starttls.js";
import type { RevocationStatus } from "../../src/pki/trust/revocation.js";

const der = (pem: string) => readCertificates(Buffer.from(pem))[0] as Buffer;
const good: RevocationSource = { check: async (): Promise<RevocationStatus> => ({ status: "good", source: "crl", url: "http://test.invalid/crl" }) };
const BUDGET = DEFAULT_CHAIN_LIMITS.maxSignatureWork;

let caA: OpenSslCa;
let caB: OpenSslCa;
let leaf: IssuedCert;
const crossA: IssuedCert[] = []; // subject A, key A, issued by B
const crossB: IssuedCert[] = []; // subject B, key B, issued by A

before(async () => {
  caA = await OpenSslCa.createRoot({ name: "O=Attacker,CN=Cross A", keyType: "ec-p256" });
  caB = await OpenSslCa.createRoot({ name: "O=Attacker,CN=Cross B", keyType: "ec-p256" });
  for (let i = 0; i < 10; i++) {
    crossA.push(caB.crossCertify(caA));
    crossB.push(caA.crossCertify(caB));
  }
  leaf = caA.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com", "mail.woodgrovebank.com"], keyType: "ec-p256" });
});

after(() => {
  caA.cleanup();
  caB.cleanup();
});

/** The leaf and N pairs, interleaved A, B, A, B... as a peer would send them (DER read outside the counting). */
function presented(n: number): Buffer[] {
  const out = [der(leaf.certPem)];
  for (let i = 0; i < n; i++) out.push(der((crossA[i] as IssuedCert).certPem), der((crossB[i] as IssuedCert).certPem));
  return out;
}

/** Counts the signature verifications made while `fn` runs. */
async function countingVerifies<T>(fn: () => Promise<T>): Promise<{ value: T; verifies: number }> {
  const proto = X509Certificate.prototype as { verify: (key: unknown) => boolean };
  const original = proto.verify;
  let verifies = 0;
  proto.verify = function (this: X509Certificate, key: unknown) {
    verifies++;
    return original.call(this, key);
  };
  try {
    return { value: await fn(), verifies };
  } finally {
    proto.verify = original;
  }
}

function engine(anchors: Buffer[]): TrustEngine {
  return new TrustEngine({ anchors, intermediates: [], revocation: good });
}

describe("a leaf plus 2N cross-signed CA certificates", () => {
  test("the set is real: every A issued every B and every B every A", () => {
    const a = parseCert(der((crossA[0] as IssuedCert).certPem));
    const b = parseCert(der((crossB[1] as IssuedCert).certPem));
    assert.equal(a.node.verify(b.node.publicKey), true);
    assert.equal(b.node.verify(a.node.publicKey), true);
    assert.equal(parseCert(der(leaf.certPem)).node.verify(a.node.publicKey), true);
  });

  for (const n of [5, 10]) {
    test(`N=${n}: refused in both roles, within the signature budget`, async () => {
      const anchor = await OpenSslCa.createRoot({ name: "CN=Unrelated Root", keyType: "ec-p256" });
      try {
        for (const role of ["client", "server"] as const) {
          const e = engine([der(anchor.certPem)]);
          const certs = presented(n);
          const { value: v, verifies } = await countingVerifies(() => e.verifyForDomain(certs, "woodgrovebank.com", {}, { role }));
          assert.equal(v.ok, false, `${role}: ${v.reason}`);
          assert.ok(v.code === "CHAIN_TOO_COMPLEX" || v.code === "CHAIN_UNTRUSTED", `${role}: ${v.code} ${v.reason}`);
          assert.ok(verifies <= BUDGET, `${role}: ${verifies} signature verifications for N=${n} (budget ${BUDGET})`);
          assert.equal(e.stats.signatures, verifies, "the engine counts what was verified");
        }
        const certs = presented(n);
        const material = { anchors: [parseCert(der(anchor.certPem))], intermediates: [] };
        const { value: r, verifies } = await countingVerifies(() => validateChain(certs, material, { now: new Date(), skewMs: 300_000, role: "client" }));
        assert.equal(r.work?.signatures, verifies);
        assert.ok((r.work?.signatureCost ?? Infinity) <= BUDGET);
      } finally {
        anchor.cleanup();
      }
    });
  }

  test("the budget: when the checks a set needs exceed it, the verdict is CHAIN_TOO_COMPLEX and no check is made past it", async () => {
    const certs = presented(10);
    const opts = { now: new Date(), skewMs: 300_000, role: "client" as const, limits: { maxPeerCertificates: 20 } };
    // Breadth first, each certificate expanded once: 10 checks above the leaf, 10 above the first A.
    const full = await countingVerifies(() => validateChain(certs, { anchors: [], intermediates: [] }, opts));
    assert.equal(full.value.verdict.code, "CHAIN_UNTRUSTED");
    assert.equal(full.verifies, 20);
    const { value: r, verifies } = await countingVerifies(() => validateChain(certs, { anchors: [], intermediates: [] }, { ...opts, limits: { ...opts.limits, maxSignatureWork: 12 } }));
    assert.equal(r.verdict.code, "CHAIN_TOO_COMPLEX", r.verdict.reason);
    assert.match(r.verdict.reason, /signature checks/);
    assert.equal(verifies, 12, "the budget is spent, not exceeded");
    assert.equal(r.work?.signatures, verifies);
  });

  test("beyond 10 certificates the peer sent, the rest are ignored", async () => {
    const r = await validateChain(presented(10), { anchors: [], intermediates: [] }, { now: new Date(), skewMs: 300_000, role: "client" });
    assert.equal(r.work?.ignoredPeerCertificates, 10);
    assert.ok(r.verdict.checks.some((c) => c.name === "certificates considered"));
  });

  test("with A's root trusted, the same presentation is validated within the budget", async () => {
    const e = engine([der(caA.certPem)]);
    for (const n of [5, 10]) {
      const certs = presented(n);
      const { value: v, verifies } = await countingVerifies(() => e.verifyForDomain(certs, "woodgrovebank.com", {}, { role: "client" }));
      assert.equal(v.code, "OK", v.reason);
      assert.deepEqual(v.chain.map((c) => c.source), ["peer", "anchor"]);
      assert.ok(verifies <= BUDGET);
    }
  });

  test("AIA: at most 3 distinct http: URLs fetched per verification, over the whole path building", async () => {
    const hits: string[] = [];
    const server = http.createServer((req, res) => {
      hits.push(req.url ?? "");
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const top = await OpenSslCa.createRoot({ name: "CN=Untrusted Top", keyType: "ec-p256" });
    try {
      // leaf <- I1 <- I2 <- I3 <- I4 <- top, none trusted, each naming its own AIA URL
      const cas: OpenSslCa[] = [];
      let parent = top;
      for (let i = 4; i >= 1; i--) {
        parent = await parent.createIntermediate({ name: `CN=Untrusted I${i}`, keyType: "ec-p256", aiaIssuerUrl: `${base}/i${i}` });
        cas.unshift(parent);
      }
      const fetcher = async (url: string) => {
        const r = await fetch(url);
        return r.ok ? readCertificates(Buffer.from(await r.arrayBuffer())) : [];
      };
      const material = { anchors: [parseCert(der(caA.certPem))], intermediates: [] };
      const opts = { now: new Date(), skewMs: 300_000, role: "client" as const, fetchIssuer: fetcher };
      const l = (cas[0] as OpenSslCa).issueLeaf({ subject: "CN=aia.example.com", keyType: "ec-p256", aiaIssuerUrl: `${base}/leaf` });
      const r = await validateChain([der(l.certPem), ...cas.map((c) => der(c.certPem))], material, opts);
      assert.equal(r.verdict.code, "CHAIN_UNTRUSTED");
      assert.equal(r.work?.aiaFetches, 3);
      assert.deepEqual(hits, ["/leaf", "/i1", "/i2"], "nearest the leaf first, then the cap");
      // the same URL everywhere: fetched once
      hits.length = 0;
      const same = await OpenSslCa.createRoot({ name: "CN=Same URL Top", keyType: "ec-p256" });
      try {
        const s1 = await same.createIntermediate({ name: "CN=Same I1", keyType: "ec-p256", aiaIssuerUrl: `${base}/same` });
        const l2 = s1.issueLeaf({ subject: "CN=same.example.com", keyType: "ec-p256", aiaIssuerUrl: `${base}/same` });
        const r2 = await validateChain([der(l2.certPem), der(s1.certPem)], material, opts);
        assert.equal(r2.work?.aiaFetches, 1);
        assert.deepEqual(hits, ["/same"]);
        // not http: never fetched
        hits.length = 0;
        const l3 = s1.issueLeaf({ subject: "CN=tls.example.com", keyType: "ec-p256", aiaIssuerUrl: `https://127.0.0.1:${(server.address() as AddressInfo).port}/x` });
        const r3 = await validateChain([der(l3.certPem)], material, opts);
        assert.equal(r3.work?.aiaFetches, 0);
        assert.deepEqual(hits, []);
      } finally {
        same.cleanup();
      }
    } finally {
      server.close();
      top.cleanup();
    }
  });

  test("over a real TLS handshake on loopback: the client's chain as the receive path reads it", async () => {
    const key = leaf.keyPem as string;
    const chainPem = [leaf.certPem, ...crossA.flatMap((a, i) => [a.certPem, (crossB[i] as IssuedCert).certPem])].join("");
    const server = tls.createServer({ key, cert: leaf.certPem, requestCert: true, rejectUnauthorized: false });
    const got = new Promise<Buffer[]>((resolve, reject) => {
      server.once("secureConnection", (s) => {
        resolve(peerChain(s));
        s.end();
      });
      server.once("tlsClientError", reject);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = tls.connect({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, key, cert: chainPem, rejectUnauthorized: false });
    client.on("error", () => {});
    try {
      const chain = await got;
      assert.ok(chain.length > 11, `the handshake carried ${chain.length} certificates`);
      const e = engine([]);
      const { value: v, verifies } = await countingVerifies(() => e.verifyForDomain(chain, "woodgrovebank.com", {}, { role: "client" }));
      assert.equal(v.ok, false);
      assert.ok(v.code === "CHAIN_TOO_COMPLEX" || v.code === "CHAIN_UNTRUSTED", v.reason);
      assert.ok(verifies <= BUDGET, `${verifies} signature verifications`);
    } finally {
      client.destroy();
      server.close();
    }
  });
});
