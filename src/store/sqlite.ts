// The server's local SQLite database (DIR/sealpost.db): WAL journal,
// synchronous FULL, a versioned schema with forward migrations. A later
// release opens this release's data; this release refuses data written by a
// newer one rather than guess at it.
import Database from "better-sqlite3";
import { ensurePrivateFile } from "../config/datadir.js";
import { SealpostError } from "../errors/errors.js";
import { MIGRATIONS } from "./migrations.js";

export type Db = Database.Database;

export const SCHEMA_VERSION = MIGRATIONS.length;

export function openDatabase(file: string): Db {
  let db: Db;
  try {
    // Mode 0600 before SQLite creates it (its -wal and -shm files take the same mode).
    if (file !== ":memory:") ensurePrivateFile(file);
    db = new Database(file);
  } catch (e) {
    throw new SealpostError("IO_ERROR", `The database ${file} could not be opened: ${(e as Error).message}`, { cause: e });
  }
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

export function schemaVersion(db: Db): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number };
  return row.user_version;
}

/** Applies every migration newer than the file's version, each in its own transaction. */
export function migrate(db: Db): void {
  const current = schemaVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new SealpostError(
      "STORE_SCHEMA_TOO_NEW",
      `The data folder uses schema version ${current}, newer than this release knows (${SCHEMA_VERSION}); run a newer Sealpost.`,
    );
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    const step = MIGRATIONS[v] as (db: Db) => void;
    db.transaction(() => {
      step(db);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
