// Which role group may run which cmdlet, and who may grant what. Pure: no
// I/O. Exchange's role groups, ordered: Organization Management includes
// Server Management's rights, which include View-Only Organization
// Management's (so one administrator can do the seed's whole procedure).
// Every cmdlet has an explicit row; a name without one needs Organization
// Management (nothing new is reachable by accident).
import { SealpostError } from "../errors/errors.js";
import { ROLE_GROUPS, type RoleGroup } from "./identity.js";

export const ORGANIZATION_MANAGEMENT: RoleGroup = "Organization Management";
export const SERVER_MANAGEMENT: RoleGroup = "Server Management";
export const VIEW_ONLY: RoleGroup = "View-Only Organization Management";

/** Higher includes lower. */
const RANK: Record<RoleGroup, number> = {
  "View-Only Organization Management": 0,
  "Server Management": 1,
  "Organization Management": 2,
};

const V = VIEW_ONLY;
const S = SERVER_MANAGEMENT;
const O = ORGANIZATION_MANAGEMENT;

/**
 * The least role group for each cmdlet (and alias). View-Only: reads that
 * reveal no secret and contact nothing. Server Management: this edge's
 * certificates (Export-ExchangeCertificate carries a private key), receive
 * connectors, queues and messages, its own settings and counters, and the
 * Test-* cmdlets that send mail or fetch URLs. Organization Management: the
 * organization's configuration (synchronized to every edge), trust,
 * partners, edge sync, and the accounts and tokens of the admin door.
 */
export const CMDLET_ROLES: Readonly<Record<string, RoleGroup>> = {
  // this edge's certificates
  "New-ExchangeCertificate": S,
  "Import-ExchangeCertificate": S,
  "Enable-ExchangeCertificate": S,
  "Get-ExchangeCertificate": V,
  "Export-ExchangeCertificate": S, // a private key: no secret for View-Only
  "Remove-ExchangeCertificate": S,
  // the organization's trust
  "Add-TrustedRootCertificate": O,
  "Get-TrustedRootCertificate": V,
  "Remove-TrustedRootCertificate": O,
  "Add-IntermediateCertificate": O,
  "Get-IntermediateCertificate": V,
  "Remove-IntermediateCertificate": O,
  "Update-RevocationCache": S, // fetches CRLs and OCSP answers
  // partners
  "Get-DomainSecurePartner": V,
  "Set-DomainSecurePartner": O,
  "Test-Certificate": S, // fetches AIA issuers, CRLs and OCSP answers
  // transport configuration, accepted domains, mailboxes
  "Get-TransportConfig": V,
  "Set-TransportConfig": O,
  "New-AcceptedDomain": O,
  "Get-AcceptedDomain": V,
  "Set-AcceptedDomain": O,
  "Remove-AcceptedDomain": O,
  "New-Mailbox": O,
  "Get-Mailbox": V,
  "Remove-Mailbox": O,
  // this server
  "Get-TransportServer": V,
  "Set-TransportServer": S,
  "Get-ReceiveConnector": V,
  "New-ReceiveConnector": S,
  "Set-ReceiveConnector": S,
  "Remove-ReceiveConnector": S,
  // send connectors (organization-wide)
  "Get-SendConnector": V,
  "New-SendConnector": O,
  "Set-SendConnector": O,
  "Remove-SendConnector": O,
  // queues and messages
  "Get-Queue": V,
  "Get-Message": V,
  "Retry-Queue": S,
  "Suspend-Queue": S,
  "Resume-Queue": S,
  "Remove-Message": S,
  "Suspend-Message": S,
  "Resume-Message": S,
  // logs
  "Get-MessageTrackingLog": V,
  "Get-ProtocolLog": V,
  // the fleet and the audit trail
  "Test-EdgeSynchronization": V,
  "Start-EdgeSynchronization": O,
  "Get-AdminAuditLog": V,
  "Get-ConfigurationLog": V, // who changed the configuration, as the audit log shows it
  // mail flow and counters
  "Test-Mailflow": S, // sends a message
  "Get-Counter": S,
  // accounts and tokens of the admin door
  "New-AdminUser": O,
  "Get-AdminUser": O,
  "Set-AdminUser": O,
  "Remove-AdminUser": O,
  "New-AdminToken": O,
  "Get-AdminToken": O,
  "Remove-AdminToken": O,
  // the shell's own utilities (they change nothing on the server)
  "Format-List": V,
  FL: V,
  "Format-Table": V,
  FT: V,
  "Get-Command": V,
  "Get-Help": V,
  "Read-Host": V,
  "Get-Content": V,
  "Where-Object": V,
  "Select-Object": V,
  "Sort-Object": V,
  "ForEach-Object": V,
  "Measure-Object": V,
  "Out-String": V,
  "Out-File": V,
  "Write-Output": V,
  "Write-Host": V,
  "ConvertTo-Json": V,
};

