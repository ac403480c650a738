/**
 * Test-only building blocks for {@link ./openssl-ca.ts}: running the `openssl`
 * binary, subject-string conversion, date formatting, key generation and the
 * text of the per-CA `openssl ca` configuration and per-call extension files.
 *
 * Nothing here is used by production code; Sealpost must never act as its own
 * CA in tests, so every certificate is made by the OpenSSL command line. Keys
 * are made with Node's crypto (OpenSSL underneath, no Sealpost code) in this
 * process: a key is no part of what the CA decides, and a child process per
 * key was a large part of the tests' time.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** "rsa1024" is below the floor Sealpost accepts: only for tests of that refusal. */
export type KeyType = "rsa1024" | "rsa2048" | "rsa3072" | "ec-p256";

/** Extended key usage shorthand, or an explicit list of names/OIDs (e.g. ["serverAuth", "1.3.6.1.5.5.7.3.4"]). */
export type Eku = "serverAuth" | "clientAuth" | "both" | "none" | string[];

/** RFC 5280 CRL reason names as `openssl ca -crl_reason` spells them. */
export type CrlReason =
  | "unspecified"
  | "keyCompromise"
  | "CACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold"
  | "removeFromCRL";

/**
 * Name constraint subtrees. An entry is "TYPE:value" in OpenSSL GeneralName form
 * ("DNS:contoso.com", "email:contoso.com", "IP:127.0.0.0/255.0.0.0"); a bare value means DNS.
 * "dirName:O=Fabrikam,CN=x" is a directoryName subtree (subject syntax, simple RDNs only).
 */
export interface NameConstraints {
  permitted?: string[];
  excluded?: string[];
}

/**
 * Validity. notBefore = startDate ?? now - 1 hour (leaves) / now - 1 day (CAs);
 * notAfter = endDate ?? (startDate ?? now) + days (default 365 for leaves, 3650 for CAs).
 */
export interface Validity {
  startDate?: Date;
  endDate?: Date;
  days?: number;
}

export interface LeafOptions extends Validity {
  /** SAN dNSNames. With neither dnsNames nor ipAddresses, signRequest copies the CSR's SAN; issueLeaf puts no SAN. */
  dnsNames?: string[];
  /** SAN iPAddresses (loopback tests), e.g. ["127.0.0.1", "::1"]. */
  ipAddresses?: string[];
  /** Default "both" (serverAuth + clientAuth, as Domain Security needs). */
  eku?: Eku | undefined;
  /** Key usage names, or "none". Default: RSA digitalSignature+keyEncipherment, EC digitalSignature (critical). */
  keyUsage?: string[] | "none";
  /** CRL distribution point URL(s) (no commas, percent-encode them). */
  crlUrl?: string | string[];
  /** AIA caIssuers URL(s). */
  aiaIssuerUrl?: string | string[];
  /** AIA OCSP responder URL. */
  ocspUrl?: string;
  /** Signature digest for `openssl ca -md` (default sha256). */
  md?: string;
  /**
   * `copy_extensions = copy`: request extensions absent from ours are copied (ours always win,
   * basicConstraints is always CA:FALSE). Default: true only when neither dnsNames nor ipAddresses is given.
   */
  copyExtensions?: boolean;
  /** Raw extension lines appended to the section, e.g. ["1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:Machine"]. */
  extraExtensions?: string[];
}

export interface CaExtOptions {
  pathLen?: number;
  nameConstraints?: NameConstraints;
  crlUrl?: string | string[];
  aiaIssuerUrl?: string | string[];
  ocspUrl?: string;
}

