// Runs management shell lines: parse, bind and check the arguments of every
// command of the pipeline (so a wrong parameter or value anywhere stops the
// line before anything changes), then run the commands in order, passing
// objects along the pipe.
//
// Every cmdlet of the table runs through the admin door (invokeCommand): in
// process with the local operator's identity, or over HTTP when the host
// has a remote door (`sealpost --server URL shell`). The shell's language —
// pipelines, variables, $env:, formatting, Read-Host, Get-Content, and the
// files named by -Path — stays here in the client: a file parameter is read
// here and sent as FileData, a file result is written here.
import path from "node:path";
import { existsSync, statSync } from "node:fs";
import { SealpostError } from "../errors/errors.js";
import type { ChangeOptions } from "../admin/domain-security.js";
import { describeCmdlets } from "../adminapi/cmdlet-info.js";
import type { InvokeInput, InvokeResult } from "../adminapi/door-types.js";
import type { Caller } from "../adminapi/identity.js";
import { errorFromResult, invokeCommand } from "../adminapi/invoke.js";
import { readInputFile } from "../config/files.js";
import { defaultAdminName } from "../org/store.js";
import { readSecretFile } from "../secrets/secrets.js";
import { bindElements, checkMandatory, clientFileOf, convertValue, type BoundArgs, type ListEdit, type ParamDef, type Resolved } from "./binder.js";
import { formatList, formatTable } from "./format.js";
import { parseLine, type Command, type Pipeline, type Value } from "./parser.js";
import type { CmdletContext, CmdletDef, ShellHost } from "./types.js";

export type { CmdletContext, CmdletDef, ShellHost } from "./types.js";

