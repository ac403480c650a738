// `sealpost trust ...`: the organization's trusted roots and intermediates,
// and `trust update-revocation` (Update-RevocationCache) for this server,
// run through the admin door (door.ts).
import type { Command } from "commander";
import { formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";
import { given, invokePrepared, prepareCmdlet, runCmdlet } from "./door.js";

const TABLE = ["Thumbprint", "Kind", "NotAfter", "Subject"];

export function registerTrustCommands(program: Command): void {
  const trust = program.command("trust").description("the organization's trusted root and intermediate certificates");
  const noun = (o: { intermediate?: boolean }) => (o.intermediate ? "IntermediateCertificate" : "TrustedRootCertificate");

  trust
    .command("add <file>")
    .description("trust the certificate(s) in a file (PEM bundle, DER, PKCS#7)")
    .option("--intermediate", "add as known intermediates instead of trusted roots")
    .action(async (file: string, o: { intermediate?: boolean }, cmd: Command) => {
      const call = prepareCmdlet(`Add-${noun(o)}`, { Path: file });
      await withApi(cmd, async (api) => {
        const views = await invokePrepared(api, call);
        print(cmd, views, () => formatTable(views, TABLE));
      });
    });

  trust
    .command("list")
    .description("list trusted roots (or intermediates)")
    .option("--intermediate", "list intermediates")
    .action(async (o: { intermediate?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const views = await runCmdlet(api, `Get-${noun(o)}`, {});
        print(cmd, views, () => formatTable(views, TABLE));
      });
    });

  trust
    .command("update-revocation")
    .description("fetch again, now, the cached CRLs and OCSP answers (all, or one URL's, or one certificate's) and show what each fetch got (Update-RevocationCache)")
    .option("--url <url>", "only what comes from this CRL distribution point or OCSP responder")
    .option("--thumbprint <thumbprint>", "only this certificate's (of this server, trusted, or known to the cache)")
    .option("--path <file>", "only this certificate's: a file (PEM bundle, DER, PKCS#7), the certificate first, its issuing CA may follow")
    .action(async (o: { url?: string; thumbprint?: string; path?: string }, cmd: Command) => {
      const call = prepareCmdlet("Update-RevocationCache", given({ Url: o.url, Certificate: o.thumbprint, Path: o.path }));
      await withApi(cmd, async (api) => {
        const views = await invokePrepared(api, call);
        print(cmd, views, () => formatTable(views, ["Source", "Status", "ThisUpdate", "NextUpdate", "Url", "Error"]) || "The revocation cache is empty: nothing to update.");
      });
    });

  trust
    .command("remove <thumbprint>")
    .description("remove a trusted root (or intermediate)")
    .option("--intermediate", "remove an intermediate")
    .action(async (thumbprint: string, o: { intermediate?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        await runCmdlet(api, `Remove-${noun(o)}`, { Thumbprint: thumbprint }, { confirm: false });
        print(cmd, { Removed: thumbprint.toUpperCase() }, () => `Removed ${thumbprint.toUpperCase()}`);
      });
    });
}
