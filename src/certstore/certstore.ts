// The per-server certificate store: pending requests, certificates, private
// keys (files of mode 0600 under DIR/keys, referenced by name from the
// database), friendly names, services binding, exportability. Key material
// never passes through a log line or an error message.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { DataDir } from "../config/datadir.js";
import { SealpostError } from "../errors/errors.js";
import type { Db } from "../store/sqlite.js";
import { certToPem, certificateSpki, describeCertificate, type CertificateInfo } from "../pki/certs.js";
import { selectCertificateFor } from "./select.js";

export type CertificateSource = "request" | "pfx" | "selfsigned" | "certificate";
export const SUPPORTED_SERVICES = ["SMTP"] as const;

export interface StoredCertificate extends CertificateInfo {
  der: Buffer;
  chain: Buffer[];
  hasPrivateKey: boolean;
  privateKeyExportable: boolean;
  friendlyName: string;
  services: string[];
  source: CertificateSource;
  createdAt: Date;
}

export interface PendingRequest {
  id: string;
  csrDer: Buffer;
  spkiSha256: string;
  friendlyName: string;
  subject: string;
  dnsNames: string[];
  keyAlgorithm: string;
  keySize: number;
  privateKeyExportable: boolean;
  createdAt: Date;
}

interface CertRow {
  thumbprint: string;
  der: Buffer;
  chain_der: Buffer | null;
  spki_sha256: string;
  key_file: string | null;
  key_exportable: number;
  friendly_name: string;
  services: string;
  source: CertificateSource;
  created_at: string;
}

interface PendingRow {
  id: string;
  csr_der: Buffer;
  spki_sha256: string;
  key_file: string;
  key_exportable: number;
  friendly_name: string;
  subject: string;
  dns_names: string;
  key_algorithm: string;
  key_size: number;
  created_at: string;
}

export function sha256Hex(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex").toUpperCase();
}

/** Splits concatenated DER certificates (each a SEQUENCE with a definite length). */
export function splitDer(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf[off] !== 0x30) throw new SealpostError("CERT_MALFORMED", "A stored certificate chain is damaged.");
    let len = buf[off + 1] as number;
    let hdr = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (buf[off + 2 + i] as number);
      hdr = 2 + n;
    }
    out.push(buf.subarray(off, off + hdr + len));
    off += hdr + len;
  }
  return out;
}

export function normalizeThumbprint(input: string): string {
  const t = input.replace(/[\s:]/g, "").toUpperCase();
  if (!/^[0-9A-F]{40}$/.test(t)) {
    throw new SealpostError("INVALID_ARGUMENT", `'${input}' is not a thumbprint (40 hexadecimal digits, as Get-ExchangeCertificate shows).`);
  }
  return t;
}

export class CertificateStore {
  constructor(
    private readonly db: Db,
    private readonly dir: DataDir,
  ) {}

  // ---- pending requests

