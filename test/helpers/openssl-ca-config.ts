// Moved to src/devtools/openssl-ca-config.ts (the demo and the benchmark use it too; shipped code never imports test/).
export * from "../../src/devtools/openssl-ca-config.js";
