// Moved to src/devtools/smtp-client.ts (the demo and the benchmark use it too; shipped code never imports test/).
export * from "../../src/devtools/smtp-client.js";
