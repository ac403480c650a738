// Requests to the admin door with every header under the test's control
// (Host, Origin, Cookie, X-CSRF-Token, Content-Type), over HTTP or HTTPS
// (the endpoint's own certificate accepted, as a pinned client would).
import http from "node:http";
import https from "node:https";

export interface DoorResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface DoorRequest {
  method?: string;
  headers?: Record<string, string | undefined>;
  body?: unknown;
  /** Raw body bytes instead of JSON. */
  raw?: Buffer | string;
  scheme?: "http" | "https";
  /** HTTPS: a client certificate to present (PEM). */
  clientCert?: { cert: string; key: string };
}

export function doorRequest(address: string, pathname: string, r: DoorRequest = {}): Promise<DoorResponse> {
  const [host, port] = address.startsWith("[") ? [address.slice(1, address.indexOf("]")), address.slice(address.indexOf("]") + 2)] : (address.split(":") as [string, string]);
  const body = r.raw ?? (r.body === undefined ? undefined : JSON.stringify(r.body));
  const headers: Record<string, string> = { host: address };
  for (const [k, v] of Object.entries(r.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  const mod = r.scheme === "https" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request({ host, port: Number(port), path: pathname, method: r.method ?? (body === undefined ? "GET" : "POST"), headers, ...(r.scheme === "https" ? { rejectUnauthorized: false, ...(r.clientCert ?? {}) } : {}) }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A logged-in browser-like client of one admin endpoint: cookie, CSRF token, the endpoint's Origin. */
export class DoorClient {
  cookie?: string | undefined;
  csrf?: string;

  constructor(
    readonly address: string,
    readonly scheme: "http" | "https" = "http",
  ) {}

  get origin(): string {
    return `${this.scheme}://${this.address}`;
  }

  async login(name: string, password: string): Promise<DoorResponse> {
    const r = await doorRequest(this.address, "/adminapi/v1/Session", { scheme: this.scheme, body: { Name: name, Password: password }, headers: { origin: this.origin, "content-type": "application/json" } });
    if (r.status === 200) {
      this.cookie = String(r.headers["set-cookie"]?.[0] ?? "").split(";")[0];
      this.csrf = r.json().CsrfToken as string;
    }
    return r;
  }

  /** InvokeCommand with the session; `omit` leaves out a header, `headers` replaces one. */
  invoke(cmdlet: string, parameters: Record<string, unknown> = {}, o: { omit?: Array<"cookie" | "csrf" | "origin" | "content-type">; headers?: Record<string, string>; extra?: Record<string, unknown> } = {}): Promise<DoorResponse> {
    const omit = new Set(o.omit ?? []);
    return doorRequest(this.address, "/adminapi/v1/InvokeCommand", {
      scheme: this.scheme,
      body: { CmdletInput: { CmdletName: cmdlet, Parameters: parameters }, ...(o.extra ?? {}) },
      headers: {
        ...(omit.has("origin") ? {} : { origin: this.origin }),
        ...(omit.has("content-type") ? {} : { "content-type": "application/json" }),
        ...(omit.has("cookie") || !this.cookie ? {} : { cookie: this.cookie }),
        ...(omit.has("csrf") || !this.csrf ? {} : { "x-csrf-token": this.csrf }),
        ...(o.headers ?? {}),
      },
    });
  }

  get(pathname: string): Promise<DoorResponse> {
    return doorRequest(this.address, pathname, { scheme: this.scheme, headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...(this.csrf ? { "x-csrf-token": this.csrf } : {}) } });
  }
}

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../../src/admin/api.js";
import { localOperator } from "../../src/adminapi/accounts.js";
import { startAdminHttp, type AdminHttp, type AdminHttpOptions } from "../../src/adminapi/http.js";
import type { RoleGroup } from "../../src/adminapi/identity.js";

export interface InProcessDoor {
  api: AdminApi;
  door: AdminHttp;
  dir: string;
  /** The door's clock (ms); tests move it. */
  clock: { now: number };
  addUser(name: string, role: RoleGroup, password: string): Promise<void>;
  close(): Promise<void>;
}

/** A real data folder and the door's HTTP server in this process, on 127.0.0.1 (port chosen by the system). */
export async function startDoor(opts: Omit<AdminHttpOptions, "now"> = {}): Promise<InProcessDoor> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-door-"));
  const api = await AdminApi.openWithDefaults(path.join(dir, "data"));
  const clock = { now: Date.now() };
  const door = await startAdminHttp(api, { host: "127.0.0.1", port: 0 }, { ...opts, now: () => clock.now });
  return {
    api,
    door,
    dir,
    clock,
    addUser: async (name, role, password) => {
      await api.identity.createUser({ name, roleGroups: [role], password }, localOperator());
    },
    close: async () => {
      await door.close();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
