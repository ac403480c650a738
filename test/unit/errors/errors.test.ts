import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ERROR_CODES } from "../../../src/errors/errors.js";

test("every error code is documented in docs/errors.md", () => {
  const doc = readFileSync(new URL("../../../../docs/errors.md", import.meta.url), "utf8");
  for (const code of Object.keys(ERROR_CODES)) {
    assert.ok(doc.includes(`\`${code}\``), `${code} is missing from docs/errors.md`);
  }
});
