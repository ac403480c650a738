import { test } from "node:test";
import assert from "node:assert/strict";
import { bindElements, convertValue, findParam, type ParamDef } from "../../../src/shell/binder.js";
import { parseLine } from "../../../src/shell/parser.js";
import { isSealpostError } from "../../../src/errors/errors.js";

const params: ParamDef[] = [
  { name: "Thumbprint", type: "string", position: 0 },
  { name: "Services", type: "strings" },
  { name: "Force", type: "switch" },
  { name: "PrivateKeyExportable", type: "bool" },
  { name: "KeySize", type: "int" },
  { name: "List", type: "listedit" },
  { name: "Path", type: "string" },
  { name: "PasswordFile", type: "string" },
];

function bind(line: string) {
  const cmd = parseLine(line)[0];
  const m = bindElements("Test-Cmd", params, cmd?.elements ?? []);
  return new Map([...m].map(([k, v]) => [k.name, v]));
}

test("names are case-insensitive and may be unique prefixes", () => {
  assert.equal(findParam("T", params, "thumbprint").name, "Thumbprint");
  assert.equal(findParam("T", params, "THUMB").name, "Thumbprint");
  assert.throws(() => findParam("T", params, "P"), (e: unknown) => isSealpostError(e, "SHELL_UNKNOWN_PARAMETER") && /ambiguous/.test(e.message));
  assert.throws(() => findParam("T", params, "Bogus"), (e: unknown) => isSealpostError(e, "SHELL_UNKNOWN_PARAMETER") && /'Bogus'/.test(e.message));
});

test("positional identity, switches and Exchange's boolean forms", () => {
  const b = bind("Test-Cmd AB12 -Force -PrivateKeyExportable $true -Services SMTP");
  assert.deepEqual(b.get("Thumbprint"), { type: "string", text: "AB12", quoted: false });
  assert.equal(b.get("Force"), true);
  assert.deepEqual(b.get("PrivateKeyExportable"), { type: "bool", value: true });
  const colon = bind("Test-Cmd -PrivateKeyExportable:$false -Force:$false");
  assert.deepEqual(colon.get("PrivateKeyExportable"), { type: "bool", value: false });
  assert.deepEqual(colon.get("Force"), { type: "bool", value: false });
  for (const v of ["1", "0", "true", "FALSE"]) {
    assert.deepEqual(bind(`Test-Cmd -PrivateKeyExportable ${v}`).get("PrivateKeyExportable"), { type: "string", text: v, quoted: false });
  }
});

test("a Boolean parameter without a value is refused (a switch is not)", () => {
  const refused = (line: string) =>
    assert.throws(
      () => bind(line),
      (e: unknown) => isSealpostError(e, "SHELL_MISSING_PARAMETER") && /-PrivateKeyExportable is a Boolean/.test(e.message) && /single quotes/.test(e.message),
      line,
    );
  refused("Test-Cmd -PrivateKeyExportable");
  refused("Test-Cmd -PrivateKeyExportable -Force");
  refused("Test-Cmd AB12 -PrivateKeyExportable -Services SMTP");
  // "-PrivateKeyExportable:" (what a Unix shell leaves of ":$false") is a syntax error naming the parameter.
  for (const line of ["Test-Cmd -PrivateKeyExportable:", "Test-Cmd -PrivateKeyExportable: -Force", "Test-Cmd -PrivateKeyExportable: | Get-X"]) {
    assert.throws(() => bind(line), (e: unknown) => isSealpostError(e, "SHELL_SYNTAX") && /-PrivateKeyExportable: has no value/.test(e.message) && /single quotes/.test(e.message), line);
  }
  // A value that is not a Boolean is bound and then refused by the conversion, naming the parameter.
  const pke = params.find((p) => p.name === "PrivateKeyExportable") as ParamDef;
  assert.throws(() => convertValue("Test-Cmd", pke, "AB12"), /Cannot bind parameter -PrivateKeyExportable: 'AB12' is not a boolean/);
  assert.equal(bind("Test-Cmd -Force").get("Force"), true);
});

test("errors name the parameter", () => {
  const cmd = (l: string) => parseLine(l)[0]?.elements ?? [];
  assert.throws(() => bindElements("Test-Cmd", params, cmd("Test-Cmd -Services")), /Missing an argument for parameter -Services/);
  assert.throws(() => bindElements("Test-Cmd", params, cmd("Test-Cmd a b")), /positional parameter cannot be found that accepts argument 'b'/);
  assert.throws(() => bindElements("Test-Cmd", params, cmd("Test-Cmd -Force -Force")), /-Force is given more than once/);
  const keySize = params.find((p) => p.name === "KeySize") as ParamDef;
  assert.throws(() => convertValue("Test-Cmd", keySize, "big"), (e: unknown) => isSealpostError(e, "SHELL_BAD_VALUE") && /-KeySize/.test(e.message));
  assert.equal(convertValue("Test-Cmd", keySize, "4096"), 4096);
  const pathP = params.find((p) => p.name === "Path") as ParamDef;
  assert.throws(() => convertValue("Test-Cmd", pathP, ["a", "b"]), /a list was given/);
});

test("lists replace, @{Add;Remove} edits", () => {
  const list = params.find((p) => p.name === "List") as ParamDef;
  assert.deepEqual(convertValue("Test-Cmd", list, ["a.com", "b.com"]), { replace: ["a.com", "b.com"] });
  assert.deepEqual(convertValue("Test-Cmd", list, "a.com"), { replace: ["a.com"] });
  assert.deepEqual(convertValue("Test-Cmd", list, { Add: ["x.com", "y.com"], remove: "z.com" }), { add: ["x.com", "y.com"], remove: ["z.com"] });
  assert.throws(() => convertValue("Test-Cmd", list, { Replace: "x" }), /not Add or Remove/);
});
