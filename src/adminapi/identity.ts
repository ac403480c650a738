// Who is calling the admin door, and what each role group may run. The
// contract between the door (invoke.ts, http.ts) and the identity store
// (accounts, tokens, audit records). Pure: no I/O here.

/** Exchange's role groups, mapped to the seed's permissions. */
export const ROLE_GROUPS = ["Organization Management", "Server Management", "View-Only Organization Management"] as const;
export type RoleGroup = (typeof ROLE_GROUPS)[number];

/** Which front end made the call (recorded in the audit log). */
export type CallerVia = "shell" | "cli" | "http" | "console";

export interface Caller {
  /** The account name; the built-in local administrator is "local-admin" (or the OS user for an in-process shell). */
  name: string;
  roles: RoleGroup[];
  via: CallerVia;
  /** "local" in process; the peer address over HTTP. */
  from: string;
  /** How the caller proved who it is. */
  authenticatedBy: "local" | "password" | "token" | "client-certificate";
}

/** The result recorded for one call. */
export type AuditResult = "Succeeded" | "RefusedByRole" | "Invalid" | "Failed" | "LoginFailed";

export interface AdminAuditRecord {
  at: Date;
  user: string;
  from: string;
  via: CallerVia;
  cmdlet: string;
  /** The parameters as given, every secret replaced by "****". */
  parameters: Record<string, unknown>;
  result: AuditResult;
  /** The error code and message of a refused or failed call (never a secret). */
  error?: string;
}
