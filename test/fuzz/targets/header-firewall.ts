// The header firewall (src/message/headers.ts stripForgedHeaders).
//
// The input becomes a message as the DATA reader hands it over (CRLF line
// ends only, no NUL). After the firewall, a reader written here from
// RFC 5322 (fields, folding, whitespace before the colon, nested comments
// with quoted-pairs) and RFC 8601 (authserv-id = token / quoted-string)
// must find:
//  - no Authentication-Results field whose authserv-id is one of ours
//    (compared in lower case, without trailing dots, and as the A-label a
//    UTF-8 reader would make of it);
//  - no X-MS-Exchange-Organization-* field;
//  - the body unchanged, and the fields kept a subsequence of the fields
//    received, byte for byte (removing a field never joins lines into a
//    new one);
// and running the firewall again removes nothing.
import { domainToASCII } from "node:url";
import { stripForgedHeaders } from "../../../src/message/headers.js";
import { check, show } from "./support.js";

const OWN_IDS = ["contoso.com", "mail1.contoso.com"];

const CRLF = Buffer.from("\r\n");

/** CRLF-only, NUL-free: what a message looks like after DataReader accepted it. */
function asReceived(data: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const c = data[i] as number;
    if (c === 0) continue;
    if (c === 0x0d) {
      if (data[i + 1] === 0x0a) {
        out.push(0x0d, 0x0a);
        i++;
      }
      continue; // a bare CR is dropped
    }
    if (c === 0x0a) out.push(0x0d, 0x0a);
    else out.push(c);
  }
  return Buffer.from(out);
}

interface Field {
  raw: Buffer;
  name: string;
  value: Buffer;
}

/** The header section's fields and the body, read independently of headers.ts. */
function read(m: Buffer): { fields: Field[]; separator: boolean; body: Buffer } {
  let end: number;
  let bodyStart: number;
  if (m.subarray(0, 2).equals(CRLF)) {
    end = 0;
    bodyStart = 2;
  } else {
    const i = m.indexOf("\r\n\r\n");
    end = i < 0 ? m.length : i + 2;
    bodyStart = i < 0 ? m.length : i + 4;
  }
  const lines: Buffer[] = [];
  for (let p = 0; p < end; ) {
    const i = m.indexOf(CRLF, p);
    const q = i < 0 || i + 2 > end ? end : i + 2;
    lines.push(m.subarray(p, q));
    p = q;
  }
  const fields: Field[] = [];
  for (const line of lines) {
    const last = fields[fields.length - 1];
    if (last && (line[0] === 0x20 || line[0] === 0x09)) last.raw = Buffer.concat([last.raw, line]);
    else fields.push({ raw: line, name: "", value: Buffer.alloc(0) });
  }
  for (const f of fields) {
    const unfolded = Buffer.from(f.raw.toString("latin1").replace(/\r\n/g, ""), "latin1");
    const colon = unfolded.indexOf(0x3a);
    if (colon < 0) continue;
    f.name = unfolded.toString("latin1", 0, colon).replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase();
    f.value = unfolded.subarray(colon + 1);
  }
  return { fields, separator: bodyStart > end, body: m.subarray(bodyStart) };
}

/** RFC 5322 CFWS: whitespace and (nested) comments with quoted-pairs. Returns the index after it. */
function skipCfws(s: string, i: number): number {
  for (;;) {
    while (s[i] === " " || s[i] === "\t") i++;
    if (s[i] !== "(") return i;
    let depth = 0;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === "\\") i++;
      else if (c === "(") depth++;
      else if (c === ")" && --depth === 0) {
        i++;
        break;
      }
    }
    if (depth > 0) return s.length; // an unclosed comment: no authserv-id
  }
}

/** The authserv-id as a lenient RFC 8601 reader takes it: a quoted-string or a token, undefined when there is none. */
function authservId(value: string): string | undefined {
  let i = skipCfws(value, 0);
  if (i >= value.length) return undefined;
  if (value[i] === '"') {
    let out = "";
    for (i++; i < value.length; i++) {
      const c = value[i] as string;
      if (c === '"') return out;
      if (c === "\\") i++;
      out += value[i] ?? "";
    }
    return undefined;
  }
  const m = /^[^\x00-\x20\x7f;()"]+/.exec(value.slice(i));
  return m?.[0];
}

function isOwn(id: string): boolean {
  const forms = new Set<string>();
  for (const x of [id, domainToASCII(id)]) forms.add(x.toLowerCase().replace(/\.+$/, ""));
  return OWN_IDS.some((o) => forms.has(o));
}

function forgedOwnId(f: Field): string | undefined {
  if (f.name !== "authentication-results") return undefined;
  for (const text of [f.value.toString("latin1"), f.value.toString("utf8")]) {
    const id = authservId(text);
    if (id !== undefined && isOwn(id)) return id;
  }
  return undefined;
}

export function fuzz(data: Buffer): void {
  const message = asReceived(data);
  const { message: out, removed } = stripForgedHeaders(message, OWN_IDS);
  const before = read(message);
  const after = read(out);
  for (const f of after.fields) {
    const id = forgedOwnId(f);
    check(id === undefined, () => `an Authentication-Results field claiming ${show(id ?? "")} passed the firewall: ${show(f.raw)}`);
    check(!f.name.startsWith("x-ms-exchange-organization-"), () => `an X-MS-Exchange-Organization field passed the firewall: ${show(f.raw)}`);
  }
  check(after.body.equals(before.body), () => `the body changed: ${show(before.body)} became ${show(after.body)}`);
  if (removed.length === 0) {
    check(out.equals(message), "nothing was removed but the message changed");
  } else {
    // The fields kept are original ones, in order. (Which ones go is the firewall's
    // choice: it may remove what it cannot read; the checks above say what must go.)
    let j = 0;
    for (const f of before.fields) if (j < after.fields.length && (after.fields[j] as Field).raw.equals(f.raw)) j++;
    check(j === after.fields.length, () => `the output has ${after.fields.length - j} field(s) the input did not have`);
    check(removed.length === before.fields.length - after.fields.length, () => `removed ${removed.length} names for ${before.fields.length - after.fields.length} fields`);
    const again = stripForgedHeaders(out, OWN_IDS);
    check(again.removed.length === 0, () => `a second pass removed ${again.removed.join(", ")}`);
  }
}
