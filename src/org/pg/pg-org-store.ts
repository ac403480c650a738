// The organization store on PostgreSQL, for a fleet of edge servers. Same
// interface and semantics as the embedded SQLite store (the contract tests
// run on both). Every change is one transaction that locks the single
// configuration version row first, so changes are serialized: each one
// advances the version by exactly one, writes its audit row and notifies
// listening edges (NOTIFY sealpost_config) when it commits. A reader never
// sees half a change; an edge copies a whole version in one REPEATABLE READ
// transaction (exportSnapshot).
import pg from "pg";
import { SealpostError } from "../../errors/errors.js";
import type { AcceptedDomain, Mailbox, ReceiveConnector, SendConnector } from "../model.js";
import { DEFAULT_ORG_SETTINGS, defaultAdminName, defaultPartnerOptions, type AuditEntry, type OrgSettings, type OrgSnapshot, type OrgStore, type PartnerOptions, type TrustedCertificateRecord, type TrustedKind } from "../store.js";
import { PG_MIGRATIONS, PG_SCHEMA_VERSION, type PgMigration } from "./migrations.js";
import { parseAllowedIssuers } from "../../pki/trust/issuers.js";
import type { AdminAuditQuery, AdminAuditRow, AdminTokenRecord, AdminUserRecord, StoredAdminAudit } from "../identity-store.js";

interface PgUserRow {
  name: string;
  role_groups: string[];
  password_hash: string;
  client_certificate_thumbprint: string | null;
  enabled: boolean;
  created_at: Date;
  changed_at: Date;
}

function userFromRow(r: PgUserRow): AdminUserRecord {
  return {
    name: r.name,
    roleGroups: r.role_groups,
    passwordHash: r.password_hash,
    ...(r.client_certificate_thumbprint !== null ? { clientCertificateThumbprint: r.client_certificate_thumbprint } : {}),
    enabled: r.enabled,
    createdAt: r.created_at,
    changedAt: r.changed_at,
  };
}

interface PgTokenRow {
  id: string;
  token_sha256: string;
  user_name: string;
  description: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

function tokenFromRow(r: PgTokenRow): AdminTokenRecord {
  return {
    id: r.id,
    tokenSha256: r.token_sha256,
    user: r.user_name,
    description: r.description,
    createdAt: r.created_at,
    ...(r.expires_at !== null ? { expiresAt: r.expires_at } : {}),
    ...(r.last_used_at !== null ? { lastUsedAt: r.last_used_at } : {}),
  };
}

const TOKEN_SELECT = "SELECT t.id, t.token_sha256, u.name AS user_name, t.description, t.created_at, t.expires_at, t.last_used_at FROM admin_tokens t JOIN admin_users u ON u.key = t.user_key";

export const CONFIG_CHANNEL = "sealpost_config";
export const SYNC_NOW_CHANNEL = "sealpost_sync_now";

type Queryable = Pick<pg.PoolClient, "query">;

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "****";
    return u.toString();
  } catch {
    return "(an unparsable PostgreSQL URL)";
  }
}

/**
 * Whether an error means the server could not be talked to (as opposed to a
 * refused statement or a bug): socket errors (E...), SQLSTATE classes 08
 * (connection exception) and 57P (operator intervention: shutdown), and the
 * driver's own connection messages.
 */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && (/^E[A-Z]/.test(code) || code.startsWith("08") || code.startsWith("57P"))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED/i.test((e as Error)?.message ?? "");
}

/** A connection error as a coded error that names the server but never the password. */
export function unreachable(url: string, e: unknown): SealpostError {
  const msg = ((e as Error)?.message ?? String(e)).split(url).join(redactUrl(url));
  return new SealpostError("ORG_UNREACHABLE", `The organization store ${redactUrl(url)} could not be reached: ${msg}`, { cause: e });
}

export function poolFor(url: string, opts: { max?: number; application?: string } = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 4, application_name: opts.application ?? "sealpost", connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000 });
  // An idle client losing its connection must not crash the process.
  pool.on("error", () => undefined);
  return pool;
}

/** The schema version of the store, 0 when it was never migrated. */
export async function schemaVersionOf(q: Queryable): Promise<number> {
  const t = await q.query("SELECT to_regclass('sealpost_schema') AS t");
  if (!(t.rows[0] as { t: string | null }).t) return 0;
  const r = await q.query("SELECT version FROM sealpost_schema WHERE id = 1");
  return Number((r.rows[0] as { version: number } | undefined)?.version ?? 0);
}

