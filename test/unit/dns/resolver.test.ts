// Mail routing lookups against a real loopback ZoneServer. No query leaves
// 127.0.0.1: every resolver here is pointed at a server this file starts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import net from "node:net";
import { Resolver } from "node:dns/promises";
import { createResolver, orderMx, resolveMailHosts, type MailResolver, type MxRecord } from "../../../src/dns/resolver.js";
import { ZoneServer } from "../../../src/dns/zone-server.js";

/** Seeded PRNG (mulberry32), returns [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function dnsCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

/** A DNS query message for `name`/`qtype`, id 0x1234, RD set. */
function query(name: string, qtype: number): Buffer {
  const labels = name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")]));
  const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(qtype, 1);
  tail.writeUInt16BE(1, 3);
  return Buffer.concat([header, ...labels, tail]);
}

describe("orderMx", () => {
  const records: MxRecord[] = [
    { exchange: "c", priority: 20 },
    { exchange: "a", priority: 10 },
    { exchange: "z", priority: 5 },
    { exchange: "b", priority: 10 },
  ];

  test("sorts by preference ascending and leaves the input alone", () => {
    const before = JSON.stringify(records);
    const out = orderMx(records, () => 0);
    assert.deepEqual(
      out.map((r) => r.priority),
      [5, 10, 10, 20],
    );
    assert.equal(out[0]!.exchange, "z");
    assert.equal(out[3]!.exchange, "c");
    assert.equal(JSON.stringify(records), before);
    assert.deepEqual(orderMx([], Math.random), []);
  });

  test("shuffles within a preference: both orders occur over several seeds", () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 16; seed++) {
      const out = orderMx(records, seeded(seed));
      seen.add(
        out
          .filter((r) => r.priority === 10)
          .map((r) => r.exchange)
          .join(","),
      );
    }
    assert.deepEqual([...seen].sort(), ["a,b", "b,a"]);
  });

  test("never moves a record across preferences", () => {
    const many: MxRecord[] = [];
    for (let i = 0; i < 30; i++) many.push({ exchange: `h${i}`, priority: [30, 10, 20][i % 3]! });
    for (let seed = 1; seed <= 200; seed++) {
      const out = orderMx(many, seeded(seed));
      assert.equal(out.length, many.length);
      for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]!.priority <= out[i]!.priority, `seed ${seed}`);
      assert.deepEqual(out.map((r) => r.exchange).sort(), many.map((r) => r.exchange).sort());
    }
  });

  test("tolerates a random() that returns 1", () => {
    const out = orderMx(records, () => 1);
    assert.deepEqual(out.map((r) => r.exchange).sort(), ["a", "b", "c", "z"]);
  });
});

