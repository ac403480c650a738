/**
 * Test-only PKI fixture driven by the OpenSSL command line: an independent CA
 * (root -> intermediates -> leaves, CRLs, PKCS#12, PKCS#7) so that Sealpost's own
 * code is never the CA in its tests.
 *
 * Every openssl call is `execFileSync("openssl", [...])` (no shell). Each CA lives in
 * its own directory with an `openssl ca` database (index.txt, serial, crlnumber);
 * intermediates live inside their parent's directory, so `root.cleanup()` removes all.
 *
 * Subjects are written "TYPE=value,TYPE=value" in DER order (first = outermost RDN,
 * e.g. "DC=com,DC=Contoso,CN=mail1.contoso.com"; this is NOT the reversed RFC 4514
 * order), "\," escapes a comma, "+" joins a multi-valued RDN; a string that starts
 * with "/" is used as an OpenSSL "/A=x/B=y" subject unchanged. See toOpensslSubject.
 *
 * Usage:
 *   const root = await OpenSslCa.createRoot({ name: "C=US,O=Test,CN=Test Root CA" });
 *   const inter = await root.createIntermediate({ name: "C=US,O=Test,CN=Test Issuing CA" });
 *   const leaf = inter.issueLeaf({ subject: "CN=mail.contoso.com", dnsNames: ["mail.contoso.com"] });
 *   ... root.cleanup();
 */
import { X509Certificate, createPublicKey, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  caExtensions,
  generateKey,
  indexDate,
  initCaDir,
  leafExtensions,
  opensslDate,
  resolveValidity,
  runOpenssl,
  toOpensslSubject,
  type CaExtOptions,
  type CrlReason,
  type KeyType,
  type LeafOptions,
  type Validity,
} from "./openssl-ca-config.js";

export { runOpenssl, toOpensslSubject, opensslDate };
export type { CrlReason, Eku, KeyType, LeafOptions, NameConstraints, Validity } from "./openssl-ca-config.js";

export interface IssuedCert {
  certPem: string;
  certPath: string;
  /** Present when the fixture made (or was given) the key: issueLeaf, not signRequest. */
  keyPem?: string;
  keyPath?: string | undefined;
  /** Upper-case hex, as `openssl x509 -serial` and Node's X509Certificate.serialNumber print it. */
  serial: string;
  /** SHA-1 thumbprint, upper-case hex without colons. */
  sha1: string;
}

export interface RootOptions extends Validity, Omit<CaExtOptions, "crlUrl" | "aiaIssuerUrl" | "ocspUrl"> {
  /** Directory to use; must not exist or be empty (cleanup() deletes it). Default: mkdtemp "sealpost-ca-". */
  dir?: string;
  /** Subject, see the module comment. */
  name: string;
  /** Default "rsa2048". */
  keyType?: KeyType;
  /** Signature digest of the self-signature (`openssl ca -md`, default sha256). */
  md?: string;
}

export interface IntermediateOptions extends Validity, CaExtOptions {
  name: string;
  /** Default "rsa2048". */
  keyType?: KeyType;
  /** Signature digest of the new CA's certificate (`openssl ca -md`, default sha256). */
  md?: string;
}

export interface IssueLeafOptions extends LeafOptions {
  subject: string;
  /** Default "rsa2048". Ignored when keyPem is given. */
  keyType?: KeyType;
  /** Reuse this PEM private key instead of generating one (e.g. renewal with the same key). */
  keyPem?: string;
}

export interface CrlOptions {
  /** Default now. */
  lastUpdate?: Date;
  /** Default lastUpdate + days/hours (default 7 days). */
  nextUpdate?: Date;
  days?: number;
  hours?: number;
  /** Return DER instead of PEM. */
  der?: boolean;
}

