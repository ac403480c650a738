// Property test of chain building over generated certificate sets: random
// graphs of CAs (names drawn from a small pool so that many certificates
// look like issuers of many others, keys shared between CAs, key
// identifiers present or not, cross-certificates in every direction, peer
// and store certificates, several trusted roots), with random depth and
// signature budgets. The certificates are made in process with
// @peculiar/x509 from keys made once (src/bench/chain-certs.ts); the oracle
// knows which key signed what, so it knows every real issuer relation
// without verifying anything.
// Properties: signature checks never exceed the budget; a path is found
// whenever one exists within the depth limit and the candidate pairs fit in
// the budget (so running out cannot be the reason); a path found is a real
// path to a trusted root within the depth limit; no path is reported when
// none exists; CHAIN_TOO_COMPLEX only when the budget could not cover the
// candidates.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { makeCert, makeKeys, makeRoot, type BenchKey } from "../../../src/bench/chain-certs.js";
import { validateChain } from "../../../src/pki/trust/chain.js";
import { parseCert, type ParsedCert } from "../../../src/pki/trust/parsed.js";

const KEYS = 5;
const NAMES = ["CN=CA Alpha", "CN=CA Beta", "CN=CA Gamma", "CN=CA Delta"];
let keys: BenchKey[];
let leafKey: BenchKey;

before(async () => {
  keys = await makeKeys(KEYS);
  leafKey = (await makeKeys(1))[0] as BenchKey;
});

interface Entity {
  name: number;
  key: number;
}

interface CaCert {
  subject: number;
  issuer: number;
  keyIds: boolean;
  store: boolean;
}

interface Case {
  entities: Entity[];
  certs: CaCert[];
  anchors: number[];
  leafIssuer: number;
  leafKeyIds: boolean;
  maxDepth: number;
  budget: number;
}

const arbCase: fc.Arbitrary<Case> = fc
  .array(fc.record({ name: fc.nat(NAMES.length - 1), key: fc.nat(KEYS - 1) }), { minLength: 2, maxLength: 6 })
  .chain((entities) => {
    const e = fc.nat(entities.length - 1);
    return fc.record({
      entities: fc.constant(entities),
      certs: fc.array(fc.record({ subject: e, issuer: e, keyIds: fc.boolean(), store: fc.boolean() }), { maxLength: 12 }),
      anchors: fc.uniqueArray(e, { maxLength: 2 }),
      leafIssuer: e,
      leafKeyIds: fc.boolean(),
      maxDepth: fc.integer({ min: 2, max: 8 }),
      budget: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constant(64)),
    });
  });

/** What the oracle knows of one certificate. */
interface Known {
  cert: ParsedCert;
  subjectName: string;
  issuerName: string;
  key: number; // -1: the leaf's key
  signer: number;
  keyIds: boolean;
  anchor: boolean;
}

