// The admin door's accounts, API tokens and audit trail, kept in the
// organization store so that one account works on every edge of a fleet and
// "who changed it" has one answer from any edge. They are not transport
// configuration: no change here advances the configuration version, writes
// org_audit or enters the snapshot that edges copy.
//
// The types are structural (role groups and results as strings) so that this
// folder does not depend on src/adminapi/, which checks and gives them their
// meaning (identity.ts, accounts.ts).

/** One audit record as stored (src/adminapi/identity.ts AdminAuditRecord has the same shape). */
export interface AdminAuditRow {
  at: Date;
  user: string;
  from: string;
  via: string;
  cmdlet: string;
  /** Already redacted. */
  parameters: Record<string, unknown>;
  result: string;
  error?: string;
}

export interface AdminUserRecord {
  /** As created; unique without regard to case. */
  name: string;
  /** Role group names as src/adminapi/identity.ts spells them. */
  roleGroups: string[];
  /** "scrypt$N$r$p$<salt base64>$<hash base64>" (src/adminapi/accounts.ts); never shown. */
  passwordHash: string;
  /** SHA-1 (or SHA-256) thumbprint, upper-case hex, of a client certificate that logs this account in. */
  clientCertificateThumbprint?: string | undefined;
  enabled: boolean;
  createdAt: Date;
  changedAt: Date;
}

export interface AdminTokenRecord {
  id: string;
  /** SHA-256 of the token, lower-case hex; the token itself is never stored. */
  tokenSha256: string;
  /** The owner's account name. */
  user: string;
  description: string;
  createdAt: Date;
  expiresAt?: Date;
  lastUsedAt?: Date;
}

export interface AdminAuditQuery {
  /** Account names (any case). */
  users?: string[];
  /** Cmdlet names (any case). */
  cmdlets?: string[];
  /** Records at or after. */
  start?: Date;
  /** Records before. */
  end?: Date;
  /** The newest n (default 1000). */
  limit?: number;
}

/** A stored audit record, with its sequence number. */
export interface StoredAdminAudit extends AdminAuditRow {
  id: number;
}

export interface AdminIdentityStore {
  listAdminUsers(): Promise<AdminUserRecord[]>;
  /** By name, without regard to case. */
  getAdminUser(name: string): Promise<AdminUserRecord | undefined>;
  adminUserByThumbprint(thumbprint: string): Promise<AdminUserRecord | undefined>;
  /** ALREADY_EXISTS when the name (any case) or the thumbprint is taken. */
  addAdminUser(u: AdminUserRecord): Promise<AdminUserRecord>;
  /** Read-modify-write in one transaction; NOT_FOUND when absent; ALREADY_EXISTS for a thumbprint another account has. */
  updateAdminUser(name: string, edit: (current: AdminUserRecord) => Partial<Omit<AdminUserRecord, "name" | "createdAt">>): Promise<AdminUserRecord>;
  /** Removes the account and its tokens; NOT_FOUND when absent. */
  removeAdminUser(name: string): Promise<void>;

  /** Every token, or one account's, oldest first. */
  listAdminTokens(user?: string): Promise<AdminTokenRecord[]>;
  /** NOT_FOUND when the owner does not exist. */
  addAdminToken(t: AdminTokenRecord): Promise<AdminTokenRecord>;
  /** NOT_FOUND when absent. */
  removeAdminToken(id: string): Promise<void>;
  adminTokenBySha256(tokenSha256: string): Promise<AdminTokenRecord | undefined>;
  /** Records a use (last used). */
  touchAdminToken(id: string, at: Date): Promise<void>;

  appendAdminAudit(r: AdminAuditRow): Promise<void>;
  /** Newest first. */
  adminAuditLog(q?: AdminAuditQuery): Promise<StoredAdminAudit[]>;
}