export interface PfxOptions {
  /** `-legacy`: RC2-40/3DES + SHA-1 MAC. Needs the legacy provider to read back (openssl -legacy, node --openssl-legacy-provider). */
  legacy?: boolean;
  /** PBE-SHA1-3DES for key and certs + SHA-1 MAC: old-Windows compatible, still readable by OpenSSL 3 / Node without the legacy provider. */
  tripleDes?: boolean;
  /** Include this CA's chain (this CA then parents up to the root). Default false. */
  withChain?: boolean;
  /** PKCS#12 friendlyName of the leaf. */
  friendlyName?: string;
}

const HOUR = 3_600_000;

/** The SHA-1 thumbprint of a certificate (PEM text or a PEM/DER file): upper hex without colons. */
export function opensslSha1(certPemOrPath: string): string {
  return x509Info(certPemOrPath).sha1;
}

/**
 * Thumbprint and serial, read with Node's X509Certificate (OpenSSL's parser in this process) rather than an
 * `openssl x509` child per certificate; the unit test of this fixture checks both against `openssl x509`.
 */
function x509Info(certPemOrPath: string): { sha1: string; serial: string } {
  const cert = new X509Certificate(certPemOrPath.includes("-----BEGIN") ? certPemOrPath : fs.readFileSync(certPemOrPath));
  return { sha1: cert.fingerprint.replace(/:/g, "").toUpperCase(), serial: cert.serialNumber.toUpperCase() };
}

export class OpenSslCa {
  readonly certPath: string;
  readonly keyPath: string;
  readonly indexPath: string;
  /** Written by crl(): the latest CRL in PEM form (crl.der beside it when der was asked). */
  readonly crlPath: string;
  readonly certPem: string;
  readonly sha1: string;
  readonly serial: string;
  /** OpenSSL "/A=x/B=y" form of name. */
  readonly subject: string;
  private counter = 0;
  private subCount = 0;

  private constructor(
    /** The subject as given to createRoot / createIntermediate. */
    readonly name: string,
    readonly dir: string,
    readonly keyType: KeyType,
    readonly parent: OpenSslCa | undefined,
  ) {
    this.certPath = path.join(dir, "ca.crt");
    this.keyPath = path.join(dir, "ca.key");
    this.indexPath = path.join(dir, "index.txt");
    this.crlPath = path.join(dir, "crl.pem");
    this.subject = toOpensslSubject(name);
    this.certPem = fs.existsSync(this.certPath) ? fs.readFileSync(this.certPath, "utf8") : "";
    const info = this.certPem ? x509Info(this.certPath) : { sha1: "", serial: "" };
    this.sha1 = info.sha1;
    this.serial = info.serial;
  }

