// Admin API: the server's certificates (New-, Import-, Enable-, Get-,
// Export-, Remove-ExchangeCertificate). Front ends read and write files; this
// module takes and returns bytes, so the HTTP admin API can serve it too.
import { SealpostError, isSealpostError } from "../errors/errors.js";
import { normalizeThumbprint, sha256Hex, SUPPORTED_SERVICES, type PendingRequest, type StoredCertificate } from "../certstore/certstore.js";
import { certificateSpki, decodeInput, issuerPath, readCertificates, thumbprintOf } from "../pki/certs.js";
import { createRequest, createSelfSigned, csrToPem } from "../pki/csr.js";
import { formatDisplayName } from "../pki/dn.js";
import { describePrivateKey, parseKeySpec, pkcs8ToPem, publicKeySpkiOfPrivate } from "../pki/keys.js";
import { createPfx, looksLikePfx, parsePfx } from "../pki/pfx.js";
import type { ServerContext } from "./context.js";
import { guardDomainSecurity, type ChangeOptions } from "./domain-security.js";

export type CertificateStatus = "Valid" | "Expired" | "NotYetValid" | "Revoked" | "Untrusted" | "RevocationCheckFailure" | "PendingRequest";

/** What Get-ExchangeCertificate shows, property names as Exchange spells them. */
export interface CertificateView {
  Thumbprint: string;
  Services: string;
  Subject: string;
  Issuer: string;
  FriendlyName: string;
  SerialNumber: string;
  NotBefore: Date | null;
  NotAfter: Date | null;
  CertificateDomains: string[];
  Status: CertificateStatus;
  HasPrivateKey: boolean;
  PrivateKeyExportable: boolean;
  IsSelfSigned: boolean;
  KeyAlgorithm: string;
  KeySize: number;
  Sha256Thumbprint: string;
}

export function parseServices(input: string | string[]): string[] {
  const parts = (Array.isArray(input) ? input : [input]).flatMap((s) => s.split(/[,\s]+/)).filter((s) => s !== "");
  const out: string[] = [];
  for (const p of parts) {
    const up = p.toUpperCase();
    if (up === "NONE") continue;
    if (!(SUPPORTED_SERVICES as readonly string[]).includes(up)) {
      throw new SealpostError("SERVICE_UNSUPPORTED", `The service '${p}' is not supported: Sealpost serves SMTP (use -Services SMTP, or None).`);
    }
    if (!out.includes(up)) out.push(up);
  }
  if (parts.length > 1 && parts.some((p) => p.toUpperCase() === "NONE")) {
    throw new SealpostError("INVALID_ARGUMENT", "'None' cannot be combined with other services.");
  }
  return out;
}

export function certificateStatus(c: { notBefore: Date; notAfter: Date }, now: Date): CertificateStatus {
  if (now.getTime() < c.notBefore.getTime()) return "NotYetValid";
  if (now.getTime() >= c.notAfter.getTime()) return "Expired";
  return "Valid";
}

export function certificateView(c: StoredCertificate, now: Date): CertificateView {
  return {
    Thumbprint: c.thumbprint,
    Services: c.services.length ? c.services.join(", ") : "None",
    Subject: c.subject,
    Issuer: c.issuer,
    FriendlyName: c.friendlyName,
    SerialNumber: c.serialNumber,
    NotBefore: c.notBefore,
    NotAfter: c.notAfter,
    CertificateDomains: c.certificateDomains,
    Status: certificateStatus(c, now),
    HasPrivateKey: c.hasPrivateKey,
    PrivateKeyExportable: c.privateKeyExportable,
    IsSelfSigned: c.selfSigned,
    KeyAlgorithm: c.keyAlgorithm,
    KeySize: c.keySize,
    Sha256Thumbprint: c.sha256,
  };
}

