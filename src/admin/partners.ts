// Admin API: Domain Security partner options (Get-/Set-DomainSecurePartner)
// and the administrator's diagnostic, Test-Certificate.
import { SealpostError } from "../errors/errors.js";
import { normalizeDomain } from "../pki/domain.js";
import { readCertificates } from "../pki/certs.js";
import { normalizeIssuerName } from "../pki/trust/issuers.js";
import type { Verdict } from "../pki/trust/verdict.js";
import { defaultPartnerOptions, type PartnerOptions } from "../org/store.js";
import { applyListEdit, oneOf, type ListEditInput } from "../org/validate.js";
import type { ServerContext } from "./context.js";

export interface PartnerView {
  Domain: string;
  NameMatch: string;
  CertificateNames: string[];
  AllowedIssuers: string[];
  Mode: string;
  RevocationMode: string;
}

export interface PartnerPatch {
  nameMatch?: string;
  certificateNames?: ListEditInput;
  allowedIssuers?: ListEditInput;
  mode?: string;
  revocationMode?: string;
}

function view(p: PartnerOptions): PartnerView {
  return { Domain: p.domain, NameMatch: p.nameMatch, CertificateNames: p.certificateNames, AllowedIssuers: p.allowedIssuers, Mode: p.mode, RevocationMode: p.revocationMode };
}


export function normalizePartnerDomain(d: string): string {
  return normalizeDomain(d, { allowWildcard: true });
}

export class PartnerAdmin {
  constructor(private readonly ctx: ServerContext) {}

  async get(domain?: string): Promise<PartnerView[]> {
    if (domain === undefined) return (await this.ctx.org.listPartners()).map(view);
    const d = normalizePartnerDomain(domain);
    return [view((await this.ctx.org.getPartner(d)) ?? defaultPartnerOptions(d))];
  }

  /** Validates everything first; a single bad value changes nothing. */
  async set(domain: string, patch: PartnerPatch): Promise<PartnerView> {
    const d = normalizePartnerDomain(domain);
    const current = (await this.ctx.org.getPartner(d)) ?? defaultPartnerOptions(d);
    const next: Partial<Omit<PartnerOptions, "domain">> = {};
    if (patch.nameMatch !== undefined) next.nameMatch = oneOf("NameMatch", patch.nameMatch, ["Exact", "Subdomains"] as const);
    if (patch.mode !== undefined) next.mode = oneOf("Mode", patch.mode, ["Enforce", "ReportOnly"] as const);
    if (patch.revocationMode !== undefined) next.revocationMode = oneOf("RevocationMode", patch.revocationMode, ["Hard", "Soft"] as const);
    if (patch.certificateNames !== undefined) {
      next.certificateNames = applyListEdit(current.certificateNames, patch.certificateNames, (n) => normalizeDomain(n, { allowWildcard: true, allowSingleLabel: true }));
    }
    if (patch.allowedIssuers !== undefined) {
      next.allowedIssuers = applyListEdit(current.allowedIssuers, patch.allowedIssuers, (n) => {
        normalizeIssuerName(n); // refuses what is not a subject name
        return n.trim();
      });
    }
    if (Object.keys(next).length === 0) throw new SealpostError("INVALID_ARGUMENT", "Set-DomainSecurePartner: give at least one option to change.");
    return view(await this.ctx.org.setPartner(d, next));
  }

  /**
   * Test-Certificate: the verdict for a certificate file (PEM chain, DER,
   * PKCS#7), as a client (inbound) or a server (outbound), and for a
   * partner domain with its options when one is named.
   */
  async testCertificate(data: Buffer, opts: { domain?: string; role?: "client" | "server"; requireClientAuth?: boolean }): Promise<Verdict & { domain?: string; role: string }> {
    const certs = readCertificates(data);
    const engine = await this.ctx.trust();
    const role = opts.role ?? "client";
    if (opts.domain === undefined) {
      return { ...(await engine.verify(certs, { role, requireClientAuthEku: opts.requireClientAuth === true })), role };
    }
    const d = normalizePartnerDomain(opts.domain);
    const partner = (await this.ctx.org.getPartner(d)) ?? defaultPartnerOptions(d);
    const verdict = await engine.verifyForDomain(certs, d, partner, { role, requireClientAuthEku: opts.requireClientAuth === true, revocationMode: partner.revocationMode });
    return { ...verdict, domain: d, role };
  }
}