describe("against a loopback ZoneServer", () => {
  let zone: ZoneServer;
  let resolver: MailResolver;

  before(async () => {
    zone = await ZoneServer.start({ host: "127.0.0.1", port: 0 });
    resolver = createResolver([zone.address], { timeoutMs: 300, tries: 1 });

    zone.set("example.test", "MX", [
      { preference: 20, exchange: "mx2.example.test" },
      { preference: 10, exchange: "MX1.Example.Test" },
    ]);
    zone.set("mx1.example.test", "A", ["127.0.0.10", "127.0.0.11"]);
    zone.set("mx1.example.test", "AAAA", ["::1"]);
    zone.set("mx2.example.test", "A", ["127.0.0.20"]);
    zone.set("example.test", "TXT", ["v=spf1 -all", ["part one", "part two"]]);

    zone.set("v6only.test", "MX", [{ preference: 5, exchange: "mx.v6only.test" }]);
    zone.set("mx.v6only.test", "AAAA", ["::1"]);

    zone.set("implicit.test", "A", ["127.0.0.30"]);
    zone.set("implicit.test", "AAAA", ["::1"]);
    zone.set("txtonly.test", "TXT", ["no mail here"]);

    zone.set("nullmx.test", "MX", [{ preference: 0, exchange: "." }]);
    zone.set("nullmx.test", "A", ["127.0.0.40"]);

    zone.set("broken.test", "MX", [{ preference: 10, exchange: "mx.broken.test" }]);
    zone.servfail("broken.test", true);

    zone.set("dangling.test", "MX", [
      { preference: 10, exchange: "gone1.dangling.test" },
      { preference: 20, exchange: "gone2.dangling.test" },
    ]);
    zone.set("partial.test", "MX", [
      { preference: 10, exchange: "gone.partial.test" },
      { preference: 20, exchange: "mx1.example.test" },
    ]);

    zone.set("equal.test", "MX", [
      { preference: 10, exchange: "mx1.example.test" },
      { preference: 10, exchange: "mx2.example.test" },
    ]);
  });

  after(async () => {
    await zone.close();
  });

  describe("ZoneServer answers Node's resolver", () => {
    let r: Resolver;
    before(() => {
      r = new Resolver({ timeout: 300, tries: 1 });
      r.setServers([zone.address]);
    });

    test("address is loopback and usable by setServers", () => {
      assert.match(zone.address, /^127\.0\.0\.1:\d+$/);
      assert.deepEqual(r.getServers(), [zone.address]);
    });

    test("MX, A, AAAA, TXT; names are case-insensitive", async () => {
      // dns2 compresses names case-insensitively, so a name's suffix may come
      // back spelled as an earlier name in the message: compare in lower case.
      const mx = (await r.resolveMx("Example.TEST")).map((m) => ({ exchange: m.exchange.toLowerCase(), priority: m.priority }));
      assert.deepEqual(
        mx.sort((a, b) => a.priority - b.priority),
        [
          { exchange: "mx1.example.test", priority: 10 },
          { exchange: "mx2.example.test", priority: 20 },
        ],
      );
      assert.deepEqual(await r.resolve4("mx1.example.test"), ["127.0.0.10", "127.0.0.11"]);
      assert.deepEqual(await r.resolve6("MX1.example.test"), ["::1"]);
      assert.deepEqual(await r.resolveTxt("example.test"), [["v=spf1 -all"], ["part one", "part two"]]);
    });

    test("NXDOMAIN -> ENOTFOUND, NODATA -> ENODATA, SERVFAIL -> ESERVFAIL", async () => {
      await assert.rejects(r.resolveMx("nothing.test"), (e) => dnsCode(e) === "ENOTFOUND");
      await assert.rejects(r.resolve4("nothing.test"), (e) => dnsCode(e) === "ENOTFOUND");
      await assert.rejects(r.resolveMx("implicit.test"), (e) => dnsCode(e) === "ENODATA");
      await assert.rejects(r.resolve6("mx2.example.test"), (e) => dnsCode(e) === "ENODATA");
      await assert.rejects(r.resolveMx("broken.test"), (e) => dnsCode(e) === "ESERVFAIL");
      await assert.rejects(r.resolve4("broken.test"), (e) => dnsCode(e) === "ESERVFAIL");
    });

    test("Null MX: Node reports the root exchange as an empty string", async () => {
      assert.deepEqual(await r.resolveMx("nullmx.test"), [{ exchange: "", priority: 0 }]);
    });

    test("Null MX on the wire: RDATA is preference 0 and the root name as one zero octet (UDP and TCP)", async () => {
      const q = query("nullmx.test", 15);
      const sock = dgram.createSocket("udp4");
      const udpReply = await new Promise<Buffer>((resolve, reject) => {
        sock.once("message", resolve);
        sock.once("error", reject);
        sock.send(q, portOf(zone.address), "127.0.0.1");
      });
      sock.close();

      const c = net.connect(portOf(zone.address), "127.0.0.1");
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      c.write(Buffer.concat([len, q]));
      const tcpReply = await new Promise<Buffer>((resolve, reject) => {
        let buf = Buffer.alloc(0);
        c.on("data", (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        });
        c.once("error", reject);
      });
      c.destroy();

      for (const reply of [udpReply, tcpReply]) {
        assert.equal(reply.readUInt16BE(0), 0x1234);
        assert.equal(reply[3]! & 0x0f, 0, "rcode NOERROR");
        assert.equal(reply.readUInt16BE(6), 1, "one answer");
        // The answer ends TYPE MX, CLASS IN, TTL (4 octets), RDLENGTH 3, RDATA = preference 0 | root (00).
        assert.equal(reply.subarray(reply.length - 13, reply.length - 9).toString("hex"), "000f0001");
        assert.equal(reply.subarray(reply.length - 5).toString("hex"), "0003" + "0000" + "00");
      }
    });

    test("refuses to bind a host that is not loopback", async () => {
      for (const host of ["0.0.0.0", "::", "192.0.2.1", "localhost", "::ffff:127.0.0.1"]) {
        await assert.rejects(ZoneServer.start({ host }), /only loopback/);
      }
    });
  });

  describe("resolveMailHosts", () => {
    test("MX with two preferences: ordered, IPv4 before IPv6, names lower-cased", async () => {
      const res = await resolveMailHosts("example.test", resolver);
      assert.deepEqual(res, {
        kind: "hosts",
        hosts: [
          { name: "mx1.example.test", preference: 10, addresses: ["127.0.0.10", "127.0.0.11", "::1"], implicit: false },
          { name: "mx2.example.test", preference: 20, addresses: ["127.0.0.20"], implicit: false },
        ],
      });
    });

    test("equal preferences follow opts.random", async () => {
      const orders = new Set<string>();
      for (const random of [() => 0, () => 0.99]) {
        const res = await resolveMailHosts("equal.test", resolver, { random });
        assert.equal(res.kind, "hosts");
        if (res.kind === "hosts") orders.add(res.hosts.map((h) => h.name).join(","));
      }
      assert.deepEqual([...orders].sort(), ["mx1.example.test,mx2.example.test", "mx2.example.test,mx1.example.test"]);
    });

    test("MX host with only AAAA (::1)", async () => {
      const res = await resolveMailHosts("v6only.test", resolver);
      assert.deepEqual(res, {
        kind: "hosts",
        hosts: [{ name: "mx.v6only.test", preference: 5, addresses: ["::1"], implicit: false }],
      });
    });

    test("implicit MX: no MX records, the domain's own A/AAAA", async () => {
      const res = await resolveMailHosts("implicit.test", resolver);
      assert.deepEqual(res, {
        kind: "hosts",
        hosts: [{ name: "implicit.test", preference: 0, addresses: ["127.0.0.30", "::1"], implicit: true }],
      });
    });

    test("domain that exists with no MX, A or AAAA -> no-such-domain", async () => {
      const res = await resolveMailHosts("txtonly.test", resolver);
      assert.equal(res.kind, "no-such-domain");
      if (res.kind === "no-such-domain") assert.match(res.detail, /no MX, A or AAAA/);
    });

    test("Null MX -> null-mx (even though the domain has an A record)", async () => {
      assert.deepEqual(await resolveMailHosts("nullmx.test", resolver), { kind: "null-mx" });
    });

    test("NXDOMAIN -> no-such-domain", async () => {
      const res = await resolveMailHosts("nothing.test", resolver);
      assert.equal(res.kind, "no-such-domain");
      if (res.kind === "no-such-domain") assert.match(res.detail, /NXDOMAIN/);
    });

    test("SERVFAIL -> temporary", async () => {
      const res = await resolveMailHosts("broken.test", resolver);
      assert.equal(res.kind, "temporary");
      if (res.kind === "temporary") assert.match(res.detail, /ESERVFAIL/);
    });

    test("MX hosts that do not resolve -> temporary, naming the hosts", async () => {
      const res = await resolveMailHosts("dangling.test", resolver);
      assert.equal(res.kind, "temporary");
      if (res.kind === "temporary") {
        assert.match(res.detail, /gone1\.dangling\.test/);
        assert.match(res.detail, /gone2\.dangling\.test/);
        assert.match(res.detail, /ENOTFOUND/);
      }
    });

    test("an MX host without addresses is dropped, the others kept", async () => {
      const res = await resolveMailHosts("partial.test", resolver);
      assert.equal(res.kind, "hosts");
      if (res.kind === "hosts") assert.deepEqual(res.hosts.map((h) => h.name), ["mx1.example.test"]);
    });

    test("stopped server (closed port) -> temporary within the timeout", async () => {
      const dead = await ZoneServer.start();
      const address = dead.address;
      await dead.close();
      const r = createResolver([address], { timeoutMs: 300, tries: 1 });
      const started = Date.now();
      const res = await resolveMailHosts("example.test", r);
      const elapsed = Date.now() - started;
      assert.equal(res.kind, "temporary");
      if (res.kind === "temporary") assert.match(res.detail, /ECONNREFUSED|ETIMEOUT/);
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
    });

    test("server that never answers -> temporary (ETIMEOUT) within the timeout", async () => {
      const silent = dgram.createSocket("udp4");
      await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", () => resolve()));
      try {
        const r = createResolver([`127.0.0.1:${silent.address().port}`], { timeoutMs: 300, tries: 1 });
        const started = Date.now();
        const res = await resolveMailHosts("example.test", r);
        const elapsed = Date.now() - started;
        assert.equal(res.kind, "temporary");
        if (res.kind === "temporary") assert.match(res.detail, /ETIMEOUT/);
        assert.ok(elapsed < 2000, `took ${elapsed} ms`);
      } finally {
        silent.close();
      }
    });

    test("never throws: a resolver that throws odd errors gives temporary", async () => {
      const odd: MailResolver = {
        servers: [],
        resolveMx: () => Promise.reject(new Error("boom")),
        resolveAddresses: () => Promise.reject(new Error("boom")),
      };
      assert.equal((await resolveMailHosts("example.test", odd)).kind, "temporary");
    });
  });
});