function pendingView(p: PendingRequest): CertificateView {
  return {
    Thumbprint: p.id,
    Services: "None",
    Subject: p.subject,
    Issuer: "",
    FriendlyName: p.friendlyName,
    SerialNumber: "",
    NotBefore: null,
    NotAfter: null,
    CertificateDomains: p.dnsNames,
    Status: "PendingRequest",
    HasPrivateKey: true,
    PrivateKeyExportable: p.privateKeyExportable,
    IsSelfSigned: false,
    KeyAlgorithm: p.keyAlgorithm,
    KeySize: p.keySize,
    Sha256Thumbprint: "",
  };
}

export interface NewCertificateOptions {
  generateRequest: boolean;
  subjectName?: string;
  domainNames?: string[];
  keySize?: string | number;
  friendlyName?: string;
  privateKeyExportable?: boolean;
  /** Self-signed only: services to enable (Exchange 2007 enables SMTP). */
  services?: string[];
}

export interface NewCertificateResult {
  certificate: CertificateView;
  /** The PKCS#10 request, DER, when generateRequest. */
  requestDer?: Buffer;
  requestPem?: string;
}

export class CertificateAdmin {
  constructor(private readonly ctx: ServerContext) {}

  /**
   * New-ExchangeCertificate. With generateRequest a key pair and PKCS#10
   * request are made and kept pending; `deliver` receives the request and
   * must succeed (write the file) before anything is stored.
   */
  async newCertificate(opts: NewCertificateOptions, deliver?: (r: { der: Buffer; pem: string }) => Promise<void>): Promise<NewCertificateResult> {
    const key = parseKeySpec(opts.keySize);
    const defaultName = this.ctx.serverName;
    const subjectName = opts.subjectName ?? `CN=${defaultName}`;
    const domainNames = opts.domainNames ?? (opts.subjectName === undefined ? [defaultName] : []);
    const friendlyName = opts.friendlyName ?? (opts.generateRequest ? "" : "Sealpost self-signed certificate");
    const exportable = opts.privateKeyExportable ?? false;
    if (opts.generateRequest) {
      const req = await createRequest({ subjectName, domainNames, key });
      const pem = csrToPem(req.csrDer);
      if (deliver) await deliver({ der: req.csrDer, pem });
      const pending = this.ctx.certs.addPendingRequest({
        csrDer: req.csrDer,
        keyPem: pkcs8ToPem(req.keyPair.pkcs8Der),
        spkiSha256: sha256Hex(publicKeySpkiOfPrivate(req.keyPair.pkcs8Der)),
        privateKeyExportable: exportable,
        friendlyName,
        subject: formatDisplayName(req.subjectRdns),
        dnsNames: req.dnsNames,
        keyAlgorithm: key.algorithm,
        keySize: key.size,
      });
      return { certificate: pendingView(pending), requestDer: req.csrDer, requestPem: pem };
    }
    const services = parseServices(opts.services ?? ["SMTP"]);
    const made = await createSelfSigned({ subjectName, domainNames, key });
    const stored = this.ctx.certs.addCertificate({
      der: made.certDer,
      chain: [],
      keyPem: pkcs8ToPem(made.keyPair.pkcs8Der),
      privateKeyExportable: exportable,
      friendlyName,
      services,
      source: "selfsigned",
    });
    return { certificate: certificateView(stored, this.ctx.now()) };
  }

