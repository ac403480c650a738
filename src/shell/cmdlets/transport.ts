// Organization transport settings, accepted domains and mailboxes.
import type { ListEdit } from "../binder.js";
import type { CmdletDef } from "../shell.js";

export const transportCmdlets: CmdletDef[] = [
  {
    name: "Get-TransportConfig",
    synopsis: "Shows the organization's transport settings.",
    params: [],
    async run(_args, ctx) {
      return [await ctx.api.transport.getConfig()];
    },
  },
  {
    name: "Set-TransportConfig",
    synopsis: "Changes the organization's transport settings (a list value replaces the list; @{Add=...;Remove=...} edits it).",
    params: [
      { name: "TLSReceiveDomainSecureList", type: "listedit" },
      { name: "TLSSendDomainSecureList", type: "listedit" },
      { name: "MaxMessageSize", type: "string", help: "e.g. 10MB" },
      { name: "DomainSecureRefusal", type: "string", values: ["Temporary", "Permanent"], help: "Temporary (default) or Permanent" },
      { name: "AuthservId", type: "string", help: "RFC 8601 authserv-id; $null: the first authoritative accepted domain" },
      { name: "UseSystemTrustStore", type: "bool", help: "Trust the system CA bundle besides the organization's roots" },
    ],
    async run(args, ctx) {
      await ctx.api.transport.setConfig({
        ...(args.TLSReceiveDomainSecureList !== undefined ? { tlsReceiveDomainSecureList: args.TLSReceiveDomainSecureList as ListEdit } : {}),
        ...(args.TLSSendDomainSecureList !== undefined ? { tlsSendDomainSecureList: args.TLSSendDomainSecureList as ListEdit } : {}),
        ...(args.MaxMessageSize !== undefined ? { maxMessageSize: args.MaxMessageSize as string } : {}),
        ...(args.DomainSecureRefusal !== undefined ? { domainSecureRefusal: args.DomainSecureRefusal as string } : {}),
        ...("AuthservId" in args ? { authservId: (args.AuthservId as string | null) ?? null } : {}),
        ...(args.UseSystemTrustStore !== undefined ? { useSystemTrustStore: args.UseSystemTrustStore as boolean } : {}),
      });
      return [];
    },
  },
  {
    name: "New-AcceptedDomain",
    synopsis: "Adds an accepted domain: Authoritative (local mailboxes) or InternalRelay/ExternalRelay (relayed).",
    table: ["Name", "DomainName", "DomainType"],
    params: [
      { name: "Name", type: "string", position: 0 },
      { name: "DomainName", type: "string", mandatory: true },
      { name: "DomainType", type: "string", values: ["Authoritative", "InternalRelay", "ExternalRelay"] },
    ],
    async run(args, ctx) {
      return [
        await ctx.api.transport.newAcceptedDomain({
          domainName: args.DomainName as string,
          ...(typeof args.Name === "string" ? { name: args.Name } : {}),
          ...(typeof args.DomainType === "string" ? { domainType: args.DomainType } : {}),
        }),
      ];
    },
  },
  {
    name: "Get-AcceptedDomain",
    synopsis: "Lists the accepted domains.",
    table: ["Name", "DomainName", "DomainType"],
    params: [{ name: "Identity", type: "string", position: 0 }],
    async run(args, ctx) {
      return ctx.api.transport.getAcceptedDomains(args.Identity as string | undefined);
    },
  },
  {
    name: "Set-AcceptedDomain",
    synopsis: "Changes an accepted domain's type or catch-all mailbox.",
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Name"] },
      { name: "DomainType", type: "string", values: ["Authoritative", "InternalRelay", "ExternalRelay"] },
      { name: "CatchAllMailbox", type: "string", help: "mailbox for unknown recipients; $null removes it" },
    ],
    async run(args, ctx) {
      await ctx.api.transport.setAcceptedDomain(args.Identity as string, {
        ...(args.DomainType !== undefined ? { domainType: args.DomainType as string } : {}),
        ...("CatchAllMailbox" in args ? { catchAllMailbox: (args.CatchAllMailbox as string | null) ?? null } : {}),
      });
      return [];
    },
  },
  {
    name: "Remove-AcceptedDomain",
    synopsis: "Removes an accepted domain.",
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Name"] },
      { name: "Confirm", type: "switch" },
    ],
    async run(args, ctx) {
      await ctx.api.transport.removeAcceptedDomain(args.Identity as string);
      return [];
    },
  },
  {
    name: "New-Mailbox",
    synopsis: "Creates a local mailbox (Maildir under the data folder) in an authoritative accepted domain.",
    table: ["Name", "PrimarySmtpAddress"],
    params: [
      { name: "PrimarySmtpAddress", type: "string", mandatory: true },
      { name: "Name", type: "string", position: 0 },
    ],
    async run(args, ctx) {
      return [await ctx.api.transport.newMailbox({ primarySmtpAddress: args.PrimarySmtpAddress as string, ...(typeof args.Name === "string" ? { name: args.Name } : {}) })];
    },
  },
  {
    name: "Get-Mailbox",
    synopsis: "Lists local mailboxes.",
    table: ["Name", "PrimarySmtpAddress"],
    params: [{ name: "Identity", type: "string", position: 0 }],
    async run(args, ctx) {
      return ctx.api.transport.getMailboxes(args.Identity as string | undefined);
    },
  },
  {
    name: "Remove-Mailbox",
    synopsis: "Removes a local mailbox (its Maildir stays on disk).",
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["PrimarySmtpAddress"] },
      { name: "Confirm", type: "switch" },
    ],
    async run(args, ctx) {
      await ctx.api.transport.removeMailbox(args.Identity as string);
      return [];
    },
  },
];
