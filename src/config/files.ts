// The administrator's files (requests, certificates, PFX, scripts): read
// and written by the front ends with one set of clear errors.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { SealpostError } from "../errors/errors.js";
import { writeFileDurable } from "./datadir.js";

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOENT" ? "it does not exist" : code === "EACCES" ? "permission denied" : code ?? "error";
}

export function readInputFile(file: string, what = "file"): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new SealpostError("IO_ERROR", `The ${what} ${file} could not be read (${why(e)}).`);
  }
}

/** Fails before any work when the output file's folder is missing or the path is a folder. */
export function checkWritable(file: string): void {
  const dir = path.dirname(file);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SealpostError("IO_ERROR", `The path ${file} cannot be written: the folder ${dir} does not exist.`);
  }
  if (existsSync(file) && statSync(file).isDirectory()) {
    throw new SealpostError("IO_ERROR", `The path ${file} is a folder; give a file name.`);
  }
}

export function writeOutputFile(file: string, data: string | Buffer, mode = 0o644): void {
  try {
    writeFileDurable(file, data, mode);
  } catch (e) {
    throw new SealpostError("IO_ERROR", `The path ${file} could not be written (${why(e)}).`);
  }
}
