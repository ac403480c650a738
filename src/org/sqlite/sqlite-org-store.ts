// The organization store on the server's own SQLite file (the embedded
// default for one server). Uses only the org_* tables.
import { SealpostError } from "../../errors/errors.js";
import type { Db } from "../../store/sqlite.js";
import { DEFAULT_ORG_SETTINGS, defaultPartnerOptions, type OrgSettings, type OrgStore, type PartnerOptions, type TrustedCertificateRecord, type TrustedKind } from "../store.js";

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
}

function partnerFromRow(r: PartnerRow): PartnerOptions {
  return {
    domain: r.domain,
    nameMatch: r.name_match,
    certificateNames: JSON.parse(r.certificate_names) as string[],
    allowedIssuers: JSON.parse(r.allowed_issuers) as string[],
    mode: r.mode,
    revocationMode: r.revocation_mode,
  };
}

export class SqliteOrgStore implements OrgStore {
  constructor(private readonly db: Db) {}

  async listPartners(): Promise<PartnerOptions[]> {
    return (this.db.prepare("SELECT * FROM org_partners ORDER BY domain").all() as PartnerRow[]).map(partnerFromRow);
  }

  async getPartner(domain: string): Promise<PartnerOptions | undefined> {
    const row = this.db.prepare("SELECT * FROM org_partners WHERE domain = ?").get(domain) as PartnerRow | undefined;
    return row ? partnerFromRow(row) : undefined;
  }

  async setPartner(domain: string, patch: Partial<Omit<PartnerOptions, "domain">>): Promise<PartnerOptions> {
    return this.db
      .transaction(() => {
        const row = this.db.prepare("SELECT * FROM org_partners WHERE domain = ?").get(domain) as PartnerRow | undefined;
        const next = { ...(row ? partnerFromRow(row) : defaultPartnerOptions(domain)), ...patch, domain };
        this.db
          .prepare(
            `INSERT INTO org_partners (domain, name_match, certificate_names, allowed_issuers, mode, revocation_mode, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(domain) DO UPDATE SET name_match = excluded.name_match, certificate_names = excluded.certificate_names,
               allowed_issuers = excluded.allowed_issuers, mode = excluded.mode, revocation_mode = excluded.revocation_mode, updated_at = excluded.updated_at`,
          )
          .run(domain, next.nameMatch, JSON.stringify(next.certificateNames), JSON.stringify(next.allowedIssuers), next.mode, next.revocationMode, new Date().toISOString());
        return next;
      })
      .immediate();
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
    this.db
      .transaction(() => {
        const exists = this.db.prepare("SELECT 1 FROM org_trusted_certificates WHERE kind = ? AND thumbprint = ?");
        const insert = this.db.prepare("INSERT INTO org_trusted_certificates (kind, thumbprint, der, added_at) VALUES (?, ?, ?, ?)");
        for (const it of items) {
          if (exists.get(kind, it.thumbprint)) {
            throw new SealpostError("ALREADY_EXISTS", `The certificate ${it.thumbprint} is already a trusted ${kind} certificate.`);
          }
          insert.run(kind, it.thumbprint, it.der, addedAt.toISOString());
        }
      })
      .immediate();
    return items.map((it) => ({ kind, thumbprint: it.thumbprint, der: it.der, addedAt }));
  }

  async removeTrusted(kind: TrustedKind, thumbprint: string): Promise<void> {
    const r = this.db.prepare("DELETE FROM org_trusted_certificates WHERE kind = ? AND thumbprint = ?").run(kind, thumbprint);
    if (r.changes === 0) throw new SealpostError("NOT_FOUND", `No trusted ${kind} certificate has the thumbprint ${thumbprint}.`);
  }

  async getSettings(): Promise<OrgSettings> {
    const rows = this.db.prepare("SELECT key, value FROM org_settings").all() as Array<{ key: string; value: string }>;
    const settings: OrgSettings = { ...DEFAULT_ORG_SETTINGS };
    for (const r of rows) {
      if (r.key in settings) (settings as unknown as Record<string, unknown>)[r.key] = JSON.parse(r.value);
    }
    return settings;
  }

  async updateSettings(patch: Partial<OrgSettings>): Promise<OrgSettings> {
    const put = this.db.prepare("INSERT INTO org_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(patch)) if (v !== undefined) put.run(k, JSON.stringify(v));
    })();
    return this.getSettings();
  }

  async close(): Promise<void> {
    // The database belongs to the server context, which closes it.
  }
}
