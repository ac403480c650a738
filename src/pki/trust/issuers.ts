// A partner's allowed issuers (-AllowedIssuers), pinned by KEY. A name is
// no pin: any CA the organization trusts can issue a sub-CA named "CN=Woodgrove
// Issuing CA, O=Woodgrove Bank" with a key of its own. So an entry is the
// SHA-256 of a CA's SubjectPublicKeyInfo, taken from the CA's certificate (a
// file the administrator gives, or a trusted root or intermediate named by
// its thumbprint), and it matches a certificate in the verified path above
// the leaf that carries that key. The subject and thumbprint are kept for
// display only; they never decide a match.
//
// Names still matter in two places, neither of which allows anything: an
// administrator may remove entries by name, and an older release's stored
// names are converted on upgrade to the keys of the trusted certificates of
// that name (legacyAllowedIssuers), or else to an entry that matches nothing.
import { createHash, X509Certificate } from "node:crypto";
import { parseSubject } from "../dn.js";
import type { ParsedCert } from "./parsed.js";

/** One pinned issuing CA. */
export interface AllowedIssuer {
  /**
   * SHA-256 of the CA's DER SubjectPublicKeyInfo, upper-case hex: what is
   * matched. Empty for an unresolved entry (see `unresolved`).
   */
  spkiSha256: string;
  /** The CA's subject, for display. */
  subject: string;
  /** SHA-1 thumbprint of the certificate the key was taken from, for display and removal. */
  thumbprint?: string;
  /**
   * An older release's name-only entry that no trusted certificate bore at
   * upgrade: kept so that the administrator sees it, matches nothing.
   */
  unresolved?: true;
}

const ALIASES: Record<string, string> = { st: "s", emailaddress: "e", email: "e", gn: "g", serialnumber: "serialnumber" };

function key(type: string, value: string): string {
  const t = type.toLowerCase();
  return `${ALIASES[t] ?? t}=${value.trim().toLowerCase()}`;
}

/**
 * A subject name as a sorted set of attribute=value pairs, so that the order
 * written (Exchange's or RFC 4514's) and case do not matter. Throws
 * INVALID_ARGUMENT when the text is not a subject name.
 */
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

/** Whether a written subject name (any attribute order) equals a certificate's subject (Node's form). */
export function subjectNameEquals(name: string, nodeSubject: string): boolean {
  let want: string;
  try {
    want = normalizeIssuerName(name).join("\n");
  } catch {
    return false;
  }
  return want === nodeSubjectKeys(nodeSubject).join("\n");
}

/** Whether two written subject names are the same name. */
export function sameIssuerName(a: string, b: string): boolean {
  try {
    return normalizeIssuerName(a).join("\n") === normalizeIssuerName(b).join("\n");
  } catch {
    return a.trim().toLowerCase() === b.trim().toLowerCase();
  }
}

/** SHA-256 of a certificate's DER SubjectPublicKeyInfo, upper-case hex. */
export function spkiSha256OfDer(der: Buffer): string {
  return spkiHash(new X509Certificate(der));
}

function spkiHash(node: X509Certificate): string {
  return createHash("sha256").update(node.publicKey.export({ format: "der", type: "spki" })).digest("hex").toUpperCase();
}

const spkiMemo = new WeakMap<ParsedCert, string>();

/** The key fingerprint of a parsed certificate (memoized with the parsed certificate). */
export function spkiSha256Of(cert: ParsedCert): string {
  let h = spkiMemo.get(cert);
  if (h === undefined) {
    h = spkiHash(cert.node);
    spkiMemo.set(cert, h);
  }
  return h;
}

const HEX64 = /^[0-9A-F]{64}$/;

/** Whether an entry can match at all (a key, not an unresolved name). */
export function isPinned(e: AllowedIssuer): boolean {
  return e.unresolved !== true && HEX64.test(e.spkiSha256);
}

/**
 * The first certificate of `issuers` (the verified path above the leaf)
 * whose key is pinned by an entry, with that entry.
 */
