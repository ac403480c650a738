// The organization store on the server's own SQLite file (the embedded
// default for one server). Uses only the org_* tables.
import { SealpostError } from "../../errors/errors.js";
import type { Db } from "../../store/sqlite.js";
import { DEFAULT_ORG_SETTINGS, defaultPartnerOptions, defaultAdminName, type AuditEntry, type OrgSettings, type OrgSnapshot, type OrgStore, type PartnerOptions, type TrustedCertificateRecord, type TrustedKind } from "../store.js";
import type { AcceptedDomain, Mailbox, ReceiveConnector, SendConnector } from "../model.js";
import { parseAllowedIssuers } from "../../pki/trust/issuers.js";
import type { AdminAuditQuery, AdminAuditRow, AdminTokenRecord, AdminUserRecord, StoredAdminAudit } from "../identity-store.js";

interface AdminUserRow {
  name: string;
  role_groups: string;
  password_hash: string;
  client_certificate_thumbprint: string | null;
  enabled: number;
  created_at: string;
  changed_at: string;
}

function userFromRow(r: AdminUserRow): AdminUserRecord {
  return {
    name: r.name,
    roleGroups: JSON.parse(r.role_groups) as string[],
    passwordHash: r.password_hash,
    ...(r.client_certificate_thumbprint !== null ? { clientCertificateThumbprint: r.client_certificate_thumbprint } : {}),
    enabled: r.enabled === 1,
    createdAt: new Date(r.created_at),
    changedAt: new Date(r.changed_at),
  };
}

interface AdminTokenRow {
  id: string;
  token_sha256: string;
  user_name: string;
  description: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

function tokenFromRow(r: AdminTokenRow): AdminTokenRecord {
  return {
    id: r.id,
    tokenSha256: r.token_sha256,
    user: r.user_name,
    description: r.description,
    createdAt: new Date(r.created_at),
    ...(r.expires_at !== null ? { expiresAt: new Date(r.expires_at) } : {}),
    ...(r.last_used_at !== null ? { lastUsedAt: new Date(r.last_used_at) } : {}),
  };
}

interface AdminAuditDbRow {
  id: number;
  at: string;
  user_name: string;
  from_address: string;
  via: string;
  cmdlet: string;
  parameters: string;
  result: string;
  error: string | null;
}

interface TrustedRow {
  kind: TrustedKind;
  thumbprint: string;
  der: Buffer;
  added_at: string;
}

interface PartnerRow {
  domain: string;
  name_match: PartnerOptions["nameMatch"];
  certificate_names: string;
  allowed_issuers: string;
  mode: PartnerOptions["mode"];
  revocation_mode: PartnerOptions["revocationMode"];
  allow_weak_crypto: number;
}

function partnerFromRow(r: PartnerRow): PartnerOptions {
  return {
    domain: r.domain,
    nameMatch: r.name_match,
    certificateNames: JSON.parse(r.certificate_names) as string[],
    allowedIssuers: parseAllowedIssuers(JSON.parse(r.allowed_issuers)),
    mode: r.mode,
    revocationMode: r.revocation_mode,
    allowWeakCrypto: r.allow_weak_crypto === 1,
  };
}

interface DomainRow {
  name: string;
  domain_name: string;
  domain_type: AcceptedDomain["domainType"];
  catch_all: string | null;
}

function domainFromRow(r: DomainRow): AcceptedDomain {
  return { name: r.name, domainName: r.domain_name, domainType: r.domain_type, ...(r.catch_all ? { catchAllMailbox: r.catch_all } : {}) };
}

/** server_meta key naming the organization store a synchronized edge replicates (no password). */
export const ORG_SOURCE_KEY = "org_source";

export class SqliteOrgStore implements OrgStore {
  private audit: { admin: string; command?: string } = { admin: defaultAdminName() };

  constructor(private readonly db: Db) {}

  setAuditContext(ctx: { admin?: string; command?: string }): void {
    this.audit = { admin: ctx.admin ?? this.audit.admin, ...(ctx.command !== undefined ? { command: ctx.command } : {}) };
  }

  /** The organization store this is a replica of (its URL without password), or undefined. */
  replicaSource(): string | undefined {
    return this.readOnlyReason();
  }

  /** Set when this server is an edge replicating an organization store: local changes are refused. */
  private readOnlyReason(): string | undefined {
    const row = this.db.prepare("SELECT value FROM server_meta WHERE key = ?").get(ORG_SOURCE_KEY) as { value: string } | undefined;
    return row?.value;
  }

