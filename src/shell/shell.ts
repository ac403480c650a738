// Runs management shell lines: parse, bind and check the arguments of every
// command of the pipeline (so a wrong parameter or value anywhere stops the
// line before anything changes), then run the commands in order, passing
// objects along the pipe.
import path from "node:path";
import { SealpostError } from "../errors/errors.js";
import type { AdminApi } from "../admin/api.js";
import type { ChangeOptions } from "../admin/domain-security.js";
import { bindElements, convertValue, type BoundArgs, type ParamDef, type Resolved } from "./binder.js";
import { formatList, formatTable } from "./format.js";
import { parseLine, type Command, type Pipeline, type Value } from "./parser.js";

export interface ShellHost {
  api: AdminApi;
  cwd: string;
  /** Asks for a secret without echo; refuses when there is no terminal. */
  readSecret(prompt: string): Promise<string>;
  readLine(prompt: string): Promise<string>;
  env: NodeJS.ProcessEnv;
  /** Shows a warning (a forced change that turns Domain Security off); the command line prints it on stderr. */
  warn?(message: string): void;
}

export interface CmdletContext {
  host: ShellHost;
  api: AdminApi;
  resolvePath(p: string): string;
}

export interface CmdletDef {
  name: string;
  aliases?: string[];
  synopsis: string;
  params: ParamDef[];
  /** Receives all pipeline input at once (formatters) instead of once per object. */
  collectsInput?: boolean;
  /** Default table columns for this cmdlet's output objects (else a list). */
  table?: string[];
  /** Custom default rendering of this cmdlet's output objects. */
  render?: (objects: unknown[]) => string;
  /** Checks argument values before any command of the line runs (throws to refuse the line). */
  validate?(args: BoundArgs, ctx: CmdletContext): void;
  run(args: BoundArgs, ctx: CmdletContext, input: unknown[]): Promise<unknown[]>;
}

/**
 * A cmdlet's -Force as the admin API's confirmation: a change that would
 * turn Domain Security off for listed partners is refused without it, and
 * warned about with it.
 */
export function changeOptions(args: BoundArgs, ctx: CmdletContext): ChangeOptions {
  return { force: args.Force === true, warn: (m) => ctx.host.warn?.(m) };
}

/** The -Force switch of the cmdlets whose changes may turn Domain Security off. */
export const FORCE_PARAM: ParamDef = { name: "Force", type: "switch", help: "make a change that turns Domain Security off for listed partners (a WARNING says what stops)" };

/** Output of a formatter: printed as is. */
export class Formatted {
  constructor(readonly text: string) {}
}

export class Shell {
  private readonly byName = new Map<string, CmdletDef>();

  constructor(
    readonly host: ShellHost,
    readonly cmdlets: CmdletDef[],
  ) {
    for (const c of cmdlets) {
      this.byName.set(c.name.toLowerCase(), c);
      for (const a of c.aliases ?? []) this.byName.set(a.toLowerCase(), c);
    }
  }

  lookup(name: string): CmdletDef {
    const def = this.byName.get(name.toLowerCase());
    if (!def) {
      throw new SealpostError(
        "SHELL_UNKNOWN_CMDLET",
        `The term '${name}' is not recognized as the name of a cmdlet. Run Get-Command to list the cmdlets.`,
      );
    }
    return def;
  }

  /** Runs one line; returns the text to print (empty when nothing is output). */
  async runLine(line: string): Promise<string> {
    const pipeline = parseLine(line);
    if (pipeline.length === 0) return "";
    const objects = await this.runPipeline(pipeline);
    return this.render(objects, this.lookup((pipeline[pipeline.length - 1] as Command).name));
  }

  /** Runs one line and returns its objects (formatter output as text). */
  async runObjects(line: string): Promise<unknown[]> {
    const pipeline = parseLine(line);
    if (pipeline.length === 0) return [];
    return (await this.runPipeline(pipeline)).map((o) => (o instanceof Formatted ? o.text : o));
  }

