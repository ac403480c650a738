// Admin API: organization transport settings (Get-/Set-TransportConfig),
// accepted domains and mailboxes. Every value is validated before anything
// is written; list edits (@{Add=...;Remove=...}) apply inside one
// transaction so concurrent edits both survive.
import { SealpostError } from "../errors/errors.js";
import { normalizeDomain } from "../pki/domain.js";
import type { AcceptedDomain, DomainType, Mailbox, RefusalMode, TransportConfig } from "../org/model.js";
import { applyListEdit, formatSize, normalizeAddress, oneOf, parseSize, type ListEditInput } from "../org/validate.js";
import type { ServerContext } from "./context.js";

export interface TransportConfigView {
  TLSReceiveDomainSecureList: string[];
  TLSSendDomainSecureList: string[];
  MaxMessageSize: string;
  DomainSecureRefusal: RefusalMode;
  AuthservId: string;
  UseSystemTrustStore: boolean;
}

export interface TransportConfigPatch {
  tlsReceiveDomainSecureList?: ListEditInput;
  tlsSendDomainSecureList?: ListEditInput;
  maxMessageSize?: string | number;
  domainSecureRefusal?: string;
  authservId?: string | null;
  useSystemTrustStore?: boolean;
}

export interface AcceptedDomainView {
  Name: string;
  DomainName: string;
  DomainType: DomainType;
  CatchAllMailbox: string | null;
}

export interface MailboxView {
  Name: string;
  PrimarySmtpAddress: string;
}

const domainView = (d: AcceptedDomain): AcceptedDomainView => ({ Name: d.name, DomainName: d.domainName, DomainType: d.domainType, CatchAllMailbox: d.catchAllMailbox ?? null });
const mailboxView = (m: Mailbox): MailboxView => ({ Name: m.name, PrimarySmtpAddress: m.primarySmtpAddress });

const listDomain = (d: string) => normalizeDomain(d, { allowWildcard: true });

/** The authserv-id in force: the configured one, else the first authoritative accepted domain, else the server's name. */
function serverNameOr(ctx: ServerContext, fallback: string): string {
  try {
    return ctx.serverName;
  } catch {
    return fallback;
  }
}

export function effectiveAuthservId(cfg: TransportConfig, domains: AcceptedDomain[], serverName: string): string {
  if (cfg.authservId) return cfg.authservId;
  const first = domains.find((d) => d.domainType === "Authoritative" && !d.domainName.startsWith("*."));
  return first?.domainName ?? serverName;
}

export class TransportAdmin {
  constructor(private readonly ctx: ServerContext) {}

  async getConfig(): Promise<TransportConfigView> {
    const cfg = await this.ctx.org.getSettings();
    const domains = await this.ctx.org.listAcceptedDomains();
    return {
      TLSReceiveDomainSecureList: cfg.tlsReceiveDomainSecureList,
      TLSSendDomainSecureList: cfg.tlsSendDomainSecureList,
      MaxMessageSize: formatSize(cfg.maxMessageSize),
      DomainSecureRefusal: cfg.domainSecureRefusal,
      // Without a server (sealpost --org only) and without an authoritative domain, each edge falls back to its own name.
      AuthservId: effectiveAuthservId(cfg, domains, serverNameOr(this.ctx, "(each edge's FQDN)")),
      UseSystemTrustStore: cfg.useSystemTrustStore,
    };
  }

  async setConfig(patch: TransportConfigPatch): Promise<TransportConfigView> {
    // Validate every value first: one bad value changes nothing.
    const fixed: Partial<TransportConfig> = {};
    if (patch.maxMessageSize !== undefined) fixed.maxMessageSize = parseSize("MaxMessageSize", patch.maxMessageSize);
    if (patch.domainSecureRefusal !== undefined) fixed.domainSecureRefusal = oneOf("DomainSecureRefusal", patch.domainSecureRefusal, ["Temporary", "Permanent"] as const);
    if (patch.authservId !== undefined) fixed.authservId = patch.authservId === null || patch.authservId === "" ? null : normalizeDomain(patch.authservId, { allowSingleLabel: true });
    if (patch.useSystemTrustStore !== undefined) fixed.useSystemTrustStore = patch.useSystemTrustStore;
    const lists: Array<[keyof TransportConfig, ListEditInput | undefined]> = [
      ["tlsReceiveDomainSecureList", patch.tlsReceiveDomainSecureList],
      ["tlsSendDomainSecureList", patch.tlsSendDomainSecureList],
    ];
    for (const [, edit] of lists) {
      if (!edit) continue;
      for (const v of "replace" in edit ? edit.replace : [...edit.add, ...edit.remove]) listDomain(v);
    }
    if (Object.keys(fixed).length === 0 && lists.every(([, e]) => !e)) {
      throw new SealpostError("INVALID_ARGUMENT", "Set-TransportConfig: give at least one setting to change.");
    }
    await this.ctx.org.editSettings((current) => {
      const out: Partial<TransportConfig> = { ...fixed };
      for (const [key, edit] of lists) {
        if (edit) (out as Record<string, unknown>)[key] = applyListEdit(current[key] as string[], edit, listDomain);
      }
      return out;
    });
    if (patch.useSystemTrustStore !== undefined) this.ctx.invalidateTrust();
    return this.getConfig();
  }