  /**
   * Import-ExchangeCertificate: a PFX (with its key), or an issued
   * certificate (PEM, DER, chain, PKCS#7) bound to the pending request that
   * holds its key.
   */
  async importCertificate(opts: { data: Buffer; password?: string; friendlyName?: string; privateKeyExportable?: boolean }): Promise<CertificateView> {
    const { der } = decodeInput(opts.data);
    const pfxBytes = der && looksLikePfx(der) ? der : looksLikePfx(opts.data) ? opts.data : undefined;
    if (pfxBytes) return this.importPfx(pfxBytes, opts);
    if (der && der.length > 0 && der[0] !== 0x30) {
      // Every form Import-ExchangeCertificate reads starts with a DER SEQUENCE or is PEM.
      throw new SealpostError("CERT_MALFORMED", "The file is neither a PFX (PKCS#12) file, a certificate (PEM or DER) nor a PKCS#7 bundle (.p7b/.p7c).");
    }
    const certs = readCertificates(opts.data);
    for (const c of certs) {
      const pending = this.ctx.certs.findPendingBySpki(sha256Hex(certificateSpki(c)));
      if (!pending) continue;
      const chain = await this.chainFor(c, certs);
      const stored = this.ctx.certs.completeRequest(pending.id, c, chain, opts.friendlyName);
      return certificateView(stored, this.ctx.now());
    }
    for (const c of certs) {
      const existing = this.ctx.certs.get(thumbprintOf(c));
      if (existing) throw new SealpostError("ALREADY_EXISTS", `The certificate ${existing.thumbprint} is already in this server's store.`);
    }
    throw new SealpostError(
      "NO_PENDING_REQUEST",
      "The certificate's public key matches no pending request on this server. Import it on the server that made the request, or import a PFX that holds its private key.",
    );
  }

  /**
   * The issuers a server presents with its certificate: from the file, and
   * from the organization's known intermediates when the CA sent the leaf alone.
   */
  private async chainFor(leaf: Buffer, fromFile: Buffer[]): Promise<Buffer[]> {
    const known = (await this.ctx.org.listTrusted("intermediate")).map((r) => r.der);
    return issuerPath(leaf, [...fromFile, ...known]);
  }

  private async importPfx(data: Buffer, opts: { password?: string; friendlyName?: string; privateKeyExportable?: boolean }): Promise<CertificateView> {
    let contents;
    try {
      contents = await parsePfx(data, opts.password ?? "");
    } catch (e) {
      if (isSealpostError(e, "PFX_BAD_PASSWORD") && opts.password === undefined) {
        throw new SealpostError("PFX_BAD_PASSWORD", "The PFX file is protected by a password: give it with -Password (or a prompt, a file, or an environment variable).");
      }
      throw e;
    }
    describePrivateKey(contents.keyPkcs8Der); // refuses key types we cannot serve
    const [leaf, ...others] = contents.certificatesDer as [Buffer, ...Buffer[]];
    const stored = this.ctx.certs.addCertificate({
      der: leaf,
      chain: await this.chainFor(leaf, others),
      keyPem: pkcs8ToPem(contents.keyPkcs8Der),
      privateKeyExportable: opts.privateKeyExportable ?? false,
      friendlyName: opts.friendlyName ?? contents.friendlyName ?? "",
      services: [],
      source: "pfx",
    });
    return certificateView(stored, this.ctx.now());
  }

  /**
   * Enable-ExchangeCertificate: adds services; "None" clears them. Taking
   * SMTP from the certificate that listed partners' Domain Security depends
   * on needs `opts.force` (domain-security.ts).
   */
  async enableCertificate(thumbprint: string, services: string | string[], opts: ChangeOptions = {}): Promise<CertificateView> {
    const wanted = parseServices(services);
    const cert = this.ctx.certs.require(thumbprint);
    const next = wanted.length === 0 ? [] : [...new Set([...cert.services, ...wanted])];
    if (cert.services.includes("SMTP") && !next.includes("SMTP")) {
      await guardDomainSecurity(
        this.ctx,
        `Taking the SMTP service from the certificate ${cert.thumbprint}`,
        (w) => ({ ...w, ...(w.certs ? { certs: w.certs.map((c) => (c.thumbprint === cert.thumbprint ? { ...c, services: next } : c)) } : {}) }),
        opts,
      );
    }
    return certificateView(this.ctx.certs.setServices(cert.thumbprint, next), this.ctx.now());
  }

