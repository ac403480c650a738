-- Sealpost organization store: the two roles of a fleet.
--
-- Run once per organization database, as its owner, after
-- `sealpost --org <owner url> org migrate`:
--     psql "<owner url>" -f sql/roles.sql
-- Then give each administrator and each edge a login role of its own:
--     CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE sealpost_admin;
--     CREATE ROLE edge_mail1 LOGIN PASSWORD '...' IN ROLE sealpost_edge;
-- (an edge's role name is what its status row is bound to).
--
-- sealpost_admin: reads and changes the organization's configuration
--   (every change advances org_version and writes org_audit), reads and
--   tidies the edges' status.
-- sealpost_edge: reads the configuration; inserts and updates its own row of
--   edge_status and nothing else, enforced by row-level security. An edge
--   that is broken into cannot change the organization, nor forge another
--   edge's status.
-- Schema changes (`sealpost org migrate`) stay with the owner.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sealpost_admin') THEN
    CREATE ROLE sealpost_admin NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sealpost_edge') THEN
    CREATE ROLE sealpost_edge NOLOGIN;
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO sealpost_admin, sealpost_edge', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO sealpost_admin, sealpost_edge;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Both read the schema version and the configuration.
GRANT SELECT ON sealpost_schema, org_version, org_settings, org_partners, org_trusted_certificates,
  org_accepted_domains, org_mailboxes, org_receive_connectors, org_send_connectors
  TO sealpost_admin, sealpost_edge;

-- Administrators change the configuration, its version and the audit log.
GRANT INSERT, UPDATE, DELETE ON org_settings, org_partners, org_trusted_certificates,
  org_accepted_domains, org_mailboxes, org_receive_connectors, org_send_connectors TO sealpost_admin;
GRANT UPDATE ON org_version TO sealpost_admin;
GRANT SELECT, INSERT ON org_audit TO sealpost_admin;
GRANT SELECT, DELETE ON edge_status TO sealpost_admin;

-- Edges: their own status row only.
GRANT SELECT, INSERT, UPDATE ON edge_status TO sealpost_edge;
ALTER TABLE edge_status ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS edge_own_row ON edge_status;
CREATE POLICY edge_own_row ON edge_status FOR ALL TO sealpost_edge
  USING (db_user = current_user) WITH CHECK (db_user = current_user);
DROP POLICY IF EXISTS admin_reads_all ON edge_status;
CREATE POLICY admin_reads_all ON edge_status FOR ALL TO sealpost_admin USING (true) WITH CHECK (true);

-- The admin door's accounts, API tokens and audit trail (outside the
-- configuration; src/org/pg/migrations.ts step 3). Administrators manage
-- accounts and tokens. Edges read them (an edge logs its administrators in:
-- scrypt hashes and token digests, never a password or a token) and record a
-- token's last use. Both append audit records, as themselves (db_user is the
-- writing role, checked by row-level security); nobody changes or deletes one.
GRANT SELECT, INSERT, UPDATE, DELETE ON admin_users, admin_tokens TO sealpost_admin;
GRANT SELECT ON admin_users, admin_tokens TO sealpost_edge;
GRANT UPDATE (last_used_at) ON admin_tokens TO sealpost_edge;
GRANT SELECT, INSERT ON admin_audit TO sealpost_admin, sealpost_edge;
GRANT USAGE ON SEQUENCE admin_audit_id_seq TO sealpost_admin, sealpost_edge;
ALTER TABLE admin_audit ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS audit_read_all ON admin_audit;
CREATE POLICY audit_read_all ON admin_audit FOR SELECT TO sealpost_admin, sealpost_edge USING (true);
DROP POLICY IF EXISTS audit_written_as_oneself ON admin_audit;
CREATE POLICY audit_written_as_oneself ON admin_audit FOR INSERT TO sealpost_admin, sealpost_edge WITH CHECK (db_user = current_user);
