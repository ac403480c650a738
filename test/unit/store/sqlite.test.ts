import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { openDatabase, SCHEMA_VERSION, schemaVersion } from "../../../src/store/sqlite.js";
import { isSealpostError } from "../../../src/errors/errors.js";

test("a new database is migrated to the current schema, WAL and synchronous FULL", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-db-"));
  try {
    const db = openDatabase(path.join(dir, "x.db"));
    assert.equal(schemaVersion(db), SCHEMA_VERSION);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(db.pragma("synchronous", { simple: true }), 2);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    for (const t of ["certificates", "pending_requests", "org_trusted_certificates", "org_settings", "server_meta"]) assert.ok(tables.includes(t), t);
    db.close();
    // reopening is idempotent
    const again = openDatabase(path.join(dir, "x.db"));
    assert.equal(schemaVersion(again), SCHEMA_VERSION);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a database from a newer release is refused, not guessed at", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-db-"));
  try {
    const file = path.join(dir, "new.db");
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => openDatabase(file), (e: unknown) => isSealpostError(e, "STORE_SCHEMA_TOO_NEW") && /newer Sealpost/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