  /**
   * Runs a change in one immediate transaction that also advances the
   * configuration version and writes the audit row.
   */
  private write<T>(action: string, fn: () => T): T {
    const source = this.readOnlyReason();
    if (source !== undefined) {
      throw new SealpostError(
        "ORG_READ_ONLY",
        `This server synchronizes its organization settings from ${source}; make the change there (sealpost --org <url> shell -c '...'), and it reaches every edge.`,
      );
    }
    return this.db
      .transaction(() => {
        const out = fn();
        this.db.prepare("UPDATE org_version SET version = version + 1 WHERE id = 1").run();
        const v = (this.db.prepare("SELECT version FROM org_version WHERE id = 1").get() as { version: number }).version;
        this.db.prepare("INSERT INTO org_audit (version, at, admin, action, command) VALUES (?, ?, ?, ?, ?)").run(v, new Date().toISOString(), this.audit.admin, action, this.audit.command ?? null);
        return out;
      })
      .immediate();
  }

  async auditLog(opts: { limit?: number; since?: Date } = {}): Promise<AuditEntry[]> {
    const rows = this.db
      .prepare("SELECT version, at, admin, action, command FROM org_audit WHERE at >= ? ORDER BY version DESC LIMIT ?")
      .all((opts.since ?? new Date(0)).toISOString(), opts.limit ?? 1000) as Array<{ version: number; at: string; admin: string; action: string; command: string | null }>;
    return rows.map((r) => ({ version: r.version, at: new Date(r.at), admin: r.admin, action: r.action, ...(r.command !== null ? { command: r.command } : {}) }));
  }

  async exportSnapshot(): Promise<OrgSnapshot> {
    // One read transaction: every list from the same version.
    let out!: Promise<OrgSnapshot>;
    this.db.transaction(() => {
      out = (async () => {
        const [version, settings, partners, trusted, acceptedDomains, mailboxes, receiveConnectors, sendConnectors] = [
          this.version(), this.getSettings(), this.listPartners(), this.listTrusted(), this.listAcceptedDomains(), this.listMailboxes(), this.listReceiveConnectors(), this.listSendConnectors(),
        ];
        return { version: await version, settings: await settings, partners: await partners, trusted: await trusted, acceptedDomains: await acceptedDomains, mailboxes: await mailboxes, receiveConnectors: await receiveConnectors, sendConnectors: await sendConnectors };
      })();
    })();
    return out;
  }