test("chain building: bounded work, and complete and sound within the bounds", { timeout: 120_000 }, async () => {
  let exhausted = 0;
  let found = 0;
  await fc.assert(
    fc.asyncProperty(arbCase, async (c) => {
      const ent = (i: number) => c.entities[i] as Entity;
      const name = (i: number) => NAMES[ent(i).name] as string;
      // CA certificates whose subject and issuer names are equal would be self-issued; keep them out.
      const caCerts = c.certs.filter((x) => name(x.subject) !== name(x.issuer));
      const peersSpec = caCerts.filter((x) => !x.store).slice(0, 10);
      const storeSpec = caCerts.filter((x) => x.store).slice(0, 4);
      const make = async (x: CaCert): Promise<Known> => {
        const der = await makeCert({ subject: name(x.subject), issuer: name(x.issuer), key: keys[ent(x.subject).key] as BenchKey, signer: keys[ent(x.issuer).key] as BenchKey, ca: true, keyIds: x.keyIds });
        return { cert: parseCert(der), subjectName: name(x.subject), issuerName: name(x.issuer), key: ent(x.subject).key, signer: ent(x.issuer).key, keyIds: x.keyIds, anchor: false };
      };
      const peers = await Promise.all(peersSpec.map(make));
      const store = await Promise.all(storeSpec.map(make));
      const anchors: Known[] = [];
      for (const a of c.anchors) {
        const der = await makeRoot(name(a), keys[ent(a).key] as BenchKey);
        anchors.push({ cert: parseCert(der), subjectName: name(a), issuerName: name(a), key: ent(a).key, signer: ent(a).key, keyIds: true, anchor: true });
      }
      const leafDer = await makeCert({ subject: "CN=leaf.example.com", issuer: name(c.leafIssuer), key: leafKey, signer: keys[ent(c.leafIssuer).key] as BenchKey, ca: false, dnsNames: ["leaf.example.com"], keyIds: c.leafKeyIds });
      const leaf: Known = { cert: parseCert(leafDer), subjectName: "CN=leaf.example.com", issuerName: name(c.leafIssuer), key: -1, signer: ent(c.leafIssuer).key, keyIds: c.leafKeyIds, anchor: false };

      // The oracle: real issuer relations, and the pairs a builder may have to check by signature.
      const pool = [...peers, ...store];
      const issues = (child: Known, issuer: Known) => child.issuerName === issuer.subjectName && child.signer === issuer.key;
      const candidate = (child: Known, issuer: Known) => child.issuerName === issuer.subjectName && (!child.keyIds || !issuer.keyIds || child.signer === issuer.key);
      let pairs = 0;
      for (const child of [leaf, ...pool]) for (const issuer of [...pool, ...anchors]) if (child !== issuer && candidate(child, issuer)) pairs++;
      // shortest path length (certificates, anchor included) by breadth first over real relations
      let exists = false;
      const depthOf = new Map<Known, number>([[leaf, 1]]);
      const queue = [leaf];
      while (queue.length && !exists) {
        const n = queue.shift() as Known;
        const d = depthOf.get(n) as number;
        if (d + 1 <= c.maxDepth && anchors.some((a) => issues(n, a))) exists = true;
        if (d + 2 > c.maxDepth) continue;
        for (const p of pool) {
          if (!depthOf.has(p) && issues(n, p)) {
            depthOf.set(p, d + 1);
            queue.push(p);
          }
        }
      }

      const r = await validateChain(
        [leaf.cert.der, ...peers.map((p) => p.cert.der)],
        { anchors: anchors.map((a) => a.cert), intermediates: store.map((s) => s.cert) },
        { now: new Date(), skewMs: 300_000, role: "client", maxDepth: c.maxDepth, limits: { maxSignatureWork: c.budget } },
      );
      const work = r.work as NonNullable<typeof r.work>;
      assert.ok(work.signatures <= c.budget && work.signatureCost <= c.budget, `work ${JSON.stringify(work)} over the budget ${c.budget}`);
      if (r.verdict.code === "CHAIN_TOO_COMPLEX") {
        exhausted++;
        assert.ok(pairs > c.budget, `refused as too complex with ${pairs} candidate pairs and a budget of ${c.budget}`);
      }
      if (r.verdict.ok) {
        found++;
        assert.ok(exists, "a path was reported where none exists");
        const path = r.path as ParsedCert[];
        assert.ok(path.length <= c.maxDepth, `path of ${path.length} over the depth ${c.maxDepth}`);
        const all = [leaf, ...pool, ...anchors];
        const know = (p: ParsedCert) => all.find((k) => k.cert.sha256 === p.sha256) as Known;
        for (let i = 0; i + 1 < path.length; i++) assert.ok(issues(know(path[i] as ParsedCert), know(path[i + 1] as ParsedCert)), "a link of the path is no real issuer");
        assert.ok(know(path[path.length - 1] as ParsedCert).anchor, "the path does not end at a trusted root");
      } else {
        assert.ok(["CHAIN_UNTRUSTED", "CHAIN_TOO_COMPLEX"].includes(r.verdict.code), `${r.verdict.code}: ${r.verdict.reason}`);
        if (exists && pairs <= c.budget) assert.fail(`a path exists within the limits (${pairs} candidate pairs, budget ${c.budget}, depth ${c.maxDepth}) and was not found: ${r.verdict.reason}`);
      }
    }),
    // A fixed seed: the regime check below is about the generator, and must not depend on a draw
    // (a random one once gave only 3 exhausted sets). FC_SEED explores others.
    { numRuns: 300, seed: Number(process.env.FC_SEED ?? 20261204) },
  );
  // The generator reaches both regimes (otherwise the properties above would hold vacuously).
  assert.ok(found > 20, `only ${found} sets had a path`);
  assert.ok(exhausted > 5, `only ${exhausted} sets ran out of budget`);
});
