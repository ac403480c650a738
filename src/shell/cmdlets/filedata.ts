// FileData: a file's bytes as base64 in a cmdlet's parameters or results,
// as Exchange 2010's Import-ExchangeCertificate -FileData takes them. The
// shell fills it from -Path; over HTTP the caller sends it.
import { SealpostError } from "../../errors/errors.js";
import type { ParamDef } from "../binder.js";

/** The largest file a FileData parameter carries (the door's body cap is larger than its base64). */
export const MAX_FILE_BYTES = 512 * 1024;

export function fileDataParam(what: string): ParamDef {
  return { name: "FileData", type: "string", help: `${what} (the shell fills it from -Path)` };
}

/** The bytes of a FileData value; strict base64, within the size cap. */
export function fileDataBytes(cmdlet: string, value: unknown): Buffer {
  if (typeof value !== "string" || value.trim() === "") throw new SealpostError("SHELL_MISSING_PARAMETER", `${cmdlet}: the mandatory parameter -Path is missing (or give -FileData, the file's bytes in base64).`);
  const text = value.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new SealpostError("INVALID_ARGUMENT", `${cmdlet}: -FileData is not base64 (give the file's bytes encoded in base64).`);
  }
  const data = Buffer.from(text, "base64");
  if (data.length === 0) throw new SealpostError("INVALID_ARGUMENT", `${cmdlet}: -FileData is empty.`);
  if (data.length > MAX_FILE_BYTES) throw new SealpostError("INVALID_ARGUMENT", `${cmdlet}: -FileData holds ${data.length} bytes; at most ${MAX_FILE_BYTES} are accepted.`);
  return data;
}

/** -Path (the shell reads it) or -FileData: one of them is mandatory. */
export function requirePathOrFileData(cmdlet: string, args: Record<string, unknown>): void {
  if (args.Path === undefined && args.FileData === undefined) {
    throw new SealpostError("SHELL_MISSING_PARAMETER", `${cmdlet}: the mandatory parameter -Path is missing (or give -FileData, the file's bytes in base64).`);
  }
}
