// Searching this server's logs: Get-MessageTrackingLog (Exchange's cmdlet and
// parameter names) and Get-ProtocolLog (the SMTP protocol logs, which Exchange
// leaves to text tools).
import type { ProtocolLogQuery, TrackingLogQuery } from "../../admin/logs.js";
import { normalizeProtocolQuery, normalizeTrackingQuery } from "../../admin/logs.js";
import type { BoundArgs } from "../binder.js";
import type { CmdletDef } from "../shell.js";

function trackingQuery(args: BoundArgs): TrackingLogQuery {
  return {
    ...(args.Sender !== undefined ? { sender: args.Sender as string } : {}),
    ...(args.Recipients !== undefined ? { recipients: args.Recipients as string[] } : {}),
    ...(args.MessageId !== undefined ? { messageId: args.MessageId as string } : {}),
    ...(args.Start !== undefined ? { start: args.Start as string } : {}),
    ...(args.End !== undefined ? { end: args.End as string } : {}),
    ...(args.EventId !== undefined ? { eventId: args.EventId as string[] } : {}),
    ...(args.Server !== undefined ? { server: args.Server as string } : {}),
    ...(args.ResultSize !== undefined ? { limit: args.ResultSize as string } : {}),
  };
}

function protocolQuery(args: BoundArgs): ProtocolLogQuery {
  return {
    ...(args.Direction !== undefined ? { direction: args.Direction as string } : {}),
    ...(args.SessionId !== undefined ? { sessionId: args.SessionId as string } : {}),
    ...(args.RemoteAddress !== undefined ? { remoteAddress: args.RemoteAddress as string } : {}),
    ...(args.Domain !== undefined ? { domain: args.Domain as string } : {}),
    ...(args.Start !== undefined ? { start: args.Start as string } : {}),
    ...(args.End !== undefined ? { end: args.End as string } : {}),
    ...(args.Connector !== undefined ? { connector: args.Connector as string } : {}),
    ...(args.ResultSize !== undefined ? { limit: args.ResultSize as string } : {}),
  };
}

export const logCmdlets: CmdletDef[] = [
  {
    name: "Get-MessageTrackingLog",
    synopsis: "Searches the message tracking log (RECEIVE, DELIVER, FAIL, DEFER, SEND, DSN, DROP events), oldest first; -ResultSize 1000 unless given.",
    table: ["Timestamp", "EventId", "Sender", "Recipients", "MessageId"],
    params: [
      { name: "Sender", type: "string" },
      { name: "Recipients", type: "strings" },
      { name: "MessageId", type: "string" },
      { name: "Start", type: "string" },
      { name: "End", type: "string" },
      { name: "EventId", type: "strings" },
      { name: "Server", type: "string" },
      { name: "ResultSize", type: "string" },
    ],
    validate(args) {
      normalizeTrackingQuery(trackingQuery(args));
    },
    async run(args, ctx) {
      return ctx.api.logs.trackingLog(trackingQuery(args));
    },
  },
  {
    name: "Get-ProtocolLog",
    synopsis: "Searches the SMTP receive and send protocol logs (rows of Verbose connectors), oldest first; -Domain returns whole sessions; -ResultSize 1000 unless given.",
    table: ["DateTime", "Direction", "SessionId", "Event", "Data", "Context"],
    params: [
      { name: "Direction", type: "string" },
      { name: "SessionId", type: "string" },
      { name: "RemoteAddress", type: "string" },
      { name: "Domain", type: "string" },
      { name: "Start", type: "string" },
      { name: "End", type: "string" },
      { name: "Connector", type: "string" },
      { name: "ResultSize", type: "string" },
    ],
    validate(args) {
      normalizeProtocolQuery(protocolQuery(args));
    },
    async run(args, ctx) {
      return ctx.api.logs.protocolLog(protocolQuery(args));
    },
  },
];
