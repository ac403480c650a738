// X.500 names written the way Exchange's -SubjectName takes them:
// "DC=com,DC=Contoso,CN=mail1.contoso.com" or "C=US,O=Contoso,CN=x". The
// order written is the order encoded (the root-most attribute first), which
// is what Exchange produces for these examples. Values may be double-quoted
// ("O=\"Contoso, Ltd\"") or escape single characters with a backslash.
// Display goes the other way round, as Windows shows names
// ("CN=mail1.contoso.com, DC=Contoso, DC=com").
import { SealpostError } from "../errors/errors.js";

export interface DnAttribute {
  /** Dotted OID. */
  oid: string;
  /** Short name for display (CN, O, DC, ...), or the OID when unnamed. */
  name: string;
  value: string;
}
/** One relative distinguished name: usually one attribute, "+" joins more. */
export type Rdn = DnAttribute[];

interface AttrDef {
  oid: string;
  display: string;
  aliases: string[];
  maxLength?: number;
  /** Extra validation of the value. */
  check?: (v: string) => string | undefined;
}

const ATTRS: AttrDef[] = [
  { oid: "2.5.4.3", display: "CN", aliases: ["cn", "commonname"], maxLength: 64 },
  { oid: "2.5.4.6", display: "C", aliases: ["c", "country", "countryname"], check: (v) => (/^[A-Za-z]{2}$/.test(v) ? undefined : "a country is two letters (like US)") },
  { oid: "2.5.4.8", display: "S", aliases: ["s", "st", "state", "stateorprovincename"], maxLength: 128 },
  { oid: "2.5.4.7", display: "L", aliases: ["l", "locality", "localityname"], maxLength: 128 },
  { oid: "2.5.4.10", display: "O", aliases: ["o", "organization", "organizationname"], maxLength: 64 },
  { oid: "2.5.4.11", display: "OU", aliases: ["ou", "organizationalunit", "organizationalunitname"], maxLength: 64 },
  { oid: "0.9.2342.19200300.100.1.25", display: "DC", aliases: ["dc", "domaincomponent"], maxLength: 63, check: (v) => (/^[\x21-\x7e]+$/.test(v) ? undefined : "a DC value is one ASCII label") },
  { oid: "1.2.840.113549.1.9.1", display: "E", aliases: ["e", "email", "emailaddress"], maxLength: 255, check: (v) => (/^[\x20-\x7e]+$/.test(v) ? undefined : "an e-mail address must be ASCII") },
  { oid: "2.5.4.9", display: "STREET", aliases: ["street", "streetaddress"], maxLength: 128 },
  { oid: "2.5.4.12", display: "T", aliases: ["t", "title"], maxLength: 64 },
  { oid: "2.5.4.42", display: "G", aliases: ["g", "gn", "givenname"], maxLength: 64 },
  { oid: "2.5.4.4", display: "SN", aliases: ["sn", "surname"], maxLength: 64 },
  { oid: "2.5.4.43", display: "I", aliases: ["i", "initials"], maxLength: 64 },
  { oid: "2.5.4.5", display: "SERIALNUMBER", aliases: ["serialnumber"], maxLength: 64 },
  { oid: "2.5.4.17", display: "PostalCode", aliases: ["postalcode"], maxLength: 40 },
  { oid: "0.9.2342.19200300.100.1.1", display: "UID", aliases: ["uid", "userid"], maxLength: 256 },
];

const BY_ALIAS = new Map<string, AttrDef>();
const BY_OID = new Map<string, AttrDef>();
for (const def of ATTRS) {
  BY_OID.set(def.oid, def);
  for (const a of def.aliases) BY_ALIAS.set(a, def);
}

export const SUPPORTED_SUBJECT_ATTRIBUTES = ATTRS.map((a) => a.display);

function syntax(input: string, why: string): never {
  throw new SealpostError("INVALID_SUBJECT", `The subject name '${input}' is not valid: ${why}.`);
}