  /**
   * Replaces the whole configuration with an organization store's snapshot,
   * in one transaction (an edge's replica; readers see the old version or
   * the new one, never a mix). Marks this store as a replica of `source`.
   */
  importSnapshot(snap: OrgSnapshot, source: string): void {
    this.db
      .transaction(() => {
        for (const t of ["org_settings", "org_partners", "org_trusted_certificates", "org_accepted_domains", "org_mailboxes", "org_receive_connectors", "org_send_connectors"]) this.db.prepare(`DELETE FROM ${t}`).run();
        const put = this.db.prepare("INSERT INTO org_settings (key, value) VALUES (?, ?)");
        for (const [k, v] of Object.entries(snap.settings)) if (v !== undefined) put.run(k, JSON.stringify(v));
        const partner = this.db.prepare("INSERT INTO org_partners (domain, name_match, certificate_names, allowed_issuers, mode, revocation_mode, allow_weak_crypto, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        const now = new Date().toISOString();
        for (const p of snap.partners) partner.run(p.domain, p.nameMatch, JSON.stringify(p.certificateNames), JSON.stringify(p.allowedIssuers), p.mode, p.revocationMode, p.allowWeakCrypto === true ? 1 : 0, now);
        const trusted = this.db.prepare("INSERT INTO org_trusted_certificates (kind, thumbprint, der, added_at) VALUES (?, ?, ?, ?)");
        for (const t of snap.trusted) trusted.run(t.kind, t.thumbprint, t.der, t.addedAt.toISOString());
        const dom = this.db.prepare("INSERT INTO org_accepted_domains (name, domain_name, domain_type, catch_all) VALUES (?, ?, ?, ?)");
        for (const d of snap.acceptedDomains) dom.run(d.name, d.domainName, d.domainType, d.catchAllMailbox ?? null);
        const mb = this.db.prepare("INSERT INTO org_mailboxes (address, name) VALUES (?, ?)");
        for (const m of snap.mailboxes) mb.run(m.primarySmtpAddress, m.name);
        const rc = this.db.prepare("INSERT INTO org_receive_connectors (server, name, config) VALUES (?, ?, ?)");
        for (const c of snap.receiveConnectors) rc.run(c.server, c.name, JSON.stringify(c));
        const sc = this.db.prepare("INSERT INTO org_send_connectors (name, config) VALUES (?, ?)");
        for (const c of snap.sendConnectors) sc.run(c.name, JSON.stringify(c));
        this.db.prepare("UPDATE org_version SET version = ? WHERE id = 1").run(snap.version);
        this.db.prepare("INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(ORG_SOURCE_KEY, source);
      })
      .immediate();
  }

  async version(): Promise<number> {
    return (this.db.prepare("SELECT version FROM org_version WHERE id = 1").get() as { version: number }).version;
  }

  // ---- accepted domains

  async listAcceptedDomains(): Promise<AcceptedDomain[]> {
    return (this.db.prepare("SELECT * FROM org_accepted_domains ORDER BY name").all() as DomainRow[]).map(domainFromRow);
  }

  async addAcceptedDomain(d: AcceptedDomain): Promise<AcceptedDomain> {
    return this.write(`addAcceptedDomain ${d.domainName}`, () => {
      const clash = this.db.prepare("SELECT name FROM org_accepted_domains WHERE name = ? OR domain_name = ?").get(d.name, d.domainName) as { name: string } | undefined;
      if (clash) throw new SealpostError("ALREADY_EXISTS", `An accepted domain named '${clash.name}' already has that name or domain.`);
      this.db.prepare("INSERT INTO org_accepted_domains (name, domain_name, domain_type, catch_all) VALUES (?, ?, ?, ?)").run(d.name, d.domainName, d.domainType, d.catchAllMailbox ?? null);
      return d;
    });
  }

  async updateAcceptedDomain(name: string, edit: (current: AcceptedDomain) => Partial<AcceptedDomain>): Promise<AcceptedDomain> {
    return this.write(`updateAcceptedDomain ${name}`, () => {
      const row = this.db.prepare("SELECT * FROM org_accepted_domains WHERE name = ?").get(name) as DomainRow | undefined;
      if (!row) throw new SealpostError("NOT_FOUND", `No accepted domain is named '${name}' (Get-AcceptedDomain lists them).`);
      const current = domainFromRow(row);
      const next = { ...current, ...edit(current), name: current.name };
      const taken = this.db.prepare("SELECT name FROM org_accepted_domains WHERE domain_name = ? AND name <> ?").get(next.domainName, current.name) as { name: string } | undefined;
      if (taken) throw new SealpostError("ALREADY_EXISTS", `The accepted domain '${taken.name}' already has the domain ${next.domainName}.`);
      this.db.prepare("UPDATE org_accepted_domains SET domain_name = ?, domain_type = ?, catch_all = ? WHERE name = ?").run(next.domainName, next.domainType, next.catchAllMailbox ?? null, current.name);
      return next;
    });
  }

  async removeAcceptedDomain(name: string): Promise<void> {
    this.write(`removeAcceptedDomain ${name}`, () => {
      const r = this.db.prepare("DELETE FROM org_accepted_domains WHERE name = ?").run(name);
      if (r.changes === 0) throw new SealpostError("NOT_FOUND", `No accepted domain is named '${name}'.`);
    });
  }

  // ---- mailboxes

  async listMailboxes(): Promise<Mailbox[]> {
    return (this.db.prepare("SELECT address, name FROM org_mailboxes ORDER BY address").all() as Array<{ address: string; name: string }>).map((r) => ({ primarySmtpAddress: r.address, name: r.name }));
  }

  async addMailbox(m: Mailbox): Promise<Mailbox> {
    return this.write(`addMailbox ${m.primarySmtpAddress}`, () => {
      if (this.db.prepare("SELECT 1 FROM org_mailboxes WHERE address = ?").get(m.primarySmtpAddress)) {
        throw new SealpostError("ALREADY_EXISTS", `The mailbox ${m.primarySmtpAddress} already exists.`);
      }
      this.db.prepare("INSERT INTO org_mailboxes (address, name) VALUES (?, ?)").run(m.primarySmtpAddress, m.name);
      return m;
    });
  }

  async removeMailbox(address: string): Promise<void> {
    this.write(`removeMailbox ${address}`, () => {
      const r = this.db.prepare("DELETE FROM org_mailboxes WHERE address = ?").run(address);
      if (r.changes === 0) throw new SealpostError("NOT_FOUND", `No mailbox has the address ${address}.`);
    });
  }

  // ---- send connectors

  async listSendConnectors(): Promise<SendConnector[]> {
    return (this.db.prepare("SELECT config FROM org_send_connectors ORDER BY name").all() as Array<{ config: string }>).map((r) => JSON.parse(r.config) as SendConnector);
  }

  async addSendConnector(c: SendConnector): Promise<SendConnector> {
    return this.write(`addSendConnector ${c.name}`, () => {
      if (this.db.prepare("SELECT 1 FROM org_send_connectors WHERE name = ?").get(c.name)) {
        throw new SealpostError("ALREADY_EXISTS", `The send connector ${c.name} already exists.`);
      }
      this.db.prepare("INSERT INTO org_send_connectors (name, config) VALUES (?, ?)").run(c.name, JSON.stringify(c));
      return c;
    });
  }

  async updateSendConnector(name: string, edit: (current: SendConnector) => Partial<SendConnector>): Promise<SendConnector> {
    return this.write(`updateSendConnector ${name}`, () => {
      const row = this.db.prepare("SELECT config FROM org_send_connectors WHERE name = ?").get(name) as { config: string } | undefined;
      if (!row) throw new SealpostError("NOT_FOUND", `No send connector is named ${name} (Get-SendConnector lists them).`);
      const current = JSON.parse(row.config) as SendConnector;
      const next = { ...current, ...edit(current), name: current.name };
      this.db.prepare("UPDATE org_send_connectors SET config = ? WHERE name = ?").run(JSON.stringify(next), current.name);
      return next;
    });
  }

  async removeSendConnector(name: string): Promise<void> {
    this.write(`removeSendConnector ${name}`, () => {
      const r = this.db.prepare("DELETE FROM org_send_connectors WHERE name = ?").run(name);
      if (r.changes === 0) throw new SealpostError("NOT_FOUND", `No send connector is named ${name}.`);
    });
  }

  // ---- receive connectors

  async listReceiveConnectors(server?: string): Promise<ReceiveConnector[]> {
    const rows = (server === undefined
      ? this.db.prepare("SELECT config FROM org_receive_connectors ORDER BY server, name").all()
      : this.db.prepare("SELECT config FROM org_receive_connectors WHERE server = ? ORDER BY name").all(server)) as Array<{ config: string }>;
    return rows.map((r) => JSON.parse(r.config) as ReceiveConnector);
  }

  async addReceiveConnector(c: ReceiveConnector): Promise<ReceiveConnector> {
    return this.write(`addReceiveConnector ${c.server}\\${c.name}`, () => {
      if (this.db.prepare("SELECT 1 FROM org_receive_connectors WHERE server = ? AND name = ?").get(c.server, c.name)) {
        throw new SealpostError("ALREADY_EXISTS", `The receive connector ${c.server}\\${c.name} already exists.`);
      }
      this.db.prepare("INSERT INTO org_receive_connectors (server, name, config) VALUES (?, ?, ?)").run(c.server, c.name, JSON.stringify(c));
      return c;
    });
  }

  async updateReceiveConnector(server: string, name: string, edit: (current: ReceiveConnector) => Partial<ReceiveConnector>): Promise<ReceiveConnector> {
    return this.write(`updateReceiveConnector ${server}\\${name}`, () => {
      const row = this.db.prepare("SELECT config FROM org_receive_connectors WHERE server = ? AND name = ?").get(server, name) as { config: string } | undefined;
      if (!row) throw new SealpostError("NOT_FOUND", `No receive connector ${server}\\${name} exists (Get-ReceiveConnector lists them).`);
      const current = JSON.parse(row.config) as ReceiveConnector;
      const next = { ...current, ...edit(current), server: current.server, name: current.name };
      this.db.prepare("UPDATE org_receive_connectors SET config = ? WHERE server = ? AND name = ?").run(JSON.stringify(next), server, name);
      return next;
    });
  }

  async removeReceiveConnector(server: string, name: string): Promise<void> {
    this.write(`removeReceiveConnector ${server}\\${name}`, () => {
      const r = this.db.prepare("DELETE FROM org_receive_connectors WHERE server = ? AND name = ?").run(server, name);
      if (r.changes === 0) throw new SealpostError("NOT_FOUND", `No receive connector ${server}\\${name} exists.`);
    });
  }

  async listPartners(): Promise<PartnerOptions[]> {
    return (this.db.prepare("SELECT * FROM org_partners ORDER BY domain").all() as PartnerRow[]).map(partnerFromRow);
  }

  async getPartner(domain: string): Promise<PartnerOptions | undefined> {
    const row = this.db.prepare("SELECT * FROM org_partners WHERE domain = ?").get(domain) as PartnerRow | undefined;
    return row ? partnerFromRow(row) : undefined;
  }

  async setPartner(domain: string, patch: Partial<Omit<PartnerOptions, "domain">>): Promise<PartnerOptions> {
    return this.write(`setPartner ${domain}`, () => {
        const row = this.db.prepare("SELECT * FROM org_partners WHERE domain = ?").get(domain) as PartnerRow | undefined;
        const next = { ...(row ? partnerFromRow(row) : defaultPartnerOptions(domain)), ...patch, domain };
        this.db
          .prepare(
            `INSERT INTO org_partners (domain, name_match, certificate_names, allowed_issuers, mode, revocation_mode, allow_weak_crypto, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(domain) DO UPDATE SET name_match = excluded.name_match, certificate_names = excluded.certificate_names,
               allowed_issuers = excluded.allowed_issuers, mode = excluded.mode, revocation_mode = excluded.revocation_mode,
               allow_weak_crypto = excluded.allow_weak_crypto, updated_at = excluded.updated_at`,
          )
          .run(domain, next.nameMatch, JSON.stringify(next.certificateNames), JSON.stringify(next.allowedIssuers), next.mode, next.revocationMode, next.allowWeakCrypto ? 1 : 0, new Date().toISOString());
        return next;
      });
  }

  async listTrusted(kind?: TrustedKind): Promise<TrustedCertificateRecord[]> {
    const rows = (
      kind
        ? this.db.prepare("SELECT * FROM org_trusted_certificates WHERE kind = ? ORDER BY added_at, thumbprint").all(kind)
        : this.db.prepare("SELECT * FROM org_trusted_certificates ORDER BY kind DESC, added_at, thumbprint").all()
    ) as TrustedRow[];
    return rows.map((r) => ({ kind: r.kind, thumbprint: r.thumbprint, der: r.der, addedAt: new Date(r.added_at) }));
  }

  async addTrusted(kind: TrustedKind, items: Array<{ thumbprint: string; der: Buffer }>): Promise<TrustedCertificateRecord[]> {
    const addedAt = new Date();
    this.write(`addTrusted ${kind} ${items.map((i) => i.thumbprint).join(",")}`, () => {
        const exists = this.db.prepare("SELECT 1 FROM org_trusted_certificates WHERE kind = ? AND thumbprint = ?");
        const insert = this.db.prepare("INSERT INTO org_trusted_certificates (kind, thumbprint, der, added_at) VALUES (?, ?, ?, ?)");
        for (const it of items) {
          if (exists.get(kind, it.thumbprint)) {
            throw new SealpostError("ALREADY_EXISTS", `The certificate ${it.thumbprint} is already a trusted ${kind} certificate.`);
          }
          insert.run(kind, it.thumbprint, it.der, addedAt.toISOString());
        }
      });
    return items.map((it) => ({ kind, thumbprint: it.thumbprint, der: it.der, addedAt }));
  }

  async removeTrusted(kind: TrustedKind, thumbprint: string): Promise<void> {
    this.write(`removeTrusted ${kind} ${thumbprint}`, () => {
      const r = this.db.prepare("DELETE FROM org_trusted_certificates WHERE kind = ? AND thumbprint = ?").run(kind, thumbprint);
      if (r.changes === 0) throw new SealpostError("NOT_FOUND", `No trusted ${kind} certificate has the thumbprint ${thumbprint}.`);
    });
  }

  async getSettings(): Promise<OrgSettings> {
    return this.readSettings();
  }

  private readSettings(): OrgSettings {
    const rows = this.db.prepare("SELECT key, value FROM org_settings").all() as Array<{ key: string; value: string }>;
    const settings: OrgSettings = { ...DEFAULT_ORG_SETTINGS };
    for (const r of rows) {
      if (r.key in settings) (settings as unknown as Record<string, unknown>)[r.key] = JSON.parse(r.value);
    }
    return settings;
  }

  async updateSettings(patch: Partial<OrgSettings>): Promise<OrgSettings> {
    return this.editSettings(() => patch);
  }

  async editSettings(edit: (current: OrgSettings) => Partial<OrgSettings>): Promise<OrgSettings> {
    const put = this.db.prepare("INSERT INTO org_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.write("editSettings", () => {
      const patch = edit(this.readSettings());
      for (const [k, v] of Object.entries(patch)) if (v !== undefined) put.run(k, JSON.stringify(v));
    });
    return this.getSettings();
  }

  // ---- the admin door's accounts, tokens and audit trail (outside the configuration version)

  /** Accounts and tokens of a synchronized edge live in the organization store. */
  private identityWrite<T>(fn: () => T): T {
    const source = this.readOnlyReason();
    if (source !== undefined) {
      throw new SealpostError("ORG_READ_ONLY", `This server is an edge of the organization store ${source}: its administrators' accounts and tokens are kept there (sealpost --org <url> admin-user ...), and work on every edge.`);
    }
    try {
      return this.db.transaction(fn).immediate();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") throw new SealpostError("ALREADY_EXISTS", "The name, token or client certificate is already in use.", { cause: e });
      throw e;
    }
  }

  async listAdminUsers(): Promise<AdminUserRecord[]> {
    return (this.db.prepare("SELECT * FROM admin_users ORDER BY name COLLATE NOCASE").all() as AdminUserRow[]).map(userFromRow);
  }

  async getAdminUser(name: string): Promise<AdminUserRecord | undefined> {
    const row = this.db.prepare("SELECT * FROM admin_users WHERE name = ?").get(name) as AdminUserRow | undefined;
    return row ? userFromRow(row) : undefined;
  }

  async adminUserByThumbprint(thumbprint: string): Promise<AdminUserRecord | undefined> {
    const row = this.db.prepare("SELECT * FROM admin_users WHERE client_certificate_thumbprint = ?").get(thumbprint) as AdminUserRow | undefined;
    return row ? userFromRow(row) : undefined;
  }

  async addAdminUser(u: AdminUserRecord): Promise<AdminUserRecord> {
    return this.identityWrite(() => {
      if (this.db.prepare("SELECT 1 FROM admin_users WHERE name = ?").get(u.name)) throw new SealpostError("ALREADY_EXISTS", `An administrator account named '${u.name}' already exists.`);
      this.checkThumbprintFree(u.clientCertificateThumbprint, u.name);
      this.db
        .prepare("INSERT INTO admin_users (name, role_groups, password_hash, client_certificate_thumbprint, enabled, created_at, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .run(u.name, JSON.stringify(u.roleGroups), u.passwordHash, u.clientCertificateThumbprint ?? null, u.enabled ? 1 : 0, u.createdAt.toISOString(), u.changedAt.toISOString());
      return u;
    });
  }

  private checkThumbprintFree(thumbprint: string | undefined, owner: string): void {
    if (thumbprint === undefined) return;
    const other = this.db.prepare("SELECT name FROM admin_users WHERE client_certificate_thumbprint = ? AND name <> ?").get(thumbprint, owner) as { name: string } | undefined;
    if (other) throw new SealpostError("ALREADY_EXISTS", `The client certificate ${thumbprint} already logs in the account '${other.name}'.`);
  }

  async updateAdminUser(name: string, edit: (current: AdminUserRecord) => Partial<Omit<AdminUserRecord, "name" | "createdAt">>): Promise<AdminUserRecord> {
    return this.identityWrite(() => {
      const row = this.db.prepare("SELECT * FROM admin_users WHERE name = ?").get(name) as AdminUserRow | undefined;
      if (!row) throw new SealpostError("NOT_FOUND", `No administrator account is named '${name}' (Get-AdminUser lists them).`);
      const current = userFromRow(row);
      const next: AdminUserRecord = { ...current, ...edit(current), name: current.name, createdAt: current.createdAt };
      this.checkThumbprintFree(next.clientCertificateThumbprint, current.name);
      this.db
        .prepare("UPDATE admin_users SET role_groups = ?, password_hash = ?, client_certificate_thumbprint = ?, enabled = ?, changed_at = ? WHERE name = ?")
        .run(JSON.stringify(next.roleGroups), next.passwordHash, next.clientCertificateThumbprint ?? null, next.enabled ? 1 : 0, next.changedAt.toISOString(), current.name);
      return next;
    });
  }

  async removeAdminUser(name: string): Promise<void> {
    this.identityWrite(() => {
      this.db.prepare("DELETE FROM admin_tokens WHERE user_name = ?").run(name);
      const r = this.db.prepare("DELETE FROM admin_users WHERE name = ?").run(name);
      if (r.changes === 0) throw new SealpostError("NOT_FOUND", `No administrator account is named '${name}'.`);
    });
  }

  async listAdminTokens(user?: string): Promise<AdminTokenRecord[]> {
    const rows = (user === undefined
      ? this.db.prepare("SELECT * FROM admin_tokens ORDER BY created_at, id").all()
      : this.db.prepare("SELECT * FROM admin_tokens WHERE user_name = ? ORDER BY created_at, id").all(user)) as AdminTokenRow[];
    return rows.map(tokenFromRow);
  }

  async addAdminToken(t: AdminTokenRecord): Promise<AdminTokenRecord> {
    return this.identityWrite(() => {
      const owner = this.db.prepare("SELECT name FROM admin_users WHERE name = ?").get(t.user) as { name: string } | undefined;
      if (!owner) throw new SealpostError("NOT_FOUND", `No administrator account is named '${t.user}' (Get-AdminUser lists them).`);
      this.db
        .prepare("INSERT INTO admin_tokens (id, token_sha256, user_name, description, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)")
        .run(t.id, t.tokenSha256, owner.name, t.description, t.createdAt.toISOString(), t.expiresAt?.toISOString() ?? null);
      return { ...t, user: owner.name };
    });
  }

  async removeAdminToken(id: string): Promise<void> {
    this.identityWrite(() => {
      const r = this.db.prepare("DELETE FROM admin_tokens WHERE id = ?").run(id);
      if (r.changes === 0) throw new SealpostError("NOT_FOUND", `No API token has the id '${id}' (Get-AdminToken lists them).`);
    });
  }

  async adminTokenBySha256(tokenSha256: string): Promise<AdminTokenRecord | undefined> {
    const row = this.db.prepare("SELECT * FROM admin_tokens WHERE token_sha256 = ?").get(tokenSha256) as AdminTokenRow | undefined;
    return row ? tokenFromRow(row) : undefined;
  }

  async touchAdminToken(id: string, at: Date): Promise<void> {
    this.db.prepare("UPDATE admin_tokens SET last_used_at = ? WHERE id = ?").run(at.toISOString(), id);
  }

  async appendAdminAudit(r: AdminAuditRow): Promise<void> {
    this.db
      .prepare("INSERT INTO admin_audit (at, user_name, from_address, via, cmdlet, parameters, result, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .run(r.at.toISOString(), r.user, r.from, r.via, r.cmdlet, JSON.stringify(r.parameters ?? {}), r.result, r.error ?? null);
  }

  async adminAuditLog(q: AdminAuditQuery = {}): Promise<StoredAdminAudit[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.users !== undefined) {
      where.push(`lower(user_name) IN (${q.users.map(() => "?").join(", ") || "NULL"})`);
      args.push(...q.users.map((u) => u.toLowerCase()));
    }
    if (q.cmdlets !== undefined) {
      where.push(`lower(cmdlet) IN (${q.cmdlets.map(() => "?").join(", ") || "NULL"})`);
      args.push(...q.cmdlets.map((c) => c.toLowerCase()));
    }
    if (q.start !== undefined) {
      where.push("at >= ?");
      args.push(q.start.toISOString());
    }
    if (q.end !== undefined) {
      where.push("at < ?");
      args.push(q.end.toISOString());
    }
    const sql = `SELECT * FROM admin_audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, q.limit ?? 1000) as AdminAuditDbRow[];
    return rows.map((r) => ({
      id: r.id,
      at: new Date(r.at),
      user: r.user_name,
      from: r.from_address,
      via: r.via,
      cmdlet: r.cmdlet,
      parameters: JSON.parse(r.parameters) as Record<string, unknown>,
      result: r.result,
      ...(r.error !== null ? { error: r.error } : {}),
    }));
  }

  async close(): Promise<void> {
    // The database belongs to the server context, which closes it.
  }
}
