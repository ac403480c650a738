// Accounts and API tokens of the admin door. The caller is the shell's (or
// the door's) Caller: in process, the local operator (Organization
// Management); over HTTP, whoever logged in. Passwords come from
// -PasswordFile (read by the shell on its own machine and sent as -Password),
// -Password ($env:NAME, (Read-Host -AsSecureString)) or, at a terminal, a
// prompt; never from the command line's text.
import { localOperator } from "../../adminapi/accounts.js";
import type { Caller } from "../../adminapi/identity.js";
import { parseRoleGroups } from "../../adminapi/roles.js";
import { SealpostError } from "../../errors/errors.js";
import { formatTimeSpan, parseTimeSpan } from "../../org/validate.js";
import type { BoundArgs } from "../binder.js";
import type { CmdletContext, CmdletDef } from "../shell.js";

const USER_TABLE = ["Name", "RoleGroups", "Enabled", "ClientCertificateThumbprint"];
const TOKEN_TABLE = ["Id", "User", "Description", "Expires", "LastUsed"];
/** A token lives at most ten years. */
const MAX_TOKEN_LIFETIME_S = 10 * 365 * 86400;

/** Who runs the cmdlet: the door's or the shell's caller; in process without one, the local operator. */
export function callerOf(ctx: CmdletContext): Caller {
  return (ctx as CmdletContext & { caller?: Caller }).caller ?? localOperator("shell");
}

/** -Password (the shell puts -PasswordFile's first line there), or asked twice at a terminal. */
async function newPassword(args: BoundArgs, ctx: CmdletContext, name: string): Promise<string> {
  if (typeof args.Password === "string") return args.Password;
  const first = await ctx.host.readSecret(`Password for ${name}: `);
  const again = await ctx.host.readSecret(`Password for ${name} (again): `);
  if (first !== again) throw new SealpostError("INVALID_ARGUMENT", "The two passwords differ; nothing was changed.");
  return first;
}

function roleGroupsArg(args: BoundArgs): ReturnType<typeof parseRoleGroups> | undefined {
  return args.RoleGroup === undefined ? undefined : parseRoleGroups(args.RoleGroup as string[]);
}

/** -ExpiresIn d.hh:mm:ss (or seconds) as a date from now. */
function expiresArg(args: BoundArgs, now: Date): Date | undefined {
  if (args.ExpiresIn === undefined) return undefined;
  const secs = parseTimeSpan("ExpiresIn", args.ExpiresIn as string);
  if (secs < 60 || secs > MAX_TOKEN_LIFETIME_S) {
    throw new SealpostError("INVALID_ARGUMENT", `-ExpiresIn '${String(args.ExpiresIn)}' is not valid: give from 00:01:00 to ${formatTimeSpan(MAX_TOKEN_LIFETIME_S)} (d.hh:mm:ss).`);
  }
  return new Date(now.getTime() + secs * 1000);
}

/** A thumbprint, or null (or "") to remove it. */
function thumbprintArg(v: unknown): string | null {
  if (v === null || v === "") return null;
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === "string") return v[0];
  throw new SealpostError("INVALID_ARGUMENT", "-ClientCertificateThumbprint takes a thumbprint (40 hex digits) or $null.");
}

const passwordParams = [
  { name: "PasswordFile", type: "string" as const, help: "a file (on the shell's machine) whose first line is the password (at least 12 characters)" },
  { name: "Password", type: "secret" as const, help: "the password: $env:NAME or (Read-Host -AsSecureString); never written on the line" },
];

