// Admin API: Domain Security partner options (Get-/Set-DomainSecurePartner)
// and the administrator's diagnostic, Test-Certificate.
import { X509Certificate } from "node:crypto";
import { SealpostError } from "../errors/errors.js";
import { normalizeDomain } from "../pki/domain.js";
import { readCertificates } from "../pki/certs.js";
import { describeCertificate } from "../pki/certs.js";
import { describeAllowedIssuer, isPinned, sameIssuerName, spkiSha256OfDer, subjectNameEquals, normalizeIssuerName, type AllowedIssuer } from "../pki/trust/issuers.js";
import type { Verdict } from "../pki/trust/verdict.js";
import { defaultPartnerOptions, type PartnerOptions } from "../org/store.js";
import { applyListEdit, oneOf, type ListEditInput } from "../org/validate.js";
import { normalizeThumbprint } from "../certstore/certstore.js";
import type { ServerContext } from "./context.js";

export interface PartnerView {
  Domain: string;
  NameMatch: string;
  CertificateNames: string[];
  /** Each pinned CA as "subject (key SHA-256 ...; thumbprint ...)"; an unresolved one is marked UNRESOLVED. */
  AllowedIssuers: string[];
  Mode: string;
  RevocationMode: string;
  AllowWeakCrypto: boolean;
}

/**
 * One -AllowedIssuers value as a front end passes it: the bytes of a CA
 * certificate file (PEM or DER), or text — the SHA-1 thumbprint of a trusted
 * root or intermediate, and, to remove entries only, a key fingerprint
 * (SHA-256 of the public key, 64 hex digits) or a subject name.
 */
export type IssuerInput = Buffer | string;

export type IssuerEdit = { replace: IssuerInput[] } | { add: IssuerInput[]; remove: IssuerInput[] };

export interface PartnerPatch {
  nameMatch?: string;
  certificateNames?: ListEditInput;
  allowedIssuers?: IssuerEdit;
  mode?: string;
  revocationMode?: string;
  allowWeakCrypto?: boolean | string;
}

function view(p: PartnerOptions): PartnerView {
  return {
    Domain: p.domain,
    NameMatch: p.nameMatch,
    CertificateNames: p.certificateNames,
    AllowedIssuers: p.allowedIssuers.map(describeAllowedIssuer),
    Mode: p.mode,
    RevocationMode: p.revocationMode,
    AllowWeakCrypto: p.allowWeakCrypto,
  };
}

const NAME_REFUSED =
  "a name does not identify a CA (any trusted CA can issue a sub-CA of that name): give the issuing CA's certificate (a file: -AllowedIssuers @{Add=\"ca.cer\"}) or the thumbprint of a trusted certificate (Get-TrustedRootCertificate, Get-IntermediateCertificate)";

