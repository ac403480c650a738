// `sealpost trust ...`: the organization's trusted roots and intermediates,
// and `trust update-revocation` (Update-RevocationCache) for this server.
import { readInputFile } from "../config/files.js";
import type { Command } from "commander";
import { formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";

const TABLE = ["Thumbprint", "Kind", "NotAfter", "Subject"];

export function registerTrustCommands(program: Command): void {
  const trust = program.command("trust").description("the organization's trusted root and intermediate certificates");
  const kindOf = (o: { intermediate?: boolean }) => (o.intermediate ? "intermediate" : "root") as "root" | "intermediate";

  trust
    .command("add <file>")
    .description("trust the certificate(s) in a file (PEM bundle, DER, PKCS#7)")
    .option("--intermediate", "add as known intermediates instead of trusted roots")
    .action(async (file: string, o: { intermediate?: boolean }, cmd: Command) => {
      const data = readInputFile(file);
      await withApi(cmd, async (api) => {
        const views = await api.trust.add(kindOf(o), data);
        print(cmd, views, () => formatTable(views, TABLE));
      });
    });

  trust
    .command("list")
    .description("list trusted roots (or intermediates)")
    .option("--intermediate", "list intermediates")
    .action(async (o: { intermediate?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const views = await api.trust.list(kindOf(o));
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
      const data = o.path !== undefined ? readInputFile(o.path) : undefined;
      await withApi(cmd, async (api) => {
        const views = await api.trust.updateRevocationCache({
          ...(o.url !== undefined ? { url: o.url } : {}),
          ...(o.thumbprint !== undefined ? { thumbprint: o.thumbprint } : {}),
          ...(data !== undefined ? { data } : {}),
        });
        print(cmd, views, () => formatTable(views, ["Source", "Status", "ThisUpdate", "NextUpdate", "Url", "Error"]) || "The revocation cache is empty: nothing to update.");
      });
    });

  trust
    .command("remove <thumbprint>")
    .description("remove a trusted root (or intermediate)")
    .option("--intermediate", "remove an intermediate")
    .action(async (thumbprint: string, o: { intermediate?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        await api.trust.remove(kindOf(o), thumbprint);
        print(cmd, { Removed: thumbprint.toUpperCase() }, () => `Removed ${thumbprint.toUpperCase()}`);
      });
    });
}
