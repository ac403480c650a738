// The benchmark's test PKI, made with the OpenSSL command line (the same
// helper the integration tests use, so Sealpost is never its own CA): one
// ECDSA P-256 root, an issuing CA for the receiving organization and one for
// the sending partner, a server certificate both servers present, the
// partner's client certificate, and CRLs served over loopback HTTP so that
// Sealpost's revocation check runs (from its cache after the first fetch).
// The relay scenario (relay.ts) adds Contoso's edge certificate (mail.contoso.com
// and contoso.com: its FQDN and its domain, presented when it sends to
// Woodgrove) and uses the partner's certificate as Woodgrove's server
// certificate (it names woodgrovebank.com and mail.woodgrovebank.com, for
// both server and client authentication).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { OpenSslCa, type IssuedCert } from "../devtools/openssl-ca.js";

export const PARTNER_DOMAIN = "woodgrovebank.com";
export const LOCAL_DOMAIN = "contoso.com";
export const SERVER_NAME = "mail.contoso.com";
export const CLIENT_NAME = "mail.woodgrovebank.com";

export interface BenchPki {
  root: OpenSslCa;
  orgCa: OpenSslCa;
  partnerCa: OpenSslCa;
  server: IssuedCert;
  client: IssuedCert;
  /** Contoso's edge certificate (mail.contoso.com, contoso.com), for the relay scenario. */
  contosoEdge: IssuedCert;
  /** Leaf + issuing CA, PEM: Contoso's edge certificate as its servers send it. */
  contosoEdgeChainPem: string;
  /** Leaf + issuing CA, PEM: what the client sends. */
  clientChainPem: string;
  /** Leaf + issuing CA, PEM: what both servers send. */
  serverChainPem: string;
  crlBase: string;
  /** CRL requests answered so far (Sealpost should fetch each CRL about once). */
  crlFetches(): number;
  close(): Promise<void>;
}

export async function createPki(): Promise<BenchPki> {
  let fetches = 0;
  const cas: Record<string, OpenSslCa> = {};
  const crls = new Map<string, Buffer>();
  const srv = http.createServer((req, res) => {
    const name = (req.url ?? "").replace(/\?.*$/, "").replace(/^\//, "");
    const ca = cas[name];
    if (!ca) return void res.writeHead(404).end();
    fetches++;
    // Generated once per CA: the CRL stays the same for the whole run (7 days of validity).
    let der = crls.get(name);
    if (!der) crls.set(name, (der = ca.crl({ der: true })));
    res.writeHead(200, { "content-type": "application/pkix-crl" }).end(der);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const crlBase = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const root = await OpenSslCa.createRoot({ name: "O=Bench Trust,CN=Bench Root CA", keyType: "ec-p256" });
  cas["root.crl"] = root;
  const orgCa = await root.createIntermediate({ name: "O=Contoso,CN=Contoso Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
  const partnerCa = await root.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256", crlUrl: `${crlBase}/root.crl` });
  cas["contoso.crl"] = orgCa;
  cas["woodgrove.crl"] = partnerCa;
  const server = orgCa.issueLeaf({ subject: `CN=${SERVER_NAME}`, dnsNames: [SERVER_NAME], crlUrl: `${crlBase}/contoso.crl`, keyType: "ec-p256" });
  const client = partnerCa.issueLeaf({
    subject: `CN=${CLIENT_NAME}`,
    dnsNames: [PARTNER_DOMAIN, CLIENT_NAME],
    crlUrl: `${crlBase}/woodgrove.crl`,
    keyType: "ec-p256",
  });
  const contosoEdge = orgCa.issueLeaf({
    subject: `CN=${SERVER_NAME}`,
    dnsNames: [SERVER_NAME, LOCAL_DOMAIN],
    crlUrl: `${crlBase}/contoso.crl`,
    keyType: "ec-p256",
  });
  return {
    root,
    orgCa,
    partnerCa,
    server,
    client,
    contosoEdge,
    contosoEdgeChainPem: contosoEdge.certPem.trim() + "\n" + orgCa.certPem.trim() + "\n",
    clientChainPem: client.certPem.trim() + "\n" + partnerCa.certPem.trim() + "\n",
    serverChainPem: server.certPem.trim() + "\n" + orgCa.certPem.trim() + "\n",
    crlBase,
    crlFetches: () => fetches,
    async close() {
      await new Promise<void>((r) => srv.close(() => r()));
      root.cleanup();
    },
  };
}