  // ---- accepted domains

  async newAcceptedDomain(opts: { name?: string; domainName: string; domainType?: string }): Promise<AcceptedDomainView> {
    const domainName = normalizeDomain(opts.domainName, { allowWildcard: true });
    const domainType = oneOf<DomainType>("DomainType", opts.domainType ?? "Authoritative", ["Authoritative", "InternalRelay", "ExternalRelay"] as const);
    const name = (opts.name ?? domainName).trim();
    if (name === "" || name.length > 64) throw new SealpostError("INVALID_ARGUMENT", "An accepted domain's name must be 1 to 64 characters.");
    return domainView(await this.ctx.org.addAcceptedDomain({ name, domainName, domainType }));
  }

  private async findDomain(identity: string): Promise<AcceptedDomain> {
    const id = identity.trim().toLowerCase();
    const hit = (await this.ctx.org.listAcceptedDomains()).find((d) => d.name.toLowerCase() === id || d.domainName === id);
    if (!hit) throw new SealpostError("NOT_FOUND", `No accepted domain is named or covers '${identity}' (Get-AcceptedDomain lists them).`);
    return hit;
  }

  async getAcceptedDomains(identity?: string): Promise<AcceptedDomainView[]> {
    return (identity === undefined ? await this.ctx.org.listAcceptedDomains() : [await this.findDomain(identity)]).map(domainView);
  }

  async setAcceptedDomain(identity: string, patch: { domainType?: string; catchAllMailbox?: string | null }): Promise<AcceptedDomainView> {
    const d = await this.findDomain(identity);
    const next: Partial<AcceptedDomain> = {};
    if (patch.domainType !== undefined) next.domainType = oneOf<DomainType>("DomainType", patch.domainType, ["Authoritative", "InternalRelay", "ExternalRelay"] as const);
    if (patch.catchAllMailbox !== undefined) {
      if (patch.catchAllMailbox === null || patch.catchAllMailbox === "") {
        next.catchAllMailbox = undefined;
      } else {
        const a = normalizeAddress("The catch-all mailbox", patch.catchAllMailbox);
        const exists = (await this.ctx.org.listMailboxes()).some((m) => m.primarySmtpAddress.toLowerCase() === a.address.toLowerCase());
        if (!exists) throw new SealpostError("NOT_FOUND", `The catch-all mailbox ${a.address} does not exist; create it with New-Mailbox first.`);
        next.catchAllMailbox = a.address;
      }
    }
    return domainView(await this.ctx.org.updateAcceptedDomain(d.name, () => next));
  }

  async removeAcceptedDomain(identity: string): Promise<void> {
    const d = await this.findDomain(identity);
    await this.ctx.org.removeAcceptedDomain(d.name);
  }

  // ---- mailboxes

  async newMailbox(opts: { primarySmtpAddress: string; name?: string }): Promise<MailboxView> {
    const a = normalizeAddress("PrimarySmtpAddress", opts.primarySmtpAddress);
    const domain = (await this.ctx.org.listAcceptedDomains()).find((d) => d.domainName === a.domain);
    if (!domain || domain.domainType !== "Authoritative") {
      throw new SealpostError("INVALID_ARGUMENT", `The domain ${a.domain} is not an authoritative accepted domain; add it with New-AcceptedDomain -DomainName ${a.domain} first.`);
    }
    return mailboxView(await this.ctx.org.addMailbox({ primarySmtpAddress: a.address, name: opts.name?.trim() || a.local }));
  }

  async getMailboxes(identity?: string): Promise<MailboxView[]> {
    const all = await this.ctx.org.listMailboxes();
    if (identity === undefined) return all.map(mailboxView);
    const id = identity.trim().toLowerCase();
    const hit = all.filter((m) => m.primarySmtpAddress.toLowerCase() === id || m.name.toLowerCase() === id);
    if (hit.length === 0) throw new SealpostError("NOT_FOUND", `No mailbox matches '${identity}'.`);
    return hit.map(mailboxView);
  }

  async removeMailbox(identity: string): Promise<void> {
    const [m] = await this.getMailboxes(identity);
    await this.ctx.org.removeMailbox((m as MailboxView).PrimarySmtpAddress);
  }
}
