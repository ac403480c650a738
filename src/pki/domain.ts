// Domain names as Sealpost stores and compares them: lower case, IDNA
// A-labels, no trailing dot. Everything that takes a domain from an
// administrator or a peer goes through here, so a list never holds two
// spellings of one name and an invalid value is refused before it is stored.
import { domainToASCII } from "node:url";
import { SealpostError } from "../errors/errors.js";

export interface DomainOptions {
  /** Accept a leading "*." label (a list entry meaning "any subdomain"). */
  allowWildcard?: boolean;
  /** Accept a single-label name such as "edgea36" (host names in certificates). */
  allowSingleLabel?: boolean;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Returns the normalized form or throws INVALID_DOMAIN with the reason. */
export function normalizeDomain(input: string, opts: DomainOptions = {}): string {
  const raw = input.trim();
  const refuse = (why: string): never => {
    throw new SealpostError("INVALID_DOMAIN", `'${raw}' is not a valid domain name: ${why}.`);
  };
  if (raw === "") refuse("it is empty");
  if (raw.includes("@")) refuse("it looks like an e-mail address; give only the part after '@'");
  if (/[/:?#\s]/.test(raw)) refuse("it looks like a URL or contains spaces; give only the host name");
  let name = raw.endsWith(".") ? raw.slice(0, -1) : raw;
  let wildcard = false;
  if (name.startsWith("*.")) {
    if (!opts.allowWildcard) refuse("a wildcard is not allowed here");
    wildcard = true;
    name = name.slice(2);
  }
  if (name.includes("*")) refuse("'*' may only stand alone as the first label");
  if (name.split(".").some((l) => l === "")) refuse("it has an empty label (two dots in a row, or a leading dot)");
  // WHATWG's domainToASCII lower-cases and maps U-labels to A-labels; it
  // returns "" for names IDNA rejects.
  const ascii = /^[\x00-\x7f]*$/.test(name) ? name.toLowerCase() : domainToASCII(name);
  if (ascii === "") refuse("it is not a valid internationalized domain name");
  const labels = ascii.split(".");
  if (labels.length < 2 && !opts.allowSingleLabel) refuse("it needs at least two labels (like example.com)");
  for (const label of labels) {
    if (!LABEL.test(label)) refuse(`the label '${label}' may hold only letters, digits and inner hyphens, at most 63`);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? "")) refuse("the last label is numeric (an IP address is not a domain)");
  if (ascii.length > 253) refuse("it is longer than 253 characters");
  return wildcard ? `*.${ascii}` : ascii;
}

/** True when the value is a valid domain under the options. */
export function isValidDomain(input: string, opts: DomainOptions = {}): boolean {
  try {
    normalizeDomain(input, opts);
    return true;
  } catch {
    return false;
  }
}
