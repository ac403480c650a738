// The admin door's identities: administrator accounts (scrypt password
// hashes), API tokens (stored as SHA-256 digests, shown once), the built-in
// local administrator (the first-start token in DIR/admin.token), and the
// audit trail. Kept in the organization store, so one account works on every
// edge of a fleet; none of it is transport configuration (no configuration
// version, not synchronized as part of the snapshot).
//
// Every change takes the granter (a Caller): account, token and role changes
// need Organization Management, and nobody grants more than they hold
// (ROLE_REQUIRED, which the door answers with 403).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { writeFileDurable } from "../config/datadir.js";
import { SealpostError } from "../errors/errors.js";
import type { AdminAuditQuery, AdminIdentityStore, AdminTokenRecord, AdminUserRecord, StoredAdminAudit } from "../org/identity-store.js";
import { defaultAdminName } from "../org/store.js";
import { ROLE_GROUPS, type AdminAuditRecord, type AuditResult, type Caller, type CallerVia, type RoleGroup } from "./identity.js";
import { checkPassword, DUMMY, hashPassword, MAX_PASSWORD_LENGTH, parseHash, passwordMatches } from "./passwords.js";
import { redactParameters } from "./redact.js";
import { highestRole, holds, mayGrant, ORGANIZATION_MANAGEMENT } from "./roles.js";

/** The built-in local administrator: whoever holds DIR/admin.token. */
export const LOCAL_ADMIN_NAME = "local-admin";
/** API tokens issued to accounts start with this (so they can be recognized in logs and by scanners). */
export const TOKEN_PREFIX = "spt_";
const NAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;
/** A token's last use is written at most this often (every request would otherwise be a write). */
const TOUCH_EVERY_MS = 60_000;

/** Who a password, token or client certificate proved to be (the door adds via and from). */
export type Authenticated = Omit<Caller, "via" | "from"> & { tokenId?: string };

export interface AdminUserView {
  Name: string;
  RoleGroups: RoleGroup[];
  Enabled: boolean;
  ClientCertificateThumbprint: string | null;
  WhenCreated: string;
  WhenChanged: string;
}

export interface AdminTokenView {
  Id: string;
  User: string;
  Description: string;
  WhenCreated: string;
  Expires: string | null;
  LastUsed: string | null;
  Expired: boolean;
}

/** New-AdminToken's result: the token itself is in it, and nowhere else, ever again. */
export interface NewAdminTokenView extends AdminTokenView {
  Token: string;
}

/** Get-AdminAuditLog's objects, with Exchange's property names. */
export interface AdminAuditView {
  RunDate: string;
  Caller: string;
  CmdletName: string;
  CmdletParameters: Record<string, unknown>;
  Succeeded: boolean;
  Result: AuditResult;
  Error: string | null;
  ClientIP: string;
  Via: CallerVia;
}

export interface NewUserInput {
  name: string;
  roleGroups: RoleGroup[];
  password: string;
  clientCertificateThumbprint?: string;
}

export interface UserPatch {
  roleGroups?: RoleGroup[];
  password?: string;
  /** null removes it. */
  clientCertificateThumbprint?: string | null;
  enabled?: boolean;
}

/** The local operator: the person at this edge's own terminal, with access to its data folder. */
export function localOperator(via: CallerVia = "shell"): Caller {
  return { name: defaultAdminName(), roles: [ORGANIZATION_MANAGEMENT], via, from: "local", authenticatedBy: "local" };
}

// ---- names, thumbprints, tokens

export function checkAccountName(name: unknown): string {
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new SealpostError("INVALID_ARGUMENT", `'${String(name).slice(0, 80)}' is not a valid account name: use 1 to 64 letters, digits and . _ @ -.`);
  }
  return name;
}

