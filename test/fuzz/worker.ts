// Runs one fuzz target under jazzer.js (libFuzzer in this process), for
// run.ts, which starts one worker per target and reads libFuzzer's report
// on stderr. Not meant to be started by hand, but it can be:
//   node dist/test/fuzz/worker.js --target NAME --seconds N --artifacts DIR CORPUS_DIR [SEED_DIR...]
// The compiled ES modules under dist/src and dist/test/fuzz/targets are
// instrumented as they are imported (jazzer.js's ESM loader hook, Node >= 20.6).
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { installAddonLoader, loadedAddon } from "./jazzer-addon.js";
import { targetNamed } from "./targets/index.js";

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/test/fuzz
const dist = path.resolve(here, "..", "..");
const root = path.resolve(dist, "..");

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

const name = arg("--target") ?? "";
const target = targetNamed(name);
if (!target) {
  console.error(`unknown target '${name}'`);
  process.exit(2);
}
const seconds = Number(arg("--seconds") ?? "10");
const artifacts = arg("--artifacts") ?? process.cwd();
const dirs = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !(all[i - 1] ?? "").startsWith("--"));

installAddonLoader(path.join(root, "node_modules", ".cache", "sealpost-fuzz"));
const require = createRequire(import.meta.url);
const core = require("@jazzer.js/core") as typeof import("@jazzer.js/core");

const options = new core.OptionsManager(core.OptionSource.DefaultCLIOptions);
options.merge(
  {
    fuzzTarget: path.join(here, "targets", `${target.name}.js`),
    fuzzEntryPoint: "fuzz",
    includes: [path.join(dist, "src") + path.sep, path.join(here, "targets") + path.sep],
    excludes: ["node_modules"],
    sync: !target.async,
    timeout: target.timeoutMs,
    fuzzerOptions: [
      ...dirs,
      `-max_total_time=${Math.max(1, Math.round(seconds))}`,
      `-max_len=${target.maxLen}`,
      `-artifact_prefix=${artifacts}${path.sep}`,
      "-print_final_stats=1",
      "-rss_limit_mb=3072",
    ],
  },
  core.OptionSource.CommandLineArguments,
);

const result = await core.startFuzzing(options);
console.error(`sealpost-fuzz: addon ${loadedAddon ?? "(not loaded)"}`);
console.error(`sealpost-fuzz: result ${result.returnCode}`);
process.exit(result.returnCode);
