// `sealpost cert ...`: the certificate operations for scripts: the shell's
// ExchangeCertificate cmdlets run through the admin door (door.ts). Files
// stay here: an input file is read here and sent as FileData, a password
// file's first line as Password, and a result's FileData (a request, a PFX)
// is written here.
import path from "node:path";
import type { Command } from "commander";
import { SealpostError } from "../errors/errors.js";
import { secretFromSource } from "../secrets/secrets.js";
import { checkWritable, writeOutputFile } from "../config/files.js";
import { formatList, formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";
import { given, invokePrepared, prepareCmdlet, runCmdlet, runOne } from "./door.js";
import { registerVerifyCommand } from "./partner.js";

const TABLE = ["Thumbprint", "Services", "Subject"];

interface SecretOpts {
  passwordFile?: string;
  passwordEnv?: string;
}

/** --password-file (read by the shell's file conversion, as -PasswordFile) or --password-env (as -Password); the file wins. */
function secretParams(o: SecretOpts): Record<string, unknown> {
  if (o.passwordFile) return { PasswordFile: o.passwordFile };
  const env = secretFromSource(o.passwordEnv ? { env: o.passwordEnv } : {});
  return env !== undefined ? { Password: env } : {};
}

/** A result's FileData (base64), or a clear failure. */
function fileDataOf(v: Record<string, unknown> | undefined, what: string): Buffer {
  if (typeof v?.FileData !== "string") throw new SealpostError("INTERNAL", `The admin door returned no ${what}.`);
  return Buffer.from(v.FileData, "base64");
}

/** A PEM block's DER bytes. */
function derOfPem(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, "").replace(/\s+/g, ""), "base64");
}

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(",").filter(Boolean)];
const yes = (b: boolean | undefined) => (b === true ? true : undefined);

