// The management shell's grammar: the subset of PowerShell that Exchange's
// documentation writes. A line is a pipeline of commands; a command is a name
// and elements: parameters (-Name, -Name:value) and values (bare words,
// quoted strings, comma lists, $True/$False/$null, $env:NAME, @{k=v;...}
// hash tables, (sub-pipelines)). Which value belongs to which parameter is
// decided later by the binder, which knows each cmdlet's parameters.
import { SealpostError } from "../errors/errors.js";

export type Value =
  | { type: "string"; text: string; quoted: boolean }
  | { type: "bool"; value: boolean }
  | { type: "null" }
  | { type: "env"; name: string }
  | { type: "list"; items: Value[] }
  | { type: "hash"; entries: Array<{ key: string; value: Value }> }
  | { type: "sub"; pipeline: Pipeline };

export type Element = { kind: "param"; name: string; value?: Value } | { kind: "value"; value: Value };

export interface Command {
  name: string;
  elements: Element[];
}

export type Pipeline = Command[];

function fail(msg: string, pos: number): never {
  throw new SealpostError("SHELL_SYNTAX", `${msg} (at character ${pos + 1}).`);
}

const WORD_END = new Set([" ", "\t", "\r", "\n", "|", ",", ";", "(", ")", "{", "}", '"', "'"]);

