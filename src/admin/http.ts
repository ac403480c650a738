// The admin API over HTTP lives in src/adminapi/ (the admin door): http.ts
// serves it, binding.ts decides where it may listen, local-server.ts is how
// local tools find the running server. This file keeps the names its
// callers import.
import { SealpostError } from "../errors/errors.js";
import { adminBinding, isLoopbackAddress, parseAdminAddress, type AdminAddress } from "../adminapi/binding.js";

export { startAdminHttp, type AdminHttp, type AdminHttpOptions } from "../adminapi/http.js";
export { callRunningServer } from "../adminapi/local-server.js";

export type LoopbackAddress = AdminAddress;

export function isLoopback(host: string): boolean {
  return isLoopbackAddress(host);
}

/** Parses "IP:PORT" or "[v6]:PORT", refusing any address outside loopback (plain HTTP). */
export function parseLoopbackAddress(text: string): LoopbackAddress {
  const a = parseAdminAddress(text);
  if ("refused" in a) throw new SealpostError("INVALID_ARGUMENT", a.reason);
  const d = adminBinding(a);
  if ("refused" in d) throw new SealpostError("ADMIN_HTTPS_REQUIRED", d.reason);
  return a;
}
