// The console's files at the admin address: which URL paths name a file of
// web/ (nothing outside it, no other type), the headers every answer
// carries (CSP without inline script, frame-ancestors 'none', nosniff), and
// the whole console's size (under 200 KB compressed, as issue 15 asks).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { CONSOLE_CSP, consoleFile, serveConsole, WEB_ROOT } from "../../../src/console/static.js";

function webFiles(dir = WEB_ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? webFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

test("consoleFile: / is index.html; scripts and styles under web/; nothing else", () => {
  assert.equal(consoleFile("/"), path.join(WEB_ROOT, "index.html"));
  assert.equal(consoleFile("/app/main.js"), path.join(WEB_ROOT, "app", "main.js"));
  assert.equal(consoleFile("/console.css"), path.join(WEB_ROOT, "console.css"));
  for (const bad of ["/../package.json", "/app/../../src/cli/main.js", "/%2e%2e/package.json", "/app/%2e%2e/%2e%2e/x.js", "/.ci/run", "/README.md", "/app/main.ts", "/app//main.js", "/app/main.js/", "/%ZZ", "/a\\..\\b.js", "/.hidden.js"]) {
    assert.equal(consoleFile(bad), undefined, bad);
  }
});

test("serveConsole answers GET and HEAD of its files with the CSP, nosniff and no framing; anything else is left to the door", async () => {
  const server = http.createServer((req, res) => {
    if (!serveConsole(req, res)) {
      res.writeHead(404);
      res.end("door");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const r = await fetch(`${base}/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(r.headers.get("content-security-policy"), CONSOLE_CSP);
    assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
    assert.match(CONSOLE_CSP, /script-src 'self'(;|$)/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.equal(r.headers.get("x-frame-options"), "DENY");
    assert.match(await r.text(), /<script type="module" src="\/app\/main.js"><\/script>/);
    const js = await fetch(`${base}/app/api.js`);
    assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    const head = await fetch(`${base}/console.css`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    for (const [method, p] of [["POST", "/"], ["GET", "/nothing.js"], ["GET", "/../package.json"], ["DELETE", "/app/main.js"]] as const) {
      const other = await fetch(`${base}${p}`, { method });
      assert.equal(other.status, 404, `${method} ${p}`);
      assert.equal(await other.text(), "door");
    }
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("the page has no inline script or style and loads nothing from another origin", () => {
  for (const f of webFiles()) {
    const text = readFileSync(f, "utf8");
    if (f.endsWith(".html")) {
      assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/, `${f}: inline script`);
      assert.doesNotMatch(text, /\sstyle=|<style/, `${f}: inline style`);
      assert.doesNotMatch(text, /\son[a-z]+=/i, `${f}: inline handler`);
    }
    assert.doesNotMatch(text, /(?:src|href|import|from)\s*=?\s*["'`]https?:\/\//, `${f}: loads from another origin`);
    assert.doesNotMatch(text, /\beval\(|new Function\(/, `${f}: eval`);
  }
});

test("the whole console is under 200 KB compressed (docs/decisions.md gives the figure)", () => {
  const files = webFiles();
  const gz = files.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0);
  assert.ok(files.length > 5);
  assert.ok(gz < 200 * 1024, `${gz} bytes compressed`);
});

test("index.html preloads every module of app/ (no import waterfall on the first load)", () => {
  const html = readFileSync(path.join(WEB_ROOT, "index.html"), "utf8");
  const named = new Set([...html.matchAll(/(?:src|href)="\/(app\/[^"]+\.js)"/g)].map((m) => m[1]));
  const modules = webFiles(path.join(WEB_ROOT, "app")).map((f) => path.relative(WEB_ROOT, f).split(path.sep).join("/"));
  assert.deepEqual(modules.filter((m) => !named.has(m)), []);
});
