// `sealpost cert ...`: the certificate operations for scripts. Same admin
// API as the shell's ExchangeCertificate cmdlets.
import path from "node:path";
import type { Command } from "commander";
import { isSealpostError } from "../errors/errors.js";
import { promptSecret, secretFromSource } from "../secrets/secrets.js";
import { checkWritable, readInputFile, writeOutputFile } from "../config/files.js";
import { formatList, formatTable } from "../shell/format.js";
import { changeOptions, print, withApi } from "./common.js";
import { registerVerifyCommand } from "./partner.js";

const TABLE = ["Thumbprint", "Services", "Subject"];

interface SecretOpts {
  passwordFile?: string;
  passwordEnv?: string;
}

function secretOf(o: SecretOpts): string | undefined {
  return secretFromSource({ ...(o.passwordFile ? { file: o.passwordFile } : {}), ...(o.passwordEnv ? { env: o.passwordEnv } : {}) });
}

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(",").filter(Boolean)];

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
      await withApi(cmd, async (api) => {
        const r = await api.certificates.newCertificate(
          {
            generateRequest: true,
            subjectName: o.subject,
            ...(o.domain ? { domainNames: o.domain } : {}),
            ...(o.keySize ? { keySize: o.keySize } : {}),
            ...(o.friendlyName ? { friendlyName: o.friendlyName } : {}),
            privateKeyExportable: o.exportable === true,
          },
          out ? async (req) => writeOutputFile(out, o.der ? req.der : req.pem) : undefined,
        );
        print(cmd, { ...r.certificate, Request: r.requestPem }, () => (out ? `Request ${r.certificate.Thumbprint} written to ${out}` : (r.requestPem as string).trimEnd()));
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
      await withApi(cmd, async (api) => {
        const r = await api.certificates.newCertificate({
          generateRequest: false,
          ...(o.subject ? { subjectName: o.subject } : {}),
          ...(o.domain ? { domainNames: o.domain } : {}),
          ...(o.keySize ? { keySize: o.keySize } : {}),
          ...(o.friendlyName ? { friendlyName: o.friendlyName } : {}),
          ...(o.services ? { services: [o.services] } : {}),
          privateKeyExportable: o.exportable === true,
        });
        print(cmd, r.certificate, () => formatTable([r.certificate], TABLE));
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
      const data = readInputFile(file);
      const password = secretOf(o);
      await withApi(cmd, async (api) => {
        const base = { data, ...(o.friendlyName ? { friendlyName: o.friendlyName } : {}), privateKeyExportable: o.exportable === true };
        let view;
        try {
          view = await api.certificates.importCertificate({ ...base, ...(password !== undefined ? { password } : {}) });
        } catch (e) {
          if (password !== undefined || !isSealpostError(e, "PFX_BAD_PASSWORD")) throw e;
          view = await api.certificates.importCertificate({ ...base, password: await promptSecret("PFX password: ") });
        }
        if (o.enable) view = await api.certificates.enableCertificate(view.Thumbprint, o.enable);
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
        const view = await api.certificates.enableCertificate(thumbprint, o.services, changeOptions(o));
        print(cmd, view, () => formatTable([view], TABLE));
      });
    });

  cert
    .command("list")
    .description("list certificates and pending requests")
    .action(async (_o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const views = await api.certificates.getCertificates();
        print(cmd, views, () => formatTable(views, TABLE));
      });
    });

  cert
    .command("show <thumbprint>")
    .description("show every property of a certificate")
    .action(async (thumbprint: string, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const views = await api.certificates.getCertificates(thumbprint);
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
      await withApi(cmd, async (api) => {
        api.certificates.assertExportable(thumbprint);
        const password = secretOf(o) ?? (await promptSecret("Password for the PFX file: "));
        const pfx = await api.certificates.exportCertificate(thumbprint, password);
        writeOutputFile(out, pfx, 0o600);
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
        await api.certificates.removeCertificate(thumbprint, changeOptions(o));
        print(cmd, { Removed: thumbprint.toUpperCase() }, () => `Removed ${thumbprint.toUpperCase()}`);
      });
    });
}
