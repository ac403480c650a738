// Replays every committed fuzz input — the seed corpus (test/fuzz/corpus/)
// and the inputs that once broke an invariant (test/fuzz/regressions/) —
// through its target, with plain node: the targets import nothing from the
// fuzzing engine. A target throws only on an invariant violation, so each
// file must run without a throw (and within its target's hang limit).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { TARGETS } from "../../fuzz/targets/index.js";

const fuzzDir = fileURLToPath(new URL("../../../../test/fuzz/", import.meta.url));

function inputs(kind: "corpus" | "regressions", target: string): string[] {
  const dir = path.join(fuzzDir, kind, target);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => !f.startsWith(".")).map((f) => path.join(dir, f));
}

test("every folder of test/fuzz/corpus and test/fuzz/regressions belongs to a target", () => {
  const known = new Set(TARGETS.map((t) => t.name));
  for (const kind of ["corpus", "regressions"]) {
    const dir = path.join(fuzzDir, kind);
    if (!fs.existsSync(dir)) continue;
    for (const d of fs.readdirSync(dir)) assert.ok(known.has(d), `${kind}/${d} is not a fuzz target`);
  }
});

for (const t of TARGETS) {
  test(`fuzz target ${t.name}: the seed corpus and the regression inputs pass`, async (s) => {
    const mod = (await import(`../../fuzz/targets/${t.name}.js`)) as { fuzz: (data: Buffer) => unknown };
    const files = [...inputs("corpus", t.name), ...inputs("regressions", t.name)];
    assert.ok(inputs("corpus", t.name).length > 0, `test/fuzz/corpus/${t.name} has no seed`);
    for (const file of files) {
      await s.test(path.relative(fuzzDir, file), { timeout: Math.max(t.timeoutMs, 10_000) }, async () => {
        await mod.fuzz(fs.readFileSync(file));
      });
    }
  });
}