  addPendingRequest(p: Omit<PendingRequest, "id" | "createdAt"> & { keyPem: string }): PendingRequest {
    const id = createHash("sha1").update(p.csrDer).digest("hex").toUpperCase();
    const keyFile = this.dir.writeKeyFile(p.keyPem);
    const createdAt = new Date();
    try {
      this.db
        .prepare(
          `INSERT INTO pending_requests (id, csr_der, spki_sha256, key_file, key_exportable, friendly_name, subject, dns_names, key_algorithm, key_size, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(id, p.csrDer, p.spkiSha256, keyFile, p.privateKeyExportable ? 1 : 0, p.friendlyName, p.subject, JSON.stringify(p.dnsNames), p.keyAlgorithm, p.keySize, createdAt.toISOString());
    } catch (e) {
      this.dir.removeKeyFile(keyFile);
      throw e;
    }
    return { ...p, id, createdAt };
  }

  listPending(): PendingRequest[] {
    return (this.db.prepare("SELECT * FROM pending_requests ORDER BY created_at").all() as PendingRow[]).map(pendingFromRow);
  }

  findPendingBySpki(spkiSha256: string): PendingRequest | undefined {
    const row = this.db.prepare("SELECT * FROM pending_requests WHERE spki_sha256 = ?").get(spkiSha256) as PendingRow | undefined;
    return row ? pendingFromRow(row) : undefined;
  }

  removePending(id: string): boolean {
    const row = this.db.prepare("SELECT key_file FROM pending_requests WHERE id = ?").get(id) as { key_file: string } | undefined;
    if (!row) return false;
    this.db.prepare("DELETE FROM pending_requests WHERE id = ?").run(id);
    this.dir.removeKeyFile(row.key_file);
    return true;
  }

  /** Binds an issued certificate to its pending request's key, in one transaction. */
  completeRequest(pendingId: string, der: Buffer, chain: Buffer[], friendlyName?: string): StoredCertificate {
    const thumbprint = this.insertGuard(der);
    this.db
      .transaction(() => {
        const row = this.db.prepare("SELECT * FROM pending_requests WHERE id = ?").get(pendingId) as PendingRow | undefined;
        if (!row) throw new SealpostError("NO_PENDING_REQUEST", "The pending request was removed while the certificate was imported.");
        this.db
          .prepare(
            `INSERT INTO certificates (thumbprint, der, chain_der, spki_sha256, key_file, key_exportable, friendly_name, services, source, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'None', 'request', ?)`,
          )
          .run(thumbprint, der, chain.length ? Buffer.concat(chain) : null, row.spki_sha256, row.key_file, row.key_exportable, friendlyName ?? row.friendly_name, new Date().toISOString());
        this.db.prepare("DELETE FROM pending_requests WHERE id = ?").run(pendingId);
      })
      .immediate();
    return this.get(thumbprint) as StoredCertificate;
  }

  // ---- certificates

  /** Adds a certificate (with its key when given). Refuses a thumbprint already stored. */
  addCertificate(c: {
    der: Buffer;
    chain: Buffer[];
    keyPem?: string;
    privateKeyExportable: boolean;
    friendlyName: string;
    services: string[];
    source: CertificateSource;
  }): StoredCertificate {
    const thumbprint = this.insertGuard(c.der);
    const spki = sha256Hex(certificateSpki(c.der));
    const keyFile = c.keyPem !== undefined ? this.dir.writeKeyFile(c.keyPem) : null;
    try {
      this.db
        .prepare(
          `INSERT INTO certificates (thumbprint, der, chain_der, spki_sha256, key_file, key_exportable, friendly_name, services, source, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(thumbprint, c.der, c.chain.length ? Buffer.concat(c.chain) : null, spki, keyFile, c.privateKeyExportable ? 1 : 0, c.friendlyName, servicesText(c.services), c.source, new Date().toISOString());
    } catch (e) {
      if (keyFile) this.dir.removeKeyFile(keyFile);
      throw e;
    }
    return this.get(thumbprint) as StoredCertificate;
  }

  private insertGuard(der: Buffer): string {
    const thumbprint = describeCertificate(der).thumbprint;
    if (this.db.prepare("SELECT 1 FROM certificates WHERE thumbprint = ?").get(thumbprint)) {
      throw new SealpostError("ALREADY_EXISTS", `The certificate ${thumbprint} is already in this server's store.`);
    }
    return thumbprint;
  }

  list(): StoredCertificate[] {
    return (this.db.prepare("SELECT * FROM certificates ORDER BY created_at, thumbprint").all() as CertRow[]).map(certFromRow);
  }

  get(thumbprint: string): StoredCertificate | undefined {
    const row = this.db.prepare("SELECT * FROM certificates WHERE thumbprint = ?").get(thumbprint) as CertRow | undefined;
    return row ? certFromRow(row) : undefined;
  }

  require(thumbprint: string): StoredCertificate {
    const c = this.get(normalizeThumbprint(thumbprint));
    if (!c) throw new SealpostError("NOT_FOUND", `No certificate with thumbprint ${normalizeThumbprint(thumbprint)} is in this server's store (Get-ExchangeCertificate lists them).`);
    return c;
  }

  setServices(thumbprint: string, services: string[]): StoredCertificate {
    const c = this.require(thumbprint);
    if (services.length > 0 && !c.hasPrivateKey) {
      throw new SealpostError("NO_PRIVATE_KEY", `The certificate ${c.thumbprint} has no private key on this server, so it cannot be enabled for a service.`);
    }
    this.db.prepare("UPDATE certificates SET services = ? WHERE thumbprint = ?").run(servicesText(services), c.thumbprint);
    return this.require(c.thumbprint);
  }

  remove(thumbprint: string): void {
    const row = this.db.prepare("SELECT key_file FROM certificates WHERE thumbprint = ?").get(thumbprint) as { key_file: string | null } | undefined;
    if (!row) throw new SealpostError("NOT_FOUND", `No certificate with thumbprint ${thumbprint} is in this server's store.`);
    this.db.prepare("DELETE FROM certificates WHERE thumbprint = ?").run(thumbprint);
    if (row.key_file) this.dir.removeKeyFile(row.key_file);
  }

  /** The private key (PKCS#8 PEM). Callers decide whether it may leave the server. */
  readPrivateKey(thumbprint: string): string {
    const row = this.db.prepare("SELECT key_file FROM certificates WHERE thumbprint = ?").get(thumbprint) as { key_file: string | null } | undefined;
    if (!row?.key_file) throw new SealpostError("NO_PRIVATE_KEY", `The certificate ${thumbprint} has no private key on this server.`);
    return readFileSync(this.dir.keyPath(row.key_file), "utf8");
  }

  /** Key and certificate chain (PEM) for a TLS context: what a connector with this FQDN presents. */
  tlsCredentialsFor(fqdn: string, now: Date = new Date()): { thumbprint: string; key: string; cert: string } | undefined {
    const c = this.certificateFor(fqdn, now);
    if (!c) return undefined;
    return { thumbprint: c.thumbprint, key: this.readPrivateKey(c.thumbprint), cert: [c.der, ...c.chain].map(certToPem).join("") };
  }

  /** The certificate a connector with this FQDN presents, or undefined. */
  certificateFor(fqdn: string, now: Date = new Date()): StoredCertificate | undefined {
    return selectCertificateFor(fqdn, this.list(), now);
  }
}

function servicesText(services: string[]): string {
  return services.length === 0 ? "None" : services.join(",");
}

function certFromRow(row: CertRow): StoredCertificate {
  return {
    ...describeCertificate(row.der),
    der: row.der,
    chain: row.chain_der ? splitDer(row.chain_der) : [],
    hasPrivateKey: row.key_file !== null,
    privateKeyExportable: row.key_exportable === 1,
    friendlyName: row.friendly_name,
    services: row.services === "None" ? [] : row.services.split(","),
    source: row.source,
    createdAt: new Date(row.created_at),
  };
}

function pendingFromRow(row: PendingRow): PendingRequest {
  return {
    id: row.id,
    csrDer: row.csr_der,
    spkiSha256: row.spki_sha256,
    friendlyName: row.friendly_name,
    subject: row.subject,
    dnsNames: JSON.parse(row.dns_names) as string[],
    keyAlgorithm: row.key_algorithm,
    keySize: row.key_size,
    privateKeyExportable: row.key_exportable === 1,
    createdAt: new Date(row.created_at),
  };
}
