// Forward migrations of the local database, index i moves version i to i+1.
// Never edit a released step: add a new one.
import type Database from "better-sqlite3";
import { legacyAllowedIssuers } from "../pki/trust/issuers.js";

export const MIGRATIONS: Array<(db: Database.Database) => void> = [
  // 1: server identity, certificate store, the organization's trust settings.
  (db) => {
    db.exec(`
      CREATE TABLE server_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE pending_requests (
        id              TEXT PRIMARY KEY,          -- SHA-1 of the request DER, upper hex
        csr_der         BLOB NOT NULL,
        spki_sha256     TEXT NOT NULL UNIQUE,      -- binds the issued certificate to this key
        key_file        TEXT NOT NULL,
        key_exportable  INTEGER NOT NULL,
        friendly_name   TEXT NOT NULL,
        subject         TEXT NOT NULL,
        dns_names       TEXT NOT NULL,             -- JSON array
        key_algorithm   TEXT NOT NULL,
        key_size        INTEGER NOT NULL,
        created_at      TEXT NOT NULL
      );
      CREATE TABLE certificates (
        thumbprint      TEXT PRIMARY KEY,          -- SHA-1 of the DER, upper hex
        der             BLOB NOT NULL,
        chain_der       BLOB,                      -- issuers as concatenated DER, leaf excluded
        spki_sha256     TEXT NOT NULL,
        key_file        TEXT,                      -- NULL: no private key on this server
        key_exportable  INTEGER NOT NULL DEFAULT 0,
        friendly_name   TEXT NOT NULL DEFAULT '',
        services        TEXT NOT NULL DEFAULT 'None',
        source          TEXT NOT NULL,             -- request | pfx | selfsigned | certificate
        created_at      TEXT NOT NULL
      );
      CREATE TABLE org_trusted_certificates (
        thumbprint TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('root', 'intermediate')),
        der        BLOB NOT NULL,
        added_at   TEXT NOT NULL,
        PRIMARY KEY (kind, thumbprint)
      );
      CREATE TABLE org_settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `);
  },
  // 2: partner options (Set-DomainSecurePartner).
  (db) => {
    db.exec(`
      CREATE TABLE org_partners (
        domain            TEXT PRIMARY KEY,       -- normalized A-labels; may be "*.example.com"
        name_match        TEXT NOT NULL DEFAULT 'Exact' CHECK (name_match IN ('Exact', 'Subdomains')),
        certificate_names TEXT NOT NULL DEFAULT '[]',   -- JSON array
        allowed_issuers   TEXT NOT NULL DEFAULT '[]',   -- JSON array of subject names
        mode              TEXT NOT NULL DEFAULT 'Enforce' CHECK (mode IN ('Enforce', 'ReportOnly')),
        revocation_mode   TEXT NOT NULL DEFAULT 'Hard' CHECK (revocation_mode IN ('Hard', 'Soft')),
        updated_at        TEXT NOT NULL
      );
    `);
  },
  // 3: accepted domains, mailboxes, receive connectors, the configuration version.
  (db) => {
    db.exec(`
      CREATE TABLE org_accepted_domains (
        name         TEXT PRIMARY KEY COLLATE NOCASE,
        domain_name  TEXT NOT NULL UNIQUE,
        domain_type  TEXT NOT NULL CHECK (domain_type IN ('Authoritative', 'InternalRelay', 'ExternalRelay')),
        catch_all    TEXT
      );
      CREATE TABLE org_mailboxes (
        address      TEXT PRIMARY KEY COLLATE NOCASE,
        name         TEXT NOT NULL
      );
      CREATE TABLE org_receive_connectors (
        server       TEXT NOT NULL COLLATE NOCASE,
        name         TEXT NOT NULL COLLATE NOCASE,
        config       TEXT NOT NULL,            -- JSON ReceiveConnector
        PRIMARY KEY (server, name)
      );
      CREATE TABLE org_version (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      );
      INSERT INTO org_version (id, version) VALUES (1, 1);
    `);
  },
  // 4: send connectors (the "Internet" connector is created with the organization).
  (db) => {
    db.exec(`
      CREATE TABLE org_send_connectors (
        name    TEXT PRIMARY KEY COLLATE NOCASE,
        config  TEXT NOT NULL             -- JSON SendConnector
      );
    `);
    const internet = {
      name: "Internet", enabled: true, addressSpaces: [{ domain: "*", cost: 1 }], dnsRoutingEnabled: true, smartHosts: [], port: 25,
      fqdn: null, domainSecureEnabled: false, requireTLS: false, ignoreSTARTTLS: false, connectionInactivityTimeout: 600,
      maxMessageSize: 10 * 1024 * 1024, sourceTransportServers: [], protocolLoggingLevel: "None",
    };
    db.prepare("INSERT INTO org_send_connectors (name, config) VALUES (?, ?)").run("Internet", JSON.stringify(internet));
  },
  // 5: this server's transport settings (Get-/Set-TransportServer), one JSON value a key.
  (db) => {
    db.exec(`
      CREATE TABLE transport_server_settings (
        key   TEXT PRIMARY KEY,              -- Exchange's parameter name, e.g. MessageExpirationTimeout
        value TEXT NOT NULL                  -- JSON; a key not stored has its default
      );
    `);
  },
  // 6: the organization's audit log (one row per configuration version), and the
  // replica marker of an edge that synchronizes from an organization store.
  (db) => {
    db.exec(`
      CREATE TABLE org_audit (
        version  INTEGER PRIMARY KEY,         -- the configuration version the change produced
        at       TEXT NOT NULL,
        admin    TEXT NOT NULL,
        action   TEXT NOT NULL,
        command  TEXT
      );
    `);
  },
  // 7: a partner's allowed issuers are pinned by key ({ spkiSha256, subject,
  // thumbprint? } entries), not by subject name; the per-partner floor for
  // weak signatures and keys (-AllowWeakCrypto). An older name becomes the
  // keys of the trusted roots and intermediates of that name, or else an
  // entry that matches nothing (Get-DomainSecurePartner flags it): a stored
  // name never keeps allowing by name.
  (db) => {
    db.exec(`ALTER TABLE org_partners ADD COLUMN allow_weak_crypto INTEGER NOT NULL DEFAULT 0 CHECK (allow_weak_crypto IN (0, 1));`);
    const trusted = (db.prepare("SELECT der FROM org_trusted_certificates ORDER BY kind DESC, added_at, thumbprint").all() as Array<{ der: Buffer }>).map((r) => r.der);
    const update = db.prepare("UPDATE org_partners SET allowed_issuers = ? WHERE domain = ?");
    for (const row of db.prepare("SELECT domain, allowed_issuers FROM org_partners").all() as Array<{ domain: string; allowed_issuers: string }>) {
      let stored: unknown;
      try {
        stored = JSON.parse(row.allowed_issuers);
      } catch {
        stored = [];
      }
      update.run(JSON.stringify(legacyAllowedIssuers(stored, trusted)), row.domain);
    }
  },
  // 8: the admin door's accounts, API tokens and audit trail (a single
  // server's; a fleet keeps them in PostgreSQL). Outside the configuration:
  // no change here advances org_version or writes org_audit.
  (db) => {
    db.exec(`
      CREATE TABLE admin_users (
        name                           TEXT PRIMARY KEY COLLATE NOCASE,
        role_groups                    TEXT NOT NULL,            -- JSON array of role group names
        password_hash                  TEXT NOT NULL,            -- scrypt$N$r$p$salt$hash (base64)
        client_certificate_thumbprint  TEXT UNIQUE,              -- upper-case hex
        enabled                        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        created_at                     TEXT NOT NULL,
        changed_at                     TEXT NOT NULL
      );
      CREATE TABLE admin_tokens (
        id            TEXT PRIMARY KEY,
        token_sha256  TEXT NOT NULL UNIQUE,                      -- never the token itself
        user_name     TEXT NOT NULL COLLATE NOCASE REFERENCES admin_users (name) ON DELETE CASCADE,
        description   TEXT NOT NULL DEFAULT '',
        created_at    TEXT NOT NULL,
        expires_at    TEXT,
        last_used_at  TEXT
      );
      CREATE INDEX admin_tokens_user ON admin_tokens (user_name);
      CREATE TABLE admin_audit (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        at            TEXT NOT NULL,
        user_name     TEXT NOT NULL,
        from_address  TEXT NOT NULL,
        via           TEXT NOT NULL,
        cmdlet        TEXT NOT NULL,
        parameters    TEXT NOT NULL,                             -- JSON, secrets already redacted
        result        TEXT NOT NULL,
        error         TEXT
      );
      CREATE INDEX admin_audit_at ON admin_audit (at);
    `);
  },
];