/** `sealpost org migrate`: applies the migrations this release has and the store lacks. */
export async function migratePg(url: string): Promise<{ from: number; to: number }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (e) {
    throw unreachable(url, e);
  }
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(7368061)"); // one migrating admin at a time
    await client.query("CREATE TABLE IF NOT EXISTS sealpost_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)");
    await client.query("INSERT INTO sealpost_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING");
    const from = Number(((await client.query("SELECT version FROM sealpost_schema WHERE id = 1 FOR UPDATE")).rows[0] as { version: number }).version);
    if (from > PG_SCHEMA_VERSION) {
      throw new SealpostError("ORG_SCHEMA_TOO_NEW", `The organization store uses schema version ${from}, newer than this release knows (${PG_SCHEMA_VERSION}); run a newer Sealpost.`);
    }
    for (let v = from; v < PG_SCHEMA_VERSION; v++) {
      const step = PG_MIGRATIONS[v] as PgMigration;
      if (typeof step === "string") await client.query(step);
      else await step(client);
    }
    await client.query("UPDATE sealpost_schema SET version = $1 WHERE id = 1", [PG_SCHEMA_VERSION]);
    await client.query("COMMIT");
    return { from, to: PG_SCHEMA_VERSION };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Refuses a store this release cannot use, saying what to do. */
export function checkSchema(version: number, url: string): void {
  if (version > PG_SCHEMA_VERSION) {
    throw new SealpostError("ORG_SCHEMA_TOO_NEW", `The organization store ${redactUrl(url)} uses schema version ${version}, newer than this release knows (${PG_SCHEMA_VERSION}); upgrade this server's Sealpost.`);
  }
  if (version < PG_SCHEMA_VERSION) {
    throw new SealpostError("ORG_SCHEMA_OLD", `The organization store ${redactUrl(url)} has schema version ${version}; this release needs ${PG_SCHEMA_VERSION}: run \`sealpost --org <url> org migrate\` as its administrator.`);
  }
}

function domainFromRow(r: { name: string; domain_name: string; domain_type: AcceptedDomain["domainType"]; catch_all: string | null }): AcceptedDomain {
  return { name: r.name, domainName: r.domain_name, domainType: r.domain_type, ...(r.catch_all ? { catchAllMailbox: r.catch_all } : {}) };
}

/** The reads, over any connection (the pool, or one client inside a transaction). */
const reads = {
  async version(q: Queryable): Promise<number> {
    return Number(((await q.query("SELECT version FROM org_version WHERE id = 1")).rows[0] as { version: string }).version);
  },
  async settings(q: Queryable): Promise<OrgSettings> {
    const settings: OrgSettings = { ...DEFAULT_ORG_SETTINGS };
    for (const r of (await q.query("SELECT key, value FROM org_settings")).rows as Array<{ key: string; value: unknown }>) {
      if (r.key in settings) (settings as unknown as Record<string, unknown>)[r.key] = r.value;
    }
    return settings;
  },
  async partners(q: Queryable): Promise<PartnerOptions[]> {
    return ((await q.query("SELECT domain, options FROM org_partners ORDER BY domain")).rows as Array<{ domain: string; options: PartnerOptions }>).map((r) => ({ ...defaultPartnerOptions(r.domain), ...r.options, allowedIssuers: parseAllowedIssuers(r.options.allowedIssuers), allowWeakCrypto: r.options.allowWeakCrypto === true, domain: r.domain }));
  },
  async trusted(q: Queryable, kind?: TrustedKind): Promise<TrustedCertificateRecord[]> {
    const rows = (
      kind
        ? await q.query("SELECT * FROM org_trusted_certificates WHERE kind = $1 ORDER BY added_at, thumbprint", [kind])
        : await q.query("SELECT * FROM org_trusted_certificates ORDER BY kind DESC, added_at, thumbprint")
    ).rows as Array<{ kind: TrustedKind; thumbprint: string; der: Buffer; added_at: Date }>;
    return rows.map((r) => ({ kind: r.kind, thumbprint: r.thumbprint, der: r.der, addedAt: r.added_at }));
  },
  async domains(q: Queryable): Promise<AcceptedDomain[]> {
    return ((await q.query("SELECT * FROM org_accepted_domains ORDER BY key")).rows as Array<Parameters<typeof domainFromRow>[0]>).map(domainFromRow);
  },
  async mailboxes(q: Queryable): Promise<Mailbox[]> {
    return ((await q.query("SELECT address, name FROM org_mailboxes ORDER BY key")).rows as Array<{ address: string; name: string }>).map((r) => ({ primarySmtpAddress: r.address, name: r.name }));
  },
  async receiveConnectors(q: Queryable, server?: string): Promise<ReceiveConnector[]> {
    const rows = (
      server === undefined
        ? await q.query("SELECT config FROM org_receive_connectors ORDER BY server_key, name_key")
        : await q.query("SELECT config FROM org_receive_connectors WHERE server_key = $1 ORDER BY name_key", [server.toLowerCase()])
    ).rows as Array<{ config: ReceiveConnector }>;
    return rows.map((r) => r.config);
  },
  async sendConnectors(q: Queryable): Promise<SendConnector[]> {
    return ((await q.query("SELECT config FROM org_send_connectors ORDER BY key")).rows as Array<{ config: SendConnector }>).map((r) => r.config);
  },
};

