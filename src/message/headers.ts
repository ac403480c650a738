// The header firewall and the marks (SPEC §2): from every message that
// arrives, remove Authentication-Results fields that claim the
// organization's authserv-id (or an edge's name) and every
// X-MS-Exchange-Organization-* field; then prepend our Received: field and,
// for a domain-secured message, our Authentication-Results. Works on bytes
// (CRLF), folded fields included, without decoding the body.

export interface HeaderField {
  /** Field name as written. */
  name: string;
  start: number;
  /** End offset, after the field's final CRLF. */
  end: number;
}

const CRLF = Buffer.from("\r\n");

/** Offset just after the header section's last CRLF (before the empty line), or the whole message when it has no body. */
export function headerEnd(message: Buffer): number {
  if (message.subarray(0, 2).equals(CRLF)) return 0;
  const i = message.indexOf("\r\n\r\n");
  return i < 0 ? message.length : i + 2;
}

/** The header fields, folded lines attached to their field. */
export function parseHeaderFields(message: Buffer): HeaderField[] {
  const end = headerEnd(message);
  const fields: HeaderField[] = [];
  let pos = 0;
  while (pos < end) {
    let lineEnd = message.indexOf(CRLF, pos);
    lineEnd = lineEnd < 0 || lineEnd >= end ? end : lineEnd + 2;
    const first = message[pos];
    if ((first === 0x20 || first === 0x09) && fields.length > 0) {
      (fields[fields.length - 1] as HeaderField).end = lineEnd;
    } else {
      const colon = message.indexOf(0x3a, pos);
      const name = colon > pos && colon < lineEnd ? message.toString("latin1", pos, colon).trim() : "";
      fields.push({ name, start: pos, end: lineEnd });
    }
    pos = lineEnd;
  }
  return fields;
}

function fieldValue(message: Buffer, f: HeaderField): string {
  const raw = message.toString("latin1", f.start, f.end);
  return raw.slice(raw.indexOf(":") + 1).replace(/\r\n[ \t]/g, " ").trim();
}

/** The authserv-id of an Authentication-Results value (comments skipped, version ignored). */
export function authservIdOf(value: string): string {
  const noComments = value.replace(/\([^)]*\)/g, " ").trim();
  return (noComments.split(/[;\s]/)[0] ?? "").toLowerCase();
}

/**
 * Removes the fields the firewall forbids. `ownIds`: the organization's
 * authserv-id and the names of its edges (lower case).
 */
export function stripForgedHeaders(message: Buffer, ownIds: string[]): { message: Buffer; removed: string[] } {
  const fields = parseHeaderFields(message);
  const removed: string[] = [];
  const keep: Buffer[] = [];
  let cursor = 0;
  for (const f of fields) {
    const lower = f.name.toLowerCase();
    const forbidden =
      lower.startsWith("x-ms-exchange-organization-") ||
      (lower === "authentication-results" && ownIds.includes(authservIdOf(fieldValue(message, f))));
    if (!forbidden) continue;
    keep.push(message.subarray(cursor, f.start));
    cursor = f.end;
    removed.push(f.name);
  }
  if (removed.length === 0) return { message, removed };
  keep.push(message.subarray(cursor));
  return { message: Buffer.concat(keep), removed };
}

export interface ReceivedInfo {
  heloName?: string;
  remoteAddress: string;
  byName: string;
  id: string;
  date: Date;
  /** "ESMTP" or "ESMTPS" etc. */
  protocol: string;
  tls?: { protocol: string; cipher: string; clientSubject?: string; clientIssuer?: string; verified?: boolean };
  recipient?: string;
}

/** RFC 5322 date-time in UTC, e.g. "Sun, 29 Nov 2026 06:00:00 +0000". */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace("GMT", "+0000");
}

/** A header value with characters that cannot appear in a comment neutralized. */
function commentSafe(s: string): string {
  return s.replace(/[\r\n()\\]/g, " ");
}

export function receivedField(r: ReceivedInfo): string {
  const t = receivedTemplate(r);
  return `${t.head}${r.id}${t.tail}${rfc5322Date(r.date)}\r\n`;
}

/**
 * The Received: field without its id and date, which are all that change
 * between the messages of a session: field = head + id + tail + date + CRLF.
 */
export function receivedTemplate(r: Omit<ReceivedInfo, "id" | "date">): { head: string; tail: string } {
  const from = `from ${commentSafe(r.heloName ?? "unknown")} ([${r.remoteAddress}])`;
  let tls = "";
  if (r.tls) {
    tls = `\r\n\t(using ${commentSafe(r.tls.protocol)} with cipher ${commentSafe(r.tls.cipher)})`;
    if (r.tls.clientSubject) {
      tls += `\r\n\t(client certificate subject "${commentSafe(r.tls.clientSubject)}", issuer "${commentSafe(r.tls.clientIssuer ?? "")}"${r.tls.verified ? ", verified OK" : ", not verified"})`;
    }
  }
  const forPart = r.recipient ? `\r\n\tfor <${r.recipient}>` : "";
  return { head: `Received: ${from}\r\n\tby ${r.byName} (Sealpost) with ${r.protocol} id `, tail: `${tls}${forPart};\r\n\t` };
}

/** SPEC §2: `Authentication-Results: <authserv-id>; x-domain-secure=pass smtp.mailfrom=<D> x-domain-secure.cert=<SHA-1>` */
export function domainSecureResults(authservId: string, domain: string, thumbprint: string): string {
  return `Authentication-Results: ${authservId}; x-domain-secure=pass smtp.mailfrom=${domain} x-domain-secure.cert=${thumbprint}\r\n`;
}

/** Prepends fields (each ending in CRLF) to the message. */
export function prependFields(message: Buffer, fields: string[]): Buffer {
  return Buffer.concat([Buffer.from(fields.join(""), "utf8"), message]);
}
