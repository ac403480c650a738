#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm install builds it through "prepare").
import { main } from "../dist/src/cli/main.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`sealpost: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