/** Parses an Exchange-style subject into RDNs in the order written. */
export function parseSubject(input: string): Rdn[] {
  const src = input.trim();
  if (src === "") syntax(input, "it is empty");
  const rdns: Rdn[] = [];
  let rdn: Rdn = [];
  let i = 0;
  while (i < src.length) {
    // attribute type
    const eq = src.indexOf("=", i);
    if (eq < 0) syntax(input, `'${src.slice(i).trim()}' has no '='`);
    const typeText = src.slice(i, eq).trim();
    if (typeText === "") syntax(input, "an attribute name is missing before '='");
    const def = /^\d+(\.\d+)+$/.test(typeText) ? BY_OID.get(typeText) : BY_ALIAS.get(typeText.toLowerCase());
    if (!def) {
      syntax(input, `the attribute '${typeText}' is not known (use one of ${SUPPORTED_SUBJECT_ATTRIBUTES.join(", ")})`);
    }
    i = eq + 1;
    while (src[i] === " ") i++;
    // attribute value
    let value = "";
    if (src[i] === '"') {
      i++;
      let closed = false;
      while (i < src.length) {
        const ch = src[i] as string;
        if (ch === "\\" && i + 1 < src.length) {
          value += src[i + 1];
          i += 2;
        } else if (ch === '"') {
          closed = true;
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      if (!closed) syntax(input, "a quoted value is not closed");
      while (src[i] === " ") i++;
      if (i < src.length && src[i] !== "," && src[i] !== "+" && src[i] !== ";") {
        syntax(input, "text follows a quoted value");
      }
    } else {
      while (i < src.length && src[i] !== "," && src[i] !== "+" && src[i] !== ";") {
        const ch = src[i] as string;
        if (ch === "\\") {
          if (i + 1 >= src.length) syntax(input, "it ends with a lone backslash");
          value += src[i + 1];
          i += 2;
        } else if (ch === '"' || ch === "=") {
          syntax(input, `'${ch}' must be escaped with '\\' or the value quoted`);
        } else {
          value += ch;
          i++;
        }
      }
      value = value.trim();
    }
    if (value === "") syntax(input, `the attribute ${def.display} has an empty value`);
    if (def.maxLength !== undefined && [...value].length > def.maxLength) {
      syntax(input, `the value of ${def.display} is longer than ${def.maxLength} characters`);
    }
    const bad = def.check?.(value);
    if (bad) syntax(input, bad);
    if (/[\x00-\x1f\x7f]/.test(value)) syntax(input, `the value of ${def.display} contains control characters`);
    rdn.push({ oid: def.oid, name: def.display, value: def.display === "C" ? value.toUpperCase() : value });
    const sep = src[i];
    i++;
    if (sep === "+") continue;
    rdns.push(rdn);
    rdn = [];
    if (sep !== undefined && src.slice(i).trim() === "") syntax(input, "it ends with a separator");
  }
  if (rdn.length > 0) rdns.push(rdn);
  return rdns;
}

function quoteValue(v: string): string {
  return /[,+;"\\<>=#]|^\s|\s$/.test(v) ? `"${v.replace(/(["\\])/g, "\\$1")}"` : v;
}

/** The subject as written for -SubjectName: encoded order, "," separated. */
export function formatSubjectInput(rdns: Rdn[]): string {
  return rdns.map((r) => r.map((a) => `${a.name}=${quoteValue(a.value)}`).join("+")).join(",");
}

/** Display form as Windows and Exchange show it: most specific first. */
export function formatDisplayName(rdns: Rdn[]): string {
  return [...rdns]
    .reverse()
    .map((r) => r.map((a) => `${a.name}=${quoteValue(a.value)}`).join(" + "))
    .join(", ");
}

/** Short display name for an OID (for names read from certificates). */
export function attributeName(oid: string): string {
  return BY_OID.get(oid)?.display ?? oid;
}

/** The first CN value, if any. */
export function commonName(rdns: Rdn[]): string | undefined {
  for (const r of rdns) for (const a of r) if (a.oid === "2.5.4.3") return a.value;
  return undefined;
}
