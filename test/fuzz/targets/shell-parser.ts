// The management shell's grammar (src/shell/parser.ts): parseLine on the
// input as one line, and splitScript then parseLine on each script line
// (what `sealpost shell -f` does).
//
// Invariants: parsing throws only SealpostError SHELL_SYNTAX (never a
// RangeError from deep nesting or a TypeError); cmdlet and parameter names
// have the documented form; and the pipeline, written back in canonical
// form (single quotes for quoted strings), parses to the same pipeline.
import { SealpostError, isSealpostError } from "../../../src/errors/errors.js";
import { parseLine, splitScript, type Element, type Pipeline, type Value } from "../../../src/shell/parser.js";
import { check, show } from "./support.js";

function parse(line: string): Pipeline | undefined {
  try {
    return parseLine(line);
  } catch (e) {
    if (isSealpostError(e, "SHELL_SYNTAX")) return undefined;
    if (e instanceof SealpostError) throw new Error(`parseLine threw ${e.code}, not SHELL_SYNTAX: ${e.message}`, { cause: e });
    throw e;
  }
}

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

function writeValue(v: Value): string {
  switch (v.type) {
    case "string":
      return v.quoted ? quote(v.text) : v.text;
    case "bool":
      return v.value ? "$True" : "$False";
    case "null":
      return "$null";
    case "env":
      return `$env:${v.name}`;
    case "list":
      return v.items.map(writeValue).join(",");
    case "hash":
      return `@{${v.entries.map((e) => `${quote(e.key)}=${writeValue(e.value)}`).join(";")}}`;
    case "sub":
      return `(${writePipeline(v.pipeline)})`;
  }
}

function writeElement(e: Element): string {
  if (e.kind === "value") return writeValue(e.value);
  return e.value === undefined ? `-${e.name}` : `-${e.name}:${writeValue(e.value)}`;
}

function writePipeline(p: Pipeline): string {
  return p.map((c) => [c.name, ...c.elements.map(writeElement)].join(" ")).join(" | ");
}

function checkNames(p: Pipeline): void {
  for (const c of p) {
    check(/^[A-Za-z][A-Za-z0-9-]*$/.test(c.name), () => `cmdlet name ${show(c.name)}`);
    for (const e of c.elements) {
      if (e.kind === "param") check(/^[A-Za-z][A-Za-z0-9_]*$/.test(e.name), () => `parameter name ${show(e.name)}`);
      const values = e.value ? [e.value] : [];
      while (values.length) {
        const v = values.pop() as Value;
        if (v.type === "sub") checkNames(v.pipeline);
        else if (v.type === "list") values.push(...v.items);
        else if (v.type === "hash") values.push(...v.entries.map((x) => x.value));
      }
    }
  }
}

function line(text: string): void {
  const p = parse(text);
  if (!p) return;
  checkNames(p);
  if (p.length === 0) return;
  const written = writePipeline(p);
  const again = parse(written);
  check(again !== undefined, () => `${show(text)} written back as ${show(written)} does not parse`);
  check(JSON.stringify(again) === JSON.stringify(p), () => `${show(text)} written back as ${show(written)} parses differently`);
}

export function fuzz(data: Buffer): void {
  const text = data.toString("utf8");
  line(text);
  for (const l of splitScript(text)) {
    check(l.lineNo >= 1, "a script line number below 1");
    line(l.line);
  }
}
