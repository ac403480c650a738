// `sealpost serve`: runs this edge server — the receive connectors (in
// worker processes, one per core by default), the admin HTTP endpoint on
// loopback with a token, spool recovery at start, and a self-signed
// certificate at first start so STARTTLS works out of the box. A binding
// that cannot be had stops it at start with BINDING_UNAVAILABLE (exit 1);
// SIGTERM / SIGINT stop it within --shutdown-timeout in every state.
import type { Command } from "commander";
import { AdminApi } from "../admin/api.js";
import { adminBinding, parseAdminAddress } from "../adminapi/binding.js";
import { fleetIdentityStore, type FleetIdentityStore } from "../adminapi/fleet-identity.js";
import { normalizeThumbprint } from "../certstore/certstore.js";
import { certToPem } from "../pki/certs.js";
import { resolveDataDir } from "../config/datadir.js";
import { SealpostError } from "../errors/errors.js";
import { defaultWorkers, isWorker, Primary, runWorker } from "../server/cluster.js";
import { version, type GlobalOptions } from "./common.js";
import { resolveOrgUrl } from "./org.js";
import { redactUrl } from "../org/pg/pg-org-store.js";
import { EdgeSync } from "../sync/edge-sync.js";
import { createLogger, resolveLogFormat, resolveLogLevel } from "../log/logger.js";

const REFRESH_INTERVAL_MS = 60_000;

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run this edge server (SMTP receive connectors; admin API on loopback, default 127.0.0.1:8025)")
    .option("--admin <ip:port>", "admin endpoint: plain HTTP on loopback; any other address only with --admin-cert (HTTPS)", "127.0.0.1:8025")
    .option("--admin-cert <thumbprint|smtp>", "serve the admin endpoint over HTTPS with this certificate of the store (or smtp: the SMTP certificate)")
    .option("--admin-host <name...>", "names the admin endpoint's Host header may carry besides its address (DNS rebinding protection)")
    .option("--workers <n>", "worker processes for the receive path (0: one process)", String(defaultWorkers()))
    .option("--sink <maildir|discard>", "local deliveries: the Maildir, or discard them after the durable spool (benchmarks, like Postfix's discard transport)", "maildir")
    .option("--log-format <json|text>", "application log on stdout: JSON lines, or text for a person (default: text on a terminal, else JSON; or SEALPOST_LOG_FORMAT)")
    .option("--shutdown-timeout <seconds>", "the longest a stop (SIGTERM, SIGINT) takes: sessions get until shortly before it to finish, then workers are killed", "30")
    .action(async (o: { admin: string; adminCert?: string; adminHost?: string[]; workers: string; sink: string; logFormat?: string; shutdownTimeout: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const dataDir = resolveDataDir(g.data);
      const logger = createLogger({ format: resolveLogFormat(o.logFormat), level: resolveLogLevel() });
      if (isWorker()) {
        await runWorker(dataDir, logger);
        await new Promise<never>(() => undefined);
      }
      const bind = parseAdminAddress(o.admin);
      if ("refused" in bind) throw new SealpostError("INVALID_ARGUMENT", `--admin: ${bind.reason}`);
      const decision = adminBinding(bind, { certificate: o.adminCert !== undefined });
      if ("refused" in decision) throw new SealpostError("ADMIN_HTTPS_REQUIRED", decision.reason);
      for (const n of o.adminHost ?? []) {
        if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/i.test(n)) throw new SealpostError("INVALID_ARGUMENT", `--admin-host '${n.slice(0, 100)}' is not a host name.`);
      }
      const workers = Number(o.workers);
      if (!Number.isInteger(workers) || workers < 0 || workers > 64) {
        throw new SealpostError("INVALID_ARGUMENT", `--workers '${o.workers}' is not valid: give 0 to 64.`);
      }
      if (o.sink !== "maildir" && o.sink !== "discard") {
        throw new SealpostError("INVALID_ARGUMENT", `--sink '${o.sink}' is not valid: give maildir or discard.`);
      }
      const shutdownSeconds = Number(o.shutdownTimeout);
      if (!Number.isFinite(shutdownSeconds) || shutdownSeconds < 1 || shutdownSeconds > 3600) {
        throw new SealpostError("INVALID_ARGUMENT", `--shutdown-timeout '${o.shutdownTimeout}' is not valid: give 1 to 3600 seconds.`);
      }
      const shutdownTimeoutMs = Math.round(shutdownSeconds * 1000);
      // Signals are handled before anything starts, and in every state after:
      // the first SIGTERM or SIGINT stops the server within the shutdown
      // timeout (whatever its workers are doing), a second one at once.
      let primary: Primary | undefined;
      let deadline: NodeJS.Timeout | undefined;
      const forceExit = (why: string): void => {
        primary?.killWorkers();
        logger.error(why);
        process.exit(1);
      };
      const armDeadline = (): void => {
        deadline ??= setTimeout(() => forceExit(`shutdown: not finished within ${shutdownSeconds} s; workers killed, exiting`), shutdownTimeoutMs);
        deadline.unref();
      };
      let signalled: NodeJS.Signals | undefined;
      let onStopSignal!: () => void;
      const stopSignal = new Promise<void>((resolve) => (onStopSignal = resolve));
      const onSignal = (sig: NodeJS.Signals): void => {
        if (signalled) return forceExit(`${sig} during the shutdown: stopping at once`);
        signalled = sig;
        logger.info(`${sig}: stopping (at most ${shutdownSeconds} s)`, { signal: sig });
        armDeadline();
        onStopSignal();
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
      const orgUrl = resolveOrgUrl(g);
      const api = await AdminApi.openWithDefaults(dataDir);
      let sync: EdgeSync | undefined;
      let identityStore: FleetIdentityStore | undefined;
      if (orgUrl) {
        // An edge of an organization: its configuration comes from the store (first copy before serving).
        sync = new EdgeSync({ url: orgUrl, ctx: api.ctx, softwareVersion: version(), log: logger.line });
        await sync.start();
        // Its administrators' accounts, tokens and audit records are the organization's (one account for every edge).
        identityStore = fleetIdentityStore(orgUrl);
        api.identity.useStore(identityStore);
        const st = sync.status();
        const org = { org_store: redactUrl(orgUrl), config_version: st.appliedVersion };
        const msg = `edge of the organization ${redactUrl(orgUrl)}: configuration version ${st.appliedVersion}`;
        if (st.reachable) logger.info(`${msg}${st.listening ? " (listening for changes)" : " (polling for changes)"}`, org);
        else logger.warn(`${msg} (store unreachable: serving the last copy)`, org);
        if ((await api.ctx.org.listReceiveConnectors(api.serverName)).length === 0) {
          logger.warn(`warning: the organization has no receive connector for ${api.serverName}; create one with: sealpost --org <url> shell -c 'New-ReceiveConnector "${api.serverName}\\Inet" -Bindings IP:25'`);
        }
      }
      const first = await ensureDefaultCertificate(api);
      if (first) logger.info(`Created a self-signed certificate ${first} for ${api.serverName} (enabled for SMTP).`, { thumbprint: first });
      let failure: unknown;
      let refresher: NodeJS.Timeout | undefined;
      if (!signalled) {
        const adminTls = o.adminCert !== undefined ? adminCredentials(api, o.adminCert) : undefined;
        primary = new Primary(api, { dataDir, admin: bind, ...(adminTls ? { adminTls } : {}), ...(o.adminHost ? { adminHosts: o.adminHost } : {}), workers, ...(o.sink === "discard" ? { sink: "discard" as const } : {}), logger, shutdownTimeoutMs });
        const started = primary.start();
        const outcome = await Promise.race([started.then(() => "started" as const), stopSignal.then(() => "signal" as const)]).catch((e: unknown) => {
          failure = e;
          return "failed" as const;
        });
        started.catch(() => undefined); // settled by stop() when a signal came first
        if (outcome === "started") {
          // Refresh CRLs and OCSP answers before they expire, so no session waits for one.
          refresher = setInterval(() => void api.ctx.revocation.refreshDue(), REFRESH_INTERVAL_MS);
          refresher.unref();
          await stopSignal;
        }
      }
      // A failed start (a binding in use, ...) stops everything it started, within the same timeout.
      armDeadline();
      if (refresher) clearInterval(refresher);
      await sync?.stop();
      await primary?.stop();
      await identityStore?.close();
      await api.close();
      // The deadline stays armed (unref'd): should anything still hold the process, it ends at the timeout.
      if (failure !== undefined) throw failure;
    });
}