  /** Get-ExchangeCertificate: certificates, then pending requests. */
  async getCertificates(thumbprint?: string): Promise<CertificateView[]> {
    if (thumbprint !== undefined) {
      const t = normalizeThumbprint(thumbprint);
      const c = this.ctx.certs.get(t);
      if (c) return [await this.viewWithStatus(c)];
      const p = this.ctx.certs.listPending().find((x) => x.id === t);
      if (p) return [pendingView(p)];
      throw new SealpostError("NOT_FOUND", `No certificate or pending request with thumbprint ${t} is on this server.`);
    }
    const views = await Promise.all(this.ctx.certs.list().map((c) => this.viewWithStatus(c)));
    return [...views, ...this.ctx.certs.listPending().map(pendingView)];
  }

  /**
   * Status through the trust layer, as this server's peers will judge the
   * certificate: chain to a trusted root, validity, revocation. A
   * self-signed certificate is judged by its dates only (partners must
   * trust it explicitly).
   */
  private async viewWithStatus(c: StoredCertificate): Promise<CertificateView> {
    const now = this.ctx.now();
    const v = certificateView(c, now);
    if (c.selfSigned || v.Status !== "Valid") return v;
    const verdict = await (await this.ctx.trust()).verify([c.der, ...c.chain], { role: "server", revocationMode: "Hard" });
    const status: Record<string, CertificateStatus> = {
      OK: "Valid",
      CERT_EXPIRED: "Expired",
      CERT_NOT_YET_VALID: "NotYetValid",
      CERT_REVOKED: "Revoked",
      REVOCATION_UNKNOWN: "RevocationCheckFailure",
    };
    return { ...v, Status: status[verdict.code] ?? "Untrusted" };
  }

  /** Export-ExchangeCertificate: a password-protected PFX (DER bytes). */
  async exportCertificate(thumbprint: string, password: string): Promise<Buffer> {
    const cert = this.assertExportable(thumbprint);
    if (password === "") throw new SealpostError("INVALID_ARGUMENT", "A PFX export needs a non-empty password.");
    const keyPem = this.ctx.certs.readPrivateKey(cert.thumbprint);
    const keyDer = Buffer.from(keyPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    return createPfx({
      keyPkcs8Der: keyDer,
      certificatesDer: [cert.der, ...cert.chain],
      password,
      ...(cert.friendlyName ? { friendlyName: cert.friendlyName } : {}),
    });
  }

  /** Throws unless the certificate has a private key marked exportable. */
  assertExportable(thumbprint: string): StoredCertificate {
    const cert = this.ctx.certs.require(thumbprint);
    if (!cert.hasPrivateKey) {
      throw new SealpostError("NO_PRIVATE_KEY", `The certificate ${cert.thumbprint} has no private key on this server; there is nothing to back up as a PFX.`);
    }
    if (!cert.privateKeyExportable) {
      throw new SealpostError(
        "KEY_NOT_EXPORTABLE",
        `The private key of ${cert.thumbprint} is not exportable. Keys are exportable only when made or imported with -PrivateKeyExportable:$true; keep the original PFX as the backup.`,
      );
    }
    return cert;
  }

  /**
   * Remove-ExchangeCertificate: a certificate or a pending request, with its
   * key. Removing the certificate that listed partners' Domain Security
   * depends on needs `opts.force` (domain-security.ts).
   */
  async removeCertificate(thumbprint: string, opts: ChangeOptions = {}): Promise<void> {
    const t = normalizeThumbprint(thumbprint);
    const cert = this.ctx.certs.get(t);
    if (cert) {
      if (cert.services.includes("SMTP")) {
        await guardDomainSecurity(this.ctx, `Removing the certificate ${t}`, (w) => ({ ...w, ...(w.certs ? { certs: w.certs.filter((c) => c.thumbprint !== t) } : {}) }), opts);
      }
      this.ctx.certs.remove(t);
      return;
    }
    if (this.ctx.certs.removePending(t)) return;
    throw new SealpostError("NOT_FOUND", `No certificate or pending request with thumbprint ${t} is on this server.`);
  }
}
