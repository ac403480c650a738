// A client of the admin door over HTTP(S), as the remote command line uses
// it: bearer-token calls (InvokeCommand, CmdletInfo, Session) and the login
// that turns a password into an API token. Every state-changing request
// carries the endpoint's own Origin and Content-Type: application/json, as
// the door requires. HTTPS is verified against the system's CAs (add a
// private CA with NODE_EXTRA_CA_CERTS).
import http from "node:http";
import https from "node:https";
import { SealpostError } from "../errors/errors.js";
import type { CmdletInfo, InvokeInput, InvokeResult } from "./door-types.js";
import type { RoleGroup } from "./identity.js";

export interface DoorAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** The admin endpoint's origin (scheme://host:port) from a URL as the administrator writes it. */
export function serverOrigin(url: string): string {
  let u: URL;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(url) ? url : `https://${url}`);
  } catch {
    throw new SealpostError("INVALID_ARGUMENT", `--server '${url.slice(0, 200)}' is not a URL (https://host:port).`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new SealpostError("INVALID_ARGUMENT", `--server '${url.slice(0, 200)}': use http:// or https://.`);
  if (u.username || u.password) throw new SealpostError("INVALID_ARGUMENT", "--server: put no user name or password in the URL; log in with --user.");
  return u.origin;
}

export function request(origin: string, method: string, pathname: string, o: { body?: unknown; headers?: Record<string, string> } = {}): Promise<DoorAnswer> {
  const u = new URL(pathname, origin);
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  const headers: Record<string, string> = { accept: "application/json", ...(o.headers ?? {}) };
  if (method !== "GET") {
    headers.origin = origin;
    headers["content-type"] = "application/json";
  }
  if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  const mod = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, timeout: 120_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        if (text.length > 64 * 1024 * 1024) req.destroy(new Error("answer too large"));
      });
      res.on("end", () => {
        let parsed: unknown = text;
        try {
          parsed = text === "" ? {} : JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 120 s")));
    req.on("error", (e) => reject(new SealpostError("NOT_FOUND", `The admin endpoint ${origin} cannot be reached: ${e.message}.`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorOf(a: DoorAnswer, what: string): SealpostError {
  const e = (a.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const message = typeof e?.message === "string" ? e.message : `${what}: the admin endpoint answered ${a.status}.`;
  const code = a.status === 401 ? "UNAUTHORIZED" : e?.code === "ADMIN_LOGIN_THROTTLED" ? "ADMIN_LOGIN_THROTTLED" : e?.code === "ADMIN_LOGIN_FAILED" ? "ADMIN_LOGIN_FAILED" : "INVALID_ARGUMENT";
  return new SealpostError(code, message);
}

/** Logs in with a password and has the door issue an API token for that account; the session ends after. */
export async function loginForToken(origin: string, name: string, password: string, description: string): Promise<{ token: string; id: string; roles: RoleGroup[] }> {
  const login = await request(origin, "POST", "/adminapi/v1/Session", { body: { Name: name, Password: password } });
  if (login.status !== 200) throw errorOf(login, "login");
  const cookie = String(login.headers["set-cookie"]?.[0] ?? "").split(";")[0] ?? "";
  const { CsrfToken, RoleGroups } = login.body as { CsrfToken: string; RoleGroups: RoleGroup[] };
  const auth = { cookie, "x-csrf-token": CsrfToken };
  try {
    const t = await request(origin, "POST", "/adminapi/v1/Token", { body: { Description: description }, headers: auth });
    if (t.status !== 200) throw errorOf(t, "token");
    const { Token, Id } = t.body as { Token: string; Id: string };
    return { token: Token, id: Id, roles: RoleGroups };
  } finally {
    await request(origin, "DELETE", "/adminapi/v1/Session", { body: {}, headers: auth }).catch(() => undefined);
  }
}

/** The door with a stored API token. */
export class DoorClient {
  constructor(
    readonly origin: string,
    private readonly token: string,
  ) {}

  private auth(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  async invoke(input: InvokeInput): Promise<InvokeResult> {
    const { CmdletName, Parameters, ...flags } = input;
    const a = await request(this.origin, "POST", "/adminapi/v1/InvokeCommand", { body: { CmdletInput: { CmdletName, ...(Parameters ? { Parameters } : {}) }, ...flags }, headers: this.auth() });
    const body = a.body as { value?: unknown[]; warnings?: string[]; error?: { code: string; message: string } };
    if (a.status === 200 && Array.isArray(body.value)) return { value: body.value, ...(body.warnings ? { warnings: body.warnings } : {}) };
    if (body?.error && typeof body.error.code === "string") return { error: body.error, status: a.status };
    return { error: { code: "INTERNAL", message: `The admin endpoint answered ${a.status}.` }, status: a.status || 500 };
  }

  async cmdletInfo(): Promise<CmdletInfo[]> {
    const a = await request(this.origin, "GET", "/adminapi/v1/CmdletInfo", { headers: this.auth() });
    if (a.status !== 200) throw errorOf(a, "CmdletInfo");
    return (a.body as { value: CmdletInfo[] }).value;
  }

  async whoAmI(): Promise<{ Name: string; RoleGroups: RoleGroup[] }> {
    const a = await request(this.origin, "GET", "/adminapi/v1/Session", { headers: this.auth() });
    if (a.status !== 200) throw errorOf(a, "session");
    return a.body as { Name: string; RoleGroups: RoleGroup[] };
  }
}
