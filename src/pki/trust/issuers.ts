// Matching an administrator's -AllowedIssuers entry ("CN=Woodgrove Issuing
// CA, O=Woodgrove Bank", in either order) against a certificate's subject.
// Compared as a set of attribute=value pairs, case-insensitively, so the
// order written (Exchange's or RFC 4514's) does not matter.
import { parseSubject } from "../dn.js";

const ALIASES: Record<string, string> = { st: "s", emailaddress: "e", email: "e", gn: "g", serialnumber: "serialnumber" };

function key(type: string, value: string): string {
  const t = type.toLowerCase();
  return `${ALIASES[t] ?? t}=${value.trim().toLowerCase()}`;
}

export function normalizeIssuerName(text: string): string[] {
  return parseSubject(text)
    .flat()
    .map((a) => key(a.name, a.value))
    .sort();
}

/** Node prints subjects one attribute a line ("C=US\nO=Contoso\nCN=x"). */
function nodeSubjectKeys(nodeSubject: string): string[] {
  return nodeSubject
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const eq = line.indexOf("=");
      return key(line.slice(0, eq), line.slice(eq + 1).replace(/\\(.)/g, "$1"));
    })
    .sort();
}

export function issuerNameMatches(allowed: string[], nodeSubject: string): boolean {
  const have = nodeSubjectKeys(nodeSubject).join("\n");
  return allowed.some((a) => normalizeIssuerName(a).join("\n") === have);
}