/** Runs `openssl` with an argument vector (never a shell string); throws with stderr on failure. */
export function runOpenssl(
  args: string[],
  opts: { input?: string | Buffer; env?: Record<string, string> } = {},
): Buffer {
  try {
    return execFileSync("openssl", args, {
      input: opts.input,
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { status?: number | null; stderr?: Buffer; message?: string };
    const stderr = e.stderr?.toString().trim() || e.message || "";
    throw new Error(`openssl ${args.join(" ")} failed (exit ${String(e.status)}): ${stderr}`);
  }
}

/**
 * Converts a subject to OpenSSL's "/A=x/B=y" `-subj` form, keeping the order as written
 * (first written = first RDN in the DER SEQUENCE, i.e. NOT the reversed RFC 4514 order).
 *
 * - "C=US,O=Contoso,CN=x"                -> "/C=US/O=Contoso/CN=x"
 * - "DC=com,DC=Contoso,CN=mail1.contoso.com" -> "/DC=com/DC=Contoso/CN=mail1.contoso.com"
 * - "O=Contoso\, Ltd,CN=x"               -> "/O=Contoso, Ltd/CN=x" (backslash escapes any character)
 * - "CN=a+UID=b"                         -> multi-valued RDN; write "\+" for a literal plus
 * - a string starting with "/" is taken as already in OpenSSL form and returned unchanged.
 * Whitespace around each "TYPE=value" part and around the type is trimmed.
 */
export function toOpensslSubject(name: string): string {
  if (name.startsWith("/")) return name;
  const ESC = "\u0000"; // marks the next character as escaped
  const rdns: string[][] = [[]]; // RDN -> AVA raw "type=value" texts
  let text = "";
  const flushAva = () => {
    rdns[rdns.length - 1]!.push(text);
    text = "";
  };
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    if (ch === "\\" && i + 1 < name.length) text += ESC + name[++i]!;
    else if (ch === "+") flushAva();
    else if (ch === ",") {
      flushAva();
      rdns.push([]);
    } else text += ch;
  }
  flushAva();
  const ava = (raw: string): string => {
    const trimmed = raw.trim();
    const eq = trimmed.indexOf("=");
    if (eq <= 0) throw new Error(`Bad subject part "${raw.split(ESC).join("\\")}" in "${name}"`);
    const type = trimmed.slice(0, eq).trim();
    // openssl -subj: backslash-escape "\", "/" and "+"; other escaped characters become literal.
    const value = trimmed.slice(eq + 1).replace(/\u0000(.)|([\\/+])/gs, (_m, esc?: string, raw?: string) => {
      const c = esc ?? raw!;
      return /[\\/+]/.test(c) ? "\\" + c : c;
    });
    return `${type}=${value}`;
  };
  return "/" + rdns.map((rdn) => rdn.map(ava).join("+")).join("/");
}

/** Formats a Date as YYYYMMDDHHMMSSZ (what `-startdate`, `-enddate`, `-crl_lastupdate` accept). */
export function opensslDate(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").replace(/\.\d{3}Z$/, "Z");
}

/** Formats a Date as the YYMMDDHHMMSSZ UTCTime used in index.txt revocation fields. */
export function indexDate(d: Date): string {
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new Error(`index.txt dates must be 1950..2049 (UTCTime), got ${d.toISOString()}`);
  return opensslDate(d).slice(2);
}

/** Resolves validity to explicit notBefore/notAfter (see {@link Validity}). */
export function resolveValidity(v: Validity, defaultDays: number, backdateMs: number): [Date, Date] {
  const now = Date.now();
  const notBefore = v.startDate ?? new Date(now - backdateMs);
  const base = v.startDate?.getTime() ?? now;
  const notAfter = v.endDate ?? new Date(base + (v.days ?? defaultDays) * 86_400_000);
  return [notBefore, notAfter];
}

/**
 * Writes a new PKCS#8 PEM private key (mode 0600), as `openssl genpkey` would.
 *
 * RSA keys take a tenth of a second or more each. With SEALPOST_TEST_KEY_POOL
 * naming a folder (the test runner makes one per run, scripts/test.mjs), the
 * n-th RSA key of a kind that a process asks for is the pool's n-th key of that
 * kind, made by whichever test file asked first: keys stay distinct within a
 * process, and a run makes each only once. EC keys cost nothing and are always new.
 */
export function generateKey(keyType: KeyType, outPath: string): void {
  fs.writeFileSync(outPath, keyPem(keyType), { mode: 0o600 });
}

const RSA_BITS: Partial<Record<KeyType, number>> = { rsa1024: 1024, rsa2048: 2048, rsa3072: 3072 };
const taken = new Map<KeyType, number>();

function keyPem(keyType: KeyType): string {
  const bits = RSA_BITS[keyType];
  if (bits === undefined && keyType !== "ec-p256") throw new Error(`Unknown key type ${String(keyType)}`);
  const make = (): string => {
    const { privateKey } = bits === undefined ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: bits });
    return (privateKey as KeyObject).export({ type: "pkcs8", format: "pem" }).toString();
  };
  const pool = process.env.SEALPOST_TEST_KEY_POOL;
  if (bits === undefined || pool === undefined || pool === "") return make();
  const n = (taken.get(keyType) ?? 0) + 1;
  taken.set(keyType, n);
  const file = path.join(pool, `${keyType}-${n}.pem`);
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    // Not made yet in this run: make it and leave it for the next test file (written whole, then renamed).
  }
  const pem = make();
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, pem, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return pem;
}

