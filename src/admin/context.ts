// Opens what one server's admin API works on: its data folder, its SQLite
// database, its certificate store and the organization store.
import os from "node:os";
import path from "node:path";
import { IssuerFetchCache } from "../pki/trust/aia.js";
import { TrustEngine, systemAnchors } from "../pki/trust/engine.js";
import { RevocationChecker, httpFetcher } from "../pki/trust/revocation.js";
import { cachedTransportServerSettings, outboundFetchPolicyOf } from "./transport-server.js";
import { DataDir } from "../config/datadir.js";
import { CertificateStore } from "../certstore/certstore.js";
import { SqliteOrgStore } from "../org/sqlite/sqlite-org-store.js";
import type { OrgStore } from "../org/store.js";
import { isValidDomain, normalizeDomain } from "../pki/domain.js";
import { openDatabase, type Db } from "../store/sqlite.js";
import { SealpostError } from "../errors/errors.js";

export interface ServerContext {
  /** The trust engine for the organization's current trust material (built on first use, rebuilt after changes). */
  trust(): Promise<TrustEngine>;
  /** Drops the cached engine after the trust material or settings changed. */
  invalidateTrust(): void;
  /** The revocation cache (DIR/revocation), shared by every engine of this server. */
  revocation: RevocationChecker;
  dir: DataDir;
  db: Db;
  certs: CertificateStore;
  org: OrgStore;
  /** The server's FQDN (its identity and default certificate name). */
  serverName: string;
  now: () => Date;
  close(): Promise<void>;
}

export function defaultServerName(): string {
  const host = os.hostname().toLowerCase();
  return isValidDomain(host, { allowSingleLabel: true }) ? normalizeDomain(host, { allowSingleLabel: true }) : "localhost";
}

/**
 * A context for organization-level administration only (`sealpost --org URL`
 * without `--data`): every server-level part (certificates, queues, this
 * server's settings and name) refuses with SERVER_DATA_REQUIRED.
 */
export function openOrgOnlyContext(org: OrgStore, opts: { now?: () => Date } = {}): ServerContext {
  const need = (what: string): never => {
    throw new SealpostError("SERVER_DATA_REQUIRED", `${what} belongs to one server: run the command on that server with --data DIR (organization-wide settings go to --org).`);
  };
  const now = opts.now ?? (() => new Date());
  return {
    trust: () => need("Certificate verification (with its revocation cache)"),
    invalidateTrust() {},
    get revocation(): RevocationChecker {
      return need("The revocation cache");
    },
    get dir(): DataDir {
      return need("The data folder");
    },
    get db(): Db {
      return need("The server database");
    },
    get certs(): CertificateStore {
      return need("The certificate store");
    },
    org,
    get serverName(): string {
      return need("This server's name");
    },
    set serverName(_v: string) {
      need("This server's name");
    },
    now,
    async close() {
      await org.close();
    },
  };
}

export function openServerContext(root: string, opts: { now?: () => Date; org?: OrgStore } = {}): ServerContext {
  const dir = new DataDir(root);
  dir.ensure();
  const db = openDatabase(dir.dbFile);
  let row = db.prepare("SELECT value FROM server_meta WHERE key = 'name'").get() as { value: string } | undefined;
  if (!row) {
    db.prepare("INSERT OR IGNORE INTO server_meta (key, value) VALUES ('name', ?)").run(defaultServerName());
    row = db.prepare("SELECT value FROM server_meta WHERE key = 'name'").get() as { value: string };
  }
  const org = opts.org ?? new SqliteOrgStore(db);
  const now = opts.now ?? (() => new Date());
  let engine: Promise<TrustEngine> | undefined;
  // Every fetch made on a certificate's say-so (AIA, CRL, OCSP) obeys this server's outbound fetch policy.
  const fetcher = httpFetcher({ policy: () => outboundFetchPolicyOf(cachedTransportServerSettings(db)) });
  const issuers = new IssuerFetchCache(fetcher, { now });
  const revocation = new RevocationChecker({
    cacheDir: path.join(dir.root, "revocation"),
    now,
    fetcher,
    maxAgeMs: () => cachedTransportServerSettings(db).revocationCacheMaxAge * 1000,
  });
  return {
    trust() {
      engine ??= buildTrustEngine(org, revocation, now, issuers);
      return engine;
    },
    invalidateTrust() {
      engine = undefined;
    },
    revocation,
    dir,
    db,
    certs: new CertificateStore(db, dir),
    org,
    serverName: row.value,
    now,
    async close() {
      await org.close();
      db.close();
    },
  };
}

export function setServerName(ctx: ServerContext, name: string): string {
  const n = normalizeDomain(name, { allowSingleLabel: true });
  ctx.db.prepare("INSERT INTO server_meta (key, value) VALUES ('name', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(n);
  ctx.serverName = n;
  return n;
}

/** Anchors: the organization's roots, plus the system bundle unless turned off. */
async function buildTrustEngine(org: OrgStore, revocation: RevocationChecker, now: () => Date, issuers: IssuerFetchCache): Promise<TrustEngine> {
  const settings = await org.getSettings();
  const roots = (await org.listTrusted("root")).map((r) => r.der);
  const intermediates = (await org.listTrusted("intermediate")).map((r) => r.der);
  return new TrustEngine({
    anchors: settings.useSystemTrustStore ? [...roots, ...systemAnchors()] : roots,
    intermediates,
    revocation,
    now,
    fetchIssuer: issuers.fetch,
  });
}
