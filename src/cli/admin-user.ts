// `sealpost admin-user ...` and `sealpost admin-token ...`: the admin door's
// accounts and API tokens for scripts. Each runs the cmdlet of the same name
// (New-AdminUser, ...) through the door, in process, as the local operator
// (Organization Management), so the call is checked and audited as from any
// front end. A password comes from --password-file (its first line) or, at
// a terminal, a prompt; never from the command line.
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import { promptSecret, readSecretFile } from "../secrets/secrets.js";
import { formatList, formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";
import { runCmdlet } from "./door.js";

const USER_COLUMNS = ["Name", "RoleGroups", "Enabled", "ClientCertificateThumbprint"];
const TOKEN_COLUMNS = ["Id", "User", "Description", "Expires", "LastUsed"];

/** --password-file's first line, or asked twice at a terminal. */
async function passwordFrom(o: { passwordFile?: string }, name: string): Promise<string> {
  if (o.passwordFile !== undefined) return readSecretFile(o.passwordFile).split(/\r?\n/)[0] ?? "";
  const first = await promptSecret(`Password for ${name}: `);
  const again = await promptSecret(`Password for ${name} (again): `);
  if (first !== again) throw new SealpostError("INVALID_ARGUMENT", "The two passwords differ; nothing was changed.");
  return first;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerAdminUserCommands(program: Command): void {
  const user = program.command("admin-user").description("administrator accounts of the admin door (New-/Get-/Set-/Remove-AdminUser)");

  user
    .command("new <name>")
    .description("create an account with one or more role groups")
    .requiredOption("--role <group>", 'a role group: "Organization Management", "Server Management" or "View-Only Organization Management" (repeat for more)', collect)
    .option("--password-file <file>", "a file whose first line is the password (at least 12 characters); default: asked at the terminal")
    .option("--client-certificate <thumbprint>", "a client certificate (SHA-1 thumbprint) that logs this account in over HTTPS")
    .action(async (name: string, o: { role: string[]; passwordFile?: string; clientCertificate?: string }, cmd: Command) => {
      const password = await passwordFrom(o, name);
      await withApi(cmd, async (api) => {
        const [v] = await runCmdlet(api, "New-AdminUser", { Name: name, RoleGroup: o.role, Password: password, ...(o.clientCertificate !== undefined ? { ClientCertificateThumbprint: o.clientCertificate } : {}) });
        print(cmd, v, () => formatList([v]).trim());
      });
    });

  user
    .command("list [name]")
    .description("the accounts (or one) with their role groups")
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Get-AdminUser", name !== undefined ? { Identity: name } : {});
        print(cmd, v, () => (v.length === 0 ? "No administrator account yet (the local administrator's token is the data folder's admin.token)." : formatTable(v, USER_COLUMNS).trim()));
      });
    });

  user
    .command("set <name>")
    .description("change an account's role groups, password, client certificate, or whether it may log in")
    .option("--role <group>", "the role groups it has from now on (repeat for more)", collect)
    .option("--password-file <file>", "a new password: the file's first line")
    .option("--password", "a new password, asked at the terminal")
    .option("--client-certificate <thumbprint>", "the client certificate that logs it in")
    .option("--no-client-certificate", "no client certificate logs it in any more")
    .option("--enable", "it may log in")
    .option("--disable", "it may not log in (its tokens stop working too)")
    .action(async (name: string, o: { role?: string[]; passwordFile?: string; password?: boolean; clientCertificate?: string | false; enable?: boolean; disable?: boolean }, cmd: Command) => {
      if (o.enable && o.disable) throw new SealpostError("INVALID_ARGUMENT", "Give --enable or --disable, not both.");
      const password = o.passwordFile !== undefined || o.password ? await passwordFrom(o, name) : undefined;
      const params: Record<string, unknown> = {
        Identity: name,
        ...(o.role !== undefined ? { RoleGroup: o.role } : {}),
        ...(password !== undefined ? { Password: password } : {}),
        ...(typeof o.clientCertificate === "string" ? { ClientCertificateThumbprint: o.clientCertificate } : o.clientCertificate === false ? { ClientCertificateThumbprint: null } : {}),
        ...(o.enable ? { Enabled: true } : o.disable ? { Enabled: false } : {}),
      };
      await withApi(cmd, async (api) => {
        const [v] = await runCmdlet(api, "Set-AdminUser", params);
        print(cmd, v, () => formatList([v]).trim());
      });
    });

  user
    .command("remove <name>")
    .description("remove an account and its API tokens")
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        await runCmdlet(api, "Remove-AdminUser", { Identity: name }, { confirm: false });
        print(cmd, { Removed: name }, () => `Removed the account ${name} and its API tokens.`);
      });
    });

  const token = program.command("admin-token").description("API tokens of the admin door for scripts (New-/Get-/Remove-AdminToken)");

  token
    .command("new <user>")
    .description("issue a token to an account (shown once; it carries the account's role groups)")
    .option("--description <text>", "what it is for")
    .option("--expires-in <d.hh:mm:ss>", "its lifetime (default: until removed)")
    .action(async (owner: string, o: { description?: string; expiresIn?: string }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const [v] = (await runCmdlet(api, "New-AdminToken", { User: owner, ...(o.description !== undefined ? { Description: o.description } : {}), ...(o.expiresIn !== undefined ? { ExpiresIn: o.expiresIn } : {}) })) as Array<{ Token: string; Id: string }>;
        print(cmd, v, () => `${formatList([v]).trim()}\n\nThe token is shown only now: store it (a file of mode 0600, a secret store). Revoke it with: sealpost admin-token remove ${v?.Id ?? ""}`);
      });
    });

  token
    .command("list")
    .description("the tokens (never the tokens themselves): id, owner, description, expiry, last use")
    .option("--user <name>", "only this account's")
    .action(async (o: { user?: string }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Get-AdminToken", o.user !== undefined ? { User: o.user } : {});
        print(cmd, v, () => (v.length === 0 ? "No API token." : formatTable(v, TOKEN_COLUMNS).trim()));
      });
    });

  token
    .command("remove <id>")
    .description("revoke a token")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        await runCmdlet(api, "Remove-AdminToken", { Identity: id }, { confirm: false });
        print(cmd, { Removed: id }, () => `Revoked the API token ${id}.`);
      });
    });
}
