// The audit result of a call whose cmdlet code itself refuses by role: an
// account method's ROLE_REQUIRED (nobody grants more than they hold) is
// answered 403 and recorded as RefusedByRole, in the validation step as in
// the run, not as Invalid; other refusals stay Invalid, server failures
// Failed. A real data folder and the real identity admin; the two probe
// cmdlets only route the call into them.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../../../src/admin/api.js";
import type { Caller } from "../../../src/adminapi/identity.js";
import { invokeCommand, type InvokeResult } from "../../../src/adminapi/invoke.js";
import { SealpostError } from "../../../src/errors/errors.js";
import type { CmdletDef } from "../../../src/shell/types.js";

let work: string;
let api: AdminApi;

const OM: Caller = { name: "alice", roles: ["Organization Management"], via: "http", from: "127.0.0.1", authenticatedBy: "password" };
/** Whom the probes pass to the account methods as the granter: it holds less than it grants. */
const SERVER_ADMIN: Caller = { name: "sam", roles: ["Server Management"], via: "http", from: "127.0.0.1", authenticatedBy: "password" };

const table: CmdletDef[] = [
  {
    name: "New-ProbeUser",
    synopsis: "Creates an account with a granter that holds less than it grants.",
    params: [
      { name: "Name", type: "string", mandatory: true },
      { name: "Fail", type: "string" },
    ],
    async run(args, ctx) {
      if (args.Fail === "io") throw new SealpostError("IO_ERROR", "the disk is gone");
      if (args.Fail === "input") throw new SealpostError("INVALID_ARGUMENT", "a bad value");
      return [await ctx.api.identity.createUser({ name: args.Name as string, roleGroups: ["Organization Management"], password: "a long enough passphrase" }, SERVER_ADMIN)];
    },
  },
  {
    name: "Set-ProbeUser",
    synopsis: "Refuses by role in its own validation.",
    params: [{ name: "Name", type: "string", mandatory: true }],
    validate(args) {
      if (args.Name === "refuse") throw new SealpostError("ROLE_REQUIRED", "Set-ProbeUser needs more than you hold.");
    },
    async run() {
      return [];
    },
  },
];

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-invoke-audit-"));
  api = await AdminApi.openWithDefaults(path.join(work, "data"));
});

after(async () => {
  await api.close();
  rmSync(work, { recursive: true, force: true });
});

const call = (CmdletName: string, Parameters: Record<string, unknown>): Promise<InvokeResult> => invokeCommand(table, api, OM, { CmdletName, Parameters }, { remote: true });

async function lastRecord(cmdlet: string) {
  const [r] = await api.identity.auditLog({ cmdlets: [cmdlet], limit: 1 });
  return r;
}

test("a ROLE_REQUIRED raised by an account method inside the cmdlet is 403 and recorded as RefusedByRole; nothing is created", async () => {
  const r = await call("New-ProbeUser", { Name: "mallory" });
  assert.ok("error" in r);
  assert.equal(r.status, 403);
  assert.equal(r.error.code, "ROLE_REQUIRED");
  const rec = await lastRecord("New-ProbeUser");
  assert.equal(rec?.Result, "RefusedByRole");
  assert.equal(rec?.Caller, "alice");
  assert.match(rec?.Error ?? "", /^ROLE_REQUIRED: /);
  assert.deepEqual(await api.identity.listUsers(), []);
});

test("a ROLE_REQUIRED from a cmdlet's own validation is RefusedByRole too", async () => {
  const r = await call("Set-ProbeUser", { Name: "refuse" });
  assert.ok("error" in r);
  assert.equal(r.status, 403);
  assert.equal((await lastRecord("Set-ProbeUser"))?.Result, "RefusedByRole");
});

test("other refusals stay Invalid and server-side failures Failed", async () => {
  await call("New-ProbeUser", { Name: "x", Fail: "input" });
  assert.equal((await lastRecord("New-ProbeUser"))?.Result, "Invalid");
  await call("New-ProbeUser", { Name: "x", Fail: "io" });
  assert.equal((await lastRecord("New-ProbeUser"))?.Result, "Failed");
});
