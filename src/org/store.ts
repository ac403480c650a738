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

import { DEFAULT_TRANSPORT_CONFIG, type AcceptedDomain, type Mailbox, type ReceiveConnector, type SendConnector, type TransportConfig } from "./model.js";

/** The organization-wide settings (Get-/Set-TransportConfig). */
export type OrgSettings = TransportConfig;

export const DEFAULT_ORG_SETTINGS: OrgSettings = DEFAULT_TRANSPORT_CONFIG;

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
  /** Read-modify-write in one transaction, so concurrent list edits (@{Add=...}) both survive. */
  editSettings(edit: (current: OrgSettings) => Partial<OrgSettings>): Promise<OrgSettings>;

  listAcceptedDomains(): Promise<AcceptedDomain[]>;
  /** ALREADY_EXISTS when the name or the domain is taken. */
  addAcceptedDomain(d: AcceptedDomain): Promise<AcceptedDomain>;
  updateAcceptedDomain(name: string, edit: (current: AcceptedDomain) => Partial<AcceptedDomain>): Promise<AcceptedDomain>;
  removeAcceptedDomain(name: string): Promise<void>;

  listMailboxes(): Promise<Mailbox[]>;
  addMailbox(m: Mailbox): Promise<Mailbox>;
  removeMailbox(address: string): Promise<void>;

  listReceiveConnectors(server?: string): Promise<ReceiveConnector[]>;
  addReceiveConnector(c: ReceiveConnector): Promise<ReceiveConnector>;
  updateReceiveConnector(server: string, name: string, edit: (current: ReceiveConnector) => Partial<ReceiveConnector>): Promise<ReceiveConnector>;
  removeReceiveConnector(server: string, name: string): Promise<void>;

  listSendConnectors(): Promise<SendConnector[]>;
  addSendConnector(c: SendConnector): Promise<SendConnector>;
  updateSendConnector(name: string, edit: (current: SendConnector) => Partial<SendConnector>): Promise<SendConnector>;
  removeSendConnector(name: string): Promise<void>;

  /** Advances with every committed change; edges and workers poll it to reload. */
  version(): Promise<number>;
  close(): Promise<void>;
}