  /** Creates a self-signed root CA (via `openssl ca -selfsign`, so the root has its own index entry). */
  static async createRoot(opts: RootOptions): Promise<OpenSslCa> {
    let dir: string;
    if (opts.dir) {
      if (fs.existsSync(opts.dir) && fs.readdirSync(opts.dir).length) throw new Error(`CA dir ${opts.dir} is not empty`);
      fs.mkdirSync(opts.dir, { recursive: true });
      dir = path.resolve(opts.dir);
    } else {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "sealpost-ca-"));
    }
    const keyType = opts.keyType ?? "rsa2048";
    OpenSslCa.prepare(dir, opts.name, keyType);
    const probe = new OpenSslCa(opts.name, dir, keyType, undefined);
    probe.signCsr(path.join(dir, "tmp", "ca.csr"), caExtensions(opts), opts, {
      copy: false,
      out: probe.certPath,
      selfSign: true,
      md: opts.md,
      defaultDays: 3650,
      backdateMs: 24 * HOUR,
    });
    const root = new OpenSslCa(opts.name, dir, keyType, undefined);
    root.counter = probe.counter; // keep scratch names unique
    return root;
  }

  /** Creates a subordinate CA signed by this CA; crlUrl/aiaIssuerUrl/ocspUrl go into the new CA's certificate. */
  async createIntermediate(opts: IntermediateOptions): Promise<OpenSslCa> {
    const dir = path.join(this.dir, `sub-${++this.subCount}`);
    const keyType = opts.keyType ?? "rsa2048";
    OpenSslCa.prepare(dir, opts.name, keyType);
    this.signCsr(path.join(dir, "tmp", "ca.csr"), caExtensions(opts), opts, {
      copy: false,
      out: path.join(dir, "ca.crt"),
      md: opts.md,
      defaultDays: 1825,
      backdateMs: 24 * HOUR,
    });
    return new OpenSslCa(opts.name, dir, keyType, this);
  }

  /**
   * A cross-certificate: `other`'s subject and key certified as a CA by this CA (signed with this
   * CA's key). Each call makes another certificate (new serial) for the same name and key.
   */
  crossCertify(other: OpenSslCa, opts: Validity & Omit<CaExtOptions, "nameConstraints"> = {}): IssuedCert {
    const out = this.tmp("cross.pem");
    this.signCsr(path.join(other.dir, "tmp", "ca.csr"), caExtensions(opts), opts, { copy: false, out, defaultDays: 1825, backdateMs: 24 * HOUR });
    const info = x509Info(out);
    const certPath = path.join(this.dir, "issued", `${info.serial}.crt`);
    fs.renameSync(out, certPath);
    return { certPem: fs.readFileSync(certPath, "utf8"), certPath, serial: info.serial, sha1: info.sha1 };
  }

  private static prepare(dir: string, name: string, keyType: KeyType): void {
    const serial = randomBytes(8);
    serial[0] = (serial[0]! & 0x7f) | 0x10; // positive, always 16 hex digits
    initCaDir(dir, serial.toString("hex").toUpperCase());
    generateKey(keyType, path.join(dir, "ca.key"));
    makeCsr(path.join(dir, "ca.cnf"), path.join(dir, "ca.key"), name, path.join(dir, "tmp", "ca.csr"));
  }

  /**
   * Signs a PKCS#10 request made elsewhere (PEM text, or a path to a PEM or DER file, or a Buffer).
   * The request's subject is kept in its order (-preserveDN). SAN: opts.dnsNames/ipAddresses,
   * else copied from the request.
   */
  signRequest(csr: string | Buffer, opts: LeafOptions = {}): IssuedCert {
    const raw = Buffer.isBuffer(csr) ? csr : csr.includes("-----BEGIN") ? Buffer.from(csr) : fs.readFileSync(csr);
    const isPem = raw.subarray(0, 100).toString("latin1").includes("-----BEGIN");
    const src = this.tmp("req.in");
    fs.writeFileSync(src, raw);
    const pemPath = this.tmp("req.pem");
    runOpenssl(["req", "-inform", isPem ? "PEM" : "DER", "-in", src, "-outform", "PEM", "-out", pemPath]);
    const pub = runOpenssl(["req", "-in", pemPath, "-noout", "-pubkey"]).toString();
    const keyKind = createPublicKey(pub).asymmetricKeyType ?? "unknown";
    return this.signLeaf(pemPath, opts, keyKind);
  }

  /** Generates a key (`openssl genpkey`) and CSR, then signs it. */
  issueLeaf(opts: IssueLeafOptions): IssuedCert {
    const keyPath = this.tmp("key.pem");
    if (opts.keyPem !== undefined) fs.writeFileSync(keyPath, opts.keyPem, { mode: 0o600 });
    else generateKey(opts.keyType ?? "rsa2048", keyPath);
    const csrPath = this.tmp("leaf.csr");
    makeCsr(path.join(this.dir, "ca.cnf"), keyPath, opts.subject, csrPath);
    const keyKind = opts.keyPem !== undefined ? createPublicKey(opts.keyPem).asymmetricKeyType : opts.keyType;
    const issued = this.signLeaf(csrPath, opts, keyKind?.startsWith("rsa") ? "rsa" : "ec");
    const finalKey = issued.certPath.replace(/\.crt$/, ".key");
    fs.renameSync(keyPath, finalKey);
    return { ...issued, keyPath: finalKey, keyPem: fs.readFileSync(finalKey, "utf8") };
  }

  private signLeaf(csrPath: string, opts: LeafOptions, keyKind: string): IssuedCert {
    const out = this.tmp("cert.pem");
    const copy = opts.copyExtensions ?? (opts.dnsNames === undefined && opts.ipAddresses === undefined);
    this.signCsr(csrPath, leafExtensions(opts, keyKind), opts, {
      copy,
      out,
      md: opts.md,
      defaultDays: 365,
      backdateMs: HOUR,
    });
    const info = x509Info(out);
    const certPath = path.join(this.dir, "issued", `${info.serial}.crt`);
    fs.renameSync(out, certPath);
    return { certPem: fs.readFileSync(certPath, "utf8"), certPath, serial: info.serial, sha1: info.sha1 };
  }

  /** The one place that runs `openssl ca` to issue a certificate. */
  private signCsr(
    csrPath: string,
    extText: string,
    validity: Validity,
    o: { copy: boolean; out: string; selfSign?: boolean; md?: string | undefined; defaultDays: number; backdateMs: number },
  ): void {
    const extPath = this.tmp("ext.cnf");
    fs.writeFileSync(extPath, extText);
    const [notBefore, notAfter] = resolveValidity(validity, o.defaultDays, o.backdateMs);
    runOpenssl([
      "ca", "-batch", "-notext", "-preserveDN",
      "-config", path.join(this.dir, "ca.cnf"),
      "-name", o.copy ? "CA_copy" : "CA_nocopy",
      ...(o.selfSign ? ["-selfsign"] : []),
      ...(o.md ? ["-md", o.md] : []),
      "-keyfile", this.keyPath,
      "-startdate", opensslDate(notBefore),
      "-enddate", opensslDate(notAfter),
      "-extfile", extPath, "-extensions", "ext",
      "-in", csrPath, "-out", o.out,
    ]);
  }

  /**
   * Revokes a certificate this CA issued (an IssuedCert, or an OpenSslCa child, or anything with certPath).
   * revokedAt rewrites the revocation time in index.txt (UTCTime years 1950..2049 only).
   */
  revoke(cert: { certPath: string }, reason?: CrlReason, opts: { revokedAt?: Date } = {}): void {
    const { serial } = x509Info(cert.certPath);
    const lineOf = (s: string) => this.indexLines().find((l) => l.split("\t")[3] === s);
    // Unlike openssl (which would add a foreign cert to the database), refuse certificates we did not issue.
    if (!lineOf(serial)) throw new Error(`Serial ${serial} was not issued by ${this.name}`);
    runOpenssl([
      "ca", "-config", path.join(this.dir, "ca.cnf"), "-name", "CA_nocopy",
      "-revoke", cert.certPath, ...(reason ? ["-crl_reason", reason] : []),
    ]);
    if (opts.revokedAt) {
      const lines = this.indexLines().map((l) => {
        const f = l.split("\t");
        if (f[3] !== serial) return l;
        f[2] = f[2]!.replace(/^[0-9]+Z/, indexDate(opts.revokedAt!));
        return f.join("\t");
      });
      fs.writeFileSync(this.indexPath, lines.join("\n") + "\n");
    }
  }

  /** Generates the current CRL (`openssl ca -gencrl`); PEM by default. Also written to crlPath. */
  crl(opts: CrlOptions = {}): Buffer {
    const last = opts.lastUpdate ?? new Date();
    const spanHours = opts.days !== undefined || opts.hours !== undefined ? (opts.days ?? 0) * 24 + (opts.hours ?? 0) : 7 * 24;
    const next = opts.nextUpdate ?? new Date(last.getTime() + spanHours * HOUR);
    runOpenssl([
      "ca", "-gencrl", "-config", path.join(this.dir, "ca.cnf"), "-name", "CA_nocopy",
      "-crl_lastupdate", opensslDate(last), "-crl_nextupdate", opensslDate(next), "-out", this.crlPath,
    ]);
    if (!opts.der) return fs.readFileSync(this.crlPath);
    const derPath = path.join(this.dir, "crl.der");
    runOpenssl(["crl", "-in", this.crlPath, "-outform", "DER", "-out", derPath]);
    return fs.readFileSync(derPath);
  }

  /**
   * Answers a DER OCSP request from index.txt with `openssl ocsp` in file mode (-reqin/-respout), so no
   * socket is opened. Serve it from a Node http server on 127.0.0.1 if needed: OpenSSL 3.0's
   * `ocsp -port` has no bind address and listens on all interfaces. signer: a delegated responder
   * (issue it with eku ["OCSPSigning"]); default this CA. minutes: nextUpdate (-nmin), default none.
   */
  ocspRespond(requestDer: Buffer, opts: { signer?: IssuedCert; minutes?: number } = {}): Buffer {
    const signer = opts.signer ?? { certPath: this.certPath, keyPath: this.keyPath };
    if (!signer.keyPath) throw new Error("ocspRespond() signer needs keyPath");
    const req = this.tmp("ocsp.req");
    const resp = this.tmp("ocsp.resp");
    fs.writeFileSync(req, requestDer);
    runOpenssl([
      "ocsp", "-index", this.indexPath, "-CA", this.certPath, "-rsigner", signer.certPath, "-rkey", signer.keyPath,
      ...(opts.minutes !== undefined ? ["-nmin", String(opts.minutes)] : []), "-reqin", req, "-respout", resp,
    ]);
    return fs.readFileSync(resp);
  }

  /** This CA's certificate followed by its parents' up to the root (PEM). */
  chainPem(): string {
    const parts: string[] = [this.certPem.trim() + "\n"];
    for (let ca = this.parent; ca; ca = ca.parent) parts.push(ca.certPem.trim() + "\n");
    return parts.join("");
  }

  /** PKCS#12 of a leaf with its key, via `openssl pkcs12 -export` (password passed through the environment). */
  pfx(cert: IssuedCert, password: string, opts: PfxOptions = {}): Buffer {
    if (!cert.keyPath) throw new Error("pfx() needs a certificate with keyPath (use issueLeaf)");
    const out = this.tmp("out.pfx");
    const args = ["pkcs12", "-export", "-in", cert.certPath, "-inkey", cert.keyPath, "-passout", "env:SEALPOST_P12_PASS"];
    if (opts.withChain) {
      const chainPath = this.tmp("chain.pem");
      fs.writeFileSync(chainPath, this.chainPem());
      args.push("-certfile", chainPath);
    }
    if (opts.legacy) args.push("-legacy");
    if (opts.tripleDes) args.push("-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1");
    if (opts.friendlyName !== undefined) args.push("-name", opts.friendlyName);
    runOpenssl([...args, "-out", out], { env: { SEALPOST_P12_PASS: password } });
    return fs.readFileSync(out);
  }

  /** DER PKCS#7 "certs-only" bundle via `openssl crl2pkcs7 -nocrl`. */
  p7b(certs: string[]): Buffer {
    const args = ["crl2pkcs7", "-nocrl", "-outform", "DER"];
    if (certs.length) {
      const bundle = this.tmp("p7b.pem");
      fs.writeFileSync(bundle, certs.map((c) => c.trim() + "\n").join(""));
      args.push("-certfile", bundle);
    }
    return runOpenssl(args);
  }

  /** Removes this CA's directory (for a root: everything, including intermediates). */
  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private indexLines(): string[] {
    return fs.readFileSync(this.indexPath, "utf8").split("\n").filter(Boolean);
  }

  /** A fresh scratch path under tmp/ (names never repeat within one CA object). */
  private tmp(file: string): string {
    return path.join(this.dir, "tmp", `${++this.counter}-${file}`);
  }
}

function makeCsr(configPath: string, keyPath: string, name: string, out: string): void {
  runOpenssl(["req", "-new", "-utf8", "-config", configPath, "-key", keyPath, "-subj", toOpensslSubject(name), "-out", out]);
}
