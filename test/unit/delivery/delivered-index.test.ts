// The delivery tag in Maildir file names and DeliveredIndex, which spool
// recovery uses to tell a copy already delivered from one never written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DeliveredIndex, deliverToMaildir, encodeLocalPart } from "../../../src/delivery/maildir.js";
import { isSealpostError } from "../../../src/errors/errors.js";

test("a tagged copy is found in new/ and in cur/ (flags added), not in tmp/, and not under another tag", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "sealpost-tag-"));
  try {
    const file = await deliverToMaildir(root, "example.net", "Bob", Buffer.from("Subject: x\r\n\r\nhi\r\n"), { tag: "0190abc-0" });
    assert.match(path.basename(file), /,X=0190abc-0$/);
    assert.equal(await new DeliveredIndex(root).has("example.net", "bob", "0190abc-0"), true);
    assert.equal(await new DeliveredIndex(root).has("example.net", "bob", "0190abc-1"), false);
    assert.equal(await new DeliveredIndex(root).has("example.net", "alice", "0190abc-0"), false);
    const box = path.join(root, "example.net", encodeLocalPart("bob"));
    renameSync(file, path.join(box, "cur", `${path.basename(file)}:2,S`));
    assert.equal(await new DeliveredIndex(root).has("example.net", "bob", "0190abc-0"), true);
    // A copy cut short in tmp/ was never delivered.
    writeFileSync(path.join(box, "tmp", "1.M1P1Q1.host,X=0190abc-2"), "partial");
    assert.equal(await new DeliveredIndex(root).has("example.net", "bob", "0190abc-2"), false);
    assert.equal(readdirSync(path.join(box, "new")).length, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a tag outside [A-Za-z0-9_-] is refused and nothing is written", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "sealpost-tag-"));
  try {
    await assert.rejects(deliverToMaildir(root, "example.net", "bob", Buffer.from("x"), { tag: "a/b:2,S" }), (e) => isSealpostError(e, "INVALID_ARGUMENT"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
