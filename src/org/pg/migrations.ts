// The organization store's schema on PostgreSQL, as forward migrations
// applied by an administrator (`sealpost org migrate`), never by edges: a
// fleet is upgraded one server at a time, and an edge refuses a schema newer
// than it knows. Index i moves version i to i+1; never edit a released step.
// A step is SQL, or a function run on the migrating connection (inside the
// migration's transaction) when it needs more than SQL.
import type pg from "pg";
import { legacyAllowedIssuers } from "../../pki/trust/issuers.js";

export type PgMigration = string | ((q: Pick<pg.ClientBase, "query">) => Promise<void>);

export const PG_MIGRATIONS: PgMigration[] = [
  // 1: the configuration, its version, the audit log, the edges' status.
  `
  CREATE TABLE org_version (
    id            integer PRIMARY KEY CHECK (id = 1),
    version       bigint NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT now()
  );
  INSERT INTO org_version (id, version) VALUES (1, 1);
  CREATE TABLE org_settings (
    key    text PRIMARY KEY,
    value  jsonb NOT NULL
  );
  CREATE TABLE org_partners (
    domain   text PRIMARY KEY,          -- normalized; may be "*.example.com"
    options  jsonb NOT NULL
  );
  CREATE TABLE org_trusted_certificates (
    kind        text NOT NULL CHECK (kind IN ('root', 'intermediate')),
    thumbprint  text NOT NULL,
    der         bytea NOT NULL,
    added_at    timestamptz NOT NULL,
    PRIMARY KEY (kind, thumbprint)
  );
  CREATE TABLE org_accepted_domains (
    key          text PRIMARY KEY,      -- lower(name)
    name         text NOT NULL,
    domain_name  text NOT NULL UNIQUE,
    domain_type  text NOT NULL CHECK (domain_type IN ('Authoritative', 'InternalRelay', 'ExternalRelay')),
    catch_all    text
  );
  CREATE TABLE org_mailboxes (
    key      text PRIMARY KEY,          -- lower(address)
    address  text NOT NULL,
    name     text NOT NULL
  );
  CREATE TABLE org_receive_connectors (
    server_key  text NOT NULL,          -- lower(server)
    name_key    text NOT NULL,          -- lower(name)
    config      jsonb NOT NULL,
    PRIMARY KEY (server_key, name_key)
  );
  CREATE TABLE org_send_connectors (
    key     text PRIMARY KEY,           -- lower(name)
    config  jsonb NOT NULL
  );
  INSERT INTO org_send_connectors (key, config) VALUES ('internet', '{"name":"Internet","enabled":true,"addressSpaces":[{"domain":"*","cost":1}],"dnsRoutingEnabled":true,"smartHosts":[],"port":25,"fqdn":null,"domainSecureEnabled":false,"requireTLS":false,"ignoreSTARTTLS":false,"connectionInactivityTimeout":600,"maxMessageSize":10485760,"sourceTransportServers":[],"protocolLoggingLevel":"None"}');
  CREATE TABLE org_audit (
    version   bigint PRIMARY KEY,       -- the configuration version the change produced
    at        timestamptz NOT NULL DEFAULT now(),
    admin     text NOT NULL,
    db_user   text NOT NULL DEFAULT current_user,
    action    text NOT NULL,
    command   text
  );
  CREATE TABLE edge_status (
    server_name       text PRIMARY KEY,
    fqdn              text NOT NULL,
    software_version  text NOT NULL,
    applied_version   bigint NOT NULL,
    last_contact      timestamptz NOT NULL DEFAULT now(),
    db_user           text NOT NULL DEFAULT current_user
  );
  `,
  // 2: a partner's allowed issuers are pinned by key ({ spkiSha256, subject,
  // thumbprint? } entries), not by subject name, and options gain
  // allowWeakCrypto (default false). An older name becomes the keys of the
  // trusted roots and intermediates of that name, or else an entry that
  // matches nothing (Get-DomainSecurePartner flags it): a stored name never
  // keeps allowing by name. When a partner changed, the configuration
  // version advances (audited, notified) so that every edge takes the
  // converted options.
  async (q) => {
    const trusted = ((await q.query("SELECT der FROM org_trusted_certificates ORDER BY kind DESC, added_at, thumbprint")).rows as Array<{ der: Buffer }>).map((r) => r.der);
    let changed = 0;
    for (const row of (await q.query("SELECT domain, options FROM org_partners ORDER BY domain")).rows as Array<{ domain: string; options: Record<string, unknown> }>) {
      const next = { ...row.options, allowedIssuers: legacyAllowedIssuers(row.options.allowedIssuers ?? [], trusted), allowWeakCrypto: row.options.allowWeakCrypto === true };
      if (JSON.stringify(next) === JSON.stringify(row.options)) continue;
      await q.query("UPDATE org_partners SET options = $2 WHERE domain = $1", [row.domain, JSON.stringify(next)]);
      changed++;
    }
    if (changed > 0) {
      const v = Number(((await q.query("UPDATE org_version SET version = version + 1, committed_at = now() WHERE id = 1 RETURNING version")).rows[0] as { version: string }).version);
      await q.query("INSERT INTO org_audit (version, admin, action, command) VALUES ($1, $2, $3, NULL)", [v, "sealpost org migrate", `migrate: allowed issuers of ${changed} partner(s) pinned by key`]);
      await q.query("SELECT pg_notify('sealpost_config', $1)", [String(v)]);
    }
  },
  // 3: the admin door's accounts, API tokens and audit trail, shared by every
  // edge (one account works on each; "who changed it" has one answer). Not
  // configuration: no change here advances org_version or writes org_audit.
  `
  CREATE TABLE admin_users (
    key                            text PRIMARY KEY,        -- lower(name)
    name                           text NOT NULL,
    role_groups                    jsonb NOT NULL,          -- array of role group names
    password_hash                  text NOT NULL,           -- scrypt$N$r$p$salt$hash (base64)
    client_certificate_thumbprint  text UNIQUE,             -- upper-case hex
    enabled                        boolean NOT NULL DEFAULT true,
    created_at                     timestamptz NOT NULL,
    changed_at                     timestamptz NOT NULL
  );
  CREATE TABLE admin_tokens (
    id            text PRIMARY KEY,
    token_sha256  text NOT NULL UNIQUE,                     -- never the token itself
    user_key      text NOT NULL REFERENCES admin_users (key) ON DELETE CASCADE,
    description   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,
    last_used_at  timestamptz
  );
  CREATE INDEX admin_tokens_user ON admin_tokens (user_key);
  CREATE TABLE admin_audit (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL,
    user_name     text NOT NULL,
    from_address  text NOT NULL,
    via           text NOT NULL,
    cmdlet        text NOT NULL,
    parameters    jsonb NOT NULL,                           -- secrets already redacted
    result        text NOT NULL,
    error         text,
    db_user       text NOT NULL DEFAULT current_user        -- the database role that wrote it (an edge or an administrator)
  );
  CREATE INDEX admin_audit_at ON admin_audit (at);
  `,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;
