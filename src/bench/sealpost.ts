// Sealpost under test: a fresh data folder configured through the admin API
// (as an administrator would with the shell), then `sealpost serve` as a
// child process with its workers.
//
// Configuration: the Inet connector on HOST:2525 with DomainSecureEnabled
// and AuthMechanism Tls; the partner's domain in TLSReceiveDomainSecureList,
// so every message passes the full inbound check (chain, revocation from
// cached CRLs, name match); the test root trusted and the partner's issuing
// CA known as an intermediate (a resumed TLS session carries only the
// leaf); contoso.com authoritative with the mailbox sink@contoso.com.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { AdminApi } from "../admin/api.js";
import { LOCAL_DOMAIN, PARTNER_DOMAIN, SERVER_NAME, type BenchPki } from "./pki.js";

export const SINK_MAILBOX = `sink@${LOCAL_DOMAIN}`;
const BIN = fileURLToPath(new URL("../../../bin/sealpost.js", import.meta.url));

export async function configureSealpost(dataDir: string, pki: BenchPki, binding: string): Promise<void> {
  const api = await AdminApi.openWithDefaults(dataDir);
  try {
    await api.setServerName(SERVER_NAME);
    await api.trust.add("root", Buffer.from(pki.root.certPem));
    await api.trust.add("intermediate", Buffer.from(pki.partnerCa.certPem));
    // The bench PKI's CRLs are on loopback, which the outbound fetch policy refuses unless allowed.
    api.transportServer.set({ outboundFetchAllowedRanges: { replace: ["127.0.0.1"] }, outboundFetchAllowedPorts: { replace: [new URL(pki.crlBase).port] } });
    const view = await api.certificates.importCertificate({ data: pki.orgCa.pfx(pki.server, "bench", { withChain: true }), password: "bench" });
    await api.certificates.enableCertificate(view.Thumbprint, "SMTP");
    await api.transport.newAcceptedDomain({ domainName: LOCAL_DOMAIN });
    await api.transport.newMailbox({ primarySmtpAddress: SINK_MAILBOX });
    await api.transport.setConfig({ tlsReceiveDomainSecureList: { replace: [PARTNER_DOMAIN] } });
    await api.connectors.set("Inet", {
      bindings: [binding],
      domainSecureEnabled: true,
      authMechanism: ["Tls"],
      // The idle scenario holds 5,000 sessions from one address; Postfix gets the same (no per-client limit).
      maxInboundConnection: 20_000,
      maxInboundConnectionPerSource: 20_000,
      connectionInactivityTimeout: 300,
      connectionTimeout: 900,
    });
  } finally {
    await api.close();
  }
}

export interface RunningSealpost {
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  workers: number;
  /** "discard" (the benchmark's default, like Postfix's discard transport) or "maildir". */
  sink: "discard" | "maildir";
  env?: Record<string, string>;
  /** e.g. --cpu-prof: they reach the workers too (the cluster forks them with the primary's execArgv). */
  nodeArgs?: string[];
}

export function startSealpost(dataDir: string, o: StartOptions): Promise<RunningSealpost> {
  return new Promise((resolve, reject) => {
    const args = [...(o.nodeArgs ?? []), BIN, "--data", dataDir, "serve", "--admin", "127.0.0.1:0", "--workers", String(o.workers), "--sink", o.sink];
    const child: ChildProcess = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...(o.env ?? {}) },
    });
    let out = "";
    let exited = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`sealpost serve did not start within 60 s:\n${out}`));
    }, 60_000);
    const onOut = (d: Buffer) => {
      out += d.toString();
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
      if (/admin API http:\/\//.test(out)) {
        clearTimeout(timer);
        resolve({
          pid: child.pid as number,
          output: () => out,
          stop: () =>
            new Promise<void>((r) => {
              if (exited) return r();
              const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
              child.once("exit", () => {
                clearTimeout(kill);
                r();
              });
              child.kill("SIGTERM");
            }),
        });
      }
    };
    child.stdout?.on("data", onOut);
    child.stderr?.on("data", onOut);
    child.once("exit", (code, signal) => {
      exited = true;
      clearTimeout(timer);
      reject(new Error(`sealpost serve exited (${signal ?? code}):\n${out}`));
    });
  });
}
