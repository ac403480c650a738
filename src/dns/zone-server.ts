// A small authoritative DNS server on loopback, for tests and the demo only.
//
// It answers from an in-memory table of RRsets (A, AAAA, MX, TXT) over UDP and
// TCP on the same port, using dns2 for the wire format:
//   - NXDOMAIN (rcode 3) for a name with no records at all;
//   - NOERROR with an empty answer (NODATA) for a name that has other types;
//   - SERVFAIL (rcode 2) for a name flagged with servfail(name, true).
// Negative answers carry no SOA (there is no zone apex); Node's resolver (c-ares)
// does not need one.
//
// dns2 notes (checked against dns2 3.0.0):
//   - The Null MX exchange "." is encoded correctly: Packet.Name.encode drops
//     empty labels, so "." (and "") become the single zero byte of the root
//     name; Node reports it back as exchange "". The unit tests check this.
//   - Packet.fromIPv6 mishandles IPv6 text with an embedded IPv4 part
//     ("::ffff:1.2.3.4"), so AAAA values are expanded here to eight full
//     hex groups before dns2 sees them.
//   - TXT character-strings longer than 255 octets would overflow dns2's
//     8-bit length field, so set() splits long strings into 255-octet chunks.
//   - dns2 compresses names case-insensitively, so a name may come back with
//     its suffix spelled as an earlier name in the message (harmless in DNS).
//   - dns2's createServer().listen() cannot bind port 0 for both transports to
//     the same port, so the UDP and TCP servers are created and bound here.
import type { Socket } from "node:net";
import { isIPv4, isIPv6 } from "node:net";
import dns2 from "dns2";

const { Packet, UDPServer, TCPServer } = dns2;
type DnsPacket = InstanceType<typeof dns2.Packet>;
type DnsResource = dns2.Packet.Resource;

export type ZoneRecordType = "A" | "AAAA" | "MX" | "TXT";

export interface MxValue {
  preference: number;
  /** Host name of the exchange; "." for a Null MX (RFC 7505). */
  exchange: string;
}

/** One TXT record: a string (split into 255-octet chunks if longer) or explicit chunks. */
export type TxtValue = string | string[];

export interface ZoneServerOptions {
  /** Loopback address to bind: 127.0.0.0/8 or ::1. Default 127.0.0.1. */
  host?: string;
  /** Port for both UDP and TCP; 0 (default) picks a free one. */
  port?: number;
}

type StoredRRset =
  | { type: "A" | "AAAA"; values: string[] }
  | { type: "MX"; values: MxValue[] }
  | { type: "TXT"; values: Buffer[][] };

const TTL = 60;
const MAX_PORT_ATTEMPTS = 20;

/** Lower-cases a name and strips one trailing dot ("Example.COM." -> "example.com"). */
function normalizeName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") && n.length > 1 ? n.slice(0, -1) : n;
}

/** Parses IPv6 text (incl. "::" and an embedded IPv4 tail) into 8 16-bit groups. */
function ipv6Groups(address: string): number[] {
  if (!isIPv6(address)) throw new Error(`not an IPv6 address: ${JSON.stringify(address)}`);
  let text = address.split("%")[0] ?? "";
  const tail: number[] = [];
  if (text.includes(".")) {
    const cut = text.lastIndexOf(":");
    const o = text.slice(cut + 1).split(".").map(Number);
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    text = text.slice(0, cut + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const parse = (s: string): number[] => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  let groups: number[];
  const gap = text.indexOf("::");
  if (gap === -1) {
    groups = parse(text);
  } else {
    const head = parse(text.slice(0, gap));
    const rest = parse(text.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - tail.length - head.length - rest.length).fill(0), ...rest];
  }
  groups.push(...tail);
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) {
    throw new Error(`cannot parse IPv6 address ${JSON.stringify(address)}`);
  }
  return groups;
}

function isLoopbackIp(host: string): boolean {
  if (isIPv4(host)) return host.split(".")[0] === "127";
  if (isIPv6(host)) {
    const g = ipv6Groups(host);
    return g.slice(0, 7).every((x) => x === 0) && g[7] === 1;
  }
  return false;
}

function checkName(name: string): string {
  if (typeof name !== "string" || name === "" || name === ".") {
    throw new Error(`ZoneServer: invalid owner name ${JSON.stringify(name)}`);
  }
  const n = normalizeName(name);
  if (n.split(".").some((label) => label === "" || label.length > 63) || n.length > 253) {
    throw new Error(`ZoneServer: invalid owner name ${JSON.stringify(name)}`);
  }
  return n;
}