export const accountCmdlets: CmdletDef[] = [
  {
    name: "New-AdminUser",
    synopsis: "Creates an administrator account of the admin door with one or more role groups (needs Organization Management; nobody grants more than they hold).",
    table: USER_TABLE,
    params: [
      { name: "Name", type: "string", position: 0, mandatory: true, help: "1 to 64 letters, digits and . _ @ -" },
      { name: "RoleGroup", type: "strings", mandatory: true, aliases: ["RoleGroups"], help: '"Organization Management", "Server Management" or "View-Only Organization Management"' },
      ...passwordParams,
      { name: "ClientCertificateThumbprint", type: "string", help: "a client certificate (SHA-1 thumbprint) that logs this account in over HTTPS" },
    ],
    validate(args) {
      roleGroupsArg(args);
    },
    async run(args, ctx) {
      const name = args.Name as string;
      const roleGroups = roleGroupsArg(args) ?? [];
      const password = await newPassword(args, ctx, name);
      return [
        await ctx.api.identity.createUser(
          { name, roleGroups, password, ...(typeof args.ClientCertificateThumbprint === "string" ? { clientCertificateThumbprint: args.ClientCertificateThumbprint } : {}) },
          callerOf(ctx),
        ),
      ];
    },
  },
  {
    name: "Get-AdminUser",
    synopsis: "Lists the administrator accounts (or one) with their role groups; never a password or its hash.",
    table: USER_TABLE,
    params: [{ name: "Identity", type: "string", position: 0, aliases: ["Name"] }],
    async run(args, ctx) {
      return ctx.api.identity.listUsers(args.Identity as string | undefined);
    },
  },
  {
    name: "Set-AdminUser",
    synopsis: "Changes an account's role groups, password, client certificate or whether it may log in (-Enabled $false).",
    table: USER_TABLE,
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Name"] },
      { name: "RoleGroup", type: "strings", aliases: ["RoleGroups"] },
      ...passwordParams,
      { name: "ClientCertificateThumbprint", type: "any", help: "a client certificate's SHA-1 thumbprint; $null removes it" },
      { name: "Enabled", type: "bool" },
    ],
    validate(args) {
      roleGroupsArg(args);
      if (args.ClientCertificateThumbprint !== undefined) thumbprintArg(args.ClientCertificateThumbprint);
    },
    async run(args, ctx) {
      const roleGroups = roleGroupsArg(args);
      return [
        await ctx.api.identity.setUser(
          args.Identity as string,
          {
            ...(roleGroups !== undefined ? { roleGroups } : {}),
            ...(typeof args.Password === "string" ? { password: args.Password } : {}),
            ...(args.ClientCertificateThumbprint !== undefined ? { clientCertificateThumbprint: thumbprintArg(args.ClientCertificateThumbprint) } : {}),
            ...(typeof args.Enabled === "boolean" ? { enabled: args.Enabled } : {}),
          },
          callerOf(ctx),
        ),
      ];
    },
  },
  {
    name: "Remove-AdminUser",
    synopsis: "Removes an administrator account and its API tokens.",
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Name"] },
      { name: "Confirm", type: "switch" },
    ],
    async run(args, ctx) {
      await ctx.api.identity.removeUser(args.Identity as string, callerOf(ctx));
      return [];
    },
  },
  {
    name: "New-AdminToken",
    synopsis: "Issues an API token to an account (it carries the account's role groups); the token is shown once, here, and stored only as a digest.",
    params: [
      { name: "User", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Name"] },
      { name: "Description", type: "string" },
      { name: "ExpiresIn", type: "string", help: "lifetime d.hh:mm:ss (e.g. 30.00:00:00); default: until removed" },
    ],
    validate(args) {
      expiresArg(args, new Date());
    },
    async run(args, ctx) {
      const expires = expiresArg(args, ctx.api.ctx.now());
      return [
        await ctx.api.identity.createToken(
          args.User as string,
          { ...(typeof args.Description === "string" ? { description: args.Description } : {}), ...(expires ? { expires } : {}) },
          callerOf(ctx),
        ),
      ];
    },
  },
  {
    name: "Get-AdminToken",
    synopsis: "Lists the API tokens (all, or one account's): id, owner, description, expiry, last use; never the token.",
    table: TOKEN_TABLE,
    params: [{ name: "User", type: "string", position: 0 }],
    async run(args, ctx) {
      return ctx.api.identity.listTokens(args.User as string | undefined);
    },
  },
  {
    name: "Remove-AdminToken",
    synopsis: "Revokes an API token (by its Id).",
    params: [
      { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true, aliases: ["Id"] },
      { name: "Confirm", type: "switch" },
    ],
    async run(args, ctx) {
      await ctx.api.identity.removeToken(args.Identity as string, callerOf(ctx));
      return [];
    },
  },
];
