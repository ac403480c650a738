// The message tracking log: one JSON object a line in
// DIR/logs/tracking/MSGTRKyyyymmdd-n.log (see trackingLogDir), with the same
// daily/size rotation, retention and per-process file numbering as the
// protocol log (RotatingFile). JSON.stringify escapes CR/LF, so an event is
// always exactly one line whatever an address or a subject contains.
import { dataFolder } from "../config/datadir.js";
import { RotatingFile } from "./rotating-file.js";

export type TrackingEventId = "RECEIVE" | "DELIVER" | "FAIL" | "DEFER" | "SEND" | "DSN" | "DROP";

export interface TrackingEvent {
  /** ISO 8601; the writer's clock when omitted. */
  timestamp?: string;
  eventId: TrackingEventId;
  /** The Message-ID header ("" when none). */
  messageId: string;
  /** The spool id. */
  internalId: string;
  sender: string;
  recipients: string[];
  connector: string;
  sessionId: string;
  serverHostname: string;
  clientIp: string;
  tls?: { protocol: string; cipher: string; certSubject?: string; certIssuer?: string; certThumbprint?: string };
  domainSecure?: { verdict: string; partner?: string; reason?: string };
  detail?: string;
}

/** The tracking log folder inside a data folder. */
export function trackingLogDir(dataDir: string): string {
  return dataFolder(dataDir).trackingLogDir;
}

export class MessageTracking {
  private readonly file: RotatingFile;

  constructor(opts: { dir: string; now?: () => Date; maxFileBytes?: number; maxAgeDays?: number; maxTotalBytes?: number; onError?: (e: Error) => void }) {
    this.file = new RotatingFile({
      dir: opts.dir,
      prefix: "MSGTRK",
      ...(opts.maxFileBytes !== undefined ? { maxFileBytes: opts.maxFileBytes } : {}),
      ...(opts.maxAgeDays !== undefined ? { maxAgeDays: opts.maxAgeDays } : {}),
      ...(opts.maxTotalBytes !== undefined ? { maxTotalBytes: opts.maxTotalBytes } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
  }

  /** Buffered and non-blocking: written within 200 ms, or at flush()/close(). */
  write(event: TrackingEvent): void {
    const at = this.file.time();
    // timestamp first, so the lines read (and sort) naturally.
    const { timestamp, ...rest } = event;
    this.file.write(`${JSON.stringify({ timestamp: timestamp ?? at.toISOString(), ...rest })}\n`, at);
  }

  flush(): Promise<void> {
    return this.file.flush();
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
