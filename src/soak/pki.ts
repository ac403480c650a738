// The soak's test PKI, made with the OpenSSL command line so that Sealpost is
// never its own CA: a common root, an issuing CA per organization (each with
// an `openssl ca` database, so certificates can be revoked and CRLs
// generated), leaves with SAN dNSNames and CRL distribution points, and the
// bad certificates the soak presents (another domain's name, expired,
// revoked, self-signed, from an untrusted root).
//
// This is a small module of its own rather than the tests' OpenSSL helper
// (test/helpers/openssl-ca.ts), so that shipped code under src/ imports
// nothing from test/. It does only what the soak needs; every call is
// execFileSync("openssl", [...]) with an argument vector, never a shell.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export interface Leaf {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
  /** The leaf followed by its issuing CA (what a server or client sends). */
  chainPem: string;
}

function openssl(args: string[], env?: Record<string, string>): Buffer {
  try {
    return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** "/O=Contoso/CN=Contoso Issuing CA" from "O=Contoso,CN=Contoso Issuing CA" (no escapes needed here). */
function subj(name: string): string {
  return "/" + name.split(",").map((p) => p.trim()).join("/");
}

/** YYYYMMDDHHMMSSZ, what `openssl ca -startdate/-enddate` takes. */
function asn1Time(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");
}

function ecKey(file: string): void {
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
  fs.chmodSync(file, 0o600);
}

const DAY = 86_400_000;

export class SoakCa {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  private n = 0;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly parent: SoakCa | undefined,
  ) {
    this.certPath = path.join(dir, "ca.crt");
    this.keyPath = path.join(dir, "ca.key");
    this.certPem = fs.existsSync(this.certPath) ? fs.readFileSync(this.certPath, "utf8") : "";
  }

  private static prepare(dir: string): void {
    fs.mkdirSync(path.join(dir, "newcerts"), { recursive: true });
    fs.mkdirSync(path.join(dir, "issued"), { recursive: true });
    fs.writeFileSync(path.join(dir, "index.txt"), "");
    const serial = randomBytes(8);
    serial[0] = ((serial[0] as number) & 0x7f) | 0x10;
    fs.writeFileSync(path.join(dir, "serial"), serial.toString("hex").toUpperCase() + "\n");
    fs.writeFileSync(path.join(dir, "crlnumber"), "01\n");
    fs.writeFileSync(
      path.join(dir, "ca.cnf"),
      [
        "[ ca ]",
        "default_ca = CA_default",
        "[ CA_default ]",
        `dir = ${dir}`,
        "database = $dir/index.txt",
        "new_certs_dir = $dir/newcerts",
        "serial = $dir/serial",
        "crlnumber = $dir/crlnumber",
        "certificate = $dir/ca.crt",
        "private_key = $dir/ca.key",
        "default_md = sha256",
        "default_days = 365",
        "default_crl_days = 7",
        "policy = policy_any",
        "unique_subject = no",
        "email_in_dn = no",
        "copy_extensions = none",
        "[ policy_any ]",
        "organizationName = optional",
        "commonName = optional",
        "[ req ]",
        "distinguished_name = dn",
        "prompt = no",
        "[ dn ]",
        "CN = unused",
        "",
      ].join("\n"),
    );
  }

  /** A self-signed root CA in `dir` (created; must not hold a CA yet). */
  static createRoot(dir: string, name: string): SoakCa {
    SoakCa.prepare(dir);
    const key = path.join(dir, "ca.key");
    ecKey(key);
    openssl([
      "req", "-new", "-x509", "-config", path.join(dir, "ca.cnf"), "-key", key, "-subj", subj(name), "-days", "3650", "-sha256",
      "-addext", "basicConstraints = critical,CA:TRUE", "-addext", "keyUsage = critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier = hash",
      "-out", path.join(dir, "ca.crt"),
    ]);
    return new SoakCa(name, dir, undefined);
  }

  /** An issuing CA signed by this one; its certificate names crlUrl (this CA's CRL). */
  createIntermediate(name: string, crlUrl: string): SoakCa {
    const dir = path.join(this.dir, name.replace(/[^A-Za-z0-9]+/g, "-").toLowerCase());
    SoakCa.prepare(dir);
    const key = path.join(dir, "ca.key");
    ecKey(key);
    const csr = path.join(dir, "ca.csr");
    openssl(["req", "-new", "-config", path.join(dir, "ca.cnf"), "-key", key, "-subj", subj(name), "-out", csr]);
    const ext = [
      "basicConstraints = critical,CA:TRUE,pathlen:0",
      "keyUsage = critical,keyCertSign,cRLSign",
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid:always",
      `crlDistributionPoints = URI:${crlUrl}`,
    ];
    this.sign(csr, ext, new Date(Date.now() - DAY), new Date(Date.now() + 1825 * DAY), path.join(dir, "ca.crt"));
    return new SoakCa(name, dir, this);
  }

  private sign(csr: string, ext: string[], notBefore: Date, notAfter: Date, out: string): void {
    const extFile = path.join(this.dir, `ext-${++this.n}.cnf`);
    fs.writeFileSync(extFile, `[ ext ]\n${ext.join("\n")}\n`);
    openssl([
      "ca", "-batch", "-notext", "-preserveDN", "-config", path.join(this.dir, "ca.cnf"),
      "-startdate", asn1Time(notBefore), "-enddate", asn1Time(notAfter),
      "-extfile", extFile, "-extensions", "ext", "-in", csr, "-out", out,
    ]);
  }

  /**
   * A leaf for server and client authentication (both EKUs, as Domain
   * Security needs). Validity: from an hour ago for a year, unless given.
   */
  issueLeaf(o: { subject: string; dnsNames: string[]; crlUrl: string; notBefore?: Date; notAfter?: Date }): Leaf {
    const base = path.join(this.dir, "issued", `${++this.n}-${o.dnsNames[0] ?? "leaf"}`);
    const keyPath = `${base}.key`;
    ecKey(keyPath);
    const csr = `${base}.csr`;
    openssl(["req", "-new", "-config", path.join(this.dir, "ca.cnf"), "-key", keyPath, "-subj", subj(o.subject), "-out", csr]);
    const certPath = `${base}.crt`;
    this.sign(
      csr,
      [
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature",
        "extendedKeyUsage = serverAuth,clientAuth",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid:always",
        `subjectAltName = ${o.dnsNames.map((d) => `DNS:${d}`).join(",")}`,
        `crlDistributionPoints = URI:${o.crlUrl}`,
      ],
      o.notBefore ?? new Date(Date.now() - 3_600_000),
      o.notAfter ?? new Date(Date.now() + 365 * DAY),
      certPath,
    );
    const certPem = fs.readFileSync(certPath, "utf8");
    return { certPem, keyPem: fs.readFileSync(keyPath, "utf8"), certPath, keyPath, chainPem: certPem.trim() + "\n" + this.certPem.trim() + "\n" };
  }

  /** Marks a certificate this CA issued as revoked (keyCompromise) in its database. */
  revoke(leaf: { certPath: string }): void {
    openssl(["ca", "-config", path.join(this.dir, "ca.cnf"), "-revoke", leaf.certPath, "-crl_reason", "keyCompromise"]);
  }

  /** The current CRL, DER, valid for 7 days. */
  crlDer(): Buffer {
    const pem = path.join(this.dir, "crl.pem");
    openssl(["ca", "-gencrl", "-config", path.join(this.dir, "ca.cnf"), "-out", pem]);
    return openssl(["crl", "-in", pem, "-outform", "DER"]);
  }

  /** PKCS#12 of a leaf with its key and this CA's chain up to the root. */
  pfx(leaf: Leaf, password: string): Buffer {
    const chain = path.join(this.dir, `chain-${++this.n}.pem`);
    const parts = [this.certPem.trim()];
    for (let ca = this.parent; ca; ca = ca.parent) parts.push(ca.certPem.trim());
    fs.writeFileSync(chain, parts.join("\n") + "\n");
    return openssl(["pkcs12", "-export", "-in", leaf.certPath, "-inkey", leaf.keyPath, "-certfile", chain, "-passout", "env:SOAK_PFX_PASSWORD"], { SOAK_PFX_PASSWORD: password });
  }
}

/** A self-signed leaf (no CA behind it): what a careless or hostile sender presents. */
export function selfSignedLeaf(dir: string, subject: string, dnsNames: string[]): Leaf {
  fs.mkdirSync(dir, { recursive: true });
  const keyPath = path.join(dir, `${dnsNames[0] ?? "self"}.key`);
  ecKey(keyPath);
  const certPath = path.join(dir, `${dnsNames[0] ?? "self"}.crt`);
  const cnf = path.join(dir, "req.cnf");
  fs.writeFileSync(cnf, "[ req ]\ndistinguished_name = dn\nprompt = no\n[ dn ]\nCN = unused\n");
  openssl([
    "req", "-new", "-x509", "-config", cnf, "-key", keyPath, "-subj", subj(subject), "-days", "30", "-sha256",
    "-addext", `subjectAltName = ${dnsNames.map((d) => `DNS:${d}`).join(",")}`,
    "-addext", "basicConstraints = critical,CA:FALSE",
    "-addext", "extendedKeyUsage = serverAuth,clientAuth",
    "-out", certPath,
  ]);
  const certPem = fs.readFileSync(certPath, "utf8");
  return { certPem, keyPem: fs.readFileSync(keyPath, "utf8"), certPath, keyPath, chainPem: certPem };
}