export interface EdgeStatusRow {
  serverName: string;
  fqdn: string;
  softwareVersion: string;
  appliedVersion: number;
  lastContact: Date;
  dbUser: string;
}

export class PgOrgStore implements OrgStore {
  private audit: { admin: string; command?: string } = { admin: defaultAdminName() };

  private constructor(
    readonly pool: pg.Pool,
    readonly url: string,
  ) {}

  /** Connects and checks the schema (refusing one too new or too old). */
  static async open(url: string, opts: { application?: string; max?: number } = {}): Promise<PgOrgStore> {
    const pool = poolFor(url, opts);
    let version: number;
    try {
      version = await schemaVersionOf(pool);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw unreachable(url, e);
    }
    try {
      checkSchema(version, url);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return new PgOrgStore(pool, url);
  }

  setAuditContext(ctx: { admin?: string; command?: string }): void {
    this.audit = { admin: ctx.admin ?? this.audit.admin, ...(ctx.command !== undefined ? { command: ctx.command } : {}) };
  }

  /**
   * One change: lock the version row (serializing writers), make the
   * change, advance the version, write the audit row, notify; commit.
   */
  /** A connection from the pool; a failure to get one is ORG_UNREACHABLE. */
  private async client(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw unreachable(this.url, e);
    }
  }

  private async write<T>(action: string, fn: (q: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.client();
    try {
      await client.query("BEGIN");
      await client.query("SELECT version FROM org_version WHERE id = 1 FOR UPDATE");
      const out = await fn(client);
      const v = Number(((await client.query("UPDATE org_version SET version = version + 1, committed_at = now() WHERE id = 1 RETURNING version")).rows[0] as { version: string }).version);
      await client.query("INSERT INTO org_audit (version, admin, action, command) VALUES ($1, $2, $3, $4)", [v, this.audit.admin, action, this.audit.command ?? null]);
      await client.query("SELECT pg_notify($1, $2)", [CONFIG_CHANNEL, String(v)]);
      await client.query("COMMIT");
      return out;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      if (e instanceof SealpostError) throw e;
      if (isConnectionError(e)) throw unreachable(this.url, e);
      if ((e as { code?: string }).code === "42501" || (e as { code?: string }).code === "25006") {
        throw new SealpostError(
          "ORG_PERMISSION_DENIED",
          `${action} was refused by the organization store ${redactUrl(this.url)}: ${(e as Error).message} (changes need a role in sealpost_admin on the primary, see sql/roles.sql).`,
          { cause: e },
        );
      }
      if ((e as { code?: string }).code === "23505") throw new SealpostError("ALREADY_EXISTS", `${action}: the name or domain is already in use.`, { cause: e });
      throw e;
    } finally {
      client.release();
    }
  }

  private async read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    try {
      return await fn(this.pool);
    } catch (e) {
      throw isConnectionError(e) ? unreachable(this.url, e) : e;
    }
  }

  version(): Promise<number> {
    return this.read(reads.version);
  }

  async auditLog(opts: { limit?: number; since?: Date } = {}): Promise<AuditEntry[]> {
    const rows = (await this.read((q) => q.query("SELECT version, at, admin, db_user, action, command FROM org_audit WHERE at >= $1 ORDER BY version DESC LIMIT $2", [opts.since ?? new Date(0), opts.limit ?? 1000]))).rows as Array<{
      version: string;
      at: Date;
      admin: string;
      db_user: string;
      action: string;
      command: string | null;
    }>;
    return rows.map((r) => ({ version: Number(r.version), at: r.at, admin: r.admin === r.db_user ? r.admin : `${r.admin} (${r.db_user})`, action: r.action, ...(r.command !== null ? { command: r.command } : {}) }));
  }

