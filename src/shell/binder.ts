// Binds a parsed command's elements to a cmdlet's declared parameters, the
// way PowerShell does for the forms Exchange's documentation uses: names are
// case-insensitive and may be shortened to a unique prefix, switches take no
// value (or -Name:$True/$False) while Boolean parameters always need one
// (-Name $true, -Name:$false), positional values fill positional
// parameters in order, and pipeline objects fill parameters that accept a
// property of the same name. Every failure names the parameter and nothing
// runs.
import { SealpostError } from "../errors/errors.js";
import type { Element, Value } from "./parser.js";

export type ParamType = "string" | "strings" | "switch" | "bool" | "int" | "secret" | "listedit" | "any";

export interface ParamDef {
  name: string;
  type: ParamType;
  mandatory?: boolean;
  position?: number;
  aliases?: string[];
  /** Filled from a pipeline object's property of this name (or an alias). */
  fromPipelineProperty?: boolean;
  help?: string;
  /** A fixed set of values (listed by CmdletInfo and Get-Help; the admin API checks them). */
  values?: string[];
  /**
   * The parameter names a file on the client's machine. The client (the
   * shell) reads or writes it; the admin door never takes it: "read" sends
   * the bytes as base64 in the cmdlet's FileData parameter, "secret" sends
   * the file's first line as the Password parameter, "entries" turns the
   * list entries that are certificate files into PEM text, "write" takes the
   * result's FileData and writes it there.
   */
  clientFile?: ClientFileKind;
  /** The parameter that carries the content ("FileData" by default, "Password" for a secret file). */
  fileDataParam?: string;
}

export type ClientFileKind = "read" | "write" | "secret" | "entries";

/** How a parameter names a client file: declared, or by its name (-Path, -...File) so that no new file parameter slips through the door. */
export function clientFileOf(p: ParamDef): ClientFileKind | undefined {
  if (p.clientFile) return p.clientFile;
  if (/^PasswordFile$/i.test(p.name)) return "secret";
  if (/^(Path|.+File)$/i.test(p.name) && p.type !== "switch" && p.type !== "bool") return "read";
  return undefined;
}

/** A list given as a plain value (replace) or as @{Add=...;Remove=...}. */
export type ListEdit = { replace: string[] } | { add: string[]; remove: string[] };

/** What a value becomes once variables and sub-pipelines are evaluated. */
export type Resolved = string | boolean | null | Resolved[] | { [k: string]: Resolved } | unknown;

export type ValueResolver = (v: Value) => Promise<Resolved>;

export type BoundArgs = Record<string, unknown>;

function bindError(code: "SHELL_UNKNOWN_PARAMETER" | "SHELL_MISSING_PARAMETER" | "SHELL_BAD_VALUE", cmdlet: string, msg: string): never {
  throw new SealpostError(code, `${cmdlet}: ${msg}`);
}

export function findParam(cmdlet: string, params: ParamDef[], name: string): ParamDef {
  const lower = name.toLowerCase();
  const exact = params.find((p) => p.name.toLowerCase() === lower || p.aliases?.some((a) => a.toLowerCase() === lower));
  if (exact) return exact;
  const prefixed = params.filter((p) => p.name.toLowerCase().startsWith(lower));
  if (prefixed.length === 1) return prefixed[0] as ParamDef;
  if (prefixed.length > 1) {
    bindError("SHELL_UNKNOWN_PARAMETER", cmdlet, `Parameter -${name} is ambiguous: it could be ${prefixed.map((p) => `-${p.name}`).join(", ")}.`);
  }
  bindError(
    "SHELL_UNKNOWN_PARAMETER",
    cmdlet,
    `A parameter cannot be found that matches parameter name '${name}'. Known parameters: ${params.map((p) => `-${p.name}`).join(", ") || "(none)"}.`,
  );
}

/** Binds names and positions (not yet pipeline input); values stay unevaluated. */
export function bindElements(cmdlet: string, params: ParamDef[], elements: Element[]): Map<ParamDef, Value | true> {
  const bound = new Map<ParamDef, Value | true>();
  const positional: Value[] = [];
  for (let i = 0; i < elements.length; i++) {
    const el = elements[i] as Element;
    if (el.kind === "value") {
      positional.push(el.value);
      continue;
    }
    const def = findParam(cmdlet, params, el.name);
    if (bound.has(def)) bindError("SHELL_BAD_VALUE", cmdlet, `Parameter -${def.name} is given more than once.`);
    if (def.type === "switch") {
      bound.set(def, el.value ?? true);
      continue;
    }
    if (def.type === "bool" && !el.value) {
      // Exchange writes "-PrivateKeyExportable $true". A Boolean parameter
      // (unlike a switch) always needs its value, as in PowerShell: a bare
      // "-Name" is what a Unix shell leaves of "-Name $false" inside double
      // quotes, and taking it as $True would invert the setting.
      const next = elements[i + 1];
      if (next?.kind !== "value") bindError("SHELL_MISSING_PARAMETER", cmdlet, missingBooleanMessage(def.name));
      bound.set(def, next.value);
      i++;
      continue;
    }
    if (el.value) {
      bound.set(def, el.value);
      continue;
    }
    const next = elements[i + 1];
    if (!next || next.kind !== "value") {
      bindError("SHELL_MISSING_PARAMETER", cmdlet, `Missing an argument for parameter -${def.name}. Give a value of type ${describeType(def.type)}.`);
    }
    bound.set(def, next.value);
    i++;
  }
  const slots = params.filter((p) => p.position !== undefined && !bound.has(p)).sort((a, b) => (a.position as number) - (b.position as number));
  for (const v of positional) {
    const slot = slots.shift();
    if (!slot) bindError("SHELL_BAD_VALUE", cmdlet, `A positional parameter cannot be found that accepts argument '${valueText(v)}'.`);
    bound.set(slot, v);
  }
  return bound;
}

