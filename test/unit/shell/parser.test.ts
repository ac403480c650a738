import { test } from "node:test";
import assert from "node:assert/strict";
import { parseLine, splitScript } from "../../../src/shell/parser.js";
import { isSealpostError } from "../../../src/errors/errors.js";

test("parses the seed's commands as written", () => {
  const p = parseLine('New-ExchangeCertificate -GenerateRequest -FriendlyName "Internet certificate" -Path c:\\certificates\\request.p7c -SubjectName "DC=com,DC=Contoso,CN=mail1.contoso.com"  -DomainName mail.contoso.com');
  assert.equal(p.length, 1);
  assert.equal(p[0]?.name, "New-ExchangeCertificate");
  assert.deepEqual(p[0]?.elements, [
    { kind: "param", name: "GenerateRequest" },
    { kind: "param", name: "FriendlyName" },
    { kind: "value", value: { type: "string", text: "Internet certificate", quoted: true } },
    { kind: "param", name: "Path" },
    { kind: "value", value: { type: "string", text: "c:\\certificates\\request.p7c", quoted: false } },
    { kind: "param", name: "SubjectName" },
    { kind: "value", value: { type: "string", text: "DC=com,DC=Contoso,CN=mail1.contoso.com", quoted: true } },
    { kind: "param", name: "DomainName" },
    { kind: "value", value: { type: "string", text: "mail.contoso.com", quoted: false } },
  ]);
  const piped = parseLine("Import-ExchangeCertificate -Path c:\\certificates\\import.pfx | Enable-ExchangeCertificate -Services SMTP");
  assert.deepEqual(piped.map((c) => c.name), ["Import-ExchangeCertificate", "Enable-ExchangeCertificate"]);
  assert.deepEqual(parseLine("Get-ExchangeCertificate |FL").map((c) => c.name), ["Get-ExchangeCertificate", "FL"]);
  const sw = parseLine("Set-SendConnector Internet -DomainSecureEnabled:$True")[0];
  assert.deepEqual(sw?.elements[1], { kind: "param", name: "DomainSecureEnabled", value: { type: "bool", value: true } });
});

test("lists, hash tables, variables, sub-expressions and quoting", () => {
  const c = parseLine(`Set-X -A a.com,"b.com", 'c.com' -B @{Add="x.com","y.com";Remove='z.com'} -C $env:PFX_PW -D (Read-Host -AsSecureString) -E 'it''s' -F "say ""hi"" \`t" -G $null -H:$false`)[0];
  const el = c?.elements ?? [];
  assert.deepEqual(el[1], { kind: "value", value: { type: "list", items: [
    { type: "string", text: "a.com", quoted: false },
    { type: "string", text: "b.com", quoted: true },
    { type: "string", text: "c.com", quoted: true },
  ] } });
  assert.deepEqual(el[3], { kind: "value", value: { type: "hash", entries: [
    { key: "Add", value: { type: "list", items: [{ type: "string", text: "x.com", quoted: true }, { type: "string", text: "y.com", quoted: true }] } },
    { key: "Remove", value: { type: "string", text: "z.com", quoted: true } },
  ] } });
  assert.deepEqual(el[5], { kind: "value", value: { type: "env", name: "PFX_PW" } });
  assert.equal((el[7] as { value: { type: string } }).value.type, "sub");
  assert.deepEqual(el[9], { kind: "value", value: { type: "string", text: "it's", quoted: true } });
  assert.deepEqual(el[11], { kind: "value", value: { type: "string", text: 'say "hi" \t', quoted: true } });
  assert.deepEqual(el[13], { kind: "value", value: { type: "null" } });
  assert.deepEqual(el[14], { kind: "param", name: "H", value: { type: "bool", value: false } });
});

test("syntax errors say where", () => {
  const bad = ['Get-X -A "open', "Get-X |", "Get-X -A @{Add=1", "Get-X -A (Get-Y", "Get-X $foo", "| Get-X", "Get-X -A:", "Get-X )"];
  for (const line of bad) {
    assert.throws(() => parseLine(line), (e: unknown) => isSealpostError(e, "SHELL_SYNTAX") && /at character \d+/.test(e.message), line);
  }
});

test("scripts: one command a line, comments, continuation", () => {
  const lines = splitScript("# setup\nGet-A -X 1 # trailing\n\nSet-B -Name 'a # not a comment' `\n  -Other 2\n");
  assert.deepEqual(
    lines.map((l) => ({ ...l, line: l.line.replace(/\s+/g, " ") })),
    [
      { line: "Get-A -X 1", lineNo: 2 },
      { line: "Set-B -Name 'a # not a comment' -Other 2", lineNo: 4 },
    ],
  );
});
