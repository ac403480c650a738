// The organization store's schema on PostgreSQL, as forward migrations
// applied by an administrator (`sealpost org migrate`), never by edges: a
// fleet is upgraded one server at a time, and an edge refuses a schema newer
// than it knows. Index i moves version i to i+1; never edit a released step.
export const PG_MIGRATIONS: string[] = [
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
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;