/** Makes a self-signed SMTP certificate for the server's name when none would be chosen. */
export async function ensureDefaultCertificate(api: AdminApi): Promise<string | undefined> {
  if (api.ctx.certs.certificateFor(api.serverName, api.ctx.now())) return undefined;
  const r = await api.certificates.newCertificate({ generateRequest: false, keySize: "P-256", services: ["SMTP"] });
  return r.certificate.Thumbprint;
}

/** The admin endpoint's HTTPS key and chain: a certificate of this server's store by thumbprint, or the SMTP certificate. */
export function adminCredentials(api: AdminApi, which: string): { key: string; cert: string } {
  if (/^smtp$/i.test(which)) {
    const c = api.ctx.certs.tlsCredentialsFor(api.serverName, api.ctx.now());
    if (!c) throw new SealpostError("NOT_FOUND", "--admin-cert smtp: this server has no certificate enabled for SMTP.");
    return { key: c.key, cert: c.cert };
  }
  const c = api.ctx.certs.require(normalizeThumbprint(which));
  if (!c.hasPrivateKey) throw new SealpostError("NO_PRIVATE_KEY", `--admin-cert: the certificate ${c.thumbprint} has no private key on this server.`);
  return { key: api.ctx.certs.readPrivateKey(c.thumbprint), cert: [c.der, ...c.chain].map(certToPem).join("") };
}
