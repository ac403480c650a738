// httpFetcher against a Node http server on 127.0.0.1 (loopback only): schemes,
// redirects, size and time limits, HTTP errors. The outbound fetch policy
// refuses loopback by default (fetch-policy.test.ts tests that), so this
// fetcher allows 127.0.0.0/8 on any port explicitly.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { FetchError, httpFetcher } from "../../../src/pki/trust/fetch.js";

type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;

let server: http.Server;
let base: string;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
// Loopback only, any port (the server's is random).
const fetch = httpFetcher({ policy: { allowedRanges: ["127.0.0.0/8"], allowedPorts: ["1-65535"] } });
const opts = { maxBytes: 1000, timeoutMs: 2000 };

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const p = (req.url ?? "/").split("?")[0] as string;
      hits.set(p, (hits.get(p) ?? 0) + 1);
      const h = routes.get(p);
      if (h) h(req, Buffer.concat(chunks), res);
      else {
        res.statusCode = 404;
        res.end("no such route");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  routes.set("/ok", (_q, _b, res) => res.end("hello"));
  routes.set("/echo", (req, body, res) => {
    res.setHeader("x-method", req.method ?? "");
    res.end(Buffer.concat([Buffer.from(`${req.method} ${req.headers["content-type"] ?? "-"} `), body]));
  });
  const redirect = (to: string, status = 302): Handler => (_q, _b, res) => {
    res.statusCode = status;
    res.setHeader("location", to);
    res.end();
  };
  routes.set("/r1", redirect("/r2"));
  routes.set("/r2", redirect(`${"/r3"}`));
  routes.set("/r3", redirect("/ok"));
  routes.set("/r0", redirect("/r1"));
  routes.set("/to-file", redirect("file:///etc/passwd"));
  routes.set("/to-https", redirect("https://127.0.0.1:1/x"));
  routes.set("/to-ldap", redirect("ldap://127.0.0.1/cn=x"));
  routes.set("/post307", redirect("/echo", 307));
  routes.set("/post303", redirect("/echo", 303));
  routes.set("/big-declared", (_q, _b, res) => {
    res.setHeader("content-length", "5000");
    res.end(Buffer.alloc(5000, 1));
  });
  routes.set("/big-chunked", (_q, _b, res) => {
    // No Content-Length: the limit must bite while streaming.
    let sent = 0;
    const push = () => {
      if (sent >= 20) return res.end();
      sent++;
      res.write(Buffer.alloc(100, 2), push);
    };
    push();
  });
  routes.set("/exact", (_q, _b, res) => res.end(Buffer.alloc(1000, 3)));
  routes.set("/slow", () => {
    // never answers
  });
  routes.set("/500", (_q, _b, res) => {
    res.statusCode = 500;
    res.end("boom");
  });
});

after(() => {
  server.closeAllConnections();
  server.close();
});

describe("httpFetcher", () => {
  test("fetches a body over http:", async () => {
    assert.equal((await fetch(`${base}/ok`, opts)).toString(), "hello");
  });

  test("POSTs a body with its content type", async () => {
    const out = await fetch(`${base}/echo`, { ...opts, method: "POST", body: Buffer.from("REQ"), contentType: "application/ocsp-request" });
    assert.equal(out.toString(), "POST application/ocsp-request REQ");
  });

  test("refuses non-http: URLs without connecting", async () => {
    for (const url of ["https://127.0.0.1/crl", "ldap://127.0.0.1/cn=x", "file:///etc/passwd", "ftp://127.0.0.1/x"]) {
      await assert.rejects(fetch(url, opts), (e: unknown) => {
        assert.ok(e instanceof FetchError);
        assert.match(e.message, /only http: URLs are fetched/);
        return true;
      });
    }
    await assert.rejects(fetch("not a url", opts), /not a valid URL/);
  });

  test("follows up to 3 redirects, refuses a fourth", async () => {
    hits.clear();
    assert.equal((await fetch(`${base}/r1`, opts)).toString(), "hello");
    assert.equal(hits.get("/ok"), 1);
    await assert.rejects(fetch(`${base}/r0`, opts), /redirected more than 3 times/);
    assert.equal(hits.get("/ok"), 1, "the fourth redirect was not followed");
  });

  test("refuses redirects to non-http schemes", async () => {
    await assert.rejects(fetch(`${base}/to-file`, opts), /redirected to a file: URL/);
    await assert.rejects(fetch(`${base}/to-https`, opts), /redirected to a https: URL/);
    await assert.rejects(fetch(`${base}/to-ldap`, opts), /redirected to a ldap: URL/);
  });

  test("307 keeps the POST body, 303 turns into GET", async () => {
    const body = Buffer.from("X");
    const post = { ...opts, method: "POST" as const, body, contentType: "application/ocsp-request" };
    assert.equal((await fetch(`${base}/post307`, post)).toString(), "POST application/ocsp-request X");
    assert.equal((await fetch(`${base}/post303`, post)).toString(), "GET - ");
  });

  test("aborts past maxBytes, from Content-Length or while streaming", async () => {
    await assert.rejects(fetch(`${base}/big-declared`, opts), /it is 5000 bytes, larger than the limit of 1000 bytes/);
    await assert.rejects(fetch(`${base}/big-chunked`, opts), /larger than the limit of 1000 bytes/);
    assert.equal((await fetch(`${base}/exact`, opts)).length, 1000);
  });

  test("non-2xx is an error", async () => {
    await assert.rejects(fetch(`${base}/500`, opts), /HTTP 500 Internal Server Error/);
    await assert.rejects(fetch(`${base}/missing`, opts), /HTTP 404 Not Found/);
  });

  test("times out", async () => {
    const t0 = Date.now();
    await assert.rejects(fetch(`${base}/slow`, { maxBytes: 100, timeoutMs: 300 }), /no answer within 300 ms/);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 2000, `took ${took} ms`);
  });

  test("a closed loopback port is 'connection refused'", async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    await assert.rejects(fetch(`http://127.0.0.1:${port}/x.crl`, opts), /^FetchError: connection refused$/);
  });
});
