// DataDir names every path of the data folder, and each one is the path
// docs/data-folder.md documents.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { dataFolder } from "../../../src/config/datadir.js";

const DOC = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../docs/data-folder.md"), "utf8");

test("every path DataDir names is under its root and documented in docs/data-folder.md", () => {
  const d = dataFolder("/srv/sealpost");
  const paths: Record<string, string> = {
    dbFile: d.dbFile,
    keysDir: d.keysDir,
    queueDir: d.queueDir,
    spoolDir: d.spoolDir,
    outboundDbFile: d.outboundDbFile,
    maildirRoot: d.maildirRoot,
    trackingLogDir: d.trackingLogDir,
    receiveLogs: d.protocolLogDir("receive"),
    sendLogs: d.protocolLogDir("send"),
    revocationDir: d.revocationDir,
    intermediatesDir: d.intermediatesDir,
    adminTokenFile: d.adminTokenFile,
    adminAddressFile: d.adminAddressFile,
    shellHistoryFile: d.shellHistoryFile,
  };
  const rel = Object.fromEntries(Object.entries(paths).map(([k, v]) => [k, path.relative("/srv/sealpost", v)]));
  assert.deepEqual(rel, {
    dbFile: "sealpost.db",
    keysDir: "keys",
    queueDir: "queue",
    spoolDir: "queue/spool",
    outboundDbFile: "queue/outbound.db",
    maildirRoot: "maildir",
    trackingLogDir: "logs/tracking",
    receiveLogs: "logs/protocol/SmtpReceive",
    sendLogs: "logs/protocol/SmtpSend",
    revocationDir: "revocation",
    intermediatesDir: "trust-cache/intermediates",
    adminTokenFile: "admin.token",
    adminAddressFile: "admin.address",
    shellHistoryFile: "shell_history",
  });
  for (const [k, r] of Object.entries(rel)) {
    if (k === "queueDir") continue; // the folder of spool/ and outbound.db, documented through them
    assert.ok(DOC.includes(`\`${r}`), `${k}: ${r} is in docs/data-folder.md`);
  }
});
