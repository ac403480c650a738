// `sealpost logs ...`: searching this server's logs (Get-ProtocolLog,
// Get-MessageTrackingLog), run through the admin door (door.ts). The
// arguments are checked before the data folder is opened, so a bad one
// changes nothing.
import type { Command } from "commander";
import { normalizeProtocolQuery, normalizeTrackingQuery, type ProtocolLogQuery, type TrackingLogQuery } from "../admin/logs.js";
import { formatList, formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";
import { given, runCmdlet } from "./door.js";

/** A repeatable option; each value may also hold a comma-separated list. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((v) => v.trim()).filter((v) => v !== "")];
}

const TIME_HELP = 'ISO 8601 or "2026-11-29 09:00" (local time unless it ends in Z or an offset)';

export function registerLogCommands(program: Command): void {
  const logs = program.command("logs").description("search this server's logs: SMTP protocol logs and message tracking (Get-ProtocolLog, Get-MessageTrackingLog)");

  logs
    .command("protocol")
    .description("rows of the SMTP receive/send protocol logs (Verbose connectors), oldest first")
    .option("--direction <direction>", "Receive, Send or Both (default)")
    .option("--session <id>", "one session's rows")
    .option("--remote <ip>", "rows whose remote endpoint has this IP address")
    .option("--domain <domain>", "every row of the sessions naming this domain (EHLO, MAIL FROM, RCPT TO, the peer's certificate)")
    .option("--connector <name>", "one connector's rows")
    .option("--start <time>", `from this time (${TIME_HELP})`)
    .option("--end <time>", "up to this time")
    .option("--limit <n>", "at most n rows, or unlimited (default 1000)")
    .option("--list", "every property of each row (like Format-List)")
    .action(async (o: { direction?: string; session?: string; remote?: string; domain?: string; connector?: string; start?: string; end?: string; limit?: string; list?: boolean }, cmd: Command) => {
      const q: ProtocolLogQuery = {
        ...(o.direction !== undefined ? { direction: o.direction } : {}),
        ...(o.session !== undefined ? { sessionId: o.session } : {}),
        ...(o.remote !== undefined ? { remoteAddress: o.remote } : {}),
        ...(o.domain !== undefined ? { domain: o.domain } : {}),
        ...(o.connector !== undefined ? { connector: o.connector } : {}),
        ...(o.start !== undefined ? { start: o.start } : {}),
        ...(o.end !== undefined ? { end: o.end } : {}),
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
      };
      normalizeProtocolQuery(q);
      await withApi(cmd, async (api) => {
        const rows = await runCmdlet(api, "Get-ProtocolLog", given({ Direction: o.direction, SessionId: o.session, RemoteAddress: o.remote, Domain: o.domain, Connector: o.connector, Start: o.start, End: o.end, ResultSize: o.limit }));
        print(cmd, rows, () => (o.list ? formatList(rows) : formatTable(rows, ["DateTime", "Direction", "SessionId", "Event", "Data", "Context"])).trim());
      });
    });

  logs
    .command("tracking")
    .description("message tracking events (RECEIVE, DELIVER, FAIL, DEFER, SEND, DSN, DROP), oldest first")
    .option("--sender <address>", "events of mail from this address (<> for the null sender)")
    .option("--recipient <address>", "events naming any of these recipients (repeat, or a,b)", collect)
    .option("--message-id <id>", "one message, by its Message-ID (with or without <>)")
    .option("--event <id>", "only these events (repeat, or DELIVER,FAIL)", collect)
    .option("--server <name>", "events logged by this server")
    .option("--start <time>", `from this time (${TIME_HELP})`)
    .option("--end <time>", "up to this time")
    .option("--limit <n>", "at most n events, or unlimited (default 1000)")
    .option("--list", "every property of each event (like Format-List)")
    .action(async (o: { sender?: string; recipient?: string[]; messageId?: string; event?: string[]; server?: string; start?: string; end?: string; limit?: string; list?: boolean }, cmd: Command) => {
      const q: TrackingLogQuery = {
        ...(o.sender !== undefined ? { sender: o.sender } : {}),
        ...(o.recipient !== undefined ? { recipients: o.recipient } : {}),
        ...(o.messageId !== undefined ? { messageId: o.messageId } : {}),
        ...(o.event !== undefined ? { eventId: o.event } : {}),
        ...(o.server !== undefined ? { server: o.server } : {}),
        ...(o.start !== undefined ? { start: o.start } : {}),
        ...(o.end !== undefined ? { end: o.end } : {}),
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
      };
      normalizeTrackingQuery(q);
      await withApi(cmd, async (api) => {
        const events = await runCmdlet(api, "Get-MessageTrackingLog", given({ Sender: o.sender, Recipients: o.recipient, MessageId: o.messageId, EventId: o.event, Server: o.server, Start: o.start, End: o.end, ResultSize: o.limit }));
        print(cmd, events, () => (o.list ? formatList(events) : formatTable(events, ["Timestamp", "EventId", "Sender", "Recipients", "MessageId"])).trim());
      });
    });
}
