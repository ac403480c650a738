// Admin API: the organization's trusted root and intermediate certificates
// (Add-/Get-/Remove-TrustedRootCertificate, ...-IntermediateCertificate) and
// the trust settings. They belong to the organization store, so edge sync
// replicates them to every edge. Also this server's revocation cache
// (Update-RevocationCache), which belongs to the server.
import { SealpostError } from "../errors/errors.js";
import { normalizeThumbprint } from "../certstore/certstore.js";
import { describeCertificate, readCertificates } from "../pki/certs.js";
import { isIssuedBy, parseCert, type ParsedCert } from "../pki/trust/parsed.js";
import type { RevocationUpdate } from "../pki/trust/revocation.js";
import type { OrgSettings, TrustedCertificateRecord, TrustedKind } from "../org/store.js";
import type { ServerContext } from "./context.js";
import { certificateStatus, type CertificateStatus } from "./certificates.js";

export interface TrustedCertificateView {
  Thumbprint: string;
  Kind: "Root" | "Intermediate";
  Subject: string;
  Issuer: string;
  SerialNumber: string;
  NotBefore: Date;
  NotAfter: Date;
  Status: CertificateStatus;
  Sha256Thumbprint: string;
  AddedAt: Date;
}

function view(r: TrustedCertificateRecord, now: Date): TrustedCertificateView {
  const info = describeCertificate(r.der);
  return {
    Thumbprint: r.thumbprint,
    Kind: r.kind === "root" ? "Root" : "Intermediate",
    Subject: info.subject,
    Issuer: info.issuer,
    SerialNumber: info.serialNumber,
    NotBefore: info.notBefore,
    NotAfter: info.notAfter,
    Status: certificateStatus(info, now),
    Sha256Thumbprint: info.sha256,
    AddedAt: r.addedAt,
  };
}

/** One line of Update-RevocationCache's report. */
export interface RevocationUpdateView {
  Source: "CRL" | "OCSP";
  Status: "Updated" | "Failed";
  Url: string;
  /** CRL: its issuer; OCSP: the certificate asked about. */
  Subject?: string;
  /** OCSP: what the responder said of the certificate. */
  CertificateStatus?: "Good" | "Revoked" | "Unknown";
  ThisUpdate?: Date;
  NextUpdate?: Date;
  Error?: string;
}

function updateView(u: RevocationUpdate): RevocationUpdateView {
  const status = u.status === undefined ? undefined : u.status === "good" ? "Good" : u.status === "revoked" ? "Revoked" : "Unknown";
  return {
    Source: u.source === "crl" ? "CRL" : "OCSP",
    Status: u.ok ? "Updated" : "Failed",
    Url: u.url,
    ...(u.subject !== undefined ? { Subject: u.subject } : {}),
    ...(status !== undefined ? { CertificateStatus: status } : {}),
    ...(u.thisUpdate ? { ThisUpdate: u.thisUpdate } : {}),
    ...(u.nextUpdate ? { NextUpdate: u.nextUpdate } : {}),
    ...(u.error !== undefined ? { Error: u.error } : {}),
  };
}

export interface RevocationUpdateRequest {
  /** Only what comes from this CRL distribution point or OCSP responder. */
  url?: string;
  /** Only this certificate's (thumbprint of a certificate of this server, a trusted one, or one the cache was used for). */
  thumbprint?: string;
  /** Only this certificate's: a file's bytes (PEM bundle, DER, PKCS#7), the certificate first, its issuer may follow. */
  data?: Buffer;
}

export class TrustAdmin {
  constructor(private readonly ctx: ServerContext) {}

  /** Adds every certificate in the file (PEM bundle, DER, PKCS#7); all or none. */
  async add(kind: TrustedKind, data: Buffer): Promise<TrustedCertificateView[]> {
    const certs = readCertificates(data);
    const items = certs.map((der) => {
      const info = describeCertificate(der);
      if (kind === "intermediate" && !info.isCa) {
        throw new SealpostError("INVALID_ARGUMENT", `${info.subject} (${info.thumbprint}) is not a CA certificate (no basicConstraints CA:TRUE), so it cannot be an intermediate.`);
      }
      if (kind === "root" && !info.isCa && !info.selfSigned) {
        throw new SealpostError("INVALID_ARGUMENT", `${info.subject} (${info.thumbprint}) is neither a CA certificate nor self-signed, so it cannot be a trusted root.`);
      }
      return { thumbprint: info.thumbprint, der };
    });
    const unique = items.filter((it, i) => items.findIndex((x) => x.thumbprint === it.thumbprint) === i);
    const added = await this.ctx.org.addTrusted(kind, unique);
    this.ctx.invalidateTrust();
    return added.map((r) => view(r, this.ctx.now()));
  }

