// The outbound fetch policy: the address classifier (IPv4 and IPv6 special
// ranges, the IPv6 forms that embed IPv4, odd literal spellings the URL
// parser normalizes), allowed ranges and ports, and httpFetcher refusing
// before anything is sent, against TCP servers on loopback that count the
// connections they get.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import {
  CompiledFetchPolicy,
  DEFAULT_OUTBOUND_FETCH_POLICY,
  OwnAddresses,
  formatIp,
  parseAllowedPort,
  parseAllowedRange,
  parseIp,
  specialRange,
} from "../../../src/pki/trust/fetch-policy.js";
import { FetchError, FetchPolicyError, httpFetcher } from "../../../src/pki/trust/fetch.js";

const ip = (t: string): Uint8Array => {
  const b = parseIp(t);
  assert.ok(b, `${t} parses`);
  return b;
};
const noOwn = new OwnAddresses([]);

describe("address parsing", () => {
  test("IPv4 and IPv6 text forms give the bytes; the canonical text is the URL standard's", () => {
    assert.deepEqual([...ip("127.0.0.1")], [127, 0, 0, 1]);
    assert.equal(formatIp(ip("::ffff:127.0.0.1")), "::ffff:7f00:1");
    assert.equal(formatIp(ip("[::FFFF:7F00:1]")), "::ffff:7f00:1");
    assert.equal(formatIp(ip("2001:DB8:0:0:0:0:0:1")), "2001:db8::1");
    assert.equal(formatIp(ip("1:0:0:2:0:0:0:3")), "1:0:0:2::3");
    assert.equal(formatIp(ip("::")), "::");
    assert.equal(formatIp(ip("fe80::1%eth0")), "fe80::1");
    assert.equal(formatIp(ip("1:2:3:4:5:6:1.2.3.4")), "1:2:3:4:5:6:102:304");
    for (const t of ["2001:db8::1", "::1", "64:ff9b::a00:1", "1:2:3:4:5:6:7:8", "ff02::1"]) {
      assert.equal(formatIp(ip(t)), new URL(`http://[${t}]/`).hostname.slice(1, -1), t);
    }
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1::2::3", ":1::", "1:2:3:4:5:6:7:8:9", "1:2:3:4::5:6:7:8", "::1.2.3", "g::1", "example.com"]) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  test("odd IPv4 spellings in URLs: the URL parser makes them 127.0.0.1 before the policy sees them", () => {
    for (const u of ["http://2130706433/", "http://0x7f.1/", "http://0x7f000001/", "http://017700000001/", "http://127.1/", "http://127.0.1/", "http://0177.0.0.1/"]) {
      assert.equal(new URL(u).hostname, "127.0.0.1", u);
    }
    assert.equal(new URL("http://[::ffff:127.0.0.1]/").hostname, "[::ffff:7f00:1]");
    assert.equal(new URL("http://[0:0:0:0:0:0:0:1]/").hostname, "[::1]");
  });
});