/**
 * The refusal of a Boolean parameter without a value. It names the Unix-shell
 * pitfall because that is how the value usually went missing.
 */
export function missingBooleanMessage(name: string): string {
  return (
    `The parameter -${name} is a Boolean and needs a value: give -${name} $true or -${name} $false (or -${name}:$false); nothing was changed. ` +
    `A Unix shell replaces $true and $false inside double quotes with nothing: put the line in single quotes, sealpost shell -c '... -${name} $false'.`
  );
}

export function describeType(t: ParamType): string {
  switch (t) {
    case "strings":
      return "a list of strings (a,b,c)";
    case "int":
      return "an integer";
    case "bool":
    case "switch":
      return "$True or $False";
    case "listedit":
      return "a list, or @{Add=...;Remove=...}";
    default:
      return "a string";
  }
}

function valueText(v: Value): string {
  switch (v.type) {
    case "string":
      return v.text;
    case "bool":
      return v.value ? "$True" : "$False";
    case "null":
      return "$null";
    case "env":
      return `$env:${v.name}`;
    case "list":
      return v.items.map(valueText).join(",");
    case "hash":
      return "@{...}";
    case "sub":
      return "(...)";
  }
}

function flatStrings(cmdlet: string, def: ParamDef, v: Resolved): string[] {
  const items = Array.isArray(v) ? v : [v];
  return items.map((x) => {
    if (typeof x === "string") return x;
    if (typeof x === "number") return String(x);
    return bindError("SHELL_BAD_VALUE", cmdlet, `Cannot bind parameter -${def.name}: expected ${describeType(def.type)}.`);
  });
}

/** Converts an evaluated value to the parameter's type, or fails naming the parameter. */
export function convertValue(cmdlet: string, def: ParamDef, v: Resolved): unknown {
  const bad = (what: string): never => bindError("SHELL_BAD_VALUE", cmdlet, `Cannot bind parameter -${def.name}: ${what}; expected ${describeType(def.type)}.`);
  switch (def.type) {
    case "any":
      return v;
    case "switch":
    case "bool": {
      if (typeof v === "boolean") return v;
      if (typeof v === "string" && /^(true|false|\$true|\$false|1|0)$/i.test(v)) return /^(true|\$true|1)$/i.test(v);
      return bad(`'${String(v)}' is not a boolean`);
    }
    case "int": {
      if (typeof v === "number" && Number.isInteger(v)) return v;
      if (typeof v === "string" && /^-?\d+$/.test(v.trim())) return Number(v.trim());
      return bad(`cannot convert '${String(v)}' to an integer`);
    }
    case "string":
    case "secret": {
      if (typeof v === "string") return v;
      if (typeof v === "number") return String(v);
      if (Array.isArray(v) && v.length === 1 && typeof v[0] === "string") return v[0];
      if (Array.isArray(v)) return bad("a list was given where one value is expected");
      return bad(v === null ? "$null was given" : "the value is not text");
    }
    case "strings":
      if (v === null) return [];
      return flatStrings(cmdlet, def, v);
    case "listedit": {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const edit = { add: [] as string[], remove: [] as string[] };
        for (const [k, val] of Object.entries(v as Record<string, Resolved>)) {
          if (/^add$/i.test(k)) edit.add = flatStrings(cmdlet, def, val);
          else if (/^remove$/i.test(k)) edit.remove = flatStrings(cmdlet, def, val);
          else bad(`the hash table key '${k}' is not Add or Remove`);
        }
        return edit satisfies ListEdit;
      }
      return { replace: v === null ? [] : flatStrings(cmdlet, def, v) } satisfies ListEdit;
    }
  }
}

/** Every mandatory parameter given (a later pipeline stage may still get one from each object). */
export function checkMandatory(cmdlet: string, params: readonly ParamDef[], args: BoundArgs, exceptFromPipeline = false): void {
  for (const p of params) {
    if (p.mandatory && args[p.name] === undefined && !(exceptFromPipeline && p.fromPipelineProperty)) {
      throw new SealpostError("SHELL_MISSING_PARAMETER", `${cmdlet}: the mandatory parameter -${p.name} is missing.`);
    }
  }
}