  async list(kind: TrustedKind, thumbprint?: string): Promise<TrustedCertificateView[]> {
    const t = thumbprint === undefined ? undefined : normalizeThumbprint(thumbprint);
    const rows = (await this.ctx.org.listTrusted(kind)).filter((r) => t === undefined || r.thumbprint === t);
    if (t !== undefined && rows.length === 0) throw new SealpostError("NOT_FOUND", `No trusted ${kind} certificate has the thumbprint ${t}.`);
    return rows.map((r) => view(r, this.ctx.now()));
  }

  async remove(kind: TrustedKind, thumbprint: string): Promise<void> {
    await this.ctx.org.removeTrusted(kind, normalizeThumbprint(thumbprint));
    this.ctx.invalidateTrust();
  }

  /**
   * Update-RevocationCache: fetches again, now, every cached CRL and OCSP answer, or those from one URL,
   * or those of one certificate (cached or not), and reports what each fetch got. The server's workers
   * read the refreshed files at their next check.
   */
  async updateRevocationCache(req: RevocationUpdateRequest = {}): Promise<RevocationUpdateView[]> {
    const given = [req.url, req.thumbprint, req.data].filter((x) => x !== undefined).length;
    if (given > 1) throw new SealpostError("INVALID_ARGUMENT", "Update-RevocationCache: give one of -Url, -Certificate or -Path (or none, for every cached entry).");
    const revocation = this.ctx.revocation;
    if (req.url !== undefined) {
      const url = req.url.trim();
      const updates = await revocation.updateCached({ url });
      if (updates.length === 0) {
        throw new SealpostError("NOT_FOUND", `Nothing in this server's revocation cache comes from ${url}. The cache holds what certificates have needed; Test-Certificate with a certificate that names this URL fetches it.`);
      }
      return updates.map(updateView);
    }
    if (req.thumbprint === undefined && req.data === undefined) return (await revocation.updateCached()).map(updateView);

    const cached = await revocation.cachedCertificates();
    const trusted = [...(await this.ctx.org.listTrusted("intermediate")), ...(await this.ctx.org.listTrusted("root"))].map((r) => r.der);
    let chain: Buffer[];
    if (req.data !== undefined) {
      chain = readCertificates(req.data);
    } else {
      const t = normalizeThumbprint(req.thumbprint as string);
      const stored = this.ctx.certs.get(t);
      const found = stored ? [stored.der, ...stored.chain] : [...trusted, ...cached].filter((d) => parseCert(d).sha1 === t).slice(0, 1);
      if (found.length === 0) {
        throw new SealpostError(
          "NOT_FOUND",
          `No certificate with thumbprint ${t} is in this server's store, among the organization's trusted certificates, or in the revocation cache's records. Give the certificate file with -Path, or its CRL or OCSP URL with -Url.`,
        );
      }
      chain = found;
    }
    const leaf = parseCert(chain[0] as Buffer);
    if (leaf.selfIssued && isIssuedBy(leaf, leaf)) {
      throw new SealpostError("INVALID_ARGUMENT", `${leaf.subject} (${leaf.sha1}) is self-signed: a trust anchor is not checked for revocation, so there is nothing to update.`);
    }
    // Its issuer, by signature: from the file or stored chain, the organization's trust, the cache's records.
    let issuer: ParsedCert | undefined;
    for (const der of [...chain.slice(1), ...trusted, ...cached]) {
      let c: ParsedCert;
      try {
        c = parseCert(der);
      } catch {
        continue;
      }
      if (isIssuedBy(leaf, c)) {
        issuer = c;
        break;
      }
    }
    if (!issuer) {
      throw new SealpostError(
        "NOT_FOUND",
        `The issuer of ${leaf.subject} (${leaf.issuer}) is not known here: give the certificate file with its issuing CA after it (-Path), or add the CA with Add-IntermediateCertificate.`,
      );
    }
    const updates = await revocation.updateFor(leaf.der, issuer.der);
    if (updates.length === 0) {
      throw new SealpostError("INVALID_ARGUMENT", `${leaf.subject} (${leaf.sha1}) names no http: OCSP responder or CRL distribution point: there is nothing to fetch.`);
    }
    return updates.map(updateView);
  }

  async getSettings(): Promise<OrgSettings> {
    return this.ctx.org.getSettings();
  }

  async setSettings(patch: Partial<OrgSettings>): Promise<OrgSettings> {
    const s = await this.ctx.org.updateSettings(patch);
    this.ctx.invalidateTrust();
    return s;
  }
}
