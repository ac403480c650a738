// The admin door over HTTP(S): InvokeCommand (every cmdlet of the table, as
// Exchange Online's admin API carries them), CmdletInfo (what the caller may
// run, described), Session (login with a password: an HttpOnly SameSite
// cookie and a CSRF token), Token (an API token for oneself, for the remote
// command line), /health (no authentication, nothing secret) and /metrics.
//
// The web console's files (web/, src/console/static.ts) are served for any
// other GET, without authentication (the login page is one of them).
//
// Every request: the Host header must be the endpoint's own address or a
// configured name (DNS rebinding). Every state-changing request (POST, PUT,
// PATCH, DELETE, login included): an Origin equal to the endpoint's own
// origin and Content-Type: application/json; a body of at most 1 MiB.
// Authentication: Authorization: Bearer <token> (an account's API token, or
// the first-start token DIR/admin.token of the built-in local-admin), the
// session cookie with an X-CSRF-Token header equal to the session's token,
// or (HTTPS) a client certificate pinned to an account. Failed logins are
// rate-limited per address and per user name and recorded in the audit log.
// Sessions live in this process's memory (the primary's).
import { randomBytes, X509Certificate } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import { rmSync } from "node:fs";
import type { TLSSocket } from "node:tls";
import type { AdminApi } from "../admin/api.js";
import { serveConsole } from "../console/static.js";
import { ERROR_CODES, errorMessage, isSealpostError } from "../errors/errors.js";
import { allCmdlets } from "../shell/cmdlets/index.js";
import type { CmdletDef } from "../shell/types.js";
import { isLoopbackAddress, type AdminAddress } from "./binding.js";
import { describeCmdlets } from "./cmdlet-info.js";
import { ensureLocalAdminToken, type IdentityAdmin } from "./accounts.js";
import type { AuditResult, Caller, RoleGroup } from "./identity.js";
import { invokeCommand } from "./invoke.js";
import { secretEquals, writeAddressFile } from "./local-server.js";
import { mayRun } from "./roles.js";

export const API_PREFIX = "/adminapi/v1";
/** The largest request body accepted (413 beyond). */
export const BODY_CAP = 1024 * 1024;
export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSION_ABSOLUTE_MS = 8 * 3600_000;
const MAX_SESSIONS = 1000;
/** Failed logins allowed per address and per user name in LOGIN_WINDOW_MS. */
export const LOGIN_FAILURES = 5;
export const LOGIN_WINDOW_MS = 5 * 60_000;
export const SESSION_COOKIE = "sealpost_session";
const LOCAL_ADMIN = "local-admin";

export interface AdminHttpOptions {
  /** Prometheus exposition of the server's counters (all workers). */
  metrics?: () => Promise<string>;
  /** HTTPS: the certificate chain and key (PEM). Without it, plain HTTP (loopback only; see binding.ts). */
  tls?: { key: string; cert: string };
  /** Names besides the address that the Host header may carry (serve --admin-host). */
  hostNames?: string[];
  /** The cmdlet table (default: the shell's). */
  table?: CmdletDef[];
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
  /** Where failures' details go (never to the caller). */
  log?: (message: string) => void;
}

export interface AdminHttp {
  /** ip:port (or [v6]:port) */
  address: string;
  port: number;
  scheme: "http" | "https";
  /** scheme://address: the console's own origin. */
  origin: string;
  tokenFile: string;
  /** Set only when the token was created by this start (it is in tokenFile; serve no longer prints it). */
  newToken?: string;
  close(): Promise<void>;
}

interface Session {
  id: string;
  csrf: string;
  name: string;
  roles: RoleGroup[];
  created: number;
  lastSeen: number;
}

type Identified = Omit<Caller, "via" | "from">;

class DoorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Failed logins per key (an address, a user name) within the window. */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly now: () => number,
    private readonly limit = LOGIN_FAILURES,
    private readonly windowMs = LOGIN_WINDOW_MS,
  ) {}

  private recent(key: string): number[] {
    const t = this.now();
    const list = (this.failures.get(key) ?? []).filter((x) => t - x < this.windowMs);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Seconds to wait before another attempt for any of these keys (0: go ahead). */
  retryAfter(keys: string[]): number {
    let wait = 0;
    for (const k of keys) {
      const list = this.recent(k);
      if (list.length >= this.limit) wait = Math.max(wait, Math.ceil(((list[list.length - this.limit] as number) + this.windowMs - this.now()) / 1000));
    }
    return wait;
  }

  fail(keys: string[]): void {
    if (this.failures.size > 10_000) for (const k of [...this.failures.keys()]) this.recent(k);
    for (const k of keys) this.failures.set(k, [...this.recent(k), this.now()]);
  }

  clear(key: string): void {
    this.failures.delete(key);
  }
}

function hostForm(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

function isJson(req: http.IncomingMessage): boolean {
  const ct = (req.headers["content-type"] ?? "").toLowerCase().split(";")[0]?.trim();
  return ct === "application/json";
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > BODY_CAP) return reject(new DoorError(413, "ADMIN_BODY_TOO_LARGE", `The request body is larger than ${BODY_CAP} bytes; send files of at most 512 KiB as FileData.`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > BODY_CAP) {
        req.removeAllListeners("data");
        req.pause();
        reject(new DoorError(413, "ADMIN_BODY_TOO_LARGE", `The request body is larger than ${BODY_CAP} bytes; send files of at most 512 KiB as FileData.`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseJsonBody(buf: Buffer): Record<string, unknown> {
  if (buf.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(buf.toString("utf8"));
  } catch {
    throw new DoorError(400, "INVALID_ARGUMENT", "The request body is not valid JSON.");
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new DoorError(400, "INVALID_ARGUMENT", "The request body must be a JSON object.");
  return v as Record<string, unknown>;
}

/** Result objects as JSON: dates as ISO text, key material (Buffers) left out. */
function replacer(_k: string, v: unknown): unknown {
  if (v && typeof v === "object" && (v as { type?: string }).type === "Buffer" && Array.isArray((v as { data?: unknown }).data)) return undefined;
  if (typeof v === "bigint") return v.toString();
  return v;
}

/** The SHA-1 thumbprint (Exchange's) of the client certificate of an HTTPS request, if one was presented. */
function clientThumbprint(req: http.IncomingMessage): string | undefined {
  const sock = req.socket as TLSSocket;
  if (typeof sock.getPeerX509Certificate !== "function") return undefined;
  const cert = sock.getPeerX509Certificate() as X509Certificate | undefined;
  return cert ? cert.fingerprint.replace(/:/g, "").toUpperCase() : undefined;
}

export async function startAdminHttp(api: AdminApi, bind: AdminAddress, opts: AdminHttpOptions = {}): Promise<AdminHttp> {
  const dataDir = api.ctx.dir.root;
  const { token: localToken, created, file: tokenFile } = ensureLocalAdminToken(dataDir);
  const table = opts.table ?? allCmdlets();
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => undefined);
  const identity: IdentityAdmin = api.identity;
  const scheme: "http" | "https" = opts.tls ? "https" : "http";
  if (!opts.tls && !isLoopbackAddress(bind.host)) throw new Error(`plain HTTP off loopback (${bind.host}) is refused by the binding rule`);
  const sessions = new Map<string, Session>();
  const limiter = new LoginLimiter(now);
  const allowedHosts = new Set<string>();
  const allowedOrigins = new Set<string>();

  const audit = async (caller: { name: string; from: string }, cmdlet: string, result: AuditResult, error?: string): Promise<void> => {
    try {
      await identity.recordAudit({ at: new Date(now()), user: caller.name, from: caller.from, via: "http", cmdlet, parameters: {}, result, ...(error ? { error } : {}) });
    } catch (e) {
      log(`admin door: an audit record could not be written: ${errorMessage(e)}`);
    }
  };

  const liveSession = (id: string | undefined): Session | undefined => {
    if (!id) return undefined;
    const s = sessions.get(id);
    if (!s) return undefined;
    const t = now();
    if (t - s.lastSeen > SESSION_IDLE_MS || t - s.created > SESSION_ABSOLUTE_MS) {
      sessions.delete(id);
      return undefined;
    }
    return s;
  };

  const newSession = (who: Identified): Session => {
    const t = now();
    for (const [id] of sessions) liveSession(id);
    if (sessions.size >= MAX_SESSIONS) {
      const oldest = [...sessions.values()].sort((a, b) => a.lastSeen - b.lastSeen)[0];
      if (oldest) sessions.delete(oldest.id);
    }
    const s: Session = { id: randomBytes(32).toString("base64url"), csrf: randomBytes(32).toString("base64url"), name: who.name, roles: who.roles, created: t, lastSeen: t };
    sessions.set(s.id, s);
    return s;
  };

  const cookie = (value: string, maxAgeSeconds?: number): string =>
    `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/${scheme === "https" ? "; Secure" : ""}${maxAgeSeconds !== undefined ? `; Max-Age=${maxAgeSeconds}` : ""}`;

  /** Who is calling: bearer token, session cookie (CSRF checked unless exempt), or a pinned client certificate. */
  const authenticate = async (req: http.IncomingMessage, from: string, csrfExempt: boolean, what: string): Promise<{ caller: Caller; session?: Session }> => {
    const authz = req.headers.authorization;
    if (authz !== undefined) {
      const m = /^Bearer\s+(\S{1,512})$/i.exec(authz);
      if (!m) throw new DoorError(401, "UNAUTHORIZED", "Authorization must be: Bearer <token>.");
      const given = m[1] as string;
      // The first-start token of the built-in local-admin (verifyToken knows it too; this start's copy is compared first).
      if (secretEquals(localToken, given)) return { caller: { name: LOCAL_ADMIN, roles: ["Organization Management"], via: "http", from, authenticatedBy: "token" } };
      const who = await identity.verifyToken(given);
      if (!who) throw new DoorError(401, "UNAUTHORIZED", "The bearer token is not valid (unknown, expired or removed).");
      return { caller: { ...who, via: "http", from, authenticatedBy: "token" } };
    }
    const sid = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (sid !== undefined) {
      const s = liveSession(sid);
      if (!s) throw new DoorError(401, "UNAUTHORIZED", "The session has ended (logged out or expired); log in again.");
      if (!csrfExempt) {
        const given = req.headers["x-csrf-token"];
        if (typeof given !== "string" || !secretEquals(s.csrf, given)) {
          // A forged request in someone's session: the auditor sees it, refused.
          await audit({ name: s.name, from }, what, "Invalid", "ADMIN_CSRF_REFUSED");
          throw new DoorError(403, "ADMIN_CSRF_REFUSED", "A request with the session cookie must carry the session's X-CSRF-Token header.");
        }
      }
      // The account as it is now: disabled or removed ends the session, changed roles apply at once.
      const account = await identity.listUsers(s.name).then(
        (l) => l[0],
        () => undefined,
      );
      if (!account || !account.Enabled) {
        sessions.delete(s.id);
        throw new DoorError(401, "UNAUTHORIZED", "The session's account is disabled or removed.");
      }
      s.roles = account.RoleGroups;
      s.lastSeen = now();
      return { caller: { name: s.name, roles: s.roles, via: "http", from, authenticatedBy: "password" }, session: s };
    }
    const thumb = scheme === "https" ? clientThumbprint(req) : undefined;
    if (thumb) {
      const who = await identity.userByClientCertificate(thumb);
      if (who) return { caller: { ...who, via: "http", from, authenticatedBy: "client-certificate" } };
    }
    throw new DoorError(401, "UNAUTHORIZED", "Log in (POST /adminapi/v1/Session) or send Authorization: Bearer <token>.");
  };

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent) return;
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "x-content-type-options": "nosniff", ...headers });
    res.end(`${JSON.stringify(body, replacer)}\n`);
  };

  const login = async (res: http.ServerResponse, req: http.IncomingMessage, body: Record<string, unknown>, from: string): Promise<void> => {
    const name = body.Name;
    const password = body.Password;
    if (typeof name !== "string" || name === "" || name.length > 200 || typeof password !== "string" || password.length > 1024) {
      throw new DoorError(400, "INVALID_ARGUMENT", 'Log in with {"Name": "...", "Password": "..."}.');
    }
    const keys = [`ip:${from}`, `user:${name.toLowerCase()}`];
    const wait = limiter.retryAfter(keys);
    if (wait > 0) {
      await audit({ name, from }, "Session", "LoginFailed", "ADMIN_LOGIN_THROTTLED");
      throw new DoorError(429, "ADMIN_LOGIN_THROTTLED", `Too many failed logins; try again in ${wait} s.`, { "retry-after": String(wait) });
    }
    const who = await identity.verifyPassword(name, password);
    if (!who) {
      limiter.fail(keys);
      await audit({ name, from }, "Session", "LoginFailed", "ADMIN_LOGIN_FAILED");
      throw new DoorError(401, "ADMIN_LOGIN_FAILED", "The user name or password is wrong, or the account is disabled.");
    }
    limiter.clear(keys[1] as string);
    // A new session id at every login (the old one, if any, ends).
    const old = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (old) sessions.delete(old);
    const s = newSession(who);
    await audit({ name: who.name, from }, "Session", "Succeeded");
    send(res, 200, { Name: s.name, RoleGroups: s.roles, CsrfToken: s.csrf }, { "set-cookie": cookie(s.id) });
  };

  const issueToken = async (res: http.ServerResponse, caller: Caller, body: Record<string, unknown>): Promise<void> => {
    const description = typeof body.Description === "string" ? body.Description.slice(0, 200) : "sealpost login";
    // A token for oneself (after a password or certificate login) carries one's own roles; a token cannot mint tokens.
    try {
      const t = await identity.createToken(caller.name, { description }, caller);
      await audit(caller, "New-AdminToken", "Succeeded");
      send(res, 200, t);
    } catch (e) {
      if (isSealpostError(e)) {
        await audit(caller, "New-AdminToken", e.code === "ROLE_REQUIRED" ? "RefusedByRole" : "Invalid", e.code);
        throw new DoorError(e.code === "ROLE_REQUIRED" ? 403 : 400, e.code, e.message);
      }
      throw e;
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const from = req.socket.remoteAddress ?? "unknown";
    const method = req.method ?? "GET";
    const host = (req.headers.host ?? "").toLowerCase();
    if (!allowedHosts.has(host)) throw new DoorError(421, "ADMIN_HOST_REFUSED", "The Host header names neither this admin endpoint's address nor a configured admin host name.");
    const url = new URL(req.url ?? "/", "http://admin.invalid");
    if (method === "GET" && url.pathname === "/health") return send(res, 200, { status: "ok", server: api.serverName });
    // The web console's own files (its login page among them): no authentication, behind the Host check.
    if ((method === "GET" || method === "HEAD") && !url.pathname.startsWith(`${API_PREFIX}/`) && url.pathname !== "/metrics" && serveConsole(req, res)) return;
    const changing = method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE";
    let body: Record<string, unknown> = {};
    if (changing) {
      const origin = (req.headers.origin ?? "").toLowerCase();
      if (!allowedOrigins.has(origin)) throw new DoorError(403, "ADMIN_ORIGIN_REFUSED", "A state-changing request must carry the admin endpoint's own Origin.");
      if (!isJson(req)) throw new DoorError(415, "ADMIN_CONTENT_TYPE", "A state-changing request must be Content-Type: application/json.");
      body = parseJsonBody(await readBody(req));
    }
    const route = `${method} ${url.pathname}`;
    if (route === `POST ${API_PREFIX}/Session`) return login(res, req, body, from);
    const ci = body.CmdletInput as { CmdletName?: unknown } | undefined;
    const what = typeof ci?.CmdletName === "string" ? ci.CmdletName.slice(0, 100) : url.pathname.slice(0, 100);
    const { caller, session } = await authenticate(req, from, route === `GET ${API_PREFIX}/Session`, what);
    switch (route) {
      case `GET ${API_PREFIX}/Session`:
        return send(res, 200, { Name: caller.name, RoleGroups: caller.roles, AuthenticatedBy: caller.authenticatedBy, ...(session ? { CsrfToken: session.csrf } : {}) });
      case `DELETE ${API_PREFIX}/Session`:
        if (session) sessions.delete(session.id);
        return send(res, 200, {}, { "set-cookie": cookie("", 0) });
      case `POST ${API_PREFIX}/Token`:
        return issueToken(res, caller, body);
      case `GET ${API_PREFIX}/CmdletInfo`:
        return send(res, 200, { value: describeCmdlets(table, caller.roles) });
      case `POST ${API_PREFIX}/InvokeCommand`: {
        const input = body.CmdletInput;
        if (input === null || typeof input !== "object" || Array.isArray(input)) {
          throw new DoorError(400, "INVALID_ARGUMENT", 'The body must be {"CmdletInput": {"CmdletName": "...", "Parameters": {...}}}.');
        }
        const ci = input as Record<string, unknown>;
        const r = await invokeCommand(
          table,
          api,
          caller,
          {
            CmdletName: ci.CmdletName as string,
            ...(ci.Parameters !== undefined ? { Parameters: ci.Parameters as Record<string, unknown> } : {}),
            ...(body.Confirm !== undefined ? { Confirm: body.Confirm as boolean } : {}),
            ...(body.Force !== undefined ? { Force: body.Force as boolean } : {}),
            ...(body.WhatIf !== undefined ? { WhatIf: body.WhatIf as boolean } : {}),
          },
          { remote: true, log },
        );
        if ("error" in r) return send(res, r.status, { error: r.error });
        return send(res, 200, r);
      }
      case "GET /metrics": {
        if (!opts.metrics) break;
        const allowed = mayRun(caller.roles, "Get-Counter");
        if (!allowed.ok) throw new DoorError(403, "ROLE_REQUIRED", `The counters need the role group "${allowed.needed}".`);
        const text = await opts.metrics();
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4", "cache-control": "no-store" });
        res.end(text);
        return;
      }
    }
    throw new DoorError(404, "NOT_FOUND", `No endpoint ${method} ${url.pathname.slice(0, 200)}.`);
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((e: unknown) => {
      if (e instanceof DoorError) {
        // After a refused body the connection is not reused: the rest of it is never read.
        send(res, e.status, { error: { code: e.code, message: e.message } }, e.status === 413 ? { ...e.headers, connection: "close" } : e.headers);
        return;
      }
      log(`admin door: ${req.method ?? ""} ${req.url ?? ""}: ${e instanceof Error ? (e.stack ?? e.message) : errorMessage(e)}`);
      send(res, 500, { error: { code: "INTERNAL", message: ERROR_CODES.INTERNAL } });
    });
  };

  const server: http.Server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert, requestCert: true, rejectUnauthorized: false }, onRequest) : http.createServer(onRequest);
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(bind.port, bind.host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  const address = hostForm(addr.address, addr.port);
  const defaultPort = scheme === "https" ? 443 : 80;
  for (const h of [address, ...(opts.hostNames ?? []).map((n) => `${n.toLowerCase()}:${addr.port}`)]) {
    allowedHosts.add(h.toLowerCase());
    if (addr.port === defaultPort) allowedHosts.add(h.toLowerCase().replace(/:\d+$/, ""));
  }
  for (const h of allowedHosts) allowedOrigins.add(`${scheme}://${h}`);
  let fingerprint: string | undefined;
  if (opts.tls) fingerprint = new X509Certificate(opts.tls.cert).fingerprint256.replace(/:/g, "").toUpperCase();
  // Local tools (Get-Counter, sealpost counters) find the running server here.
  const addressFile = writeAddressFile(dataDir, { scheme, hostPort: address, ...(fingerprint ? { fingerprint } : {}) });
  return {
    address,
    port: addr.port,
    scheme,
    origin: `${scheme}://${address}`,
    tokenFile,
    ...(created ? { newToken: localToken } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        rmSync(addressFile, { force: true });
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
