// Intermediates learned from verified chains, shared through a folder by the
// processes of one server: a leaf-only presentation (a resumed TLS session)
// verifies on an engine that never saw the chain, and nothing unverified or
// non-CA is ever learned.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, type IssuedCert } from "../../helpers/openssl-ca.js";
import { TrustEngine, type RevocationSource } from "../../../src/pki/trust/engine.js";
import { IntermediateCache } from "../../../src/pki/trust/intermediate-cache.js";
import { readCertificates } from "../../../src/pki/certs.js";
import type { RevocationStatus } from "../../../src/pki/trust/revocation.js";

const der = (pem: string) => readCertificates(Buffer.from(pem))[0] as Buffer;
const good: RevocationSource = { check: async (): Promise<RevocationStatus> => ({ status: "good", source: "crl", url: "http://test.invalid/crl" }) };

let root: OpenSslCa;
let inter: OpenSslCa;
let stranger: OpenSslCa;
let leaf: IssuedCert;
let strangerLeaf: IssuedCert;
let dir: string;

before(async () => {
  root = await OpenSslCa.createRoot({ name: "O=Test,CN=Learned Root", keyType: "ec-p256" });
  inter = await root.createIntermediate({ name: "O=Test,CN=Learned Issuing CA", keyType: "ec-p256" });
  leaf = inter.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });
  // A CA under a root nobody trusts.
  const other = await OpenSslCa.createRoot({ name: "O=Else,CN=Untrusted Root", keyType: "ec-p256" });
  stranger = await other.createIntermediate({ name: "O=Else,CN=Stranger CA", keyType: "ec-p256" });
  strangerLeaf = stranger.issueLeaf({ subject: "CN=mx.stranger.example", dnsNames: ["stranger.example"], keyType: "ec-p256" });
  dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-learned-"));
});

after(() => {
  root.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const engineWith = (learned?: IntermediateCache) => new TrustEngine({ anchors: [der(root.certPem)], intermediates: [], revocation: good, ...(learned ? { learned } : {}) });

test("a leaf alone verifies on another process's engine once one engine verified the full chain", async () => {
  const folder = path.join(dir, "shared");
  const a = engineWith(new IntermediateCache({ dir: folder }));
  const b = engineWith(new IntermediateCache({ dir: folder })); // another worker: its own memory, the same folder
  const none = engineWith();
  assert.equal((await b.verify([der(leaf.certPem)], { role: "client" })).code, "CHAIN_UNTRUSTED", "nothing learned yet");
  assert.equal((await a.verify([der(leaf.certPem), der(inter.certPem)], { role: "client" })).ok, true);
  assert.equal(readdirSync(folder).length, 1, "the intermediate, and only it, was learned");
  assert.equal(statSync(path.join(folder, readdirSync(folder)[0] as string)).mode & 0o777, 0o600);
  // b refused this presentation a moment ago; the learned intermediate lets the next one through.
  const c = engineWith(new IntermediateCache({ dir: folder }));
  assert.equal((await c.verify([der(leaf.certPem)], { role: "client" })).ok, true);
  assert.equal((await none.verify([der(leaf.certPem)], { role: "client" })).code, "CHAIN_UNTRUSTED", "without the cache it would be refused");
});

test("nothing from an unverified chain is learned, and a learned certificate is never an anchor", async () => {
  const folder = path.join(dir, "strict");
  const cache = new IntermediateCache({ dir: folder });
  const e = engineWith(cache);
  assert.equal((await e.verify([der(strangerLeaf.certPem), der(stranger.certPem)], { role: "client" })).ok, false);
  assert.deepEqual(readdirSync(folder), []);
  // Even planted in the folder, a CA that does not chain to an anchor verifies nothing.
  const planted = readCertificates(Buffer.from(stranger.certPem))[0] as Buffer;
  const { createHash } = await import("node:crypto");
  writeFileSync(path.join(folder, `${createHash("sha256").update(planted).digest("hex").toUpperCase()}.der`), planted);
  assert.equal((await engineWith(new IntermediateCache({ dir: folder })).verify([der(strangerLeaf.certPem)], { role: "client" })).ok, false);
  // A damaged file is skipped.
  writeFileSync(path.join(folder, `${"A".repeat(64)}.der`), Buffer.from("not a certificate"));
  assert.equal(new IntermediateCache({ dir: folder }).list().length, 1);
});