  render(objects: unknown[], last: CmdletDef): string {
    if (objects.length === 0) return "";
    const text: string[] = [];
    const plain = objects.filter((o) => !(o instanceof Formatted) && typeof o !== "string");
    for (const o of objects) {
      if (o instanceof Formatted) text.push(o.text);
      else if (typeof o === "string") text.push(o);
    }
    if (plain.length) text.push(last.render ? last.render(plain) : last.table ? formatTable(plain, last.table) : formatList(plain));
    return text.join("\n");
  }

  async runPipeline(pipeline: Pipeline): Promise<unknown[]> {
    const stages = pipeline.map((cmd) => {
      const def = this.lookup(cmd.name);
      return { def, bound: bindElements(def.name, def.params, cmd.elements) };
    });
    const ctx: CmdletContext = { host: this.host, api: this.host.api, resolvePath: (p) => path.resolve(this.host.cwd, p) };
    // As PowerShell does, every command's arguments are evaluated and checked
    // before the first command runs: a bad value anywhere changes nothing.
    const prepared: Array<{ def: CmdletDef; args: BoundArgs }> = [];
    for (const [idx, { def, bound }] of stages.entries()) {
      const args: BoundArgs = {};
      for (const [p, v] of bound) {
        args[p.name] = convertValue(def.name, p, v === true ? true : await this.evaluate(v));
      }
      // Later commands may still get pipeline-bound parameters from each object.
      checkMandatory(def, args, idx > 0 && !def.collectsInput);
      def.validate?.(args, ctx);
      prepared.push({ def, args });
    }
    let input: unknown[] | undefined;
    for (const [idx, { def, args }] of prepared.entries()) {
      if (idx === 0 || def.collectsInput) {
        input = await def.run(args, ctx, input ?? []);
        continue;
      }
      const out: unknown[] = [];
      for (const obj of input ?? []) {
        const perObject = { ...args };
        for (const p of def.params) {
          if (!p.fromPipelineProperty || perObject[p.name] !== undefined) continue;
          const v = propertyOf(obj, [p.name, ...(p.aliases ?? [])]);
          if (v !== undefined) perObject[p.name] = convertValue(def.name, p, v as Resolved);
        }
        checkMandatory(def, perObject);
        out.push(...(await def.run(perObject, ctx, [obj])));
      }
      input = out;
    }
    return input ?? [];
  }

  async evaluate(v: Value): Promise<Resolved> {
    switch (v.type) {
      case "string":
        return v.text;
      case "bool":
        return v.value;
      case "null":
        return null;
      case "env": {
        const val = this.host.env[v.name];
        if (val === undefined) throw new SealpostError("SECRET_UNAVAILABLE", `The environment variable ${v.name} is not set.`);
        return val;
      }
      case "list":
        return Promise.all(v.items.map((i) => this.evaluate(i)));
      case "hash": {
        const o: Record<string, Resolved> = {};
        for (const e of v.entries) o[e.key] = await this.evaluate(e.value);
        return o;
      }
      case "sub": {
        const out = (await this.runPipeline(v.pipeline)).filter((x) => !(x instanceof Formatted));
        return out.length === 1 ? (out[0] as Resolved) : (out as Resolved);
      }
    }
  }
}

function propertyOf(obj: unknown, names: string[]): unknown {
  if (obj === null || typeof obj !== "object") return undefined;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (names.some((n) => n.toLowerCase() === k.toLowerCase())) return v;
  }
  return undefined;
}

function checkMandatory(def: CmdletDef, args: BoundArgs, exceptFromPipeline = false): void {
  for (const p of def.params) {
    if (p.mandatory && args[p.name] === undefined && !(exceptFromPipeline && p.fromPipelineProperty)) {
      throw new SealpostError("SHELL_MISSING_PARAMETER", `${def.name}: the mandatory parameter -${p.name} is missing.`);
    }
  }
}
