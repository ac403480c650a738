// The organization's configuration, behind one interface so that the same
// admin API runs on the embedded SQLite store (one server) and on PostgreSQL
// (a fleet, with edge sync). Only organization-wide settings live here;
// certificates, keys and queues belong to each server.
export type TrustedKind = "root" | "intermediate";

export interface TrustedCertificateRecord {
  kind: TrustedKind;
  thumbprint: string;
  der: Buffer;
  addedAt: Date;
}

export interface OrgSettings {
  /** Trust the operating system's CA bundle besides the organization's roots. */
  useSystemTrustStore: boolean;
}

export const DEFAULT_ORG_SETTINGS: OrgSettings = {
  useSystemTrustStore: true,
};

export type NameMatchMode = "Exact" | "Subdomains";
export type PartnerMode = "Enforce" | "ReportOnly";
export type RevocationMode = "Hard" | "Soft";

/** Per-partner Domain Security options; every field has a safe default. */
export interface PartnerOptions {
  domain: string;
  nameMatch: NameMatchMode;
  certificateNames: string[];
  allowedIssuers: string[];
  mode: PartnerMode;
  revocationMode: RevocationMode;
}

export function defaultPartnerOptions(domain: string): PartnerOptions {
  return { domain, nameMatch: "Exact", certificateNames: [], allowedIssuers: [], mode: "Enforce", revocationMode: "Hard" };
}

export interface OrgStore {
  /** Partners with stored options. */
  listPartners(): Promise<PartnerOptions[]>;
  /** Stored options, or undefined (callers use defaultPartnerOptions). */
  getPartner(domain: string): Promise<PartnerOptions | undefined>;
  /** Creates or updates; returns the options now in force. */
  setPartner(domain: string, patch: Partial<Omit<PartnerOptions, "domain">>): Promise<PartnerOptions>;
  listTrusted(kind?: TrustedKind): Promise<TrustedCertificateRecord[]>;
  /** Adds certificates in one transaction; refuses (and adds none) if one is already present. */
  addTrusted(kind: TrustedKind, items: Array<{ thumbprint: string; der: Buffer }>): Promise<TrustedCertificateRecord[]>;
  /** Removes one; NOT_FOUND when absent. */
  removeTrusted(kind: TrustedKind, thumbprint: string): Promise<void>;
  getSettings(): Promise<OrgSettings>;
  updateSettings(patch: Partial<OrgSettings>): Promise<OrgSettings>;
  close(): Promise<void>;
}
