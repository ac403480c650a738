// Admin API: the organization's trusted root and intermediate certificates
// (Add-/Get-/Remove-TrustedRootCertificate, ...-IntermediateCertificate) and
// the trust settings. They belong to the organization store, so edge sync
// replicates them to every edge.
import { SealpostError } from "../errors/errors.js";
import { normalizeThumbprint } from "../certstore/certstore.js";
import { describeCertificate, readCertificates } from "../pki/certs.js";
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

  async getSettings(): Promise<OrgSettings> {
    return this.ctx.org.getSettings();
  }

  async setSettings(patch: Partial<OrgSettings>): Promise<OrgSettings> {
    const s = await this.ctx.org.updateSettings(patch);
    this.ctx.invalidateTrust();
    return s;
  }
}
