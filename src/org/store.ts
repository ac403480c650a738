// The organization's configuration, behind one interface so that the same
// admin API runs on the embedded SQLite store (one server) and on PostgreSQL
// (a fleet, with edge sync). Only organization-wide settings live here;
// certificates, keys and queues belong to each server.
import os from "node:os";
import type { AllowedIssuer } from "../pki/trust/issuers.js";
import type { AdminIdentityStore } from "./identity-store.js";

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
  /** Pinned issuing CAs, by key (empty: any trusted chain). */
  allowedIssuers: AllowedIssuer[];
  mode: PartnerMode;
  revocationMode: RevocationMode;
  /** Accept SHA-1 signatures and keys below RSA-2048 / P-256 in the partner's chain, as a logged warning. */
  allowWeakCrypto: boolean;
}

/** The administrator recorded in the audit log: SEALPOST_ADMIN, else the OS user. */
export function defaultAdminName(): string {
  const env = process.env.SEALPOST_ADMIN?.trim();
  if (env) return env.slice(0, 200);
  try {
    return os.userInfo().username;
  } catch {
    return "unknown";
  }
}

export function defaultPartnerOptions(domain: string): PartnerOptions {
  return { domain, nameMatch: "Exact", certificateNames: [], allowedIssuers: [], mode: "Enforce", revocationMode: "Hard", allowWeakCrypto: false };
}

/** One audited change: the configuration version it produced. */
export interface AuditEntry {
  version: number;
  at: Date;
  /** Who: the administrator's name (SEALPOST_ADMIN or the OS user) and, on PostgreSQL, the database role. */
  admin: string;
  /** What: the store operation and its object, e.g. "editSettings" or "addAcceptedDomain contoso.com". */
  action: string;
  /** The command line that made it, when the shell ran it. */
  command?: string;
}

/** The whole configuration at one version: what an edge applies in one go. */
export interface OrgSnapshot {
  version: number;
  settings: OrgSettings;
  partners: PartnerOptions[];
  trusted: TrustedCertificateRecord[];
  acceptedDomains: AcceptedDomain[];
  mailboxes: Mailbox[];
  receiveConnectors: ReceiveConnector[];
  sendConnectors: SendConnector[];
}

/** The configuration (versioned, synchronized) and, outside it, the admin door's accounts, tokens and audit trail. */
export interface OrgStore extends AdminIdentityStore {
  /** Who makes the following changes and with which command (written to the audit log). */
  setAuditContext(ctx: { admin?: string; command?: string }): void;
  /** The newest audited changes first. */
  auditLog(opts?: { limit?: number; since?: Date }): Promise<AuditEntry[]>;
  /** The whole configuration, read consistently at one version. */
  exportSnapshot(): Promise<OrgSnapshot>;

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
