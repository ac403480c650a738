import { test } from "node:test";
import assert from "node:assert/strict";
import { REDACTED, redactParameters } from "../../../src/adminapi/redact.js";
import { allCmdlets } from "../../../src/shell/cmdlets/index.js";

const importCert = allCmdlets().find((c) => c.name === "Import-ExchangeCertificate");

test("a parameter declared secret is replaced, whatever its name; the input is not changed", () => {
  const def = { name: "Test-Cmd", params: [{ name: "Phrase", type: "secret" as const }, { name: "Name", type: "string" as const }] };
  const input = { Phrase: "correct horse battery staple", Name: "alice" };
  assert.deepEqual(redactParameters(def, input), { Phrase: REDACTED, Name: "alice" });
  assert.equal(input.Phrase, "correct horse battery staple");
  // The name's case and a shortened name do not hide it.
  assert.deepEqual(redactParameters(def, { phrase: "x", PHR: "y", name: "bob" }), { phrase: REDACTED, PHR: REDACTED, name: "bob" });
});

test("names containing Password, Token, Secret, Credential or ApiKey are replaced at any depth, by name alone", () => {
  const out = redactParameters("Set-Something", {
    Password: "hunter2hunter2",
    PasswordFile: "/root/pw.txt",
    NewPassword: ["a", "b"],
    Token: "spt_abc",
    ClientSecret: { nested: 1 },
    Credential: { User: "alice", Password: "x" },
    ApiKey: 7,
    Options: { Inner: { ProxyPassword: "p", Keep: "k" } },
    PrivateKeyExportable: true,
    Identity: "Inet",
  });
  assert.deepEqual(out, {
    Password: REDACTED,
    PasswordFile: REDACTED,
    NewPassword: REDACTED,
    Token: REDACTED,
    ClientSecret: REDACTED,
    Credential: REDACTED,
    ApiKey: REDACTED,
    Options: { Inner: { ProxyPassword: REDACTED, Keep: "k" } },
    PrivateKeyExportable: true,
    Identity: "Inet",
  });
});

test("Import-ExchangeCertificate: the PFX's content becomes its size, its password stars", () => {
  assert.ok(importCert, "Import-ExchangeCertificate is in the table");
  const pfx = Buffer.alloc(2500, 7);
  const viaHttp = redactParameters(importCert, { FileData: pfx.toString("base64"), Password: "pfx-password", FriendlyName: "mail1" });
  assert.deepEqual(viaHttp, { FileData: "<2500 bytes>", Password: REDACTED, FriendlyName: "mail1" });
  const inProcess = redactParameters(importCert, { FileData: pfx, Password: "pfx-password" });
  assert.deepEqual(inProcess, { FileData: "<2500 bytes>", Password: REDACTED });
  // Bytes anywhere are never copied into the record.
  assert.deepEqual(redactParameters("X", { Blob: new Uint8Array(10), List: [Buffer.from("abc")] }), { Blob: "<10 bytes>", List: ["<3 bytes>"] });
  const text = JSON.stringify(viaHttp);
  assert.doesNotMatch(text, /pfx-password/);
  assert.doesNotMatch(text, new RegExp(pfx.toString("base64").slice(0, 20).replace(/[+/]/g, "\\$&")));
});

test("every secret parameter of the shell's table is replaced", () => {
  for (const def of allCmdlets()) {
    for (const p of def.params) {
      if (p.type !== "secret") continue;
      const out = redactParameters(def, { [p.name]: "s3cret-value-123" });
      assert.equal(out[p.name], REDACTED, `${def.name} -${p.name}`);
    }
  }
});

test("an API token pasted into any value is masked; lists, list edits and plain values stay readable", () => {
  const token = `spt_${"A".repeat(43)}`;
  const out = redactParameters("Set-TransportConfig", {
    TLSReceiveDomainSecureList: { Add: ["fabrikam.com"], Remove: [] },
    Description: `ci job ${token}`,
    MaxMessageSize: 10,
    Enabled: false,
    Nothing: null,
  });
  assert.deepEqual(out, { TLSReceiveDomainSecureList: { Add: ["fabrikam.com"], Remove: [] }, Description: "ci job spt_****", MaxMessageSize: 10, Enabled: false, Nothing: null });
});

test("size is bounded: long strings cut, deep nesting and long lists capped", () => {
  const out = redactParameters("X", { Long: "x".repeat(5000), Deep: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } }, Many: Array.from({ length: 500 }, (_, i) => i) });
  assert.ok(String(out.Long).length < 1100 && String(out.Long).endsWith("(5000 characters)"));
  assert.match(JSON.stringify(out.Deep), /<…>/);
  assert.equal((out.Many as unknown[]).length, 201);
  assert.equal(JSON.stringify(redactParameters("X", {})), "{}");
});

test("redacting twice (the door, then the store) gives the same record", () => {
  assert.ok(importCert);
  const params = {
    FileData: Buffer.alloc(2500, 1).toString("base64"),
    Password: "pfx-password",
    Long: "y".repeat(3000),
    Description: `token spt_${"B".repeat(43)}`,
    List: { Add: ["a"], Remove: [] },
    Bytes: Buffer.alloc(5),
  };
  const once = redactParameters(importCert, params);
  assert.deepEqual(redactParameters(importCert, once), once);
  assert.deepEqual(redactParameters(importCert.name, once), once);
  assert.equal(once.FileData, "<2500 bytes>");
});
