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
