// `sealpost partner ...` (Domain Security partner options) and
// `sealpost cert verify` (Test-Certificate), run through the admin door (door.ts).
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import type { Verdict } from "../pki/trust/verdict.js";
import { renderVerdict } from "../shell/cmdlets/partners.js";
import { formatList, formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";
import { given, invokePrepared, prepareCmdlet, runCmdlet, runOne } from "./door.js";

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(",").map((x) => x.trim()).filter(Boolean)];

export function registerPartnerCommands(program: Command): void {
  const partner = program.command("partner").description("Domain Security partner options");

  partner
    .command("list")
    .description("partners with stored options")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const views = await runCmdlet(api, "Get-DomainSecurePartner", {});
        print(cmd, views, () => formatTable(views, ["Domain", "NameMatch", "Mode", "RevocationMode", "AllowWeakCrypto", "CertificateNames", "AllowedIssuers"]));
      });
    });

  partner
    .command("show <domain>")
    .description("a partner's options (defaults when none are stored)")
    .action(async (domain: string, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runOne(api, "Get-DomainSecurePartner", { Identity: domain });
        print(cmd, v, () => formatList([v]).trim());
      });
    });

  partner
    .command("set <domain>")
    .description("set a partner's options")
    .option("--name-match <mode>", "Exact or Subdomains")
    .option("--certificate-names <names>", "extra names accepted (comma list; replaces)", list)
    .option("--allowed-issuers <ca>", "pin an issuing CA by key: its certificate file, or the thumbprint of a trusted root or intermediate (repeatable; replaces; \"\" clears)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--mode <mode>", "Enforce or ReportOnly")
    .option("--revocation-mode <mode>", "Hard or Soft")
    .option("--allow-weak-crypto <bool>", "accept SHA-1 signatures and keys below RSA-2048 / P-256 in this partner's chain, as a logged warning (true or false)")
    .action(async (domain: string, o: { nameMatch?: string; certificateNames?: string[]; allowedIssuers?: string[]; mode?: string; revocationMode?: string; allowWeakCrypto?: string }, cmd: Command) => {
      // Certificate files named by --allowed-issuers are read here and sent as PEM text, as the shell does.
      const call = prepareCmdlet(
        "Set-DomainSecurePartner",
        given({
          Identity: domain,
          NameMatch: o.nameMatch,
          CertificateNames: o.certificateNames,
          AllowedIssuers: o.allowedIssuers?.filter((v) => v.trim() !== ""),
          Mode: o.mode,
          RevocationMode: o.revocationMode,
          AllowWeakCrypto: o.allowWeakCrypto,
        }),
      );
      await withApi(cmd, async (api) => {
        await invokePrepared(api, call);
        const v = await runOne(api, "Get-DomainSecurePartner", { Identity: domain });
        print(cmd, v, () => formatList([v]).trim());
      });
    });
}

export function registerVerifyCommand(cert: Command): void {
  cert
    .command("verify <file>")
    .description("validate a certificate file: the chain built, each check, the verdict (Test-Certificate)")
    .option("--domain <domain>", "also check it for this partner domain, with the partner's options")
    .option("--role <role>", "client (inbound, default) or server (outbound)", "client")
    .option("--require-client-auth", "demand the clientAuth extended key usage")
    .action(async (file: string, o: { domain?: string; role: string; requireClientAuth?: boolean }, cmd: Command) => {
      const call = prepareCmdlet("Test-Certificate", given({ Path: file, Domain: o.domain ? o.domain : undefined, Role: o.role.toLowerCase(), RequireClientAuth: o.requireClientAuth === true ? true : undefined }));
      const role = o.role.toLowerCase();
      if (role !== "client" && role !== "server") throw new SealpostError("INVALID_ARGUMENT", `--role '${o.role}' is not valid: use client or server.`);
      await withApi(cmd, async (api) => {
        const [v] = (await invokePrepared(api, call)) as Verdict[];
        if (!v) throw new SealpostError("INTERNAL", "Test-Certificate returned no verdict.");
        print(cmd, v, () => renderVerdict(v));
        if (!v.ok) process.exitCode = 2;
      });
    });
}
