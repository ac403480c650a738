// One registry of coded errors. Every error the admin API, the shell and the
// CLI report carries a stable code from this table; the message says what went
// wrong and what to do next. Secrets (passwords, key material) never appear in
// a message.

export const ERROR_CODES = {
  // generic input
  INVALID_ARGUMENT: "A value given to a command is not valid.",
  INVALID_DOMAIN: "A domain name is not a valid host name.",
  INVALID_SUBJECT: "An X.500 subject name could not be parsed.",
  NOT_FOUND: "The object named does not exist.",
  ALREADY_EXISTS: "The object already exists.",
  IO_ERROR: "A file could not be read or written.",
  CONFIRMATION_REQUIRED: "The change would turn Domain Security off for listed partners; it is made only with -Force (--force).",
  // certificates and keys
  CERT_MALFORMED: "A certificate, chain or PKCS#7 file could not be parsed.",
  CSR_MALFORMED: "A certificate request could not be parsed.",
  NO_PENDING_REQUEST: "An issued certificate matches no pending request's key.",
  PFX_MALFORMED: "A PKCS#12/PFX file could not be parsed.",
  PFX_BAD_PASSWORD: "A PKCS#12/PFX password is wrong.",
  PFX_NO_KEY: "A PKCS#12/PFX file holds no private key or no certificate for it.",
  KEY_NOT_EXPORTABLE: "A private key is marked non-exportable.",
  NO_PRIVATE_KEY: "A certificate has no private key on this server.",
  KEY_UNSUPPORTED: "A key type or size is not supported.",
  SERVICE_UNSUPPORTED: "A service name is not supported.",
  // shell
  SHELL_SYNTAX: "A management shell line could not be parsed.",
  SHELL_UNKNOWN_CMDLET: "A cmdlet name is not known.",
  SHELL_UNKNOWN_PARAMETER: "A parameter name is not known to the cmdlet.",
  SHELL_MISSING_PARAMETER: "A mandatory parameter was not given.",
  SHELL_BAD_VALUE: "A parameter's value has the wrong type.",
  // secrets
  SECRET_UNAVAILABLE: "A secret (password) could not be obtained.",
  // store
  STORE_SCHEMA_TOO_NEW: "The data folder was written by a newer release.",
  ORG_SCHEMA_TOO_NEW: "The organization store (PostgreSQL) uses a schema newer than this release knows.",
  ORG_SCHEMA_OLD: "The organization store (PostgreSQL) needs `sealpost org migrate` before this release can use it.",
  ORG_UNREACHABLE: "The organization store (PostgreSQL) could not be reached.",
  ORG_PERMISSION_DENIED: "The organization store refused the change: the database role lacks the privilege.",
  ORG_READ_ONLY: "This server's organization settings are synchronized from an organization store; change them there.",
  SERVER_DATA_REQUIRED: "The command manages one server's own data: give --data DIR.",
  // queue
  // admin HTTP endpoint
  UNAUTHORIZED: "The admin HTTP endpoint needs a valid bearer token (DIR/admin.token).",
  // identities and roles of the admin door
  ROLE_REQUIRED: "The caller's role groups do not allow this; the message names the role group that would.",
  WEAK_PASSWORD: "An administrator's password is shorter than 12 characters (or longer than 1024).",
  ADMIN_NOT_INVOCABLE: "The command belongs to the client's shell language (Format-*, Read-Host, Get-Content, ...); it runs in the client, never over the admin door.",
  ADMIN_SERVER_PATH: "A parameter that names a file was sent to the admin door; a file travels as base64 FileData, never as a path on the server.",
  ADMIN_HOST_REFUSED: "The request's Host header is neither the admin endpoint's address nor a configured admin host name (DNS rebinding).",
  ADMIN_ORIGIN_REFUSED: "A state-changing request to the admin door did not carry the console's own Origin.",
  ADMIN_CSRF_REFUSED: "A request authenticated by the session cookie did not carry the session's X-CSRF-Token.",
  ADMIN_CONTENT_TYPE: "A state-changing request to the admin door was not Content-Type: application/json.",
  ADMIN_BODY_TOO_LARGE: "The request body is larger than the admin door accepts.",
  ADMIN_LOGIN_FAILED: "The user name or password is wrong, or the account is disabled.",
  ADMIN_LOGIN_THROTTLED: "Too many failed logins from this address or for this user; wait for Retry-After seconds.",
  ADMIN_HTTPS_REQUIRED: "The admin endpoint listens off loopback only with HTTPS (--admin-cert THUMBPRINT or the SMTP certificate).",
  ADMIN_NOT_LOGGED_IN: "The remote command line has no stored login for that server; run sealpost --server URL login --user NAME.",
  INTERNAL: "An unexpected failure inside the server; its log has the details.",
  SPOOL_CLOSED: "The message spool is closed; no message can be queued.",
  // serve
  BINDING_UNAVAILABLE: "A receive connector's binding (address and port) cannot be listened on: in use, not an address of this machine, or a privileged port.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SealpostError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SealpostError";
    this.code = code;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isSealpostError(e: unknown, code?: ErrorCode): e is SealpostError {
  return e instanceof SealpostError && (code === undefined || e.code === code);
}

/** Message of any thrown value, for front ends. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
