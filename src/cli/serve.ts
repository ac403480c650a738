// `sealpost serve`: runs this edge server. This release prepares the data
// folder, makes a self-signed certificate at first start (so TLS works out of
// the box), and serves the admin HTTP endpoint on loopback with a token.
// SMTP receive and send connectors are added by the next releases.
import type { Command } from "commander";
import { AdminApi } from "../admin/api.js";
import { startAdminHttp, parseLoopbackAddress } from "../admin/http.js";
import { resolveDataDir } from "../config/datadir.js";
import type { GlobalOptions } from "./main.js";

const REFRESH_INTERVAL_MS = 60_000;

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run this edge server (admin API on loopback; default 127.0.0.1:8025)")
    .option("--admin <ip:port>", "admin HTTP endpoint (loopback only)", "127.0.0.1:8025")
    .action(async (o: { admin: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const bind = parseLoopbackAddress(o.admin);
      const api = await AdminApi.openWithDefaults(resolveDataDir(g.data));
      const first = await ensureDefaultCertificate(api);
      if (first) process.stdout.write(`Created a self-signed certificate ${first} for ${api.serverName} (enabled for SMTP).\n`);
      const http = await startAdminHttp(api, bind);
      if (http.newToken) {
        process.stdout.write(`Admin API token (shown once, stored in ${http.tokenFile} with mode 0600):\n${http.newToken}\n`);
      }
      process.stdout.write(`Sealpost ${api.serverName}: data ${api.ctx.dir.root}, admin API http://${http.address}\n`);
      // Refresh CRLs and OCSP answers before they expire, so no session waits for one.
      const refresher = setInterval(() => void api.ctx.revocation.refreshDue(), REFRESH_INTERVAL_MS);
      refresher.unref();
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
      clearInterval(refresher);
      await http.close();
      await api.close();
    });
}

/** Makes a self-signed SMTP certificate for the server's name when none would be chosen. */
export async function ensureDefaultCertificate(api: AdminApi): Promise<string | undefined> {
  if (api.ctx.certs.certificateFor(api.serverName, api.ctx.now())) return undefined;
  const r = await api.certificates.newCertificate({ generateRequest: false, keySize: "P-256", services: ["SMTP"] });
  return r.certificate.Thumbprint;
}
