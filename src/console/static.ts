// The console's files (web/ in the package) served at the admin address:
// "/" is the console's one page, the scripts and the style sheet beside it.
// No authentication here (the login form is part of the page); every call
// the page makes goes to the door's routes, which check the session, the
// CSRF token and the role. Nothing is loaded from outside the package.
import { readFileSync, statSync } from "node:fs";
import type http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** web/ of the package, from dist/src/console/. */
export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../web");

/**
 * The page's policy: scripts and styles only from the console's own origin
 * (no inline script, no eval), connections only back to it, no framing.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** The file under web/ that a URL path names, or undefined (unknown type, a dot-file, outside web/). */
export function consoleFile(pathname: string, root = WEB_ROOT): string | undefined {
  let p: string;
  try {
    p = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (p === "/" || p === "/index.html") return path.join(root, "index.html");
  if (!/^\/(?:[A-Za-z0-9_-]+\/)*[A-Za-z0-9_-]+\.(?:js|css|svg)$/.test(p)) return undefined;
  const file = path.resolve(root, `.${p}`);
  if (!file.startsWith(root + path.sep)) return undefined;
  return file;
}

/**
 * Answers a GET or HEAD for one of the console's files; returns false (and
 * writes nothing) for any other request, which the door then answers (404).
 */
export function serveConsole(req: http.IncomingMessage, res: http.ServerResponse, root = WEB_ROOT): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const url = new URL(req.url ?? "/", "http://console.invalid");
  const file = consoleFile(url.pathname, root);
  if (!file) return false;
  let body: Buffer;
  try {
    if (!statSync(file).isFile()) return false;
    body = readFileSync(file);
  } catch {
    return false;
  }
  res.writeHead(200, {
    "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
    "content-length": String(body.length),
    "content-security-policy": CONSOLE_CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
  });
  res.end(req.method === "HEAD" ? undefined : body);
  return true;
}