function bool(what: string, v: boolean | string): boolean {
  if (typeof v === "boolean") return v;
  const t = v.trim().toLowerCase().replace(/^\$/, "");
  if (t === "true" || t === "1") return true;
  if (t === "false" || t === "0") return false;
  throw new SealpostError("INVALID_ARGUMENT", `${what} '${v}' is not valid: use true or false ($true or $false in the shell).`);
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
    if (patch.allowedIssuers !== undefined) next.allowedIssuers = await this.editAllowedIssuers(current.allowedIssuers, patch.allowedIssuers);
    if (patch.allowWeakCrypto !== undefined) next.allowWeakCrypto = bool("AllowWeakCrypto", patch.allowWeakCrypto);
    if (Object.keys(next).length === 0) throw new SealpostError("INVALID_ARGUMENT", "Set-DomainSecurePartner: give at least one option to change.");
    return view(await this.ctx.org.setPartner(d, next));
  }

  /**
   * A plain list replaces, @{Add;Remove} edits. Every value is resolved to a
   * key before anything is stored; one bad value refuses the whole edit.
   */
  private async editAllowedIssuers(current: AllowedIssuer[], edit: IssuerEdit): Promise<AllowedIssuer[]> {
    const trusted = await this.ctx.org.listTrusted();
    const add = "replace" in edit ? edit.replace : edit.add;
    const added: AllowedIssuer[] = [];
    for (const v of add) added.push(await this.resolveIssuer(v, trusted));
    let out = "replace" in edit ? [] : [...current];
    if (!("replace" in edit)) {
      const removers = edit.remove.map((v) => this.remover(v, trusted));
      out = out.filter((e) => !removers.some((r) => r(e)));
    }
    for (const e of added) if (!out.some((x) => x.spkiSha256 === e.spkiSha256)) out.push(e);
    return out;
  }

  /** One value to add: a CA certificate's bytes, or a trusted certificate's thumbprint. */
  private async resolveIssuer(v: IssuerInput, trusted: Array<{ kind: string; thumbprint: string; der: Buffer }>): Promise<AllowedIssuer> {
    if (Buffer.isBuffer(v)) {
      const certs = readCertificates(v);
      if (certs.length !== 1) {
        throw new SealpostError("INVALID_ARGUMENT", `AllowedIssuers: the file holds ${certs.length} certificates; give a file with the issuing CA's certificate alone (pinning every certificate of a chain would pin its root too).`);
      }
      return entryFor(certs[0] as Buffer);
    }
    const text = v.trim();
    if (/^[0-9A-Fa-f:\s]+$/.test(text) && text.replace(/[\s:]/g, "").length === 40) {
      const t = normalizeThumbprint(text);
      const hit = trusted.find((r) => r.thumbprint === t);
      if (!hit) {
        throw new SealpostError(
          "NOT_FOUND",
          `AllowedIssuers: no trusted root or intermediate certificate has the thumbprint ${t} (Get-TrustedRootCertificate and Get-IntermediateCertificate list them); to pin a CA the organization does not hold, give its certificate file: -AllowedIssuers @{Add="ca.cer"}.`,
        );
      }
      return entryFor(hit.der, true);
    }
    if (/^[0-9A-Fa-f:]+$/.test(text) && text.replace(/:/g, "").length === 64) {
      throw new SealpostError("INVALID_ARGUMENT", `AllowedIssuers: a key fingerprint alone can only remove an entry; to add one, give the issuing CA's certificate (a file) or the thumbprint of a trusted certificate.`);
    }
    let isName = true;
    try {
      normalizeIssuerName(text);
    } catch {
      isName = false;
    }
    if (!isName) {
      throw new SealpostError("INVALID_ARGUMENT", `AllowedIssuers '${text}' is not valid: give the issuing CA's certificate (a file) or the thumbprint of a trusted certificate (40 hexadecimal digits).`);
    }
    const named = trusted.filter((r) => {
      try {
        return subjectNameEquals(text, new X509Certificate(r.der).subject);
      } catch {
        return false;
      }
    });
    const hint = named.length > 0 ? ` Trusted certificates with that name: ${named.map((r) => `${r.thumbprint} (${r.kind})`).join(", ")}.` : "";
    throw new SealpostError("INVALID_ARGUMENT", `AllowedIssuers '${text}' is a name, and ${NAME_REFUSED}.${hint} Nothing was changed.`);
  }

  /** One value to remove, as a test on entries: a certificate or key (its key), a thumbprint, or a name. */
  private remover(v: IssuerInput, trusted: Array<{ thumbprint: string; der: Buffer }>): (e: AllowedIssuer) => boolean {
    if (Buffer.isBuffer(v)) {
      const keys = new Set(readCertificates(v).map(spkiSha256OfDer));
      return (e) => keys.has(e.spkiSha256);
    }
    const text = v.trim();
    const hex = text.replace(/[\s:]/g, "").toUpperCase();
    if (/^[0-9A-F]{40}$/.test(hex)) {
      const der = trusted.find((r) => r.thumbprint === hex)?.der;
      const key = der ? spkiSha256OfDer(der) : undefined;
      return (e) => e.thumbprint === hex || (key !== undefined && e.spkiSha256 === key);
    }
    if (/^[0-9A-F]{64}$/.test(hex)) return (e) => isPinned(e) && e.spkiSha256 === hex;
    try {
      normalizeIssuerName(text);
    } catch {
      throw new SealpostError("INVALID_ARGUMENT", `AllowedIssuers: '${text}' to remove is neither a certificate, a thumbprint, a key fingerprint nor a subject name.`);
    }
    return (e) => sameIssuerName(e.subject, text);
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
    const verdict = await engine.verifyForDomain(certs, d, partner, { role, requireClientAuthEku: opts.requireClientAuth === true, revocationMode: partner.revocationMode, allowWeakCrypto: partner.allowWeakCrypto });
    return { ...verdict, domain: d, role };
  }
}

/** A CA certificate as an entry; refuses one that is not a CA. */
function entryFor(der: Buffer, trustedRoot = false): AllowedIssuer {
  const info = describeCertificate(der);
  if (!info.isCa && !(trustedRoot && info.selfSigned)) {
    throw new SealpostError(
      "INVALID_ARGUMENT",
      `AllowedIssuers: ${info.subject} (${info.thumbprint}) is not a CA certificate (no basicConstraints CA:TRUE): pin the CA that issues the partner's certificates, not a certificate it issued.`,
    );
  }
  return { spkiSha256: spkiSha256OfDer(der), subject: info.subject, thumbprint: info.thumbprint };
}