  /** The whole configuration at one version (REPEATABLE READ, read only). */
  async exportSnapshot(): Promise<OrgSnapshot> {
    const client = await this.client();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const snap: OrgSnapshot = {
        version: await reads.version(client),
        settings: await reads.settings(client),
        partners: await reads.partners(client),
        trusted: await reads.trusted(client),
        acceptedDomains: await reads.domains(client),
        mailboxes: await reads.mailboxes(client),
        receiveConnectors: await reads.receiveConnectors(client),
        sendConnectors: await reads.sendConnectors(client),
      };
      await client.query("COMMIT");
      return snap;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw isConnectionError(e) ? unreachable(this.url, e) : e;
    } finally {
      client.release();
    }
  }

  // ---- accepted domains

  listAcceptedDomains(): Promise<AcceptedDomain[]> {
    return this.read(reads.domains);
  }

  addAcceptedDomain(d: AcceptedDomain): Promise<AcceptedDomain> {
    return this.write(`addAcceptedDomain ${d.domainName}`, async (q) => {
      const clash = (await q.query("SELECT name FROM org_accepted_domains WHERE key = $1 OR domain_name = $2", [d.name.toLowerCase(), d.domainName])).rows[0] as { name: string } | undefined;
      if (clash) throw new SealpostError("ALREADY_EXISTS", `An accepted domain named '${clash.name}' already has that name or domain.`);
      await q.query("INSERT INTO org_accepted_domains (key, name, domain_name, domain_type, catch_all) VALUES ($1, $2, $3, $4, $5)", [d.name.toLowerCase(), d.name, d.domainName, d.domainType, d.catchAllMailbox ?? null]);
      return d;
    });
  }

  updateAcceptedDomain(name: string, edit: (current: AcceptedDomain) => Partial<AcceptedDomain>): Promise<AcceptedDomain> {
    return this.write(`updateAcceptedDomain ${name}`, async (q) => {
      const row = (await q.query("SELECT * FROM org_accepted_domains WHERE key = $1", [name.toLowerCase()])).rows[0] as Parameters<typeof domainFromRow>[0] | undefined;
      if (!row) throw new SealpostError("NOT_FOUND", `No accepted domain is named '${name}' (Get-AcceptedDomain lists them).`);
      const current = domainFromRow(row);
      const next = { ...current, ...edit(current), name: current.name };
      const taken = (await q.query("SELECT name FROM org_accepted_domains WHERE domain_name = $1 AND key <> $2", [next.domainName, name.toLowerCase()])).rows[0] as { name: string } | undefined;
      if (taken) throw new SealpostError("ALREADY_EXISTS", `The accepted domain '${taken.name}' already has the domain ${next.domainName}.`);
      await q.query("UPDATE org_accepted_domains SET domain_name = $1, domain_type = $2, catch_all = $3 WHERE key = $4", [next.domainName, next.domainType, next.catchAllMailbox ?? null, name.toLowerCase()]);
      return next;
    });
  }

  async removeAcceptedDomain(name: string): Promise<void> {
    await this.write(`removeAcceptedDomain ${name}`, async (q) => {
      const r = await q.query("DELETE FROM org_accepted_domains WHERE key = $1", [name.toLowerCase()]);
      if (r.rowCount === 0) throw new SealpostError("NOT_FOUND", `No accepted domain is named '${name}'.`);
    });
  }

  // ---- mailboxes

  listMailboxes(): Promise<Mailbox[]> {
    return this.read(reads.mailboxes);
  }

  addMailbox(m: Mailbox): Promise<Mailbox> {
    return this.write(`addMailbox ${m.primarySmtpAddress}`, async (q) => {
      if ((await q.query("SELECT 1 FROM org_mailboxes WHERE key = $1", [m.primarySmtpAddress.toLowerCase()])).rowCount) {
        throw new SealpostError("ALREADY_EXISTS", `The mailbox ${m.primarySmtpAddress} already exists.`);
      }
      await q.query("INSERT INTO org_mailboxes (key, address, name) VALUES ($1, $2, $3)", [m.primarySmtpAddress.toLowerCase(), m.primarySmtpAddress, m.name]);
      return m;
    });
  }

  async removeMailbox(address: string): Promise<void> {
    await this.write(`removeMailbox ${address}`, async (q) => {
      const r = await q.query("DELETE FROM org_mailboxes WHERE key = $1", [address.toLowerCase()]);
      if (r.rowCount === 0) throw new SealpostError("NOT_FOUND", `No mailbox has the address ${address}.`);
    });
  }

  // ---- send connectors

  listSendConnectors(): Promise<SendConnector[]> {
    return this.read(reads.sendConnectors);
  }

  addSendConnector(c: SendConnector): Promise<SendConnector> {
    return this.write(`addSendConnector ${c.name}`, async (q) => {
      if ((await q.query("SELECT 1 FROM org_send_connectors WHERE key = $1", [c.name.toLowerCase()])).rowCount) {
        throw new SealpostError("ALREADY_EXISTS", `The send connector ${c.name} already exists.`);
      }
      await q.query("INSERT INTO org_send_connectors (key, config) VALUES ($1, $2)", [c.name.toLowerCase(), JSON.stringify(c)]);
      return c;
    });
  }

  updateSendConnector(name: string, edit: (current: SendConnector) => Partial<SendConnector>): Promise<SendConnector> {
    return this.write(`updateSendConnector ${name}`, async (q) => {
      const row = (await q.query("SELECT config FROM org_send_connectors WHERE key = $1", [name.toLowerCase()])).rows[0] as { config: SendConnector } | undefined;
      if (!row) throw new SealpostError("NOT_FOUND", `No send connector is named ${name} (Get-SendConnector lists them).`);
      const next = { ...row.config, ...edit(row.config), name: row.config.name };
      await q.query("UPDATE org_send_connectors SET config = $1 WHERE key = $2", [JSON.stringify(next), name.toLowerCase()]);
      return next;
    });
  }

  async removeSendConnector(name: string): Promise<void> {
    await this.write(`removeSendConnector ${name}`, async (q) => {
      const r = await q.query("DELETE FROM org_send_connectors WHERE key = $1", [name.toLowerCase()]);
      if (r.rowCount === 0) throw new SealpostError("NOT_FOUND", `No send connector is named ${name}.`);
    });
  }

  // ---- receive connectors

  listReceiveConnectors(server?: string): Promise<ReceiveConnector[]> {
    return this.read((q) => reads.receiveConnectors(q, server));
  }

  addReceiveConnector(c: ReceiveConnector): Promise<ReceiveConnector> {
    return this.write(`addReceiveConnector ${c.server}\\${c.name}`, async (q) => {
      if ((await q.query("SELECT 1 FROM org_receive_connectors WHERE server_key = $1 AND name_key = $2", [c.server.toLowerCase(), c.name.toLowerCase()])).rowCount) {
        throw new SealpostError("ALREADY_EXISTS", `The receive connector ${c.server}\\${c.name} already exists.`);
      }
      await q.query("INSERT INTO org_receive_connectors (server_key, name_key, config) VALUES ($1, $2, $3)", [c.server.toLowerCase(), c.name.toLowerCase(), JSON.stringify(c)]);
      return c;
    });
  }

  updateReceiveConnector(server: string, name: string, edit: (current: ReceiveConnector) => Partial<ReceiveConnector>): Promise<ReceiveConnector> {
    return this.write(`updateReceiveConnector ${server}\\${name}`, async (q) => {
      const row = (await q.query("SELECT config FROM org_receive_connectors WHERE server_key = $1 AND name_key = $2", [server.toLowerCase(), name.toLowerCase()])).rows[0] as { config: ReceiveConnector } | undefined;
      if (!row) throw new SealpostError("NOT_FOUND", `No receive connector ${server}\\${name} exists (Get-ReceiveConnector lists them).`);
      const next = { ...row.config, ...edit(row.config), server: row.config.server, name: row.config.name };
      await q.query("UPDATE org_receive_connectors SET config = $1 WHERE server_key = $2 AND name_key = $3", [JSON.stringify(next), server.toLowerCase(), name.toLowerCase()]);
      return next;
    });
  }

  async removeReceiveConnector(server: string, name: string): Promise<void> {
    await this.write(`removeReceiveConnector ${server}\\${name}`, async (q) => {
      const r = await q.query("DELETE FROM org_receive_connectors WHERE server_key = $1 AND name_key = $2", [server.toLowerCase(), name.toLowerCase()]);
      if (r.rowCount === 0) throw new SealpostError("NOT_FOUND", `No receive connector ${server}\\${name} exists.`);
    });
  }

  // ---- partners

  listPartners(): Promise<PartnerOptions[]> {
    return this.read(reads.partners);
  }

  async getPartner(domain: string): Promise<PartnerOptions | undefined> {
    return (await this.listPartners()).find((p) => p.domain === domain);
  }

  setPartner(domain: string, patch: Partial<Omit<PartnerOptions, "domain">>): Promise<PartnerOptions> {
    return this.write(`setPartner ${domain}`, async (q) => {
      const row = (await q.query("SELECT options FROM org_partners WHERE domain = $1", [domain])).rows[0] as { options: PartnerOptions } | undefined;
      const next: PartnerOptions = { ...defaultPartnerOptions(domain), ...(row?.options ?? {}), ...patch, domain };
      await q.query("INSERT INTO org_partners (domain, options) VALUES ($1, $2) ON CONFLICT (domain) DO UPDATE SET options = excluded.options", [domain, JSON.stringify(next)]);
      return next;
    });
  }

  // ---- trust

  listTrusted(kind?: TrustedKind): Promise<TrustedCertificateRecord[]> {
    return this.read((q) => reads.trusted(q, kind));
  }

  async addTrusted(kind: TrustedKind, items: Array<{ thumbprint: string; der: Buffer }>): Promise<TrustedCertificateRecord[]> {
    const addedAt = new Date();
    await this.write(`addTrusted ${kind} ${items.map((i) => i.thumbprint).join(",")}`, async (q) => {
      for (const it of items) {
        if ((await q.query("SELECT 1 FROM org_trusted_certificates WHERE kind = $1 AND thumbprint = $2", [kind, it.thumbprint])).rowCount) {
          throw new SealpostError("ALREADY_EXISTS", `The certificate ${it.thumbprint} is already a trusted ${kind} certificate.`);
        }
        await q.query("INSERT INTO org_trusted_certificates (kind, thumbprint, der, added_at) VALUES ($1, $2, $3, $4)", [kind, it.thumbprint, it.der, addedAt]);
      }
    });
    return items.map((it) => ({ kind, thumbprint: it.thumbprint, der: it.der, addedAt }));
  }

  async removeTrusted(kind: TrustedKind, thumbprint: string): Promise<void> {
    await this.write(`removeTrusted ${kind} ${thumbprint}`, async (q) => {
      const r = await q.query("DELETE FROM org_trusted_certificates WHERE kind = $1 AND thumbprint = $2", [kind, thumbprint]);
      if (r.rowCount === 0) throw new SealpostError("NOT_FOUND", `No trusted ${kind} certificate has the thumbprint ${thumbprint}.`);
    });
  }

  // ---- settings

  getSettings(): Promise<OrgSettings> {
    return this.read(reads.settings);
  }

  updateSettings(patch: Partial<OrgSettings>): Promise<OrgSettings> {
    return this.editSettings(() => patch);
  }

  async editSettings(edit: (current: OrgSettings) => Partial<OrgSettings>): Promise<OrgSettings> {
    // Read after the version row is locked: a concurrent @{Add=...} waits, then edits what this one wrote.
    await this.write("editSettings", async (q) => {
      const patch = edit(await reads.settings(q));
      for (const [k, v] of Object.entries(patch)) {
        if (v !== undefined) await q.query("INSERT INTO org_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [k, JSON.stringify(v)]);
      }
    });
    return this.getSettings();
  }

  // ---- the admin door's accounts, tokens and audit trail (outside the configuration version)

  /** One transaction that does not touch the configuration version; errors as the configuration's writes map them. */
  private async identityWrite<T>(what: string, fn: (q: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.client();
    try {
      await client.query("BEGIN");
      const out = await fn(client);
      await client.query("COMMIT");
      return out;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw this.mapError(what, e);
    } finally {
      client.release();
    }
  }

  private mapError(what: string, e: unknown): unknown {
    if (e instanceof SealpostError) return e;
    if (isConnectionError(e)) return unreachable(this.url, e);
    const code = (e as { code?: string }).code;
    if (code === "42501" || code === "25006") {
      return new SealpostError("ORG_PERMISSION_DENIED", `${what} was refused by the organization store ${redactUrl(this.url)}: ${(e as Error).message} (see sql/roles.sql for what each role may do).`, { cause: e });
    }
    if (code === "23505") return new SealpostError("ALREADY_EXISTS", `${what}: the name or client certificate is already in use.`, { cause: e });
    return e;
  }

  private async identityRead<T>(what: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    try {
      return await fn(this.pool);
    } catch (e) {
      throw this.mapError(what, e);
    }
  }

  async listAdminUsers(): Promise<AdminUserRecord[]> {
    const r = await this.identityRead("Reading the administrator accounts", (q) => q.query("SELECT * FROM admin_users ORDER BY key"));
    return (r.rows as PgUserRow[]).map(userFromRow);
  }

  async getAdminUser(name: string): Promise<AdminUserRecord | undefined> {
    const r = await this.identityRead("Reading an administrator account", (q) => q.query("SELECT * FROM admin_users WHERE key = $1", [name.toLowerCase()]));
    const row = r.rows[0] as PgUserRow | undefined;
    return row ? userFromRow(row) : undefined;
  }

  async adminUserByThumbprint(thumbprint: string): Promise<AdminUserRecord | undefined> {
    const r = await this.identityRead("Reading an administrator account", (q) => q.query("SELECT * FROM admin_users WHERE client_certificate_thumbprint = $1", [thumbprint]));
    const row = r.rows[0] as PgUserRow | undefined;
    return row ? userFromRow(row) : undefined;
  }

  private async checkThumbprintFree(q: Queryable, thumbprint: string | undefined, ownerKey: string): Promise<void> {
    if (thumbprint === undefined) return;
    const other = (await q.query("SELECT name FROM admin_users WHERE client_certificate_thumbprint = $1 AND key <> $2", [thumbprint, ownerKey])).rows[0] as { name: string } | undefined;
    if (other) throw new SealpostError("ALREADY_EXISTS", `The client certificate ${thumbprint} already logs in the account '${other.name}'.`);
  }

  addAdminUser(u: AdminUserRecord): Promise<AdminUserRecord> {
    return this.identityWrite(`New-AdminUser ${u.name}`, async (q) => {
      if ((await q.query("SELECT 1 FROM admin_users WHERE key = $1", [u.name.toLowerCase()])).rowCount) throw new SealpostError("ALREADY_EXISTS", `An administrator account named '${u.name}' already exists.`);
      await this.checkThumbprintFree(q, u.clientCertificateThumbprint, u.name.toLowerCase());
      await q.query(
        "INSERT INTO admin_users (key, name, role_groups, password_hash, client_certificate_thumbprint, enabled, created_at, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [u.name.toLowerCase(), u.name, JSON.stringify(u.roleGroups), u.passwordHash, u.clientCertificateThumbprint ?? null, u.enabled, u.createdAt, u.changedAt],
      );
      return u;
    });
  }

  updateAdminUser(name: string, edit: (current: AdminUserRecord) => Partial<Omit<AdminUserRecord, "name" | "createdAt">>): Promise<AdminUserRecord> {
    return this.identityWrite(`Set-AdminUser ${name}`, async (q) => {
      const row = (await q.query("SELECT * FROM admin_users WHERE key = $1 FOR UPDATE", [name.toLowerCase()])).rows[0] as PgUserRow | undefined;
      if (!row) throw new SealpostError("NOT_FOUND", `No administrator account is named '${name}' (Get-AdminUser lists them).`);
      const current = userFromRow(row);
      const next: AdminUserRecord = { ...current, ...edit(current), name: current.name, createdAt: current.createdAt };
      await this.checkThumbprintFree(q, next.clientCertificateThumbprint, name.toLowerCase());
      await q.query("UPDATE admin_users SET role_groups = $1, password_hash = $2, client_certificate_thumbprint = $3, enabled = $4, changed_at = $5 WHERE key = $6", [
        JSON.stringify(next.roleGroups),
        next.passwordHash,
        next.clientCertificateThumbprint ?? null,
        next.enabled,
        next.changedAt,
        name.toLowerCase(),
      ]);
      return next;
    });
  }

  async removeAdminUser(name: string): Promise<void> {
    await this.identityWrite(`Remove-AdminUser ${name}`, async (q) => {
      await q.query("DELETE FROM admin_tokens WHERE user_key = $1", [name.toLowerCase()]);
      const r = await q.query("DELETE FROM admin_users WHERE key = $1", [name.toLowerCase()]);
      if (r.rowCount === 0) throw new SealpostError("NOT_FOUND", `No administrator account is named '${name}'.`);
    });
  }

  async listAdminTokens(user?: string): Promise<AdminTokenRecord[]> {
    const r = await this.identityRead("Reading the API tokens", (q) =>
      user === undefined ? q.query(`${TOKEN_SELECT} ORDER BY t.created_at, t.id`) : q.query(`${TOKEN_SELECT} WHERE t.user_key = $1 ORDER BY t.created_at, t.id`, [user.toLowerCase()]),
    );
    return (r.rows as PgTokenRow[]).map(tokenFromRow);
  }

  addAdminToken(t: AdminTokenRecord): Promise<AdminTokenRecord> {
    return this.identityWrite(`New-AdminToken ${t.user}`, async (q) => {
      const owner = (await q.query("SELECT name FROM admin_users WHERE key = $1 FOR SHARE", [t.user.toLowerCase()])).rows[0] as { name: string } | undefined;
      if (!owner) throw new SealpostError("NOT_FOUND", `No administrator account is named '${t.user}' (Get-AdminUser lists them).`);
      await q.query("INSERT INTO admin_tokens (id, token_sha256, user_key, description, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)", [t.id, t.tokenSha256, t.user.toLowerCase(), t.description, t.createdAt, t.expiresAt ?? null]);
      return { ...t, user: owner.name };
    });
  }

  async removeAdminToken(id: string): Promise<void> {
    await this.identityWrite(`Remove-AdminToken ${id}`, async (q) => {
      const r = await q.query("DELETE FROM admin_tokens WHERE id = $1", [id]);
      if (r.rowCount === 0) throw new SealpostError("NOT_FOUND", `No API token has the id '${id}' (Get-AdminToken lists them).`);
    });
  }

  async adminTokenBySha256(tokenSha256: string): Promise<AdminTokenRecord | undefined> {
    const r = await this.identityRead("Reading an API token", (q) => q.query(`${TOKEN_SELECT} WHERE t.token_sha256 = $1`, [tokenSha256]));
    const row = r.rows[0] as PgTokenRow | undefined;
    return row ? tokenFromRow(row) : undefined;
  }

  async touchAdminToken(id: string, at: Date): Promise<void> {
    await this.identityRead("Recording an API token's use", (q) => q.query("UPDATE admin_tokens SET last_used_at = $1 WHERE id = $2", [at, id]));
  }

  async appendAdminAudit(r: AdminAuditRow): Promise<void> {
    await this.identityRead("Writing the admin audit log", (q) =>
      q.query("INSERT INTO admin_audit (at, user_name, from_address, via, cmdlet, parameters, result, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", [
        r.at,
        r.user,
        r.from,
        r.via,
        r.cmdlet,
        JSON.stringify(r.parameters ?? {}),
        r.result,
        r.error ?? null,
      ]),
    );
  }

  async adminAuditLog(qy: AdminAuditQuery = {}): Promise<StoredAdminAudit[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (qy.users !== undefined) {
      args.push(qy.users.map((u) => u.toLowerCase()));
      where.push(`lower(user_name) = ANY($${args.length}::text[])`);
    }
    if (qy.cmdlets !== undefined) {
      args.push(qy.cmdlets.map((c) => c.toLowerCase()));
      where.push(`lower(cmdlet) = ANY($${args.length}::text[])`);
    }
    if (qy.start !== undefined) {
      args.push(qy.start);
      where.push(`at >= $${args.length}`);
    }
    if (qy.end !== undefined) {
      args.push(qy.end);
      where.push(`at < $${args.length}`);
    }
    args.push(qy.limit ?? 1000);
    const sql = `SELECT * FROM admin_audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC LIMIT $${args.length}`;
    const rows = (await this.identityRead("Reading the admin audit log", (q) => q.query(sql, args))).rows as Array<{
      id: string;
      at: Date;
      user_name: string;
      from_address: string;
      via: string;
      cmdlet: string;
      parameters: Record<string, unknown>;
      result: string;
      error: string | null;
    }>;
    return rows.map((r) => ({
      id: Number(r.id),
      at: r.at,
      user: r.user_name,
      from: r.from_address,
      via: r.via,
      cmdlet: r.cmdlet,
      parameters: r.parameters,
      result: r.result,
      ...(r.error !== null ? { error: r.error } : {}),
    }));
  }

  // ---- the fleet

  /** Every edge's last report. */
  async edgeStatus(): Promise<EdgeStatusRow[]> {
    const rows = (await this.read((q) => q.query("SELECT * FROM edge_status ORDER BY server_name"))).rows as Array<{ server_name: string; fqdn: string; software_version: string; applied_version: string; last_contact: Date; db_user: string }>;
    return rows.map((r) => ({ serverName: r.server_name, fqdn: r.fqdn, softwareVersion: r.software_version, appliedVersion: Number(r.applied_version), lastContact: r.last_contact, dbUser: r.db_user }));
  }

  /** When the current version was committed. */
  async committedAt(): Promise<Date> {
    return ((await this.read((q) => q.query("SELECT committed_at FROM org_version WHERE id = 1"))).rows[0] as { committed_at: Date }).committed_at;
  }

  /** Start-EdgeSynchronization: every listening edge copies the configuration now. */
  async requestSync(): Promise<void> {
    await this.read((q) => q.query("SELECT pg_notify($1, 'now')", [SYNC_NOW_CHANNEL]));
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
