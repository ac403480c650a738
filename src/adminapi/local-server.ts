// The running server of a data folder, as local tools find it: the admin
// endpoint's address (DIR/admin.address: "ip:port", or "https://ip:port"
// and the SHA-256 of its certificate, which a local caller pins) and the
// first-start token (DIR/admin.token, mode 0600) bound to the built-in
// local administrator. No part of the door's HTTP server is imported here.
import { createHash, timingSafeEqual, type X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { writeFileDurable } from "../config/datadir.js";
import { SealpostError } from "../errors/errors.js";

export const ADMIN_TOKEN_FILE = "admin.token";
export const ADMIN_ADDRESS_FILE = "admin.address";

/** Timing-safe comparison of two secrets of any length (their SHA-256 digests are compared). */
export function secretEquals(expected: string, given: string): boolean {
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b);
}

export interface RunningAddress {
  scheme: "http" | "https";
  /** ip:port or [v6]:port */
  hostPort: string;
  /** HTTPS: SHA-256 fingerprint of the endpoint's certificate (hex, upper case). */
  fingerprint?: string;
}

export function writeAddressFile(dataDir: string, a: RunningAddress): string {
  const file = path.join(dataDir, ADMIN_ADDRESS_FILE);
  writeFileDurable(file, a.scheme === "http" ? `${a.hostPort}\n` : `https://${a.hostPort}\nsha256=${a.fingerprint ?? ""}\n`, 0o600);
  return file;
}

export function readAddressFile(dataDir: string): RunningAddress | undefined {
  const file = path.join(dataDir, ADMIN_ADDRESS_FILE);
  if (!existsSync(file)) return undefined;
  const [first = "", second = ""] = readFileSync(file, "utf8").split("\n");
  if (first.startsWith("https://")) return { scheme: "https", hostPort: first.slice(8).trim(), fingerprint: second.replace(/^sha256=/, "").trim() };
  return { scheme: "http", hostPort: first.trim() };
}

function getPinned(a: RunningAddress, pathname: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(`https://${a.hostPort}${pathname}`);
    const req = https.request(
      { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port, path: url.pathname, method: "GET", headers: { authorization: `Bearer ${token}`, host: a.hostPort }, rejectUnauthorized: false },
      (res) => {
        // The certificate is this server's own: pinned by the fingerprint it wrote, not checked against a CA.
        const peer = (res.socket as import("node:tls").TLSSocket).getPeerX509Certificate?.() as X509Certificate | undefined;
        const fp = peer?.fingerprint256.replace(/:/g, "").toUpperCase();
        if (!fp || fp !== a.fingerprint?.toUpperCase()) {
          res.destroy();
          return reject(new SealpostError("IO_ERROR", `The admin endpoint at ${a.hostPort} does not present the certificate its data folder names.`));
        }
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Calls the running server's admin endpoint with the token from its data folder. */
export async function callRunningServer(dataDir: string, pathname: string): Promise<string> {
  const address = readAddressFile(dataDir);
  const tokenFile = path.join(dataDir, ADMIN_TOKEN_FILE);
  if (!address || !existsSync(tokenFile)) {
    throw new SealpostError("NOT_FOUND", `The server of ${dataDir} is not running (start it with: sealpost --data ${dataDir} serve).`);
  }
  const token = readFileSync(tokenFile, "utf8").trim();
  let status: number;
  let body: string;
  try {
    if (address.scheme === "https") ({ status, body } = await getPinned(address, pathname, token));
    else {
      const res = await fetch(`http://${address.hostPort}${pathname}`, { headers: { authorization: `Bearer ${token}` } });
      status = res.status;
      body = await res.text();
    }
  } catch (e) {
    if (e instanceof SealpostError) throw e;
    throw new SealpostError("NOT_FOUND", `The server of ${dataDir} does not answer at ${address.hostPort}; is it running?`);
  }
  if (status < 200 || status > 299) throw new SealpostError("IO_ERROR", `The admin endpoint answered ${status} for ${pathname}.`);
  return body;
}
