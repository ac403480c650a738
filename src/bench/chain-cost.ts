// `npm run bench:chain`: what one certificate verification costs in CPU when
// the peer chooses the certificates (docs/security.md, chain building).
// Each scenario is verified many times, each time with a fresh trust engine
// (no verdict cache), the parsed-certificate memo cleared and fresh copies of
// the certificates (so nothing parsed or verified before is reused, as with
// an attacker who sends new certificates every session), and the CPU time
// of each verification is read with process.cpuUsage(). Prints the mean, the
// 95th percentile and the largest per scenario, and PASS/FAIL of the mean
// against the budget of 50 ms per verification (single runs include garbage
// collection and the other processes of the machine); exits non-zero when a
// scenario is over it or ends with an unexpected verdict.
//   npm run bench:chain                   50 verifications per scenario
//   npm run bench:chain -- --runs 200
// Scenarios: a leaf plus N = 5 and N = 10 pairs of cross-signed CAs (one key
// per name, every path real; and one key per pair without key identifiers,
// every candidate tried by signature), the N = 10 set with P-384 keys (the
// budget is nearly spent), with P-521 keys and a key per pair (the budget
// runs out), and the longest chain accepted (8 certificates, the root
// trusted).
import { parseArgs } from "node:util";
import { TrustEngine, type RevocationSource } from "../pki/trust/engine.js";
import { clearParsedMemo } from "../pki/trust/parsed.js";
import { DEFAULT_MAX_DEPTH } from "../pki/trust/chain.js";
import { crossSignedSet, makeKeys, makeRoot, straightChain } from "./chain-certs.js";

const BUDGET_MS = 50;

const good: RevocationSource = { check: async () => ({ status: "good", source: "crl", url: "http://bench.invalid/crl" }) };

interface Scenario {
  name: string;
  presented: Buffer[];
  anchors: Buffer[];
  /** Verdict codes this scenario may end with. */
  expect: string[];
}

async function scenarios(): Promise<Scenario[]> {
  const unrelated = await makeRoot("CN=Unrelated Root", (await makeKeys(1))[0] as Awaited<ReturnType<typeof makeKeys>>[number]);
  const out: Scenario[] = [];
  for (const n of [5, 10]) {
    const real = await crossSignedSet(n);
    out.push({ name: `cross-signed N=${n}, every path real, untrusted`, presented: real.presented, anchors: [unrelated], expect: ["CHAIN_UNTRUSTED", "CHAIN_TOO_COMPLEX"] });
    out.push({ name: `cross-signed N=${n}, A's root trusted`, presented: real.presented, anchors: [real.rootA], expect: ["OK"] });
    const perPair = await crossSignedSet(n, { keyPerPair: true });
    out.push({ name: `cross-signed N=${n}, a key per pair, no key ids`, presented: perPair.presented, anchors: [unrelated], expect: ["CHAIN_UNTRUSTED", "CHAIN_TOO_COMPLEX"] });
  }
  const p384 = await crossSignedSet(10, { curve: "P-384" });
  out.push({ name: "cross-signed N=10, P-384 keys", presented: p384.presented, anchors: [unrelated], expect: ["CHAIN_UNTRUSTED", "CHAIN_TOO_COMPLEX"] });
  const p521 = await crossSignedSet(10, { keyPerPair: true, curve: "P-521" });
  out.push({ name: "cross-signed N=10, P-521, a key per pair", presented: p521.presented, anchors: [unrelated], expect: ["CHAIN_UNTRUSTED", "CHAIN_TOO_COMPLEX"] });
  const longest = await straightChain(DEFAULT_MAX_DEPTH);
  out.push({ name: `longest accepted chain (${DEFAULT_MAX_DEPTH} certificates)`, presented: longest.presented, anchors: [longest.root], expect: ["OK"] });
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "50" } } });
  const runs = Math.max(1, Number(values.runs) || 50);
  const all = await scenarios();
  let failed = false;
  console.log(`chain verification CPU per verification (${runs} runs each, fresh engine and parse memo each run; budget ${BUDGET_MS} ms)`);
  for (const s of all) {
    const times: number[] = [];
    let code = "";
    let signatures = 0;
    for (let i = 0; i < runs; i++) {
      clearParsedMemo();
      const presented = s.presented.map((b) => Buffer.from(b));
      const anchors = s.anchors.map((b) => Buffer.from(b));
      const start = process.cpuUsage();
      const engine = new TrustEngine({ anchors, intermediates: [], revocation: good });
      const v = await engine.verifyForDomain(presented, "woodgrovebank.com", {}, { role: "client" });
      const used = process.cpuUsage(start);
      times.push((used.user + used.system) / 1000);
      code = v.code;
      signatures = engine.stats.signatures;
    }
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const sorted = [...times].sort((a, b) => a - b);
    const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] as number;
    const max = sorted[sorted.length - 1] as number;
    const over = mean > BUDGET_MS;
    const unexpected = !s.expect.includes(code);
    if (over || unexpected) failed = true;
    console.log(
      `${over || unexpected ? "FAIL" : "PASS"}  ${s.name}: ${code}, ${signatures} signature checks, ` +
        `${mean.toFixed(2)} ms CPU per verification (p95 ${p95.toFixed(2)}, max ${max.toFixed(2)})${unexpected ? ` (expected ${s.expect.join(" or ")})` : ""}`,
    );
  }
  console.log(failed ? `FAIL: a scenario is over ${BUDGET_MS} ms or ended with an unexpected verdict` : `PASS: every scenario under ${BUDGET_MS} ms CPU per verification`);
  process.exitCode = failed ? 1 : 0;
}

await main();
