import { test } from "node:test";
import assert from "node:assert/strict";
import { completeLine, isSensitiveLine } from "../../../src/shell/repl.js";
import { Shell } from "../../../src/shell/shell.js";
import { allCmdlets } from "../../../src/shell/cmdlets/index.js";
import type { AdminApi } from "../../../src/admin/api.js";

// Completion only reads the cmdlet table; it never reaches the admin API.
const shell = new Shell({ api: undefined as unknown as AdminApi, cwd: "/", env: {}, readSecret: async () => "", readLine: async () => "" }, allCmdlets());

test("tab completes cmdlet names and the current cmdlet's parameters", () => {
  assert.deepEqual(completeLine(shell, "Get-Exch")[0], ["Get-ExchangeCertificate"]);
  assert.deepEqual(completeLine(shell, "get-exchangecertificate | enable-exch")[0], ["Enable-ExchangeCertificate"]);
  assert.deepEqual(completeLine(shell, "Import-ExchangeCertificate -P")[0].sort(), ["-Password", "-PasswordFile", "-Path", "-PrivateKeyExportable"]);
  assert.deepEqual(completeLine(shell, "Nope-Cmdlet -P")[0], []);
});

test("lines carrying a literal password are kept out of history", () => {
  assert.equal(isSensitiveLine('Import-ExchangeCertificate -Path a.pfx -Password "x"'), true);
  assert.equal(isSensitiveLine("Import-ExchangeCertificate -Path a.pfx -password:x"), true);
  assert.equal(isSensitiveLine("Import-ExchangeCertificate -Path a.pfx -Password $env:PFX"), false);
  assert.equal(isSensitiveLine("Import-ExchangeCertificate -Path a.pfx -PasswordFile pw.txt"), false);
  assert.equal(isSensitiveLine("Import-ExchangeCertificate -Path a.pfx -Password (Read-Host -AsSecureString)"), false);
  assert.equal(isSensitiveLine("Get-ExchangeCertificate"), false);
});
