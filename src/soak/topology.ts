// The soak's world on loopback, built from nothing: a test PKI (OpenSSL),
// CRLs over HTTP, a DNS zone server with the MX records, Contoso's
// organization store (embedded PostgreSQL), a sink for non-partner mail, and
// three `sealpost serve` processes configured with management-shell commands
// (the commands are written to setup.log in the soak's folder):
//   mail1.contoso.com       NET.1.1   edge of Contoso's store (serve --org)
//   mail2.mail.contoso.com  NET.1.2   edge of Contoso's store (serve --org)
//   mail.woodgrovebank.com  NET.2.1   Woodgrove's edge, its own data folder
// Inet connectors on :2525 (Domain Security, Verbose protocol logs), Internal
// connectors on :2587 for submission, send connectors to port 2525.
import fs from "node:fs";
import http from "node:http";
import type { Socket } from "node:net";
import path from "node:path";
import { AdminApi } from "../admin/api.js";
import { ZoneServer } from "../dns/zone-server.js";
import { migratePg, PgOrgStore } from "../org/pg/pg-org-store.js";
import { allCmdlets } from "../shell/cmdlets/index.js";
import { Shell } from "../shell/shell.js";
import { SoakPg } from "./pg.js";
import { selfSignedLeaf, SoakCa, type Leaf } from "./pki.js";
import { ServeProcess } from "./servers.js";
import { SinkServer } from "./sink.js";

export const PORT = 2525;
export const SUBMIT = 2587;
export const SERVER_NAMES = { mail1: "mail1.contoso.com", mail2: "mail2.mail.contoso.com", woodgrove: "mail.woodgrovebank.com" } as const;
export type ServerKey = keyof typeof SERVER_NAMES;
export const CONTOSO_EDGES: ServerKey[] = ["mail1", "mail2"];
export const ALL_SERVERS: ServerKey[] = ["mail1", "mail2", "woodgrove"];

export interface Addresses {
  mail1: string;
  mail2: string;
  woodgrove: string;
  sink: string;
  /** Nothing listens here: where Woodgrove's MX points while it is "down". */
  dead: string;
  dns: string;
  crl: string;
  /** Source addresses of the soak's own clients, by role. */
  client: { partner: string; bad: string; plain: string; other: string; hostile: string; submit: string };
}

export function addressesFor(net: string): Addresses {
  return {
    mail1: `${net}.1.1`,
    mail2: `${net}.1.2`,
    woodgrove: `${net}.2.1`,
    sink: `${net}.2.20`,
    dead: `${net}.2.250`,
    dns: `${net}.9.53`,
    crl: `${net}.9.80`,
    client: { partner: `${net}.3.1`, bad: `${net}.3.2`, plain: `${net}.3.3`, other: `${net}.3.4`, hostile: `${net}.3.66`, submit: `${net}.3.10` },
  };
}

/** The CRL distribution point: an HTTP server that can go away and come back on the same port. */
export class CrlServer {
  fetches = 0;
  private server: http.Server | undefined;
  private sockets = new Set<Socket>();
  port = 0;

  constructor(
    readonly host: string,
    private readonly crls: Map<string, Buffer>,
  ) {}

  get base(): string {
    return `http://${this.host}:${this.port}`;
  }

