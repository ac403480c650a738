// `npm test`: runs the suites with Node's test runner (node:test's run(), the
// same runner as `node --test`), as many test files at a time as the machine
// has cores (os.availableParallelism(), or SEALPOST_TEST_CONCURRENCY), with one
// folder of test keys for the whole run (SEALPOST_TEST_KEY_POOL, see
// src/devtools/openssl-ca-config.ts), removed at the end. Arguments, when
// given, are the test files to run instead of the three suites.
//
// Files start in an order chosen to finish soonest: the integration and
// adversarial files first (real servers, PKI: the long ones), the largest
// first, then the unit files, which fill the gaps, so that no long file starts
// last and runs alone. (`node --test` sorts its files by name.)
import { readdirSync, statSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "node:test";
import { spec, tap } from "node:test/reporters";

const dist = path.dirname(fileURLToPath(import.meta.url));

/** The compiled test files under a folder, largest first. */
function testFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".test.js")) out.push(p);
    }
  };
  walk(dir);
  return out.map((f) => [f, statSync(f).size] as const).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([f]) => f);
}

const args = process.argv.slice(2).map((a) => path.resolve(a));
const files =
  args.length > 0
    ? args.flatMap((a) => (statSync(a).isDirectory() ? testFiles(a) : [a]))
    : [
        ...[...testFiles(path.join(dist, "integration")), ...testFiles(path.join(dist, "adversarial"))].sort((a, b) => statSync(b).size - statSync(a).size),
        ...testFiles(path.join(dist, "unit")),
      ];

const requested = Number(process.env.SEALPOST_TEST_CONCURRENCY);
const concurrency = Number.isInteger(requested) && requested > 0 ? requested : os.availableParallelism();

const pool = mkdtempSync(path.join(os.tmpdir(), "sealpost-test-keys-"));
process.env.SEALPOST_TEST_KEY_POOL = pool;
let failed = false;
const stream = run({ files, concurrency });
stream.on("test:fail", (data: { todo?: unknown; skip?: unknown }) => {
  if (data.todo === undefined || data.todo === false) failed = true;
});
stream.on("end", () => {
  rmSync(pool, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
});
stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout);