describe("the classifier", () => {
  test("IPv4 ranges that are not public unicast are named", () => {
    const cases: Array<[string, RegExp]> = [
      ["0.0.0.0", /this network/],
      ["0.1.2.3", /this network/],
      ["10.1.2.3", /private \(10\.0\.0\.0\/8\)/],
      ["100.64.0.1", /carrier-grade NAT/],
      ["100.127.255.254", /carrier-grade NAT/],
      ["127.0.0.1", /loopback/],
      ["127.255.255.254", /loopback/],
      ["169.254.169.254", /link-local/],
      ["172.16.0.1", /private \(172\.16\.0\.0\/12\)/],
      ["172.31.255.255", /private/],
      ["192.0.0.8", /IETF protocol assignments/],
      ["192.0.2.1", /documentation/],
      ["192.88.99.1", /6to4 relay/],
      ["192.168.1.1", /private \(192\.168/],
      ["198.18.0.1", /benchmarking/],
      ["198.19.255.1", /benchmarking/],
      ["198.51.100.7", /documentation/],
      ["203.0.113.9", /documentation/],
      ["224.0.0.1", /multicast/],
      ["239.255.255.250", /multicast/],
      ["240.0.0.1", /reserved/],
      ["255.255.255.255", /reserved or broadcast/],
    ];
    for (const [a, re] of cases) assert.match(specialRange(ip(a)) ?? "(public)", re, a);
    for (const a of ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0", "192.169.0.1", "198.17.255.255", "198.20.0.0", "223.255.255.255", "11.0.0.1"]) {
      assert.equal(specialRange(ip(a)), undefined, a);
    }
  });

  test("IPv6 ranges, and the forms that embed an IPv4 address judged by that address", () => {
    const cases: Array<[string, RegExp]> = [
      ["::", /unspecified/],
      ["::1", /loopback \(::1\)/],
      ["::ffff:127.0.0.1", /IPv4-mapped 127\.0\.0\.1, loopback/],
      ["::ffff:7f00:1", /IPv4-mapped 127\.0\.0\.1, loopback/],
      ["::ffff:10.0.0.1", /IPv4-mapped 10\.0\.0\.1, private/],
      ["::ffff:169.254.169.254", /link-local/],
      ["::127.0.0.1", /IPv4-compatible/],
      ["64:ff9b::127.0.0.1", /NAT64 127\.0\.0\.1, loopback/],
      ["64:ff9b::a00:1", /NAT64 10\.0\.0\.1, private/],
      ["64:ff9b:1::1", /local-use NAT64/],
      ["2002:7f00:1::", /6to4 127\.0\.0\.1, loopback/],
      ["2002:c0a8:101::1", /6to4 192\.168\.1\.1, private/],
      ["2001::1", /Teredo/],
      ["2001:db8::1", /documentation/],
      ["3fff::1", /documentation/],
      ["100::1", /discard-only/],
      ["fc00::1", /unique local/],
      ["fd12:3456::1", /unique local/],
      ["fe80::1", /link-local/],
      ["febf::1", /link-local/],
      ["fec0::1", /site-local/],
      ["ff02::1", /multicast/],
      ["ff0e::1", /multicast/],
      ["4000::1", /not a global unicast address/],
      ["1::1", /not a global unicast address/],
    ];
    for (const [a, re] of cases) assert.match(specialRange(ip(a)) ?? "(public)", re, a);
    for (const a of ["2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2001:4860:4860::8888"]) {
      assert.equal(specialRange(ip(a)), undefined, a);
    }
  });

  test("the default policy: public unicast on 80 and 443; this server's own addresses are refused", () => {
    const p = new CompiledFetchPolicy(DEFAULT_OUTBOUND_FETCH_POLICY);
    assert.equal(p.addressRefusal("8.8.8.8", noOwn), undefined);
    assert.match(
      p.addressRefusal("127.0.0.1", noOwn) ?? "",
      /^the address 127\.0\.0\.1 is not allowed by the outbound fetch policy \(loopback \(127\.0\.0\.0\/8\); only public unicast addresses are fetched from unless Set-TransportServer -OutboundFetchAllowedRanges allows the range\)$/,
    );
    assert.match(p.addressRefusal("::ffff:127.0.0.1", noOwn) ?? "", /^the address ::ffff:7f00:1 is not allowed .*IPv4-mapped 127\.0\.0\.1, loopback/);
    const own = new OwnAddresses(["8.8.4.4", "2606:4700::6810:1"]);
    assert.match(p.addressRefusal("8.8.4.4", own) ?? "", /an address of this server's own interfaces/);
    assert.match(p.addressRefusal("::ffff:8.8.4.4", own) ?? "", /own interfaces/);
    assert.match(p.addressRefusal("2606:4700:0::6810:1", own) ?? "", /own interfaces/);
    assert.equal(p.addressRefusal("8.8.8.8", own), undefined);
    assert.equal(p.portRefusal(80), undefined);
    assert.equal(p.portRefusal(443), undefined);
    assert.equal(
      p.portRefusal(8080),
      "the port 8080 is not allowed by the outbound fetch policy (allowed ports: 80, 443; Set-TransportServer -OutboundFetchAllowedPorts changes them)",
    );
    assert.match(p.addressRefusal("not-an-ip", noOwn) ?? "", /not an IP address/);
  });

  test("allowed ranges and ports widen it, and only by what they name", () => {
    const p = new CompiledFetchPolicy({ allowedRanges: ["127.0.0.0/8", "fd00::/8", "10.0.0.1-10.0.0.9"], allowedPorts: ["80", "8000-8999"] });
    assert.equal(p.addressRefusal("127.0.0.1", noOwn), undefined);
    assert.equal(p.addressRefusal("127.9.9.9", noOwn), undefined);
    assert.equal(p.addressRefusal("::ffff:127.0.0.1", noOwn), undefined, "an IPv4-mapped address matches its IPv4 range");
    assert.match(p.addressRefusal("::1", noOwn) ?? "", /loopback \(::1\)/, "IPv6 loopback is another range");
    assert.equal(p.addressRefusal("fd00::5", noOwn), undefined);
    assert.match(p.addressRefusal("fc00::5", noOwn) ?? "", /unique local/);
    assert.equal(p.addressRefusal("10.0.0.5", noOwn), undefined);
    assert.match(p.addressRefusal("10.0.0.10", noOwn) ?? "", /private/);
    assert.match(p.addressRefusal("169.254.169.254", noOwn) ?? "", /link-local/);
    assert.match(p.addressRefusal("64:ff9b::7f00:1", noOwn) ?? "", /NAT64/, "NAT64 of an allowed IPv4 range is not the range itself");
    assert.equal(p.portRefusal(8000), undefined);
    assert.equal(p.portRefusal(8999), undefined);
    assert.match(p.portRefusal(443) ?? "", /allowed ports: 80, 8000-8999/);
    const own = new OwnAddresses(["127.0.0.1"]);
    assert.equal(p.addressRefusal("127.0.0.1", own), undefined, "an allowed range wins over the own-interface rule");
  });

  test("allowed ranges and ports are parsed to a canonical form; bad ones say why", () => {
    assert.equal(parseAllowedRange("127.0.0.1/8").text, "127.0.0.0/8");
    assert.equal(parseAllowedRange(" 10.1.2.3 ").text, "10.1.2.3/32");
    assert.equal(parseAllowedRange("FD00:0::1/8").text, "fd00::/8");
    assert.equal(parseAllowedRange("::1").text, "::1/128");
    assert.equal(parseAllowedRange("0.0.0.0/0").text, "0.0.0.0/0");
    assert.equal(parseAllowedRange("10.0.0.1-10.0.0.9").text, "10.0.0.1-10.0.0.9");
    assert.throws(() => parseAllowedRange("127.0.0.0/33"), /prefix length must be 0-32/);
    assert.throws(() => parseAllowedRange("localhost"), /IP address, a CIDR block/);
    assert.throws(() => parseAllowedRange("10.0.0.9-10.0.0.1"), /must not be above/);
    assert.throws(() => parseAllowedRange("10.0.0.1-::1"), /one family/);
    assert.deepEqual(parseAllowedPort("8080"), { text: "8080", lo: 8080, hi: 8080 });
    assert.deepEqual(parseAllowedPort(" 8000-8999 "), { text: "8000-8999", lo: 8000, hi: 8999 });
    assert.equal(parseAllowedPort("443-443").text, "443");
    for (const bad of ["0", "65536", "http", "-1", "9000-8000", "1-70000", ""]) assert.throws(() => parseAllowedPort(bad), bad);
  });
});

/** A TCP server on 127.0.0.1 that counts connections and answers HTTP 200 "ok" (or a redirect). */
class Counter {
  connections = 0;
  server!: http.Server;
  port = 0;
  static async start(handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Counter> {
    const c = new Counter();
    c.server = http.createServer(handler ?? ((_q, res) => res.end("ok")));
    c.server.on("connection", () => c.connections++);
    await new Promise<void>((r) => c.server.listen(0, "127.0.0.1", r));
    c.port = (c.server.address() as AddressInfo).port;
    return c;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

describe("httpFetcher under the policy", () => {
  let target: Counter;
  let second: Counter;
  let redirector: Counter;
  const opts = { maxBytes: 1000, timeoutMs: 3000 };
  before(async () => {
    target = await Counter.start();
    second = await Counter.start();
    redirector = await Counter.start((req, res) => {
      res.statusCode = 302;
      res.setHeader("location", `http://127.0.0.2:${second.port}/next`);
      res.end();
    });
    // the redirect target listens on 127.0.0.2 too
    await new Promise<void>((r) => second.server.close(() => r()));
    await new Promise<void>((r) => second.server.listen(second.port, "127.0.0.2", r));
  });
  after(async () => {
    await Promise.all([target.stop(), second.stop(), redirector.stop()]);
  });

  async function refusedWith(fetcher: ReturnType<typeof httpFetcher>, url: string, re: RegExp): Promise<void> {
    await assert.rejects(fetcher(url, opts), (e: unknown) => e instanceof FetchPolicyError && re.test(e.message), url);
  }

  test("by default a loopback target gets no connection, however its address is written", async () => {
    const f = httpFetcher();
    const p = target.port;
    // The port is checked first: these are refused for the port alone.
    await refusedWith(f, `http://127.0.0.1:${p}/x`, new RegExp(`^the port ${p} is not allowed`));
    // With the target's port allowed, the address decides.
    const portOnly = httpFetcher({ policy: { allowedRanges: [], allowedPorts: [String(p)] } });
    for (const u of [
      `http://127.0.0.1:${p}/x`,
      `http://2130706433:${p}/x`,
      `http://0x7f.1:${p}/x`,
      `http://017700000001:${p}/x`,
      `http://127.1:${p}/x`,
      `http://[::ffff:127.0.0.1]:${p}/x`,
      `http://[::1]:${p}/x`,
      `http://0.0.0.0:${p}/x`,
    ]) {
      await refusedWith(portOnly, u, /is not allowed by the outbound fetch policy/);
    }
    // A name that resolves to loopback is refused in the connection's own lookup.
    await refusedWith(portOnly, `http://localhost:${p}/x`, /^the address (127\.0\.0\.1|::1) is not allowed by the outbound fetch policy \(loopback/);
    assert.equal(target.connections, 0, "no connection reached the target");
  });

  test("allowed explicitly, the same target is fetched", async () => {
    const before = target.connections;
    const f = httpFetcher({ policy: { allowedRanges: ["127.0.0.1"], allowedPorts: [String(target.port)] } });
    assert.equal((await f(`http://127.0.0.1:${target.port}/x`, opts)).toString(), "ok");
    // localhost may resolve to ::1 and 127.0.0.1: only the allowed one is connected to.
    assert.equal((await f(`http://localhost:${target.port}/x`, opts)).toString(), "ok");
    assert.equal(target.connections, before + 2);
  });

  test("every redirect hop is checked: a redirect to an address outside the policy gets no connection", async () => {
    const ports = [String(redirector.port), String(second.port)];
    const f = httpFetcher({ policy: { allowedRanges: ["127.0.0.1/32"], allowedPorts: ports } });
    await refusedWith(f, `http://127.0.0.1:${redirector.port}/`, /^the address 127\.0\.0\.2 is not allowed/);
    assert.equal(redirector.connections, 1);
    assert.equal(second.connections, 0);
    // Allowed on both hops, it is followed.
    const both = httpFetcher({ policy: { allowedRanges: ["127.0.0.1/32", "127.0.0.2/32"], allowedPorts: ports } });
    assert.equal((await both(`http://127.0.0.1:${redirector.port}/`, opts)).toString(), "ok");
    assert.equal(second.connections, 1);
    // maxRedirects 0 (AIA): the redirect is not followed at all.
    await assert.rejects(both(`http://127.0.0.1:${redirector.port}/`, { ...opts, maxRedirects: 0 }), (e: unknown) => e instanceof FetchError && /redirects are not followed/.test(e.message));
    assert.equal(second.connections, 1);
  });

  test("the policy is read at each fetch (a setting that changes)", async () => {
    let policy = { allowedRanges: [] as string[], allowedPorts: [String(target.port)] };
    const f = httpFetcher({ policy: () => policy });
    const before = target.connections;
    await refusedWith(f, `http://127.0.0.1:${target.port}/`, /not allowed/);
    policy = { ...policy, allowedRanges: ["127.0.0.0/8"] };
    assert.equal((await f(`http://127.0.0.1:${target.port}/`, opts)).toString(), "ok");
    assert.equal(target.connections, before + 1);
    const broken = httpFetcher({ policy: { allowedRanges: ["nonsense"], allowedPorts: ["80"] } });
    await assert.rejects(broken(`http://127.0.0.1:${target.port}/`, opts), /the outbound fetch policy is not usable/);
  });

  test("a refusal happens before any packet: not even a TCP SYN to a raw listener", async () => {
    let accepted = 0;
    const raw = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    const port = (raw.address() as AddressInfo).port;
    try {
      const f = httpFetcher({ policy: { allowedRanges: ["10.0.0.0/8"], allowedPorts: [String(port)] } });
      await refusedWith(f, `http://127.0.0.1:${port}/`, /loopback/);
      await refusedWith(f, `http://localhost:${port}/`, /loopback/);
      assert.equal(accepted, 0);
    } finally {
      raw.close();
    }
  });
});