function txtChunks(value: TxtValue): Buffer[] {
  if (Array.isArray(value)) {
    return value.map((chunk) => {
      const bytes = Buffer.from(chunk, "utf8");
      if (bytes.length > 255) throw new Error("ZoneServer.set: a TXT character-string is longer than 255 octets");
      return bytes;
    });
  }
  const bytes = Buffer.from(value, "utf8");
  const chunks: Buffer[] = [];
  // Split on octet boundaries (a UTF-8 character may straddle two chunks, as DNS allows).
  for (let i = 0; i < bytes.length; i += 255) chunks.push(bytes.subarray(i, i + 255));
  return chunks.length > 0 ? chunks : [Buffer.alloc(0)];
}

function listenUdp(socket: InstanceType<typeof UDPServer>, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once("error", onError);
    socket.bind(port, host, () => {
      socket.off("error", onError);
      resolve();
    });
  });
}

function listenTcp(server: InstanceType<typeof TCPServer>, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

export class ZoneServer {
  /** "127.0.0.1:PORT" or "[::1]:PORT", as accepted by Resolver.setServers(). */
  readonly address: string;
  readonly host: string;
  readonly port: number;

  private readonly zone = new Map<string, Map<ZoneRecordType, StoredRRset>>();
  private readonly failing = new Set<string>();
  private readonly connections = new Set<Socket>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly udp: InstanceType<typeof UDPServer>,
    private readonly tcp: InstanceType<typeof TCPServer>,
    host: string,
    port: number,
  ) {
    this.host = host;
    this.port = port;
    this.address = isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    const handle = (request: DnsPacket, send: (response: DnsPacket | Buffer) => Promise<Buffer>): void => {
      let response: DnsPacket;
      try {
        response = this.answer(request);
      } catch {
        response = Packet.createResponseFromRequest(request);
        response.header.rcode = 2;
      }
      send(response).catch(() => undefined);
    };
    udp.on("request", handle);
    tcp.on("request", handle);
    udp.on("requestError", () => undefined);
    tcp.on("requestError", () => undefined);
    udp.on("error", () => undefined);
    tcp.on("error", () => undefined);
    tcp.on("connection", (socket: Socket) => {
      this.connections.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => this.connections.delete(socket));
    });
  }

  static async start(opts: ZoneServerOptions = {}): Promise<ZoneServer> {
    const host = opts.host ?? "127.0.0.1";
    if (!isLoopbackIp(host)) {
      throw new Error(`ZoneServer: refusing to bind ${JSON.stringify(host)}: only loopback IP addresses (127.0.0.0/8, ::1) are allowed`);
    }
    const wanted = opts.port ?? 0;
    if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) {
      throw new Error(`ZoneServer: invalid port ${String(opts.port)}`);
    }
    const type = isIPv6(host) ? "udp6" : "udp4";
    let lastError: unknown;
    for (let attempt = 0; attempt < (wanted === 0 ? MAX_PORT_ATTEMPTS : 1); attempt++) {
      const udp = new UDPServer({ type });
      const tcp = new TCPServer();
      try {
        await listenUdp(udp, wanted, host);
        const port = udp.address().port;
        try {
          await listenTcp(tcp, port, host);
        } catch (err) {
          udp.close();
          throw err;
        }
        return new ZoneServer(udp, tcp, host, port);
      } catch (err) {
        lastError = err;
        // Port 0: the UDP port picked by the kernel may be taken for TCP; try another.
        if (wanted !== 0 || (err as NodeJS.ErrnoException).code !== "EADDRINUSE") break;
      }
    }
    throw lastError instanceof Error ? lastError : new Error("ZoneServer: could not bind");
  }

  /** Replaces the RRset of `type` at `name`; an empty list removes it. */
  set(name: string, type: "A" | "AAAA", values: string[]): void;
  set(name: string, type: "MX", values: MxValue[]): void;
  set(name: string, type: "TXT", values: TxtValue[]): void;
  set(name: string, type: ZoneRecordType, values: string[] | MxValue[] | TxtValue[]): void {
    const owner = checkName(name);
    if (!Array.isArray(values)) throw new Error("ZoneServer.set: values must be an array");
    let rrset: StoredRRset;
    switch (type) {
      case "A":
      case "AAAA": {
        const addrs = values as string[];
        for (const a of addrs) {
          if (type === "A" ? !isIPv4(a) : !isIPv6(a)) {
            throw new Error(`ZoneServer.set: ${JSON.stringify(a)} is not an IPv${type === "A" ? 4 : 6} address`);
          }
        }
        rrset = { type, values: [...addrs] };
        break;
      }
      case "MX": {
        const mxs = values as MxValue[];
        for (const mx of mxs) {
          if (!Number.isInteger(mx.preference) || mx.preference < 0 || mx.preference > 65535) {
            throw new Error(`ZoneServer.set: MX preference ${String(mx.preference)} is not 0-65535`);
          }
          if (mx.exchange !== "." && mx.exchange !== "") checkName(mx.exchange);
        }
        rrset = { type, values: mxs.map((mx) => ({ preference: mx.preference, exchange: mx.exchange })) };
        break;
      }
      case "TXT":
        rrset = { type, values: (values as TxtValue[]).map(txtChunks) };
        break;
      default:
        throw new Error(`ZoneServer.set: unsupported type ${String(type)}`);
    }
    if (rrset.values.length === 0) {
      this.remove(owner, type);
      return;
    }
    let entry = this.zone.get(owner);
    if (!entry) {
      entry = new Map();
      this.zone.set(owner, entry);
    }
    entry.set(type, rrset);
  }

  /** Removes one RRset, or every record at `name` (which then answers NXDOMAIN). */
  remove(name: string, type?: ZoneRecordType): void {
    const owner = normalizeName(name);
    if (type === undefined) {
      this.zone.delete(owner);
      return;
    }
    const entry = this.zone.get(owner);
    if (!entry) return;
    entry.delete(type);
    if (entry.size === 0) this.zone.delete(owner);
  }

  /** While on, every query for `name` (any type) is answered with SERVFAIL. */
  servfail(name: string, on: boolean): void {
    const owner = normalizeName(name);
    if (on) this.failing.add(owner);
    else this.failing.delete(owner);
  }

  /** Stops both transports and drops open TCP connections. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      const udpClosed = new Promise<void>((resolve) => {
        try {
          this.udp.close(() => resolve());
        } catch {
          resolve();
        }
      });
      const tcpClosed = new Promise<void>((resolve) => {
        this.tcp.close(() => resolve());
      });
      for (const socket of this.connections) socket.destroy();
      this.closing = Promise.all([udpClosed, tcpClosed]).then(() => undefined);
    }
    return this.closing;
  }

  private answer(request: DnsPacket): DnsPacket {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const question = request.questions[0];
    if (request.header.opcode !== 0) {
      response.header.rcode = 4; // NOTIMP
      return response;
    }
    if (!question || request.questions.length !== 1) {
      response.header.rcode = 1; // FORMERR
      return response;
    }
    const owner = normalizeName(question.name);
    if (this.failing.has(owner)) {
      response.header.aa = 0;
      response.header.rcode = 2; // SERVFAIL
      return response;
    }
    const entry = this.zone.get(owner);
    if (!entry) {
      response.header.rcode = 3; // NXDOMAIN
      return response;
    }
    const wantAll = question.type === Packet.TYPE.ANY;
    for (const rrset of entry.values()) {
      if (!wantAll && Packet.TYPE[rrset.type] !== question.type) continue;
      for (const rr of this.toResources(question.name, rrset)) response.answers.push(rr);
    }
    return response; // NOERROR; empty answer section = NODATA
  }

  private toResources(name: string, rrset: StoredRRset): DnsResource[] {
    // Answer with the question's spelling of the owner name (case preserved).
    const base = { name, class: Packet.CLASS.IN, ttl: TTL };
    switch (rrset.type) {
      case "A":
        return rrset.values.map((address) => ({ ...base, type: Packet.TYPE.A, address }) as DnsResource);
      case "AAAA":
        return rrset.values.map(
          (address) =>
            ({ ...base, type: Packet.TYPE.AAAA, address: ipv6Groups(address).map((g) => g.toString(16)).join(":") }) as DnsResource,
        );
      case "MX":
        return rrset.values.map(
          (mx) =>
            ({
              ...base,
              type: Packet.TYPE.MX,
              priority: mx.preference,
              // "" and "." both encode as the root name (one zero octet).
              exchange: mx.exchange === "." ? "" : mx.exchange,
            }) as DnsResource,
        );
      case "TXT":
        // dns2's TXT encoder writes Buffers as they are (its typings only say string).
        return rrset.values.map((data) => ({ ...base, type: Packet.TYPE.TXT, data }) as unknown as DnsResource);
    }
  }
}