/** Sub-expressions and hash tables nest at most this deep (the parser recurses; far below the stack's limit). */
export const MAX_NESTING = 64;

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly s: string) {}

  private enter(start: number): void {
    if (++this.depth > MAX_NESTING) fail(`Sub-expressions and hash tables nest more than ${MAX_NESTING} deep`, start);
  }

  private peek(): string | undefined {
    return this.s[this.i];
  }

  private skipSpace(): void {
    while (this.i < this.s.length && /[ \t\r\n]/.test(this.s[this.i] as string)) this.i++;
    // A backtick at the end of a line continues it, as in PowerShell.
    if (this.s[this.i] === "`" && /^`\s*(\r?\n|$)/.test(this.s.slice(this.i))) {
      this.i++;
      this.skipSpace();
    }
  }

  parseLine(): Pipeline {
    this.skipSpace();
    if (this.i >= this.s.length) return [];
    const p = this.parsePipeline(false);
    this.skipSpace();
    if (this.i < this.s.length) fail(`Unexpected '${this.peek() ?? ""}'`, this.i);
    return p;
  }

  private parsePipeline(inParens: boolean): Pipeline {
    const cmds: Command[] = [this.parseCommand(inParens)];
    for (;;) {
      this.skipSpace();
      if (this.peek() !== "|") break;
      this.i++;
      this.skipSpace();
      if (this.i >= this.s.length) fail("A pipeline ends with '|': an empty pipe element is not allowed", this.i);
      cmds.push(this.parseCommand(inParens));
    }
    return cmds;
  }

  private parseCommand(inParens: boolean): Command {
    this.skipSpace();
    const start = this.i;
    const name = this.readBareWord();
    if (name === "") fail(`Expected a cmdlet name, found '${this.peek() ?? "end of line"}'`, start);
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(name)) fail(`'${name}' is not a cmdlet name`, start);
    const elements: Element[] = [];
    for (;;) {
      this.skipSpace();
      const ch = this.peek();
      if (ch === undefined || ch === "|") break;
      if (ch === ")") {
        if (inParens) break;
        fail("Unexpected ')'", this.i);
      }
      if (ch === "-" && /[A-Za-z]/.test(this.s[this.i + 1] ?? "")) {
        elements.push(this.parseParameter());
      } else {
        elements.push({ kind: "value", value: this.parseListValue() });
      }
    }
    return { name, elements };
  }

  private parseParameter(): Element {
    this.i++; // '-'
    const start = this.i;
    while (this.i < this.s.length && /[A-Za-z0-9_]/.test(this.s[this.i] as string)) this.i++;
    const name = this.s.slice(start, this.i);
    if (this.peek() === ":") {
      this.i++;
      const colonEnd = this.i;
      this.skipSpace();
      // "-Name:" then nothing, a pipe, a ')' or (after a space) another
      // parameter: what a Unix shell leaves of "-Name:$false" inside double quotes.
      const next = this.peek();
      const paramNext = this.i > colonEnd && next === "-" && /[A-Za-z]/.test(this.s[this.i + 1] ?? "");
      if (next === undefined || next === "|" || next === ")" || paramNext) {
        fail(
          `The parameter -${name}: has no value after ':'. Give its value, e.g. -${name}:$true or -${name}:$false; nothing was changed. ` +
            `A Unix shell replaces $true and $false inside double quotes with nothing: put the line in single quotes, sealpost shell -c '... -${name}:$false'`,
          this.i,
        );
      }
      return { kind: "param", name, value: this.parseListValue() };
    }
    const next = this.peek();
    if (next !== undefined && !WORD_END.has(next)) fail(`'-${name}${next}' is not a parameter name`, start - 1);
    return { kind: "param", name };
  }

  /** A value, or several separated by commas (an array). */
  private parseListValue(): Value {
    const first = this.parseValue();
    const items = [first];
    for (;;) {
      const save = this.i;
      this.skipSpace();
      if (this.peek() !== ",") {
        this.i = save;
        break;
      }
      this.i++;
      this.skipSpace();
      if (this.i >= this.s.length) fail("A list ends with ','", this.i);
      items.push(this.parseValue());
    }
    return items.length === 1 ? first : { type: "list", items };
  }

  private parseValue(): Value {
    const ch = this.peek();
    const start = this.i;
    if (ch === '"' || ch === "'") return { type: "string", text: this.readQuoted(ch), quoted: true };
    if (ch === "@" && this.s[this.i + 1] === "{") return this.parseHash();
    if (ch === "(") {
      this.enter(start);
      this.i++;
      this.skipSpace();
      const pipeline = this.parsePipeline(true);
      this.skipSpace();
      if (this.peek() !== ")") fail("A '(' is not closed", start);
      this.i++;
      this.depth--;
      return { type: "sub", pipeline };
    }
    if (ch === "$") {
      const word = this.readBareWord();
      const lower = word.toLowerCase();
      if (lower === "$true") return { type: "bool", value: true };
      if (lower === "$false") return { type: "bool", value: false };
      if (lower === "$null") return { type: "null" };
      const env = /^\$env:([A-Za-z_][A-Za-z0-9_]*)$/i.exec(word);
      if (env) return { type: "env", name: env[1] as string };
      fail(`The variable '${word}' is not defined (only $True, $False, $null and $env:NAME are known)`, start);
    }
    const word = this.readBareWord();
    if (word === "") fail(`Unexpected '${ch ?? "end of line"}'`, start);
    return { type: "string", text: word, quoted: false };
  }

  private parseHash(): Value {
    const start = this.i;
    this.enter(start);
    this.i += 2;
    const entries: Array<{ key: string; value: Value }> = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === "}") {
        this.i++;
        this.depth--;
        return { type: "hash", entries };
      }
      if (this.i >= this.s.length) fail("A '@{' is not closed", start);
      const keyStart = this.i;
      const key = this.peek() === '"' || this.peek() === "'" ? this.readQuoted(this.peek() as string) : this.readKey();
      if (key === "") fail("A hash table key is missing", keyStart);
      this.skipSpace();
      if (this.peek() !== "=") fail(`The hash table key '${key}' has no '='`, this.i);
      this.i++;
      this.skipSpace();
      entries.push({ key, value: this.parseListValue() });
      this.skipSpace();
      if (this.peek() === ";") this.i++;
      else if (this.peek() !== "}") fail("Hash table entries are separated by ';'", this.i);
    }
  }

  private readKey(): string {
    const start = this.i;
    while (this.i < this.s.length && /[A-Za-z0-9_-]/.test(this.s[this.i] as string)) this.i++;
    return this.s.slice(start, this.i);
  }

  private readBareWord(): string {
    const start = this.i;
    while (this.i < this.s.length && !WORD_END.has(this.s[this.i] as string)) this.i++;
    return this.s.slice(start, this.i);
  }

  /** PowerShell quoting: '' inside single quotes; `x escapes and "" inside double quotes. */
  private readQuoted(q: string): string {
    const start = this.i;
    this.i++;
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) fail(`A string starting with ${q} is not closed`, start);
      const c = this.s[this.i] as string;
      if (c === q) {
        if (this.s[this.i + 1] === q) {
          out += q;
          this.i += 2;
          continue;
        }
        this.i++;
        return out;
      }
      if (q === '"' && c === "`" && this.i + 1 < this.s.length) {
        const n = this.s[this.i + 1] as string;
        out += n === "n" ? "\n" : n === "t" ? "\t" : n === "0" ? "\0" : n;
        this.i += 2;
        continue;
      }
      if (q === '"' && c === "$" && /^\$env:[A-Za-z_]/i.test(this.s.slice(this.i))) {
        fail("Variables inside double-quoted strings are not expanded; pass $env:NAME on its own", this.i);
      }
      out += c;
      this.i++;
    }
  }
}

/** Parses one line (or a backtick-continued line) into a pipeline. */
export function parseLine(line: string): Pipeline {
  return new Parser(line).parseLine();
}

/** Splits a script into command lines: one per line, '#' comments, backtick continuation. */
export function splitScript(text: string): Array<{ line: string; lineNo: number }> {
  const out: Array<{ line: string; lineNo: number }> = [];
  const lines = text.split(/\r?\n/);
  let acc = "";
  let startNo = 0;
  lines.forEach((raw, idx) => {
    const line = stripComment(raw);
    if (acc === "") startNo = idx + 1;
    if (/`\s*$/.test(line)) {
      acc += line.replace(/`\s*$/, " ");
      return;
    }
    acc += line;
    if (acc.trim() !== "") out.push({ line: acc.trim(), lineNo: startNo });
    acc = "";
  });
  if (acc.trim() !== "") out.push({ line: acc.trim(), lineNo: startNo });
  return out;
}

/** Removes a '#' comment that is not inside quotes. */
export function stripComment(line: string): string {
  let q: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === q) q = undefined;
    } else if (c === '"' || c === "'") {
      q = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1] as string))) {
      return line.slice(0, i);
    }
  }
  return line;
}
