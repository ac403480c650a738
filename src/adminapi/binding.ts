// Where the admin endpoint may listen, and how: the rule as a pure
// decision. Plain HTTP only on loopback (127.0.0.0/8, ::1) — what is
// reachable only from this machine; any other address only with HTTPS (a
// certificate from this server's store, or the SMTP certificate). No I/O.
import net from "node:net";

export interface AdminAddress {
  host: string;
  port: number;
}

export type AdminBindingDecision = { scheme: "http" | "https" } | { refused: true; reason: string };

export function isLoopbackAddress(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith("127.");
  if (net.isIPv6(host)) return /^::ffff:127\./i.test(host) || (!host.includes(".") && expandV6(host) === "0000:0000:0000:0000:0000:0000:0000:0001");
  return false;
}

function expandV6(host: string): string {
  const [head = "", tail = ""] = host.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const groups = host.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
  return groups.map((g) => g.padStart(4, "0").toLowerCase()).join(":");
}

/** Parses "IP:PORT" or "[v6]:PORT" (any IP literal; names are refused: the address must be unambiguous). */
export function parseAdminAddress(text: string): AdminAddress | { refused: true; reason: string } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return { refused: true, reason: `'${text.slice(0, 100)}' is not an address of the form IP:PORT (or [IPv6]:PORT).` };
  const host = m[1] as string;
  const port = Number(m[2]);
  if (!net.isIP(host)) return { refused: true, reason: `'${host.slice(0, 100)}' is not an IP address; give the address to listen on (a name is given with --admin-host).` };
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { refused: true, reason: `'${m[2] ?? ""}' is not a port number.` };
  return { host, port };
}

/**
 * The decision for `serve --admin ADDRESS [--admin-cert ...]`: loopback
 * serves HTTP (HTTPS when a certificate is given), any other address only
 * HTTPS; an unspecified address (0.0.0.0, ::) is every address, so it is
 * off loopback too.
 */
export function adminBinding(address: AdminAddress, opts: { certificate?: boolean } = {}): AdminBindingDecision {
  if (!net.isIP(address.host)) return { refused: true, reason: `'${address.host.slice(0, 100)}' is not an IP address.` };
  if (opts.certificate === true) return { scheme: "https" };
  if (isLoopbackAddress(address.host)) return { scheme: "http" };
  return {
    refused: true,
    reason: `The admin endpoint must listen on loopback (127.0.0.0/8 or ::1) for plain HTTP, not ${address.host}; off loopback it serves only HTTPS: give --admin-cert THUMBPRINT (a certificate of this server's store) or --admin-cert smtp.`,
  };
}