export function matchAllowedIssuer(allowed: readonly AllowedIssuer[], issuers: readonly ParsedCert[]): { entry: AllowedIssuer; cert: ParsedCert } | undefined {
  const pinned = allowed.filter(isPinned);
  if (pinned.length === 0) return undefined;
  for (const cert of issuers) {
    const h = spkiSha256Of(cert);
    const entry = pinned.find((e) => e.spkiSha256 === h);
    if (entry) return { entry, cert };
  }
  return undefined;
}

/**
 * The certificates of `issuers` that bear the subject of an allowed entry but
 * not its key: a CA impersonating a pinned one by name. Named in the refusal.
 */
export function nameOnlyLookalikes(allowed: readonly AllowedIssuer[], issuers: readonly ParsedCert[]): ParsedCert[] {
  return issuers.filter((c) => allowed.some((e) => subjectNameEquals(e.subject, c.node.subject) && e.spkiSha256 !== spkiSha256Of(c)));
}

/** "CN=Woodgrove Issuing CA, O=Woodgrove Bank (key SHA-256 9F86…; thumbprint 1A2B…)", as Get-DomainSecurePartner shows an entry. */
export function describeAllowedIssuer(e: AllowedIssuer): string {
  if (!isPinned(e)) {
    return `${e.subject} (UNRESOLVED: a name stored by an older release; no trusted certificate bore it at upgrade, so it matches nothing. Remove it and give the issuing CA's certificate or the thumbprint of a trusted certificate)`;
  }
  return `${e.subject} (key SHA-256 ${e.spkiSha256}${e.thumbprint ? `; thumbprint ${e.thumbprint}` : ""})`;
}

/** Reads a stored list: entries of this release as they are; anything else (an older release's name) as an entry that matches nothing. */
export function parseAllowedIssuers(value: unknown): AllowedIssuer[] {
  if (!Array.isArray(value)) return [];
  return value.map((v): AllowedIssuer => {
    if (typeof v === "string") return { spkiSha256: "", subject: v, unresolved: true };
    const o = (v ?? {}) as Partial<AllowedIssuer>;
    const subject = typeof o.subject === "string" ? o.subject : "";
    const spki = typeof o.spkiSha256 === "string" ? o.spkiSha256.toUpperCase() : "";
    if (o.unresolved === true || !HEX64.test(spki)) return { spkiSha256: "", subject, unresolved: true };
    return { spkiSha256: spki, subject, ...(typeof o.thumbprint === "string" ? { thumbprint: o.thumbprint } : {}) };
  });
}

/**
 * The upgrade of an older release's stored list (subject names): each name
 * becomes the keys of the trusted certificates (`trusted`, DER) whose
 * subject is that name, or, when none is, an unresolved entry that matches
 * nothing. Entries already in this release's form are kept. Used by the
 * released migrations of both stores: change it only compatibly.
 */
export function legacyAllowedIssuers(stored: unknown, trusted: Buffer[]): AllowedIssuer[] {
  if (!Array.isArray(stored)) return [];
  const certs: Array<{ node: X509Certificate; der: Buffer }> = [];
  for (const der of trusted) {
    try {
      certs.push({ node: new X509Certificate(der), der });
    } catch {
      // an unreadable stored certificate resolves nothing
    }
  }
  const out: AllowedIssuer[] = [];
  const push = (e: AllowedIssuer) => {
    const dup = out.some((x) => (isPinned(e) ? x.spkiSha256 === e.spkiSha256 : !isPinned(x) && sameIssuerName(x.subject, e.subject)));
    if (!dup) out.push(e);
  };
  for (const v of stored) {
    if (typeof v !== "string") {
      for (const e of parseAllowedIssuers([v])) push(e);
      continue;
    }
    const hits = certs.filter((c) => subjectNameEquals(v, c.node.subject));
    if (hits.length === 0) {
      push({ spkiSha256: "", subject: v.trim(), unresolved: true });
      continue;
    }
    for (const c of hits) {
      push({ spkiSha256: spkiHash(c.node), subject: displaySubject(c.node.subject), thumbprint: createHash("sha1").update(c.der).digest("hex").toUpperCase() });
    }
  }
  return out;
}

/** Node's multi-line subject ("O=x\nCN=y", most general first) as Windows shows it ("CN=y, O=x"). */
function displaySubject(nodeSubject: string): string {
  return nodeSubject.split("\n").filter(Boolean).reverse().join(", ");
}
