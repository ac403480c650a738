// The description every front end reads (CmdletInfo, Get-Command, Get-Help)
// and the shell's side of files: what a role may run, enumerations, file
// parameters marked; -Path read into FileData, -PasswordFile into Password,
// certificate files in a list into PEM text, an output path kept local.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeCmdlets, helpText } from "../../../src/adminapi/cmdlet-info.js";
import { mayRun } from "../../../src/adminapi/roles.js";
import { ROLE_GROUPS } from "../../../src/adminapi/identity.js";
import { clientFileOf } from "../../../src/shell/binder.js";
import { allCmdlets } from "../../../src/shell/cmdlets/index.js";
import { doorParameters } from "../../../src/shell/shell.js";

const table = allCmdlets();
let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-info-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("each role group gets exactly the cmdlets mayRun allows, more for higher groups", () => {
  const sizes = ROLE_GROUPS.map((r) => {
    const names = describeCmdlets(table, [r]).map((c) => c.Name);
    assert.deepEqual(names, table.filter((c) => mayRun([r], c.name).ok).map((c) => c.name), r);
    return names.length;
  });
  assert.ok((sizes[0] as number) > (sizes[1] as number) && (sizes[1] as number) > (sizes[2] as number), sizes.join(","));
  const viewOnly = describeCmdlets(table, ["View-Only Organization Management"]).map((c) => c.Name);
  assert.ok(viewOnly.includes("Get-TransportConfig"));
  assert.ok(!viewOnly.includes("Set-TransportConfig"));
  assert.ok(!viewOnly.includes("Export-ExchangeCertificate"), "no secret for View-Only");
});

test("enumerations, mandatory flags, file parameters and the client-side cmdlets are described", () => {
  const info = describeCmdlets(table, ["Organization Management"]);
  const p = (c: string, n: string) => info.find((x) => x.Name === c)?.Parameters.find((x) => x.Name === n);
  assert.deepEqual(p("Set-DomainSecurePartner", "NameMatch")?.Values, ["Exact", "Subdomains"]);
  assert.deepEqual(p("Set-DomainSecurePartner", "Mode")?.Values, ["Enforce", "ReportOnly"]);
  assert.deepEqual(p("New-AcceptedDomain", "DomainType")?.Values, ["Authoritative", "InternalRelay", "ExternalRelay"]);
  assert.equal(p("Enable-ExchangeCertificate", "Services")?.Mandatory, true);
  assert.equal(p("Import-ExchangeCertificate", "Path")?.ClientFile, "read");
  assert.equal(p("Import-ExchangeCertificate", "Path")?.FileDataParameter, "FileData");
  assert.equal(p("Import-ExchangeCertificate", "PasswordFile")?.FileDataParameter, "Password");
  assert.equal(p("Export-ExchangeCertificate", "Path")?.ClientFile, "write");
  assert.equal(info.find((c) => c.Name === "Format-List")?.ClientSide, true);
  assert.equal(info.find((c) => c.Name === "Set-TransportConfig")?.ChangesState, true);
  assert.equal(info.find((c) => c.Name === "Get-TransportConfig")?.ChangesState, false);
  const help = helpText(info.find((c) => c.Name === "Set-DomainSecurePartner") as (typeof info)[number]);
  assert.match(help, /-NameMatch <string> \(one of Exact\|Subdomains\)/);
  assert.match(help, /Role group: Organization Management/);
  // Every door cmdlet that takes a file to read also takes its content.
  for (const c of table.filter((x) => !x.clientSide)) {
    for (const q of c.params) {
      if (clientFileOf(q) === "read") assert.ok(c.params.some((x) => x.name === (q.fileDataParam ?? "FileData")), `${c.name} -${q.name} has -FileData`);
      if (clientFileOf(q) === "secret") assert.ok(c.params.some((x) => x.name === "Password"), `${c.name} -${q.name} has -Password`);
    }
  }
});

test("the shell turns files into door parameters: FileData, Password, PEM entries; an output path stays here", () => {
  const ctx = { resolvePath: (p: string) => path.resolve(dir, p) };
  const def = (n: string) => table.find((c) => c.name === n) as (typeof table)[number];
  writeFileSync(path.join(dir, "x.pfx"), Buffer.from([1, 2, 3, 250]));
  writeFileSync(path.join(dir, "pw"), "s3cret-pass\n");
  const imp = doorParameters(def("Import-ExchangeCertificate"), { Path: "x.pfx", PasswordFile: "pw" }, { Path: "x.pfx", PasswordFile: "pw" }, ctx);
  assert.deepEqual(imp, { FileData: Buffer.from([1, 2, 3, 250]).toString("base64"), Password: "s3cret-pass" });
  assert.throws(() => doorParameters(def("Import-ExchangeCertificate"), { Path: "x.pfx", FileData: "AQID" }, { Path: "x.pfx", FileData: "AQID" }, ctx), /give -Path or -FileData, not both/);
  const exp = doorParameters(def("Export-ExchangeCertificate"), { Thumbprint: "AB", Path: "out.pfx" }, { Thumbprint: "AB", Path: "out.pfx" }, ctx);
  assert.deepEqual(exp, { Thumbprint: "AB" });
  writeFileSync(path.join(dir, "ca.der"), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
  const thumb = "5F4A87C8E9C383CB355FB6BD324F443B4CADECC6";
  const edit = doorParameters(def("Set-DomainSecurePartner"), { Identity: "x.example", AllowedIssuers: { Add: ["ca.der", thumb] } }, { Identity: "x.example", AllowedIssuers: { add: ["ca.der", thumb], remove: [] } }, ctx);
  const issuers = edit.AllowedIssuers as { Add: string[]; Remove: string[] };
  assert.match(issuers.Add[0] as string, /^-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n$/);
  assert.equal(issuers.Add[1], thumb);
  assert.throws(() => doorParameters(def("Test-Certificate"), { Path: "missing.pem" }, { Path: "missing.pem" }, ctx), /could not be read/);
});
