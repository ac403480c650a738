// The SMTP protocol log in Exchange 2007's CSV format, so the tools and
// habits built around Exchange's logs keep working: one folder per direction
// (the caller passes DIR/logs/protocol/SmtpReceive or .../SmtpSend, see
// protocolLogDir), files RECVyyyymmdd-n.log / SENDyyyymmdd-n.log, a W3C-style
// header, one CSV row (RFC 4180 quoting, CRLF line ends) per event.
// Rotation, retention and the per-process file numbering are RotatingFile's.
import { dataFolder } from "../config/datadir.js";
import { RotatingFile } from "./rotating-file.js";

export type ProtocolLogKind = "receive" | "send";
export type ProtocolEvent = "+" | "-" | ">" | "<" | "*";

export interface ProtocolLogRow {
  connector: string;
  sessionId: string;
  sequence: number;
  /** "ip:port" */
  local: string;
  remote: string;
  event: ProtocolEvent;
  data: string;
  context?: string;
}

export const PROTOCOL_LOG_FIELDS = "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context";

/** The folder of one direction's protocol log inside a data folder. */
export function protocolLogDir(dataDir: string, kind: ProtocolLogKind): string {
  return dataFolder(dataDir).protocolLogDir(kind);
}

/** RFC 4180: a field holding a comma, quote, CR or LF is quoted, its quotes doubled. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export class ProtocolLog {
  private readonly file: RotatingFile;

  constructor(opts: { dir: string; kind: ProtocolLogKind; maxFileBytes?: number; maxAgeDays?: number; maxTotalBytes?: number; now?: () => Date; onError?: (e: Error) => void }) {
    const logType = opts.kind === "receive" ? "SMTP Receive Protocol Log" : "SMTP Send Protocol Log";
    this.file = new RotatingFile({
      dir: opts.dir,
      prefix: opts.kind === "receive" ? "RECV" : "SEND",
      header: (created) =>
        [`#Software: Sealpost`, `#Version: 1.0`, `#Log-type: ${logType}`, `#Date: ${created.toISOString()}`, `#Fields: ${PROTOCOL_LOG_FIELDS}`, ""].join("\r\n"),
      ...(opts.maxFileBytes !== undefined ? { maxFileBytes: opts.maxFileBytes } : {}),
      ...(opts.maxAgeDays !== undefined ? { maxAgeDays: opts.maxAgeDays } : {}),
      ...(opts.maxTotalBytes !== undefined ? { maxTotalBytes: opts.maxTotalBytes } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
  }

  /** Buffered and non-blocking: written within 200 ms, or at flush()/close(). */
  write(row: ProtocolLogRow): void {
    const at = this.file.time();
    const fields = [
      at.toISOString(),
      csvField(row.connector),
      csvField(row.sessionId),
      String(row.sequence),
      csvField(row.local),
      csvField(row.remote),
      row.event,
      csvField(row.data),
      csvField(row.context ?? ""),
    ];
    this.file.write(`${fields.join(",")}\r\n`, at);
  }

  flush(): Promise<void> {
    return this.file.flush();
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

export interface CertificateFacts {
  subject: string;
  issuer: string;
  serialNumber: string;
  thumbprint: string;
  names: string[];
}

/**
 * The "*" rows Exchange writes after a TLS handshake: a label row (empty
 * data, context "Sending certificate" / "Received certificate"), then one
 * row per fact with the value in data and its name in context.
 */
export function certificateLogLines(label: "Sending certificate" | "Received certificate", cert: CertificateFacts): Array<{ data: string; context?: string }> {
  return [
    { data: "", context: label },
    { data: cert.subject, context: "Certificate subject" },
    { data: cert.issuer, context: "Certificate issuer name" },
    { data: cert.serialNumber, context: "Certificate serial number" },
    { data: cert.thumbprint, context: "Certificate thumbprint" },
    { data: cert.names.join(";"), context: "Certificate alternate names" },
  ];
}
