// Moved to src/devtools/fake-smtp.ts (the demo and the benchmark use it too; shipped code never imports test/).
export * from "../../src/devtools/fake-smtp.js";
