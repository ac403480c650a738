// The admin API over HTTP, bound to loopback only and authenticated with a
// bearer token (DIR/admin.token, mode 0600, created at first start and
// printed once). /health needs no token and tells nothing secret.
import { randomBytes, timingSafeEqual, createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { writeFileDurable } from "../config/datadir.js";
import { SealpostError, errorMessage, isSealpostError } from "../errors/errors.js";
import type { AdminApi } from "./api.js";

export interface LoopbackAddress {
  host: string;
  port: number;
}

export function isLoopback(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith("127.");
  if (net.isIPv6(host)) return host === "::1" || /^::ffff:127\./i.test(host);
  return false;
}

/** Parses "IP:PORT" or "[v6]:PORT", refusing any address outside loopback. */
export function parseLoopbackAddress(text: string): LoopbackAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new SealpostError("INVALID_ARGUMENT", `'${text}' is not an address of the form IP:PORT.`);
  const host = m[1] as string;
  const port = Number(m[2]);
  if (!isLoopback(host)) throw new SealpostError("INVALID_ARGUMENT", `The admin endpoint must listen on loopback (127.0.0.0/8 or ::1), not ${host}.`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SealpostError("INVALID_ARGUMENT", `'${m[2] ?? ""}' is not a port number.`);
  return { host, port };
}

export interface AdminHttp {
  address: string;
  port: number;
  tokenFile: string;
  /** Set only when the token was created by this start. */
  newToken?: string;
  close(): Promise<void>;
}

function loadOrCreateToken(dataDir: string): { token: string; created: boolean; file: string } {
  const file = path.join(dataDir, "admin.token");
  if (existsSync(file)) return { token: readFileSync(file, "utf8").trim(), created: false, file };
  const token = randomBytes(32).toString("base64url");
  writeFileDurable(file, `${token}\n`, 0o600);
  return { token, created: true, file };
}

function tokenMatches(expected: string, header: string | undefined): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  if (!m) return false;
  // Compare digests so the comparison time does not depend on the length.
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(m[1] as string).digest();
  return timingSafeEqual(a, b);
}

export interface AdminHttpOptions {
  /** Prometheus exposition of the server's counters (all workers). */
  metrics?: () => Promise<string>;
}

export async function startAdminHttp(api: AdminApi, bind: LoopbackAddress, opts: AdminHttpOptions = {}): Promise<AdminHttp> {
  const { token, created, file } = loadOrCreateToken(api.ctx.dir.root);
  const routes: Record<string, () => Promise<unknown>> = {
    "/api/certificates": () => api.certificates.getCertificates(),
    "/api/trusted-roots": () => api.trust.list("root"),
    "/api/intermediates": () => api.trust.list("intermediate"),
  };
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const url = new URL(req.url ?? "/", "http://admin.invalid");
    if (req.method === "GET" && url.pathname === "/health") return send(200, { status: "ok", server: api.serverName });
    if (!tokenMatches(token, req.headers.authorization)) return send(401, { error: { code: "UNAUTHORIZED", message: "A valid bearer token is required." } });
    if (req.method === "GET" && url.pathname === "/metrics" && opts.metrics) {
      opts.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4", "cache-control": "no-store" });
          res.end(text);
        },
        () => send(500, { error: { code: "INTERNAL", message: "The counters could not be collected." } }),
      );
      return;
    }
    const route = req.method === "GET" ? routes[url.pathname] : undefined;
    if (!route) return send(404, { error: { code: "NOT_FOUND", message: `No endpoint ${req.method ?? ""} ${url.pathname}.` } });
    route().then(
      (body) => send(200, body),
      (e: unknown) => send(isSealpostError(e) ? 400 : 500, { error: isSealpostError(e) ? e.toJSON() : { code: "INTERNAL", message: errorMessage(e) } }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(bind.port, bind.host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  const address = `${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;
  // Local tools (Get-Counter, sealpost counters) find the running server here.
  const addressFile = path.join(api.ctx.dir.root, "admin.address");
  writeFileDurable(addressFile, `${address}\n`, 0o600);
  return {
    address,
    port: addr.port,
    tokenFile: file,
    ...(created ? { newToken: token } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        rmSync(addressFile, { force: true });
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Calls the running server's admin endpoint with the token from its data folder. */
export async function callRunningServer(dataDir: string, pathname: string): Promise<string> {
  const addressFile = path.join(dataDir, "admin.address");
  const tokenFile = path.join(dataDir, "admin.token");
  if (!existsSync(addressFile) || !existsSync(tokenFile)) {
    throw new SealpostError("NOT_FOUND", `The server of ${dataDir} is not running (start it with: sealpost --data ${dataDir} serve).`);
  }
  const address = readFileSync(addressFile, "utf8").trim();
  const token = readFileSync(tokenFile, "utf8").trim();
  let res: Response;
  try {
    res = await fetch(`http://${address}${pathname}`, { headers: { authorization: `Bearer ${token}` } });
  } catch {
    throw new SealpostError("NOT_FOUND", `The server of ${dataDir} does not answer at ${address}; is it running?`);
  }
  if (!res.ok) throw new SealpostError("IO_ERROR", `The admin endpoint answered ${res.status} for ${pathname}.`);
  return res.text();
}