/** SHA-1 (40) or SHA-256 (64) hex digits, colons and spaces allowed; upper case. */
export function normalizeThumbprint(text: string): string {
  const t = text.replace(/[\s:]/g, "").toUpperCase();
  if (!/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(t)) {
    throw new SealpostError("INVALID_ARGUMENT", `'${text.slice(0, 100)}' is not a certificate thumbprint: give its SHA-1 (40 hex digits, as Get-ExchangeCertificate shows) or SHA-256 (64).`);
  }
  return t;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

function iso(d: Date | undefined): string | null {
  return d === undefined ? null : d.toISOString();
}

function isRoleGroup(r: string): r is RoleGroup {
  return (ROLE_GROUPS as readonly string[]).includes(r);
}

/** Only names this release knows count (a row edited by hand cannot grant a role that does not exist). */
function rolesOf(u: AdminUserRecord): RoleGroup[] {
  return u.roleGroups.filter(isRoleGroup);
}

function userView(u: AdminUserRecord): AdminUserView {
  return {
    Name: u.name,
    RoleGroups: rolesOf(u),
    Enabled: u.enabled,
    ClientCertificateThumbprint: u.clientCertificateThumbprint ?? null,
    WhenCreated: u.createdAt.toISOString(),
    WhenChanged: u.changedAt.toISOString(),
  };
}

// ---- the local administrator's token

export function localAdminTokenFile(dataDir: string): string {
  return path.join(dataDir, "admin.token");
}

/**
 * The first-start token of the built-in local administrator: DIR/admin.token
 * (mode 0600), created when absent. Whoever can read the data folder is this
 * server's administrator anyway.
 */
export function ensureLocalAdminToken(dataDir: string): { token: string; created: boolean; file: string } {
  const file = localAdminTokenFile(dataDir);
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token !== "") return { token, created: false, file };
  }
  const token = randomBytes(32).toString("base64url");
  writeFileDurable(file, `${token}\n`, 0o600);
  return { token, created: true, file };
}

function readLocalAdminToken(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    const t = readFileSync(file, "utf8").trim();
    return t === "" ? undefined : t;
  } catch {
    return undefined;
  }
}

export interface IdentityAdminOptions {
  /** DIR/admin.token of this server (undefined: no local administrator, e.g. `sealpost --org URL` alone). */
  localAdminTokenFile?: () => string | undefined;
}

