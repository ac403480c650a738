// Bounded HTTP fetches on a certificate's say-so (AIA caIssuers, CRLs, OCSP).
// Plain http: only, as CRL distribution points and OCSP responders are by
// convention (the data is signed, so TLS adds nothing but a dependency loop).
// Every fetch obeys the outbound fetch policy (fetch-policy.ts): the port is
// checked before anything is sent, a literal address before connecting, and
// every address a host name resolves to is filtered inside the connection's
// own DNS lookup, so the address checked is the address connected to (no
// rebinding between a check and the connection); every redirect hop is a
// new request under the same checks. Every read is bounded in size and time;
// every failure is a FetchError whose message is a short phrase a person can
// act on ("connection refused", "the server answered HTTP 404 Not Found"),
// meant to follow "could not be fetched (...)".
import * as dns from "node:dns";
import * as http from "node:http";
import * as net from "node:net";
import {
  CompiledFetchPolicy,
  DEFAULT_OUTBOUND_FETCH_POLICY,
  ownAddresses,
  type OutboundFetchPolicy,
  type OwnAddresses,
} from "./fetch-policy.js";

export interface FetchOptions {
  maxBytes: number;
  timeoutMs: number;
  method?: "GET" | "POST";
  body?: Buffer;
  contentType?: string;
  /** Redirects followed (default 3); 0 refuses any redirect. */
  maxRedirects?: number;
}

export type Fetcher = (url: string, opts: FetchOptions) => Promise<Buffer>;

export class FetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FetchError";
  }
}

/** A fetch the outbound fetch policy refused: nothing was sent to the host. */
export class FetchPolicyError extends FetchError {
  constructor(message: string) {
    super(message);
    this.name = "FetchPolicyError";
  }
}

const MAX_REDIRECTS = 3;

export interface HttpFetcherOptions {
  /** The outbound fetch policy, or a function read at every fetch (a setting that may change). Default: DEFAULT_OUTBOUND_FETCH_POLICY. */
  policy?: OutboundFetchPolicy | (() => OutboundFetchPolicy);
  /** This machine's addresses (default: os.networkInterfaces(), re-read every 10 s). */
  ownAddresses?: () => OwnAddresses;
}

interface Guard {
  policy: CompiledFetchPolicy;
  own: OwnAddresses;
}

const compiled = new WeakMap<OutboundFetchPolicy, CompiledFetchPolicy>();
function compile(p: OutboundFetchPolicy): CompiledFetchPolicy {
  let c = compiled.get(p);
  if (!c) compiled.set(p, (c = new CompiledFetchPolicy(p)));
  return c;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A DNS lookup for http.request that resolves every address of the name and keeps only those the
 * policy allows: the connection can only go to an address that was checked.
 */
function policedLookup(guard: Guard) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      let refusal: string | undefined;
      const allowed = addresses.filter((a) => {
        const why = guard.policy.addressRefusal(a.address, guard.own);
        refusal ??= why;
        return why === undefined;
      });
      if (allowed.length === 0) {
        return callback(new FetchPolicyError(refusal ?? "the host name resolved to no address") as NodeJS.ErrnoException, []);
      }
      if (options.all) return callback(null, allowed);
      const first = allowed[0] as dns.LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}

/** Text safe to put in a message: no control characters, bounded length. */
export function printable(text: string, max = 200): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

function parseHttpUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchError(`${what} is not a valid URL`);
  }
  if (url.protocol !== "http:") {
    throw new FetchError(`${what} uses ${printable(url.protocol)} and only http: URLs are fetched`);
  }
  if (!url.hostname) throw new FetchError(`${what} names no host`);
  return url;
}

function describeSocketError(e: unknown): string {
  if (e instanceof FetchError) return e.message;
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "the connection was reset";
    case "ENOTFOUND":
    case "EAI_NONAME":
      return "the host name could not be resolved";
    case "EAI_AGAIN":
      return "the host name could not be resolved (temporary DNS failure)";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "the host is unreachable";
    case "ETIMEDOUT":
      return "the connection timed out";
    case "HPE_HEADER_OVERFLOW":
      return "the server sent oversized HTTP headers";
    default:
      break;
  }
  if (typeof code === "string" && code.startsWith("HPE_")) return "the server sent a malformed HTTP response";
  const msg = e instanceof Error ? e.message : String(e);
  return printable(typeof code === "string" ? `${code}: ${msg}` : msg);
}

type Hop = { kind: "body"; body: Buffer } | { kind: "redirect"; status: number; location: string };

