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

test("every verdict code is documented in docs/verdicts.md", async () => {
  const { VERDICT_CODES } = await import("../../../src/pki/trust/verdict.js");
  const doc = readFileSync(new URL("../../../../docs/verdicts.md", import.meta.url), "utf8");
  for (const code of Object.keys(VERDICT_CODES)) {
    assert.ok(doc.includes(`\`${code}\``), `${code} is missing from docs/verdicts.md`);
  }
});
