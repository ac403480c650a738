// `sealpost queue ...`: this server's outbound queues (Get-Queue, Get-Message,
// Retry-Queue, Suspend-Queue, Resume-Queue, Remove-Message).
import type { Command } from "commander";
import { formatList, formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";

export function registerQueueCommands(program: Command): void {
  const queue = program.command("queue").description("this server's outbound queues (Get-Queue, Get-Message, Retry-/Suspend-/Resume-Queue, Remove-Message)");

  queue
    .command("list [queue]")
    .description("the queues (one per next-hop domain) with status, message count and last error")
    .action(async (identity: string | undefined, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = api.queues.listQueues(identity);
        print(cmd, v, () => (identity ? formatList(v) : formatTable(v, ["Identity", "Status", "MessageCount", "LastError"])).trim());
      });
    });

  queue
    .command("messages [queue]")
    .description("queued messages (all, or one queue's), or one message with --id")
    .option("--id <identity>", "a message: <queue>\\<id> or the id")
    .action(async (q: string | undefined, o: { id?: string }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = api.queues.listMessages({ ...(q ? { queue: q } : {}), ...(o.id ? { identity: o.id } : {}) });
        print(cmd, v, () => (o.id ? formatList(v) : formatTable(v, ["Identity", "FromAddress", "Status", "Size", "LastError"])).trim());
      });
    });

  for (const [name, what, fn] of [
    ["retry", "connect to the queue's next hop now", "retryQueue"],
    ["suspend", "stop delivery from the queue", "suspendQueue"],
    ["resume", "resume a suspended queue (and try it now)", "resumeQueue"],
  ] as const) {
    queue
      .command(`${name} <queue>`)
      .description(what)
      .action(async (identity: string, _o: unknown, cmd: Command) => {
        await withApi(cmd, async (api) => {
          const v = api.queues[fn](identity);
          print(cmd, v, () => formatList([v]).trim());
        });
      });
  }

  queue
    .command("remove <message>")
    .description("remove a queued message, returning it to its sender with a non-delivery report (--no-ndr: silently)")
    .option("--no-ndr", "remove without a non-delivery report")
    .action(async (identity: string, o: { ndr?: boolean }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = api.queues.removeMessage(identity, o.ndr !== false);
        print(cmd, v, () => `Removed ${v.length} queue entr${v.length === 1 ? "y" : "ies"}${o.ndr ? " (a non-delivery report will be sent)" : ""}.`);
      });
    });
}