function requestOnce(url: URL, method: "GET" | "POST", body: Buffer | undefined, opts: FetchOptions, deadline: number, guard: Guard): Promise<Hop> {
  return new Promise<Hop>((resolve, reject) => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      reject(new FetchError(`no answer within ${opts.timeoutMs} ms`));
      return;
    }
    // Refused before any packet: a port outside the policy, a literal address outside it. (The URL
    // parser has already turned 2130706433, 0x7f.1 and 127.1 into 127.0.0.1.)
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = url.port ? Number(url.port) : 80;
    const early = guard.policy.portRefusal(port) ?? (net.isIP(hostname) ? guard.policy.addressRefusal(hostname, guard.own) : undefined);
    if (early) {
      reject(new FetchPolicyError(early));
      return;
    }
    let settled = false;
    const finish = (err: FetchError | undefined, hop?: Hop): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(hop as Hop);
    };
    const headers: Record<string, string | number> = { "User-Agent": "Sealpost", Connection: "close" };
    if (body !== undefined) {
      headers["Content-Length"] = body.length;
      if (opts.contentType) headers["Content-Type"] = opts.contentType;
    }
    const req = http.request({
      protocol: "http:",
      hostname,
      port,
      lookup: policedLookup(guard) as unknown as net.LookupFunction,
      path: `${url.pathname || "/"}${url.search}`,
      method,
      headers,
      agent: false,
      maxHeaderSize: 16 * 1024,
    });
    const timer = setTimeout(() => finish(new FetchError(`no answer within ${opts.timeoutMs} ms`)), Math.min(remaining, 2 ** 31 - 1));
    req.on("error", (e) => finish(e instanceof FetchError ? e : new FetchError(describeSocketError(e))));
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status)) {
        const location = res.headers.location;
        res.resume();
        if (!location) finish(new FetchError(`the server answered HTTP ${status} without a Location`));
        else finish(undefined, { kind: "redirect", status, location });
        return;
      }
      if (status < 200 || status > 299) {
        res.resume();
        const text = res.statusMessage ? ` ${printable(res.statusMessage, 60)}` : "";
        finish(new FetchError(`the server answered HTTP ${status}${text}`));
        return;
      }
      const declared = res.headers["content-length"];
      if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > opts.maxBytes) {
        finish(new FetchError(`it is ${declared} bytes, larger than the limit of ${opts.maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      let ended = false;
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        total += chunk.length;
        if (total > opts.maxBytes) {
          finish(new FetchError(`it is larger than the limit of ${opts.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => {
        ended = true;
        finish(undefined, { kind: "body", body: Buffer.concat(chunks, total) });
      });
      res.on("error", (e) => finish(new FetchError(describeSocketError(e))));
      res.on("close", () => {
        if (!ended) finish(new FetchError("the connection closed before the whole response arrived"));
      });
    });
    req.end(body);
  });
}

async function fetchHttp(rawUrl: string, opts: FetchOptions, guard: Guard): Promise<Buffer> {
  if (!(opts.maxBytes >= 0) || !(opts.timeoutMs > 0)) throw new FetchError("the fetch limits are not valid");
  const maxRedirects = opts.maxRedirects ?? MAX_REDIRECTS;
  const deadline = Date.now() + opts.timeoutMs;
  let url = parseHttpUrl(rawUrl, "the URL");
  let method = opts.method ?? "GET";
  let body = method === "POST" ? (opts.body ?? Buffer.alloc(0)) : undefined;
  for (let redirects = 0; ; redirects++) {
    const hop = await requestOnce(url, method, body, opts, deadline, guard);
    if (hop.kind === "body") return hop.body;
    if (maxRedirects === 0) throw new FetchError(`the server answered HTTP ${hop.status} (a redirect), and redirects are not followed here`);
    if (redirects >= maxRedirects) throw new FetchError(`it redirected more than ${maxRedirects} times`);
    let next: URL;
    try {
      next = new URL(hop.location, url);
    } catch {
      throw new FetchError("it redirected to an invalid URL");
    }
    if (next.protocol !== "http:") {
      throw new FetchError(`it redirected to a ${printable(next.protocol)} URL and only http: redirects are followed`);
    }
    url = parseHttpUrl(next.href, "the redirect target");
    // As browsers do: 303 always, 301/302 after a POST, continue with a bodiless GET.
    if (hop.status === 303 || (method === "POST" && (hop.status === 301 || hop.status === 302))) {
      method = "GET";
      body = undefined;
    }
  }
}

/**
 * node:http only; refuses non-http: URLs (https/ldap/file...), connects only where the outbound fetch
 * policy allows (default: public unicast addresses, ports 80 and 443), follows at most 3 redirects
 * (FetchOptions.maxRedirects) and only to http: URLs, each hop checked again, aborts past maxBytes (also
 * honouring Content-Length) and past timeoutMs (one deadline for the whole fetch, redirects included);
 * non-2xx is an error. Errors are FetchError with a short phrase.
 */
export function httpFetcher(opts: HttpFetcherOptions = {}): Fetcher {
  const policy = opts.policy ?? DEFAULT_OUTBOUND_FETCH_POLICY;
  const own = opts.ownAddresses ?? ownAddresses;
  return (url, fetchOpts) => {
    let guard: Guard;
    try {
      guard = { policy: compile(typeof policy === "function" ? policy() : policy), own: own() };
    } catch (e) {
      return Promise.reject(new FetchError(`the outbound fetch policy is not usable (${printable(e instanceof Error ? e.message : String(e))})`));
    }
    return fetchHttp(url, fetchOpts, guard);
  };
}

/** The message of a fetch failure, as a phrase ("connection refused"). */
export function fetchFailureText(e: unknown): string {
  return e instanceof FetchError ? e.message : describeSocketError(e);
}