export function registerCertCommands(program: Command): void {
  const cert = program.command("cert").description("this server's certificates (keys, requests, import, PFX)");

  cert
    .command("request")
    .description("make a key pair and a PKCS#10 request (kept pending until the issued certificate is imported)")
    .requiredOption("--subject <name>", 'X.500 subject, e.g. "DC=com,DC=Contoso,CN=mail1.contoso.com"')
    .option("--domain <names>", "SAN dNSNames (comma list, repeatable)", list)
    .option("--key-size <size>", "2048 (default), 3072, 4096, or P-256 for ECDSA")
    .option("--friendly-name <name>", "a friendly name")
    .option("--exportable", "allow exporting the private key later")
    .option("--out <file>", "write the request here (PEM; DER with --der) instead of printing it")
    .option("--der", "write DER instead of PEM")
    .action(async (o: { subject: string; domain?: string[]; keySize?: string; friendlyName?: string; exportable?: boolean; out?: string; der?: boolean }, cmd: Command) => {
      const out = o.out ? path.resolve(o.out) : undefined;
      if (out) checkWritable(out);
      const parameters = given({ GenerateRequest: true, SubjectName: o.subject, DomainName: o.domain, KeySize: o.keySize, FriendlyName: o.friendlyName, PrivateKeyExportable: yes(o.exportable) });
      await withApi(cmd, async (api) => {
        // The request comes back as FileData (PEM) beside the pending request's object.
        const v = await runOne(api, "New-ExchangeCertificate", parameters);
        const pem = fileDataOf(v, "certificate request").toString("utf8");
        const { FileData: _file, ...certificate } = v;
        if (out) writeOutputFile(out, o.der ? derOfPem(pem) : pem);
        print(cmd, { ...certificate, Request: pem }, () => (out ? `Request ${String(certificate.Thumbprint)} written to ${out}` : pem.trimEnd()));
      });
    });

  cert
    .command("new")
    .description("make a self-signed certificate (enabled for SMTP unless --services None)")
    .option("--subject <name>", "X.500 subject (default CN=<server name>)")
    .option("--domain <names>", "SAN dNSNames (comma list, repeatable)", list)
    .option("--key-size <size>", "2048 (default), 3072, 4096, or P-256 for ECDSA")
    .option("--friendly-name <name>", "a friendly name")
    .option("--services <services>", "SMTP (default) or None")
    .option("--exportable", "allow exporting the private key later")
    .action(async (o: { subject?: string; domain?: string[]; keySize?: string; friendlyName?: string; services?: string; exportable?: boolean }, cmd: Command) => {
      const parameters = given({ SubjectName: o.subject ? o.subject : undefined, DomainName: o.domain, KeySize: o.keySize ? o.keySize : undefined, FriendlyName: o.friendlyName ? o.friendlyName : undefined, Services: o.services ? [o.services] : undefined, PrivateKeyExportable: yes(o.exportable) });
      await withApi(cmd, async (api) => {
        const v = await runOne(api, "New-ExchangeCertificate", parameters);
        print(cmd, v, () => formatTable([v], TABLE));
      });
    });

  cert
    .command("import <file>")
    .description("import an issued certificate (PEM, DER, chain, PKCS#7) or a PFX; the PFX password is asked for, or read from a file or variable")
    .option("--password-file <file>", "file whose first line is the PFX password")
    .option("--password-env <var>", "environment variable holding the PFX password")
    .option("--friendly-name <name>", "a friendly name")
    .option("--exportable", "keep the private key exportable")
    .option("--enable <services>", "enable the imported certificate for these services (SMTP)")
    .action(async (file: string, o: SecretOpts & { friendlyName?: string; exportable?: boolean; enable?: string }, cmd: Command) => {
      // The file is read here and sent as FileData; a PFX without a password given is asked for at the terminal by the cmdlet.
      const call = prepareCmdlet("Import-ExchangeCertificate", given({ Path: file, ...secretParams(o), FriendlyName: o.friendlyName ? o.friendlyName : undefined, PrivateKeyExportable: yes(o.exportable) }));
      await withApi(cmd, async (api) => {
        let view = (await invokePrepared(api, call))[0] as Record<string, unknown>;
        if (o.enable) {
          await runCmdlet(api, "Enable-ExchangeCertificate", { Thumbprint: view.Thumbprint, Services: o.enable });
          view = await runOne(api, "Get-ExchangeCertificate", { Thumbprint: view.Thumbprint });
        }
        print(cmd, view, () => formatTable([view], TABLE));
      });
    });

  cert
    .command("enable <thumbprint>")
    .description("enable a certificate for services (SMTP); None clears them")
    .option("--services <services>", "SMTP or None", "SMTP")
    .option("--force", "clear SMTP even if that turns Domain Security off for listed partners (a WARNING says what stops)")
    .action(async (thumbprint: string, o: { services: string; force?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        await runCmdlet(api, "Enable-ExchangeCertificate", given({ Thumbprint: thumbprint, Services: o.services, Force: yes(o.force) }));
        const view = await runOne(api, "Get-ExchangeCertificate", { Thumbprint: thumbprint });
        print(cmd, view, () => formatTable([view], TABLE));
      });
    });

  cert
    .command("list")
    .description("list certificates and pending requests")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const views = await runCmdlet(api, "Get-ExchangeCertificate", {});
        print(cmd, views, () => formatTable(views, TABLE));
      });
    });

  cert
    .command("show <thumbprint>")
    .description("show every property of a certificate")
    .action(async (thumbprint: string, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const views = await runCmdlet(api, "Get-ExchangeCertificate", { Thumbprint: thumbprint });
        print(cmd, views[0], () => formatList(views).trim());
      });
    });

  cert
    .command("export <thumbprint>")
    .description("export a certificate and its (exportable) key as a PFX file")
    .requiredOption("--out <file>", "the PFX file to write (mode 0600)")
    .option("--password-file <file>", "file whose first line is the PFX password")
    .option("--password-env <var>", "environment variable holding the PFX password")
    .action(async (thumbprint: string, o: SecretOpts & { out: string }, cmd: Command) => {
      const out = path.resolve(o.out);
      checkWritable(out);
      // Without a password given, the cmdlet checks the key is exportable and then asks at the terminal.
      const call = prepareCmdlet("Export-ExchangeCertificate", { Thumbprint: thumbprint, ...secretParams(o) });
      await withApi(cmd, async (api) => {
        const [v] = (await invokePrepared(api, call)) as Array<Record<string, unknown>>;
        writeOutputFile(out, fileDataOf(v, "PFX file"), 0o600);
        print(cmd, { Thumbprint: thumbprint.toUpperCase(), Path: out }, () => `Exported to ${out}`);
      });
    });

  registerVerifyCommand(cert);

  cert
    .command("remove <thumbprint>")
    .description("remove a certificate or pending request and its private key")
    .option("--force", "remove it even if that turns Domain Security off for listed partners (a WARNING says what stops)")
    .action(async (thumbprint: string, o: { force?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        await runCmdlet(api, "Remove-ExchangeCertificate", given({ Thumbprint: thumbprint, Force: yes(o.force) }), { confirm: false });
        print(cmd, { Removed: thumbprint.toUpperCase() }, () => `Removed ${thumbprint.toUpperCase()}`);
      });
    });
}