/** Escapes a value for an OpenSSL config file (backslash, quotes, comment and variable markers). */
export function confEscape(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`Newline in config value ${JSON.stringify(value)}`);
  return value.replace(/[\\"'#$]/g, (c) => "\\" + c);
}

function urlList(prefix: string, urls: string | string[]): string {
  const list = typeof urls === "string" ? [urls] : urls;
  for (const u of list) if (u.includes(",")) throw new Error(`URL must not contain a comma: ${u}`);
  return list.map((u) => `${prefix}${confEscape(u)}`).join(", ");
}

function commonExtLines(o: CaExtOptions): string[] {
  const lines: string[] = [];
  if (o.crlUrl !== undefined) lines.push(`crlDistributionPoints = ${urlList("URI:", o.crlUrl)}`);
  const aia: string[] = [];
  if (o.ocspUrl) aia.push(urlList("OCSP;URI:", o.ocspUrl));
  if (o.aiaIssuerUrl) aia.push(urlList("caIssuers;URI:", o.aiaIssuerUrl));
  if (aia.length) lines.push(`authorityInfoAccess = ${aia.join(", ")}`);
  return lines;
}

/** Extension file text (section [ext]) for a CA certificate (root or intermediate). */
export function caExtensions(o: CaExtOptions): string {
  const bc = o.pathLen === undefined ? "critical, CA:TRUE" : `critical, CA:TRUE, pathlen:${o.pathLen}`;
  const lines = [
    "[ ext ]",
    `basicConstraints = ${bc}`,
    "keyUsage = critical, keyCertSign, cRLSign, digitalSignature",
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid:always",
    ...commonExtLines(o),
  ];
  const nc = o.nameConstraints;
  const subtrees: string[] = [];
  const dirSections: string[] = [];
  for (const kind of ["permitted", "excluded"] as const) {
    (nc?.[kind] ?? []).forEach((entry, i) => {
      const m = /^([A-Za-z]+):(.*)$/s.exec(entry);
      const [type, value] = m ? [m[1]!, m[2]!] : ["DNS", entry];
      if (type === "dirName") {
        // "dirName:O=Fabrikam,CN=x" (subject syntax, see toOpensslSubject) becomes a section of RDNs.
        const section = `nc_dir_${kind}_${i}`;
        const rdns = toOpensslSubject(value).slice(1).split("/").map((rdn, j) => `${j}.${rdn.replace("=", " = ")}`);
        dirSections.push(`[ ${section} ]`, ...rdns);
        subtrees.push(`${kind};dirName.${i} = ${section}`);
        return;
      }
      subtrees.push(`${kind};${type}.${i} = ${confEscape(value)}`);
    });
  }
  if (subtrees.length) lines.push("nameConstraints = critical, @nc", "[ nc ]", ...subtrees, ...dirSections);
  return lines.join("\n") + "\n";
}

/** Extension file text (section [ext]) for an end-entity certificate. */
export function leafExtensions(o: LeafOptions, keyKind: "rsa" | "ec" | string): string {
  const lines = [
    "[ ext ]",
    "basicConstraints = critical, CA:FALSE",
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid:always",
  ];
  const ku = o.keyUsage ?? (keyKind === "rsa" ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"]);
  if (ku !== "none" && ku.length) lines.push(`keyUsage = critical, ${ku.join(", ")}`);
  const eku = o.eku ?? "both";
  const ekuList =
    eku === "both" ? ["serverAuth", "clientAuth"] : eku === "none" ? [] : typeof eku === "string" ? [eku] : eku;
  if (ekuList.length) lines.push(`extendedKeyUsage = ${ekuList.join(", ")}`);
  lines.push(...commonExtLines(o));
  lines.push(...(o.extraExtensions ?? []));
  const san = [
    ...(o.dnsNames ?? []).map((d, i) => `DNS.${i} = ${confEscape(d)}`),
    ...(o.ipAddresses ?? []).map((ip, i) => `IP.${i} = ${confEscape(ip)}`),
  ];
  if (san.length) lines.push("subjectAltName = @san", "[ san ]", ...san);
  return lines.join("\n") + "\n";
}

/**
 * The per-CA `openssl ca` config. Two CA sections differ only in copy_extensions
 * (select with `-name CA_copy` / `-name CA_nocopy`). Note: OpenSSL reads `preserve`
 * from the [ ca ] section only, not from the named CA section; we also pass -preserveDN.
 */
export function caConfig(dir: string): string {
  const p = (f: string) => confEscape(path.join(dir, f));
  const section = (name: string, copy: string) => `[ ${name} ]
database = ${p("index.txt")}
new_certs_dir = ${p("newcerts")}
certificate = ${p("ca.crt")}
private_key = ${p("ca.key")}
serial = ${p("serial")}
crlnumber = ${p("crlnumber")}
default_md = sha256
default_days = 365
default_crl_days = 7
unique_subject = no
preserve = yes
email_in_dn = yes
policy = policy_anything
copy_extensions = ${copy}
crl_extensions = crl_ext
`;
  return `# Generated by test/helpers/openssl-ca.ts (test-only CA)
[ ca ]
default_ca = CA_nocopy
preserve = yes

${section("CA_copy", "copy")}
${section("CA_nocopy", "none")}
[ policy_anything ]
domainComponent = optional
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
emailAddress = optional

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ req ]
distinguished_name = req_dn
string_mask = utf8only

[ req_dn ]
`;
}

/** Creates the CA directory layout (index.txt, serial, crlnumber, newcerts/, issued/, tmp/, ca.cnf). */
export function initCaDir(dir: string, randomSerialHex: string): void {
  for (const sub of ["newcerts", "issued", "tmp"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.writeFileSync(path.join(dir, "index.txt"), "");
  fs.writeFileSync(path.join(dir, "index.txt.attr"), "unique_subject = no\n");
  fs.writeFileSync(path.join(dir, "serial"), randomSerialHex + "\n");
  fs.writeFileSync(path.join(dir, "crlnumber"), "1000\n");
  fs.writeFileSync(path.join(dir, "ca.cnf"), caConfig(dir));
}
