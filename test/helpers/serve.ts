// Moved to src/devtools/serve.ts (the demo and the benchmark use it too; shipped code never imports test/).
export * from "../../src/devtools/serve.js";