describe("createResolver", () => {
  test("refuses malformed server entries with a clear message", () => {
    assert.throws(() => createResolver(["127.0.0.1:99999"]), /Invalid DNS server "127\.0\.0\.1:99999": port "99999" is not a number from 1 to 65535/);
    assert.throws(() => createResolver(["not-an-ip"]), /Invalid DNS server "not-an-ip": not an IP address/);
    assert.throws(() => createResolver([""]), /Invalid DNS server "": empty entry/);
    assert.throws(() => createResolver(["127.0.0.1:0"]), /Invalid DNS server "127\.0\.0\.1:0"/);
    assert.throws(() => createResolver(["[::1]:70000"]), /Invalid DNS server/);
    assert.throws(() => createResolver(["[127.0.0.1]:53"]), /not an IPv6 address/);
    assert.throws(() => createResolver(["127.0.0.1:53x"]), /Invalid DNS server/);
    assert.throws(() => createResolver(["127.0.0.1"], { timeoutMs: 0 }), /timeoutMs/);
    assert.throws(() => createResolver(["127.0.0.1"], { tries: 1.5 }), /tries/);
  });

  test("accepts ip, ip:port and [ipv6]:port; no servers means the system's", () => {
    // Constructing a resolver sends no query.
    assert.deepEqual(createResolver(["127.0.0.1", "127.0.0.2:5353", "::1", "[::1]:5353"]).servers, [
      "127.0.0.1",
      "127.0.0.2:5353",
      "::1",
      "[::1]:5353",
    ]);
    assert.deepEqual(createResolver().servers, []);
    assert.deepEqual(createResolver([]).servers, []);
  });

  test("works against a ZoneServer on ::1", async () => {
    let zone6: ZoneServer;
    try {
      zone6 = await ZoneServer.start({ host: "::1" });
    } catch (err) {
      if (["EADDRNOTAVAIL", "EAFNOSUPPORT"].includes(dnsCode(err) ?? "")) return; // no IPv6 loopback here
      throw err;
    }
    try {
      assert.match(zone6.address, /^\[::1\]:\d+$/);
      zone6.set("six.test", "MX", [{ preference: 1, exchange: "six.test" }]);
      zone6.set("six.test", "AAAA", ["::1"]);
      const res = await resolveMailHosts("six.test", createResolver([zone6.address], { timeoutMs: 300, tries: 1 }));
      assert.deepEqual(res, { kind: "hosts", hosts: [{ name: "six.test", preference: 1, addresses: ["::1"], implicit: false }] });
    } finally {
      await zone6.close();
    }
  });
});
