// A cmdlet's parameters as the audit trail keeps them: every secret
// replaced before the record is written. Pure: no I/O.
//
// A value becomes "****" when its parameter is declared "secret" (a PFX
// password from $env: or Read-Host) or its name (at any depth) contains
// Password, Token, Secret, Credential or ApiKey; file contents (FileData, a
// PFX, any bytes) become "<N bytes>", never their content. Long strings are
// cut, and nesting is bounded, so a record stays small whatever was sent.
import type { ParamDef } from "../shell/binder.js";

export const REDACTED = "****";

/** Parameter names whose values are secrets, whatever their declared type. */
const SECRET_NAME = /password|passwd|token|secret|credential|apikey/i;
/** Parameter names whose values are file contents (base64 over HTTP, bytes in process). */
const FILE_NAME = /^filedata$|^data$|pfx/i;

/** An API token of the admin door (accounts.ts: "spt_" and 43 base64url characters). */
const TOKEN_PREFIX_TEXT = "spt_";
const TOKEN_TEXT = /spt_[A-Za-z0-9_-]{16,}/g;

const MAX_STRING = 1024;
const CUT_TEXT = /…\(\d+ characters\)$/;
/** What a file's content became: redacting it again keeps it. */
const BYTES_TEXT = /^<\d+ bytes>$/;
const MAX_DEPTH = 6;
const MAX_ITEMS = 200;

/** What redactParameters needs of a cmdlet's definition. */
export interface RedactableCmdlet {
  name: string;
  params: Array<Pick<ParamDef, "name" | "type" | "aliases">>;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

function byteCount(v: unknown): number | undefined {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return v.byteLength;
  if (typeof v === "string") {
    const t = v.replace(/\s+/g, "");
    if (/^[A-Za-z0-9+/_-]*={0,2}$/.test(t)) return Math.floor((t.replace(/=+$/, "").length * 3) / 4);
    return Buffer.byteLength(v, "utf8");
  }
  return undefined;
}

function bytesText(n: number): string {
  return `<${n} bytes>`;
}

function clean(v: unknown, depth: number): unknown {
  if (v === null || v === undefined || typeof v === "boolean" || typeof v === "number") return v;
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "string") {
    // An API token pasted into any value is still a secret.
    const t = v.replace(TOKEN_TEXT, `${TOKEN_PREFIX_TEXT}${REDACTED}`);
    // Already cut (a record redacted twice, by the door and by the store) stays as it is.
    if (t.length <= MAX_STRING + 40 && CUT_TEXT.test(t)) return t;
    return t.length > MAX_STRING ? `${t.slice(0, MAX_STRING)}…(${t.length} characters)` : t;
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return bytesText(v.byteLength);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (typeof v !== "object") return `<${typeof v}>`;
  if (depth >= MAX_DEPTH) return "<…>";
  if (Array.isArray(v)) {
    const items = v.slice(0, MAX_ITEMS).map((x) => clean(x, depth + 1));
    if (v.length > MAX_ITEMS) items.push(`…(${v.length} items)`);
    return items;
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = cleanEntry(k, x, undefined, depth + 1);
  return out;
}

function cleanEntry(key: string, value: unknown, def: Pick<ParamDef, "type"> | undefined, depth: number): unknown {
  if (def?.type === "secret" || isSecretName(key)) return REDACTED;
  if (FILE_NAME.test(key)) {
    if (typeof value === "string" && BYTES_TEXT.test(value)) return value;
    const n = byteCount(value);
    if (n !== undefined) return bytesText(n);
  }
  return clean(value, depth);
}

/**
 * The parameters with every secret replaced ("****") and file contents
 * reduced to their size ("<N bytes>"). `cmdlet` is the cmdlet's definition
 * (its "secret" parameters are known by type too) or only its name (then the
 * rules by name apply). The input is not changed; redacting the result
 * again gives the same result.
 */
export function redactParameters(cmdlet: RedactableCmdlet | string, params: Record<string, unknown>): Record<string, unknown> {
  const defs = typeof cmdlet === "string" ? [] : cmdlet.params;
  const defOf = (key: string): Pick<ParamDef, "type"> | undefined => {
    const k = key.toLowerCase();
    const exact = defs.find((p) => p.name.toLowerCase() === k || p.aliases?.some((a) => a.toLowerCase() === k));
    if (exact) return isSecretName(exact.name) ? { type: "secret" } : exact;
    // A shortened name (-Pass for -Password) counts as secret if any parameter it could stand for is.
    const prefixed = k === "" ? [] : defs.filter((p) => p.name.toLowerCase().startsWith(k));
    return prefixed.some((p) => p.type === "secret" || isSecretName(p.name)) ? { type: "secret" } : prefixed[0];
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params ?? {})) out[key] = cleanEntry(key, value, defOf(key), 1);
  return out;
}
