// Until the identity part lands (redact.ts, accounts.ts on api.identity),
// the door uses these minimal stand-ins with the same names and shapes.
// Replaced by the real ones when they land; nothing else imports this file.
import type { AdminApi } from "../admin/api.js";
import type { AdminAuditRecord, Caller } from "./identity.js";

const SECRET_NAME = /password|token|secret/i;

/** Every secret replaced: parameters named *Password*, *Token*, *Secret*, and FileData content by its size. */
export function redactParameters(_name: string, params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (SECRET_NAME.test(k)) out[k] = "****";
    else if (/^FileData$/i.test(k)) out[k] = typeof v === "string" ? `<${Buffer.from(v, "base64").length} bytes>` : "<bytes>";
    else out[k] = v;
  }
  return out;
}

/** The part of the identity admin the door calls. */
export interface DoorIdentity {
  recordAudit(record: AdminAuditRecord): Promise<void>;
  verifyPassword(name: string, password: string): Promise<Omit<Caller, "via" | "from"> | undefined>;
  verifyToken(token: string): Promise<Omit<Caller, "via" | "from"> | undefined>;
  userByClientCertificate?(thumbprint: string): Promise<Omit<Caller, "via" | "from"> | undefined>;
}

/** api.identity when it exists; else nothing is recorded and nobody logs in. */
export function identityOf(api: AdminApi): DoorIdentity {
  const id = (api as unknown as { identity?: DoorIdentity }).identity;
  if (id) return id;
  return {
    recordAudit: async () => undefined,
    verifyPassword: async () => undefined,
    verifyToken: async () => undefined,
  };
}