const BY_LOWER = new Map(Object.entries(CMDLET_ROLES).map(([k, v]) => [k.toLowerCase(), v]));

/** Whether the table has an explicit row for this name (any case). */
export function hasRoleRow(cmdletName: string): boolean {
  return BY_LOWER.has(cmdletName.toLowerCase());
}

/** The least role group that may run the cmdlet; a name without a row needs Organization Management. */
export function requiredRole(cmdletName: string): RoleGroup {
  return BY_LOWER.get(cmdletName.toLowerCase()) ?? ORGANIZATION_MANAGEMENT;
}

/** Whether these role groups include `needed`. */
export function holds(roles: readonly RoleGroup[], needed: RoleGroup): boolean {
  return roles.some((r) => RANK[r] !== undefined && RANK[r] >= RANK[needed]);
}

export function mayRun(roles: readonly RoleGroup[], cmdletName: string): { ok: true } | { ok: false; needed: RoleGroup } {
  const needed = requiredRole(cmdletName);
  return holds(roles, needed) ? { ok: true } : { ok: false, needed };
}

/**
 * Whether a caller with `granterRoles` may give `grantedRoles` to an account:
 * only with Organization Management (account, token and role changes need
 * it), and never more than the granter holds.
 */
export function mayGrant(granterRoles: readonly RoleGroup[], grantedRoles: readonly RoleGroup[]): boolean {
  if (!holds(granterRoles, ORGANIZATION_MANAGEMENT)) return false;
  return grantedRoles.every((g) => holds(granterRoles, g));
}

/** The highest of these role groups (undefined for none). */
export function highestRole(roles: readonly RoleGroup[]): RoleGroup | undefined {
  let best: RoleGroup | undefined;
  for (const r of roles) if (RANK[r] !== undefined && (best === undefined || RANK[r] > RANK[best])) best = r;
  return best;
}

/**
 * A role group as an administrator types it: any case, spaces optional
 * ("organization management", "OrganizationManagement"); also the short
 * names "View-Only". Anything else is INVALID_ARGUMENT naming the choices.
 */
export function parseRoleGroup(text: string): RoleGroup {
  const key = text.trim().toLowerCase().replace(/[\s_]+/g, "");
  for (const g of ROLE_GROUPS) if (g.toLowerCase().replace(/\s+/g, "") === key) return g;
  if (key === "view-only" || key === "viewonly") return VIEW_ONLY;
  throw new SealpostError("INVALID_ARGUMENT", `'${text.slice(0, 80)}' is not a role group: use ${ROLE_GROUPS.map((g) => `"${g}"`).join(", ")}.`);
}

/** Parses, removes duplicates and orders from the highest; at least one is required. */
export function parseRoleGroups(items: readonly string[]): RoleGroup[] {
  const out = new Set<RoleGroup>();
  for (const t of items) for (const part of t.split(",")) if (part.trim() !== "") out.add(parseRoleGroup(part));
  if (out.size === 0) throw new SealpostError("INVALID_ARGUMENT", `Give at least one role group: ${ROLE_GROUPS.map((g) => `"${g}"`).join(", ")}.`);
  return [...out].sort((a, b) => RANK[b] - RANK[a]);
}