export class IdentityAdmin {
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private store: AdminIdentityStore,
    private readonly now: () => Date = () => new Date(),
    private readonly opts: IdentityAdminOptions = {},
  ) {}

  /**
   * Where the accounts live. An edge of a fleet serves with its replica of
   * the configuration but logs administrators in, and writes audit records,
   * in the organization store itself.
   */
  useStore(store: AdminIdentityStore): void {
    this.store = store;
    this.lastTouched.clear();
  }

  // ---- who may change accounts

  private requireAdmin(granter: Caller, what: string): void {
    if (!holds(granter.roles, ORGANIZATION_MANAGEMENT)) {
      throw new SealpostError("ROLE_REQUIRED", `${what} needs the role group "${ORGANIZATION_MANAGEMENT}"; ${granter.name} has ${granter.roles.length ? granter.roles.map((r) => `"${r}"`).join(", ") : "no role group"}.`);
    }
  }

  private requireGrant(granter: Caller, roles: RoleGroup[], what: string): void {
    this.requireAdmin(granter, what);
    if (!mayGrant(granter.roles, roles)) {
      const top = highestRole(roles) ?? ORGANIZATION_MANAGEMENT;
      throw new SealpostError("ROLE_REQUIRED", `${what}: nobody can grant more than they hold; granting "${top}" needs the role group "${top}".`);
    }
  }

  private checkRoles(roles: unknown): RoleGroup[] {
    if (!Array.isArray(roles) || roles.length === 0) throw new SealpostError("INVALID_ARGUMENT", `Give at least one role group: ${ROLE_GROUPS.map((g) => `"${g}"`).join(", ")}.`);
    const bad = roles.find((r) => typeof r !== "string" || !isRoleGroup(r));
    if (bad !== undefined) throw new SealpostError("INVALID_ARGUMENT", `'${String(bad).slice(0, 80)}' is not a role group: use ${ROLE_GROUPS.map((g) => `"${g}"`).join(", ")}.`);
    return [...new Set(roles as RoleGroup[])];
  }

  private refuseBuiltIn(name: string): void {
    if (name.toLowerCase() === LOCAL_ADMIN_NAME) {
      throw new SealpostError("INVALID_ARGUMENT", `'${LOCAL_ADMIN_NAME}' is the built-in local administrator: it has no password and cannot be changed here; its token is the data folder's admin.token file (replace the file to change it).`);
    }
  }

  // ---- accounts

  async createUser(input: NewUserInput, granter: Caller): Promise<AdminUserView> {
    const name = checkAccountName(input.name);
    this.refuseBuiltIn(name);
    const roles = this.checkRoles(input.roleGroups);
    this.requireGrant(granter, roles, `Creating the account '${name}'`);
    const password = checkPassword(input.password);
    const thumbprint = input.clientCertificateThumbprint === undefined ? undefined : normalizeThumbprint(input.clientCertificateThumbprint);
    const now = this.now();
    const record: AdminUserRecord = {
      name,
      roleGroups: roles,
      passwordHash: await hashPassword(password),
      ...(thumbprint !== undefined ? { clientCertificateThumbprint: thumbprint } : {}),
      enabled: true,
      createdAt: now,
      changedAt: now,
    };
    return userView(await this.store.addAdminUser(record));
  }

  async setUser(name: string, patch: UserPatch, granter: Caller): Promise<AdminUserView> {
    checkAccountName(name);
    this.refuseBuiltIn(name);
    const roles = patch.roleGroups === undefined ? undefined : this.checkRoles(patch.roleGroups);
    if (roles !== undefined) this.requireGrant(granter, roles, `Changing the role groups of '${name}'`);
    else this.requireAdmin(granter, `Changing the account '${name}'`);
    if (roles === undefined && patch.password === undefined && patch.clientCertificateThumbprint === undefined && patch.enabled === undefined) {
      throw new SealpostError("INVALID_ARGUMENT", `Set-AdminUser ${name}: nothing to change (give -RoleGroup, -PasswordFile, -ClientCertificateThumbprint or -Enabled).`);
    }
    const passwordHash = patch.password === undefined ? undefined : await hashPassword(checkPassword(patch.password));
    const thumbprint = patch.clientCertificateThumbprint === undefined || patch.clientCertificateThumbprint === null || patch.clientCertificateThumbprint === "" ? patch.clientCertificateThumbprint : normalizeThumbprint(patch.clientCertificateThumbprint);
    if (patch.enabled !== undefined && typeof patch.enabled !== "boolean") throw new SealpostError("INVALID_ARGUMENT", "-Enabled takes $true or $false.");
    const changedAt = this.now();
    const next = await this.store.updateAdminUser(name, (cur) => {
      // The account's current roles are the granter's business too: nobody edits an account above their own.
      if (!mayGrant(granter.roles, rolesOf(cur))) {
        throw new SealpostError("ROLE_REQUIRED", `Changing '${cur.name}' needs every role group it has (${rolesOf(cur).map((r) => `"${r}"`).join(", ")}).`);
      }
      return {
        ...(roles !== undefined ? { roleGroups: roles } : {}),
        ...(passwordHash !== undefined ? { passwordHash } : {}),
        ...(thumbprint !== undefined ? { clientCertificateThumbprint: thumbprint === null || thumbprint === "" ? undefined : thumbprint } : {}),
        ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
        changedAt,
      };
    });
    return userView(next);
  }

  async removeUser(name: string, granter: Caller): Promise<void> {
    checkAccountName(name);
    this.refuseBuiltIn(name);
    this.requireAdmin(granter, `Removing the account '${name}'`);
    const cur = await this.store.getAdminUser(name);
    if (!cur) throw new SealpostError("NOT_FOUND", `No administrator account is named '${name}' (Get-AdminUser lists them).`);
    if (!mayGrant(granter.roles, rolesOf(cur))) throw new SealpostError("ROLE_REQUIRED", `Removing '${cur.name}' needs every role group it has.`);
    await this.store.removeAdminUser(cur.name);
    this.lastTouched.clear();
  }

  /** Every account (never a hash); one with `name` (NOT_FOUND when absent). */
  async listUsers(name?: string): Promise<AdminUserView[]> {
    if (name !== undefined) {
      const u = await this.store.getAdminUser(name);
      if (!u) throw new SealpostError("NOT_FOUND", `No administrator account is named '${name.slice(0, 80)}' (Get-AdminUser lists them).`);
      return [userView(u)];
    }
    return (await this.store.listAdminUsers()).map(userView);
  }

  /**
   * The account a name and password prove, or undefined. An unknown or
   * disabled account costs one scrypt as a known one does, so the time taken
   * does not tell which names exist.
   */
  async verifyPassword(name: string, password: string): Promise<Authenticated | undefined> {
    const user = typeof name === "string" && NAME_RE.test(name) && name.toLowerCase() !== LOCAL_ADMIN_NAME ? await this.store.getAdminUser(name) : undefined;
    const stored = user ? parseHash(user.passwordHash) : undefined;
    const given = typeof password === "string" && password.length <= MAX_PASSWORD_LENGTH * 4 ? password : "";
    const ok = await passwordMatches(given, stored ?? DUMMY);
    if (!ok || !user || !stored || !user.enabled || given === "") return undefined;
    return { name: user.name, roles: rolesOf(user), authenticatedBy: "password" };
  }

  /** The enabled account a client certificate (its SHA-1 or SHA-256 thumbprint) logs in, or undefined. */
  async userByClientCertificate(thumbprint: string): Promise<Authenticated | undefined> {
    let t: string;
    try {
      t = normalizeThumbprint(thumbprint);
    } catch {
      return undefined;
    }
    const user = await this.store.adminUserByThumbprint(t);
    if (!user || !user.enabled) return undefined;
    return { name: user.name, roles: rolesOf(user), authenticatedBy: "client-certificate" };
  }

  // ---- tokens

  /**
   * Issues a token to an account; it carries the account's role groups (as
   * they are when it is used). Organization Management issues to anyone; an
   * account that logged in with its password or certificate may issue one to
   * itself (a script's login), but a token cannot mint tokens.
   */
  async createToken(user: string, opts: { description?: string; expires?: Date }, granter: Caller): Promise<NewAdminTokenView> {
    checkAccountName(user);
    if (user.toLowerCase() === LOCAL_ADMIN_NAME) this.refuseBuiltIn(user);
    const self = granter.name.toLowerCase() === user.toLowerCase() && granter.authenticatedBy !== "token" && granter.authenticatedBy !== "local";
    if (!self) this.requireAdmin(granter, `Issuing an API token to '${user}'`);
    const description = opts.description ?? "";
    if (typeof description !== "string" || description.length > 200 || /[\p{Cc}]/u.test(description)) {
      throw new SealpostError("INVALID_ARGUMENT", "-Description must be text of at most 200 characters, without control characters.");
    }
    const now = this.now();
    if (opts.expires !== undefined && (!(opts.expires instanceof Date) || Number.isNaN(opts.expires.getTime()) || opts.expires.getTime() <= now.getTime())) {
      throw new SealpostError("INVALID_ARGUMENT", "A token's expiry must be in the future.");
    }
    const owner = await this.store.getAdminUser(user);
    if (!owner) throw new SealpostError("NOT_FOUND", `No administrator account is named '${user}' (Get-AdminUser lists them).`);
    if (!self && !mayGrant(granter.roles, rolesOf(owner))) throw new SealpostError("ROLE_REQUIRED", `Issuing a token to '${owner.name}' needs every role group it has.`);
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
    const record: AdminTokenRecord = {
      id: randomBytes(8).toString("hex"),
      tokenSha256: sha256(token).toString("hex"),
      user: owner.name,
      description,
      createdAt: now,
      ...(opts.expires !== undefined ? { expiresAt: opts.expires } : {}),
    };
    const stored = await this.store.addAdminToken(record);
    return { Token: token, ...this.tokenView(stored) };
  }

  private tokenView(t: AdminTokenRecord): AdminTokenView {
    return {
      Id: t.id,
      User: t.user,
      Description: t.description,
      WhenCreated: t.createdAt.toISOString(),
      Expires: iso(t.expiresAt),
      LastUsed: iso(t.lastUsedAt),
      Expired: t.expiresAt !== undefined && t.expiresAt.getTime() <= this.now().getTime(),
    };
  }

  /** Every token (or one account's), without the tokens themselves. */
  async listTokens(user?: string): Promise<AdminTokenView[]> {
    if (user !== undefined && !(await this.store.getAdminUser(user))) throw new SealpostError("NOT_FOUND", `No administrator account is named '${user.slice(0, 80)}' (Get-AdminUser lists them).`);
    return (await this.store.listAdminTokens(user)).map((t) => this.tokenView(t));
  }

  /** Organization Management removes any token; an account its own (a logout). */
  async removeToken(id: string, granter: Caller): Promise<void> {
    if (typeof id !== "string" || !/^[0-9a-f]{1,64}$/i.test(id)) throw new SealpostError("INVALID_ARGUMENT", `'${String(id).slice(0, 80)}' is not a token id (Get-AdminToken lists them).`);
    const tokens = await this.store.listAdminTokens();
    const t = tokens.find((x) => x.id === id.toLowerCase());
    if (!t) throw new SealpostError("NOT_FOUND", `No API token has the id '${id}' (Get-AdminToken lists them).`);
    if (t.user.toLowerCase() !== granter.name.toLowerCase()) this.requireAdmin(granter, `Removing a token of '${t.user}'`);
    await this.store.removeAdminToken(t.id);
    this.lastTouched.delete(t.id);
  }

  /**
   * The account a bearer token proves, or undefined: the local
   * administrator's (DIR/admin.token, compared as SHA-256 digests in
   * constant time), or an issued one that has not expired and whose account
   * is enabled (its last use recorded).
   */
  async verifyToken(token: string): Promise<Authenticated | undefined> {
    if (typeof token !== "string" || token === "" || token.length > 512) return undefined;
    const digest = sha256(token);
    const local = readLocalAdminToken(this.localTokenFile());
    if (local !== undefined && timingSafeEqual(sha256(local), digest)) {
      return { name: LOCAL_ADMIN_NAME, roles: [ORGANIZATION_MANAGEMENT], authenticatedBy: "token" };
    }
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const t = await this.store.adminTokenBySha256(digest.toString("hex"));
    // The lookup is by the digest of a 256-bit random secret: its timing tells nothing usable.
    if (!t) return undefined;
    const now = this.now();
    if (t.expiresAt !== undefined && t.expiresAt.getTime() <= now.getTime()) return undefined;
    const user = await this.store.getAdminUser(t.user);
    if (!user || !user.enabled) return undefined;
    const last = this.lastTouched.get(t.id) ?? t.lastUsedAt?.getTime() ?? 0;
    if (now.getTime() - last >= TOUCH_EVERY_MS) {
      this.lastTouched.set(t.id, now.getTime());
      await this.store.touchAdminToken(t.id, now);
    }
    return { name: user.name, roles: rolesOf(user), authenticatedBy: "token", tokenId: t.id };
  }

  private localTokenFile(): string | undefined {
    try {
      return this.opts.localAdminTokenFile?.();
    } catch {
      return undefined;
    }
  }

  // ---- the audit trail

  /**
   * Writes one record. The parameters are redacted again here (by name), so
   * a caller that forgot cannot put a secret in the trail.
   */
  async recordAudit(record: AdminAuditRecord): Promise<void> {
    const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);
    const error = record.error === undefined ? undefined : (redactParameters(record.cmdlet, { error: record.error }).error as string);
    await this.store.appendAdminAudit({
      at: record.at instanceof Date && !Number.isNaN(record.at.getTime()) ? record.at : this.now(),
      user: clip(String(record.user), 200),
      from: clip(String(record.from), 100),
      via: record.via,
      cmdlet: clip(String(record.cmdlet), 100),
      parameters: redactParameters(record.cmdlet, record.parameters ?? {}),
      result: record.result,
      ...(error !== undefined ? { error: clip(error, 2000) } : {}),
    });
  }

  /** Get-AdminAuditLog: newest first, with Exchange's property names. */
  async auditLog(q: AdminAuditQuery = {}): Promise<AdminAuditView[]> {
    return (await this.store.adminAuditLog(q)).map(auditView);
  }
}

function auditView(r: StoredAdminAudit): AdminAuditView {
  return {
    RunDate: r.at.toISOString(),
    Caller: r.user,
    CmdletName: r.cmdlet,
    CmdletParameters: r.parameters,
    Succeeded: r.result === "Succeeded",
    Result: r.result as AuditResult,
    Error: r.error ?? null,
    ClientIP: r.from,
    Via: r.via as CallerVia,
  };
}
