import { test } from "node:test";
import assert from "node:assert/strict";
import { isSealpostError } from "../../../src/errors/errors.js";
import { ROLE_GROUPS, type RoleGroup } from "../../../src/adminapi/identity.js";
import { CMDLET_ROLES, hasRoleRow, highestRole, holds, mayGrant, mayRun, parseRoleGroup, parseRoleGroups, requiredRole } from "../../../src/adminapi/roles.js";
import { allCmdlets } from "../../../src/shell/cmdlets/index.js";

const O: RoleGroup = "Organization Management";
const S: RoleGroup = "Server Management";
const V: RoleGroup = "View-Only Organization Management";

test("every cmdlet of the shell's table (and every alias) has an explicit row", () => {
  const missing: string[] = [];
  for (const c of allCmdlets()) for (const n of [c.name, ...(c.aliases ?? [])]) if (!hasRoleRow(n)) missing.push(n);
  assert.deepEqual(missing, [], `cmdlets without a role row in src/adminapi/roles.ts: ${missing.join(", ")}`);
});

test("the case table: the least role group of each kind of cmdlet", () => {
  const cases: Array<[string, RoleGroup]> = [
    // reads
    ["Get-TransportConfig", V],
    ["Get-ExchangeCertificate", V],
    ["Get-Queue", V],
    ["Get-Message", V],
    ["Get-AdminAuditLog", V],
    ["Get-MessageTrackingLog", V],
    ["Test-EdgeSynchronization", V],
    ["Get-Command", V],
    ["Get-Help", V],
    ["Format-List", V],
    ["FL", V],
    ["Read-Host", V],
    ["Get-Content", V],
    // Test-* that send mail or fetch URLs
    ["Test-Mailflow", S],
    ["Test-Certificate", S],
    ["Update-RevocationCache", S],
    // this edge
    ["New-ExchangeCertificate", S],
    ["Import-ExchangeCertificate", S],
    ["Enable-ExchangeCertificate", S],
    ["Export-ExchangeCertificate", S],
    ["Remove-ExchangeCertificate", S],
    ["New-ReceiveConnector", S],
    ["Set-ReceiveConnector", S],
    ["Remove-ReceiveConnector", S],
    ["Retry-Queue", S],
    ["Suspend-Queue", S],
    ["Resume-Queue", S],
    ["Remove-Message", S],
    ["Set-TransportServer", S],
    ["Get-Counter", S],
    // the organization
    ["Set-TransportConfig", O],
    ["New-SendConnector", O],
    ["Set-SendConnector", O],
    ["Remove-SendConnector", O],
    ["New-AcceptedDomain", O],
    ["Set-DomainSecurePartner", O],
    ["Add-TrustedRootCertificate", O],
    ["Remove-TrustedRootCertificate", O],
    ["Add-IntermediateCertificate", O],
    ["Start-EdgeSynchronization", O],
    ["New-AdminUser", O],
    ["Get-AdminUser", O],
    ["Set-AdminUser", O],
    ["Remove-AdminUser", O],
    ["New-AdminToken", O],
    ["Get-AdminToken", O],
    ["Remove-AdminToken", O],
    // no row: the most privileged
    ["Invoke-Expression", O],
    ["", O],
  ];
  for (const [name, role] of cases) assert.equal(requiredRole(name), role, name);
  // Names are case-insensitive, as in the shell.
  assert.equal(requiredRole("get-transportconfig"), V);
  assert.equal(requiredRole("SET-TRANSPORTCONFIG"), O);
  assert.equal(hasRoleRow("Invoke-Expression"), false);
});

test("every state-changing verb needs more than View-Only; View-Only gets no secret", () => {
  const changing = /^(New|Set|Remove|Add|Import|Enable|Export|Retry|Suspend|Resume|Start|Update)-/;
  for (const [name, role] of Object.entries(CMDLET_ROLES)) {
    if (changing.test(name)) assert.notEqual(role, V, `${name} changes state or exports a secret`);
  }
});

test("holds: Organization Management includes Server Management, which includes View-Only", () => {
  const cases: Array<[RoleGroup[], RoleGroup, boolean]> = [
    [[O], O, true],
    [[O], S, true],
    [[O], V, true],
    [[S], O, false],
    [[S], S, true],
    [[S], V, true],
    [[V], O, false],
    [[V], S, false],
    [[V], V, true],
    [[], V, false],
    [[V, S], S, true],
    [[V, S], O, false],
  ];
  for (const [roles, needed, want] of cases) assert.equal(holds(roles, needed), want, `${roles.join("+") || "none"} holds ${needed}`);
  // Something that is not a role group counts for nothing.
  assert.equal(holds(["Administrators" as RoleGroup], V), false);
});

test("mayRun names the role group that would allow the cmdlet", () => {
  assert.deepEqual(mayRun([V], "Get-TransportConfig"), { ok: true });
  assert.deepEqual(mayRun([V], "Set-TransportConfig"), { ok: false, needed: O });
  assert.deepEqual(mayRun([V], "Import-ExchangeCertificate"), { ok: false, needed: S });
  assert.deepEqual(mayRun([S], "Import-ExchangeCertificate"), { ok: true });
  assert.deepEqual(mayRun([S], "New-AdminUser"), { ok: false, needed: O });
  assert.deepEqual(mayRun([S], "New-AdminToken"), { ok: false, needed: O });
  assert.deepEqual(mayRun([O], "New-AdminUser"), { ok: true });
  assert.deepEqual(mayRun([], "Get-Help"), { ok: false, needed: V });
  assert.deepEqual(mayRun([O], "Some-Unknown"), { ok: true });
  assert.deepEqual(mayRun([S], "Some-Unknown"), { ok: false, needed: O });
});

test("mayGrant: only Organization Management grants, and never more than it holds", () => {
  const cases: Array<[RoleGroup[], RoleGroup[], boolean]> = [
    [[O], [O], true],
    [[O], [S, V], true],
    [[O], [], true],
    [[S], [V], false],
    [[S], [S], false],
    [[S], [O], false],
    [[V], [V], false],
    [[], [V], false],
  ];
  for (const [granter, granted, want] of cases) assert.equal(mayGrant(granter, granted), want, `${granter.join("+") || "none"} grants ${granted.join("+") || "none"}`);
  assert.equal(mayGrant([O], ["Root" as RoleGroup]), false);
});

test("role groups as typed: any case, spaces optional; anything else is refused naming the choices", () => {
  assert.equal(parseRoleGroup("organization management"), O);
  assert.equal(parseRoleGroup("OrganizationManagement"), O);
  assert.equal(parseRoleGroup(" Server  Management "), S);
  assert.equal(parseRoleGroup("View-Only Organization Management"), V);
  assert.equal(parseRoleGroup("view-only"), V);
  for (const bad of ["Admin", "", "Organization", "Domain Admins"]) {
    assert.throws(() => parseRoleGroup(bad), (e: unknown) => isSealpostError(e, "INVALID_ARGUMENT") && ROLE_GROUPS.every((g) => e.message.includes(g)), bad);
  }
  assert.deepEqual(parseRoleGroups(["View-Only", "Organization Management", "view-only"]), [O, V]);
  assert.deepEqual(parseRoleGroups(["Server Management,View-Only"]), [S, V]);
  assert.throws(() => parseRoleGroups([]), (e: unknown) => isSealpostError(e, "INVALID_ARGUMENT"));
  assert.equal(highestRole([V, S]), S);
  assert.equal(highestRole([]), undefined);
});