  get up(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = http.createServer((req, res) => {
      const der = this.crls.get((req.url ?? "").replace(/\?.*$/, "").replace(/^\//, ""));
      if (!der) return void res.writeHead(404).end();
      this.fetches++;
      res.writeHead(200, { "content-type": "application/pkix-crl" }).end(der);
    });
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    for (const c of this.sockets) c.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

export interface SoakPki {
  root: SoakCa;
  contosoCa: SoakCa;
  woodgroveCa: SoakCa;
  mail1: Leaf;
  mail2: Leaf;
  woodgrove: Leaf;
  /** Bad certificates presented with sender addresses at woodgrovebank.com. */
  bad: { "wrong-name": Leaf; expired: Leaf; revoked: Leaf; "self-signed": Leaf; untrusted: Leaf };
  sink: Leaf;
}

export interface Topology {
  root: string;
  net: string;
  addr: Addresses;
  pki: SoakPki;
  crl: CrlServer;
  dns: ZoneServer;
  pg: SoakPg;
  orgUrl: string;
  sink: SinkServer;
  servers: Record<ServerKey, ServeProcess>;
  dirs: Record<ServerKey, string>;
  close(): Promise<void>;
}

const DAY = 86_400_000;

function shellFor(api: AdminApi, cwd: string): Shell {
  return new Shell({ api, cwd, env: { ...process.env, SOAK_PFX: "soak-pfx-password" }, readSecret: async () => "soak-pfx-password", readLine: async () => "" }, allCmdlets());
}

export async function buildTopology(o: { root: string; net: string; workers: number; say: (s: string) => void }): Promise<Topology> {
  const { root, net, say } = o;
  const addr = addressesFor(net);
  const setupLog = fs.createWriteStream(path.join(root, "setup.log"), { flags: "a" });
  const certs = path.join(root, "certificates");
  fs.mkdirSync(certs, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // --- PKI and CRLs
    const crls = new Map<string, Buffer>();
    const crl = new CrlServer(addr.crl, crls);
    await crl.start();
    cleanups.push(() => crl.stop());
    const rootCa = SoakCa.createRoot(path.join(root, "ca"), "O=Soak Trust,CN=Soak Root CA");
    const contosoCa = rootCa.createIntermediate("O=Contoso,CN=Contoso Issuing CA", `${crl.base}/root.crl`);
    const woodgroveCa = rootCa.createIntermediate("O=Woodgrove Bank,CN=Woodgrove Issuing CA", `${crl.base}/root.crl`);
    const cUrl = `${crl.base}/contoso.crl`;
    const wUrl = `${crl.base}/woodgrove.crl`;
    const pki: SoakPki = {
      root: rootCa,
      contosoCa,
      woodgroveCa,
      mail1: contosoCa.issueLeaf({ subject: "CN=mail1.contoso.com", dnsNames: ["mail1.contoso.com", "mail.contoso.com"], crlUrl: cUrl }),
      mail2: contosoCa.issueLeaf({ subject: "CN=mail2.mail.contoso.com", dnsNames: ["mail2.mail.contoso.com", "mail.contoso.com"], crlUrl: cUrl }),
      woodgrove: woodgroveCa.issueLeaf({ subject: "O=Woodgrove Bank,CN=mail.woodgrovebank.com", dnsNames: ["mail.woodgrovebank.com", "woodgrovebank.com"], crlUrl: wUrl }),
      bad: {
        "wrong-name": woodgroveCa.issueLeaf({ subject: "CN=mail.fabrikam.com", dnsNames: ["mail.fabrikam.com", "fabrikam.com"], crlUrl: wUrl }),
        expired: woodgroveCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["mail.woodgrovebank.com", "woodgrovebank.com"], crlUrl: wUrl, notBefore: new Date(Date.now() - 60 * DAY), notAfter: new Date(Date.now() - 2 * DAY) }),
        revoked: woodgroveCa.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["mail.woodgrovebank.com", "woodgrovebank.com"], crlUrl: wUrl }),
        "self-signed": selfSignedLeaf(path.join(root, "ca", "self-signed"), "CN=woodgrovebank.com", ["woodgrovebank.com", "mail.woodgrovebank.com"]),
        untrusted: (() => {
          const evil = SoakCa.createRoot(path.join(root, "ca-untrusted"), "O=Elsewhere Trust,CN=Elsewhere Root CA");
          const l = evil.issueLeaf({ subject: "CN=mail.woodgrovebank.com", dnsNames: ["mail.woodgrovebank.com", "woodgrovebank.com"], crlUrl: `${crl.base}/none.crl` });
          return l;
        })(),
      },
      sink: selfSignedLeaf(path.join(root, "ca", "sink"), "CN=mx.sink.example", ["mx.sink.example"]),
    };
    woodgroveCa.revoke(pki.bad.revoked);
    crls.set("root.crl", rootCa.crlDer());
    crls.set("contoso.crl", contosoCa.crlDer());
    crls.set("woodgrove.crl", woodgroveCa.crlDer());
    fs.writeFileSync(path.join(certs, "root.cer"), rootCa.certPem);
    fs.writeFileSync(path.join(certs, "contoso-ca.cer"), contosoCa.certPem);
    fs.writeFileSync(path.join(certs, "woodgrove-ca.cer"), woodgroveCa.certPem);
    say(`PKI: root "CN=Soak Root CA", issuing CAs for Contoso and Woodgrove, bad certificates (wrong name, expired, revoked, self-signed, untrusted); CRLs at ${crl.base}`);

    // --- DNS
    const dns = await ZoneServer.start({ host: addr.dns, port: 0 });
    cleanups.push(() => dns.close());
    dns.set("woodgrovebank.com", "MX", [{ preference: 10, exchange: "mail.woodgrovebank.com" }]);
    dns.set("mail.woodgrovebank.com", "A", [addr.woodgrove]);
    dns.set("mail.contoso.com", "MX", [
      { preference: 10, exchange: "mail1.contoso.com" },
      { preference: 10, exchange: "mail2.mail.contoso.com" },
    ]);
    dns.set("mail1.contoso.com", "A", [addr.mail1]);
    dns.set("mail2.mail.contoso.com", "A", [addr.mail2]);
    dns.set("sink.example", "MX", [{ preference: 10, exchange: "mx.sink.example" }]);
    dns.set("mx.sink.example", "A", [addr.sink]);
    say(`DNS on ${dns.address}: MX woodgrovebank.com → ${addr.woodgrove}; MX mail.contoso.com → ${addr.mail1}, ${addr.mail2}; MX sink.example → ${addr.sink}`);

    // --- the sink
    const sink = await SinkServer.start({ host: addr.sink, port: PORT, key: pki.sink.keyPem, cert: pki.sink.certPem, folder: path.join(root, "sink") });
    cleanups.push(() => sink.close());

    // --- the organization store
    const pgServer = await SoakPg.create();
    cleanups.push(() => pgServer.remove());
    const orgUrl = await pgServer.createDatabase("contoso_org");
    await migratePg(orgUrl);
    say(`Contoso's organization store: PostgreSQL (embedded) on 127.0.0.1:${pgServer.port}`);

    // --- configuration
    const dirs: Record<ServerKey, string> = {
      mail1: path.join(root, SERVER_NAMES.mail1),
      mail2: path.join(root, SERVER_NAMES.mail2),
      woodgrove: path.join(root, SERVER_NAMES.woodgrove),
    };
    const org = await PgOrgStore.open(orgUrl);
    const org2 = await PgOrgStore.open(orgUrl);
    const apis: Record<ServerKey, AdminApi> = {
      mail1: AdminApi.open(dirs.mail1, { org }),
      mail2: AdminApi.open(dirs.mail2, { org: org2 }),
      woodgrove: await AdminApi.openWithDefaults(dirs.woodgrove),
    };
    try {
      const sh = { mail1: shellFor(apis.mail1, certs), mail2: shellFor(apis.mail2, certs), woodgrove: shellFor(apis.woodgrove, certs) };
      const run = async (k: ServerKey, line: string) => {
        setupLog.write(`[${k}] PS> ${line}\n`);
        apis[k].ctx.org.setAuditContext({ admin: `soak (${k})`, command: line });
        const text = await sh[k].runLine(line);
        if (text.trim() !== "") setupLog.write(text.replace(/^/gm, "    ") + "\n");
      };
      for (const k of ALL_SERVERS) {
        await apis[k].setServerName(SERVER_NAMES[k]);
        const leaf = pki[k];
        const ca = k === "woodgrove" ? woodgroveCa : contosoCa;
        fs.writeFileSync(path.join(certs, `${k}.pfx`), ca.pfx(leaf, "soak-pfx-password"));
        await run(k, `Import-ExchangeCertificate -Path ${k}.pfx -Password $env:SOAK_PFX | Enable-ExchangeCertificate -Services SMTP`);
      }
      // Contoso, organization-wide (once, in the store).
      for (const line of [
        "Add-TrustedRootCertificate -Path root.cer",
        "Add-IntermediateCertificate -Path contoso-ca.cer",
        "Add-IntermediateCertificate -Path woodgrove-ca.cer",
        "Set-TransportConfig -UseSystemTrustStore $false",
        "New-AcceptedDomain -Name Contoso -DomainName contoso.com",
        "New-AcceptedDomain -Name MailContoso -DomainName mail.contoso.com",
        "New-Mailbox -PrimarySmtpAddress alice@mail.contoso.com",
        `New-ReceiveConnector "mail1.contoso.com\\Internal" -Usage Internal -Bindings ${addr.mail1}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
        `New-ReceiveConnector "mail2.mail.contoso.com\\Internal" -Usage Internal -Bindings ${addr.mail2}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
        `Set-SendConnector Internet -Fqdn mail.contoso.com -Port ${PORT} -DomainSecureEnabled:$True -ProtocolLoggingLevel Verbose`,
        "Set-TransportConfig -TLSSendDomainSecureList woodgrovebank.com -TLSReceiveDomainSecureList woodgrovebank.com",
      ]) {
        await run("mail1", line);
      }
      for (const k of CONTOSO_EDGES) {
        await run(k, `New-ReceiveConnector Inet -Bindings ${addr[k]}:${PORT} -DomainSecureEnabled:$True -AuthMechanism TLS -ProtocolLoggingLevel Verbose`);
      }
      // Woodgrove: its own organization in its data folder.
      for (const line of [
        "Add-TrustedRootCertificate -Path root.cer",
        "Add-IntermediateCertificate -Path contoso-ca.cer",
        "Add-IntermediateCertificate -Path woodgrove-ca.cer",
        "Set-TransportConfig -UseSystemTrustStore $false",
        "New-AcceptedDomain -Name Woodgrove -DomainName woodgrovebank.com",
        "New-Mailbox -PrimarySmtpAddress bob@woodgrovebank.com",
        `Set-ReceiveConnector Inet -Bindings ${addr.woodgrove}:${PORT} -DomainSecureEnabled:$True -AuthMechanism TLS -ProtocolLoggingLevel Verbose`,
        `New-ReceiveConnector Internal -Usage Internal -Bindings ${addr.woodgrove}:${SUBMIT} -RemoteIPRanges 127.0.0.0/8`,
        `Set-SendConnector Internet -Port ${PORT} -DomainSecureEnabled:$True -ProtocolLoggingLevel Verbose`,
        "Set-TransportConfig -TLSSendDomainSecureList mail.contoso.com -TLSReceiveDomainSecureList mail.contoso.com",
      ]) {
        await run("woodgrove", line);
      }
      // Each server's own transport settings: DNS, short retries (so a soak drains in minutes), CRL fetches from loopback.
      for (const k of ALL_SERVERS) {
        await run(
          k,
          `Set-TransportServer -ExternalDNSServers ${dns.address} -TransientFailureRetryInterval 00:00:05 -OutboundConnectionFailureRetryInterval 00:00:10 -MessageRetryInterval 00:00:05`,
        );
        // CRLs are on loopback: the fetch policy refuses that unless these settings name it.
        try {
          await run(k, `Set-TransportServer -OutboundFetchAllowedRanges 127.0.0.0/8 -OutboundFetchAllowedPorts ${crl.port}`);
        } catch (e) {
          say(`warning: ${SERVER_NAMES[k]}: Set-TransportServer -OutboundFetchAllowedRanges refused (${(e as Error).message}); CRL fetches may fail`);
        }
      }
    } finally {
      for (const a of Object.values(apis)) await a.close().catch(() => undefined);
      await new Promise<void>((r) => setupLog.end(() => r()));
    }

    say("configuration made with management-shell commands (setup.log)");
    // --- the servers
    const logs = path.join(root, "serve-logs");
    const servers: Record<ServerKey, ServeProcess> = {
      mail1: new ServeProcess({ label: "mail1", dataDir: dirs.mail1, workers: o.workers, env: { SEALPOST_ORG: orgUrl }, logFile: path.join(logs, "mail1.log") }),
      mail2: new ServeProcess({ label: "mail2", dataDir: dirs.mail2, workers: o.workers, env: { SEALPOST_ORG: orgUrl }, logFile: path.join(logs, "mail2.log") }),
      woodgrove: new ServeProcess({ label: "woodgrove", dataDir: dirs.woodgrove, workers: o.workers, logFile: path.join(logs, "woodgrove.log") }),
    };
    cleanups.push(async () => {
      await Promise.all(Object.values(servers).map((s) => s.stop()));
      for (const s of Object.values(servers)) await s.closeLog();
    });
    await Promise.all(Object.values(servers).map((s) => s.start()));
    say(`servers: mail1.contoso.com ${addr.mail1}, mail2.mail.contoso.com ${addr.mail2} (edges of Contoso's store), mail.woodgrovebank.com ${addr.woodgrove}; ${o.workers} workers each`);
    return {
      root,
      net,
      addr,
      pki,
      crl,
      dns,
      pg: pgServer,
      orgUrl,
      sink,
      servers,
      dirs,
      async close() {
        for (const c of cleanups.reverse()) await c().catch(() => undefined);
      },
    };
  } catch (e) {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    throw e;
  }
}