/** The local operator: the person at this edge's own terminal, with access to its data folder. */
export function localCaller(via: Caller["via"] = "shell"): Caller {
  return { name: defaultAdminName(), roles: ["Organization Management"], via, from: "local", authenticatedBy: "local" };
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

  /** Who runs this shell's cmdlets. */
  get caller(): Caller {
    return this.host.caller ?? localCaller("shell");
  }

  private context(): CmdletContext {
    return {
      host: this.host,
      api: this.host.api,
      caller: this.caller,
      resolvePath: (p) => path.resolve(this.host.cwd, p),
      cmdletInfo: this.host.cmdletInfo ?? (async () => describeCmdlets(this.cmdlets, this.caller.roles)),
    };
  }

  async runPipeline(pipeline: Pipeline): Promise<unknown[]> {
    const stages = pipeline.map((cmd) => {
      const def = this.lookup(cmd.name);
      return { def, bound: bindElements(def.name, def.params, cmd.elements) };
    });
    const ctx = this.context();
    // As PowerShell does, every command's arguments are evaluated and checked
    // before the first command runs: a bad value anywhere changes nothing.
    // (Over a remote door the cmdlets' own checks run on the server, at each call.)
    const prepared: Array<{ def: CmdletDef; args: BoundArgs; raw: Record<string, unknown> }> = [];
    for (const [idx, { def, bound }] of stages.entries()) {
      const args: BoundArgs = {};
      const raw: Record<string, unknown> = {};
      for (const [p, v] of bound) {
        const value = v === true ? true : await this.evaluate(v);
        raw[p.name] = value;
        args[p.name] = convertValue(def.name, p, value);
      }
      // Later commands may still get pipeline-bound parameters from each object.
      checkMandatory(def.name, def.params, args, idx > 0 && !def.collectsInput);
      if (def.clientSide || !this.host.invoke) def.validate?.(args, ctx);
      prepared.push({ def, args, raw });
    }
    let input: unknown[] | undefined;
    for (const [idx, { def, args, raw }] of prepared.entries()) {
      if (idx === 0 || def.collectsInput) {
        input = await this.runStage(def, args, raw, ctx, input ?? []);
        continue;
      }
      const out: unknown[] = [];
      for (const obj of input ?? []) {
        const perObject = { ...args };
        const perRaw = { ...raw };
        for (const p of def.params) {
          if (!p.fromPipelineProperty || perObject[p.name] !== undefined) continue;
          const v = propertyOf(obj, [p.name, ...(p.aliases ?? [])]);
          if (v !== undefined) {
            perObject[p.name] = convertValue(def.name, p, v as Resolved);
            perRaw[p.name] = v;
          }
        }
        checkMandatory(def.name, def.params, perObject);
        out.push(...(await this.runStage(def, perObject, perRaw, ctx, [obj])));
      }
      input = out;
    }
    return input ?? [];
  }

  /** One command: the shell's own in the client, a table cmdlet through the admin door. */
  private async runStage(def: CmdletDef, args: BoundArgs, raw: Record<string, unknown>, ctx: CmdletContext, input: unknown[]): Promise<unknown[]> {
    if (def.clientSide) return def.run(args, ctx, input);
    const parameters = doorParameters(def, raw, args, ctx);
    // The shell does not ask before a removal (it never did; -Confirm is
    // taken and ignored): it confirms for the person at the prompt. A change
    // that turns Domain Security off still needs -Force.
    const { Confirm: _confirm, ...rest } = parameters;
    let res = await this.invoke({ CmdletName: def.name, Parameters: rest, Confirm: false });
    // A remote door cannot ask for a password: the shell asks here, at its own terminal, and sends it in the body.
    if ("error" in res && res.error.code === "SECRET_UNAVAILABLE" && this.host.invoke && rest.Password === undefined && def.params.some((p) => p.name === "Password" && p.type === "secret")) {
      const password = await this.host.readSecret(`${def.name}: password: `);
      res = await this.invoke({ CmdletName: def.name, Parameters: { ...rest, Password: password }, Confirm: false });
    }
    if ("error" in res) throw errorFromResult(res.error);
    for (const w of res.warnings ?? []) this.host.warn?.(w);
    return def.clientResult ? def.clientResult(res.value, args, ctx) : res.value;
  }

  private invoke(request: InvokeInput): Promise<InvokeResult> {
    if (this.host.invoke) return this.host.invoke(request);
    return invokeCommand(this.cmdlets, this.host.api, this.caller, request, { remote: false, host: this.host });
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

const PEM_CERT = /-----BEGIN [A-Z0-9 ]+-----/;

/** A certificate file's content as PEM text (a DER file wrapped), for list entries that name files. */
function certificateText(data: Buffer): string {
  const text = data.toString("latin1");
  if (PEM_CERT.test(text)) return data.toString("utf8");
  return `-----BEGIN CERTIFICATE-----\n${data.toString("base64").replace(/.{1,64}/g, "$&\n")}-----END CERTIFICATE-----\n`;
}

function fileEntry(entry: string, resolve: (p: string) => string): string {
  const text = entry.trim();
  const hex = text.replace(/[\s:]/g, "");
  if (/^[0-9A-Fa-f]+$/.test(hex) && (hex.length === 40 || hex.length === 64)) return entry;
  if (PEM_CERT.test(text)) return entry;
  const file = resolve(text);
  const isFile = existsSync(file) && statSync(file).isFile();
  if (!isFile && text.includes("=")) return entry; // a subject name
  return certificateText(readInputFile(file, "AllowedIssuers certificate file"));
}

/**
 * A table cmdlet's parameters as the admin door takes them: the files the
 * client names are read here (FileData in base64, a password file's first
 * line as Password, certificate files in a list as PEM text); an output path
 * stays here (the result's FileData is written to it by clientResult).
 */
export function doorParameters(def: CmdletDef, raw: Record<string, unknown>, args: BoundArgs, ctx: Pick<CmdletContext, "resolvePath">): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const p of def.params) {
    const kind = clientFileOf(p);
    if (!kind || args[p.name] === undefined) continue;
    const target = p.fileDataParam ?? (kind === "secret" ? "Password" : kind === "entries" ? p.name : "FileData");
    if (kind !== "entries" && kind !== "write" && (out[target] !== undefined || args[target] !== undefined)) {
      throw new SealpostError("INVALID_ARGUMENT", `${def.name}: give -${p.name} or -${target}, not both.`);
    }
    switch (kind) {
      case "read":
        out[target] = readInputFile(ctx.resolvePath(args[p.name] as string)).toString("base64");
        delete out[p.name];
        break;
      case "secret":
        out[target] = readSecretFile(ctx.resolvePath(args[p.name] as string));
        delete out[p.name];
        break;
      case "write":
        delete out[p.name];
        break;
      case "entries": {
        const edit = args[p.name] as ListEdit | string[];
        const map = (xs: string[]) => xs.map((x) => fileEntry(x, ctx.resolvePath));
        if (Array.isArray(edit)) out[p.name] = map(edit);
        else out[p.name] = "replace" in edit ? map(edit.replace) : { Add: map(edit.add), Remove: map(edit.remove) };
        break;
      }
    }
  }
  return out;
}

/** The bytes of a FileData result (base64 text). */
export function fileDataOf(obj: unknown): Buffer | undefined {
  if (obj === null || typeof obj !== "object") return undefined;
  const v = (obj as Record<string, unknown>).FileData;
  return typeof v === "string" ? Buffer.from(v, "base64") : undefined;
}
