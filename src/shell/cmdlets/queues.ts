// This server's outbound queues, as Exchange's queue cmdlets.
import type { CmdletDef } from "../shell.js";

const identity = { name: "Identity", type: "string", position: 0, mandatory: true, fromPipelineProperty: true } as const;

export const queueCmdlets: CmdletDef[] = [
  {
    name: "Get-Queue",
    synopsis: "Lists this server's outbound queues (one per next-hop domain).",
    table: ["Identity", "DeliveryType", "Status", "MessageCount", "NextHopDomain"],
    params: [{ name: "Identity", type: "string", position: 0 }],
    async run(args, ctx) {
      return ctx.api.queues.listQueues(args.Identity as string | undefined);
    },
  },
  {
    name: "Get-Message",
    synopsis: "Lists queued messages (all, one queue's with -Queue, or one by -Identity).",
    table: ["Identity", "FromAddress", "Status", "Size", "Subject"],
    params: [
      { name: "Identity", type: "string", position: 0 },
      { name: "Queue", type: "string" },
    ],
    async run(args, ctx) {
      return ctx.api.queues.listMessages({
        ...(args.Identity !== undefined ? { identity: args.Identity as string } : {}),
        ...(args.Queue !== undefined ? { queue: args.Queue as string } : {}),
      });
    },
  },
  {
    name: "Retry-Queue",
    synopsis: "Connects to a queue's next hop now.",
    params: [identity],
    async run(args, ctx) {
      ctx.api.queues.retryQueue(args.Identity as string);
      return [];
    },
  },
  {
    name: "Suspend-Queue",
    synopsis: "Stops delivery from a queue until Resume-Queue.",
    params: [identity, { name: "Confirm", type: "switch" }],
    async run(args, ctx) {
      ctx.api.queues.suspendQueue(args.Identity as string);
      return [];
    },
  },
  {
    name: "Resume-Queue",
    synopsis: "Resumes a suspended queue (and tries it now).",
    params: [identity, { name: "Confirm", type: "switch" }],
    async run(args, ctx) {
      ctx.api.queues.resumeQueue(args.Identity as string);
      return [];
    },
  },
  {
    name: "Remove-Message",
    synopsis: "Removes a queued message with a non-delivery report to its sender (Exchange's default), or without one (-WithNDR $false).",
    params: [identity, { name: "WithNDR", type: "bool" }, { name: "Confirm", type: "switch" }],
    async run(args, ctx) {
      ctx.api.queues.removeMessage(args.Identity as string, args.WithNDR !== false);
      return [];
    },
  },
];
