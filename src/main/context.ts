// The composition root's first part: opens one server's parts — its data
// folder, its SQLite database, its certificate store, the organization store
// and the trust engine (with its revocation cache, learned intermediates and
// fetch policy). The admin API works on this context; runtime code (server/,
// outbound/, sync/) is given what it needs from it by main/services.ts and
// the server's start, as narrow interfaces of its own, and never imports
// the admin API.
import os from "node:os";
import { IssuerFetchCache } from "../pki/trust/aia.js";
import { createHash } from "node:crypto";
import { IntermediateCache } from "../pki/trust/intermediate-cache.js";
import { TrustEngine, systemAnchors } from "../pki/trust/engine.js";
import { RevocationChecker, httpFetcher } from "../pki/trust/revocation.js";
import { cachedTransportServerSettings, outboundFetchPolicyOf } from "../settings/transport-server.js";
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
  let engine: Promise<{ engine: TrustEngine; key: string }> | undefined;
  let stale = false;
  let recheck: Promise<void> | undefined;
  // Intermediates from verified chains, shared by every process of this server (see intermediate-cache.ts).
  const learned = new IntermediateCache({ dir: dir.intermediatesDir });
  // Every fetch made on a certificate's say-so (AIA, CRL, OCSP) obeys this server's outbound fetch policy.
  const fetcher = httpFetcher({ policy: () => outboundFetchPolicyOf(cachedTransportServerSettings(db)) });
  const issuers = new IssuerFetchCache(fetcher, { now });
  const revocation = new RevocationChecker({
    cacheDir: dir.revocationDir,
    now,
    fetcher,
    maxAgeMs: () => cachedTransportServerSettings(db).revocationCacheMaxAge * 1000,
  });
  return {
    async trust() {
      if (engine && stale) {
        // A reload keeps the engine, and with it the verdicts a resumed TLS session relies on,
        // unless the trust material itself changed. Callers meanwhile wait for the answer.
        stale = false;
        const current = engine;
        recheck = (async () => {
          const key = await trustMaterialKey(org).catch(() => "");
          if ((await current).key !== key) engine = buildTrustEngine(org, revocation, now, issuers, learned);
        })().finally(() => {
          recheck = undefined;
        });
      }
      if (recheck) await recheck;
      engine ??= buildTrustEngine(org, revocation, now, issuers, learned);
      return (await engine).engine;
    },
    invalidateTrust() {
      stale = true;
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

/** What the engine is built from: the organization's roots and intermediates and whether the system bundle counts. */
async function trustMaterial(org: OrgStore): Promise<{ roots: Buffer[]; intermediates: Buffer[]; system: boolean; key: string }> {
  const [settings, rootRows, interRows] = await Promise.all([org.getSettings(), org.listTrusted("root"), org.listTrusted("intermediate")]);
  const roots = rootRows.map((r) => r.der);
  const intermediates = interRows.map((r) => r.der);
  const h = createHash("sha256").update(settings.useSystemTrustStore ? "system+" : "org-only");
  for (const der of [...roots, Buffer.from("|"), ...intermediates]) h.update(createHash("sha256").update(der).digest());
  return { roots, intermediates, system: settings.useSystemTrustStore, key: h.digest("hex") };
}

async function trustMaterialKey(org: OrgStore): Promise<string> {
  return (await trustMaterial(org)).key;
}

/** Anchors: the organization's roots, plus the system bundle unless turned off. */
async function buildTrustEngine(org: OrgStore, revocation: RevocationChecker, now: () => Date, issuers: IssuerFetchCache, learned: IntermediateCache): Promise<{ engine: TrustEngine; key: string }> {
  const m = await trustMaterial(org);
  const engine = new TrustEngine({
    anchors: m.system ? [...m.roots, ...systemAnchors()] : m.roots,
    intermediates: m.intermediates,
    learned,
    revocation,
    now,
    fetchIssuer: issuers.fetch,
  });
  return { engine, key: m.key };
}
