// `sealpost queue ...`: this server's outbound queues (Get-Queue, Get-Message,
// Retry-Queue, Suspend-Queue, Resume-Queue, Remove-Message), run through the
// admin door (door.ts).
import type { Command } from "commander";
import { formatList, formatTable } from "../shell/format.js";
import { print, withApi } from "./common.js";
import { given, runCmdlet, runOne } from "./door.js";

export function registerQueueCommands(program: Command): void {
  const queue = program.command("queue").description("this server's outbound queues (Get-Queue, Get-Message, Retry-/Suspend-/Resume-Queue, Remove-Message)");

  queue
    .command("list [queue]")
    .description("the queues (one per next-hop domain) with status, message count and last error")
    .action(async (identity: string | undefined, _o: unknown, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Get-Queue", given({ Identity: identity }));
        print(cmd, v, () => (identity ? formatList(v) : formatTable(v, ["Identity", "Status", "MessageCount", "LastError"])).trim());
      });
    });

  queue
    .command("messages [queue]")
    .description("queued messages (all, or one queue's), or one message with --id")
    .option("--id <identity>", "a message: <queue>\\<id> or the id")
    .action(async (q: string | undefined, o: { id?: string }, cmd: Command) => {
      await withApi(cmd, async (api) => {
        const v = await runCmdlet(api, "Get-Message", given({ Queue: q ? q : undefined, Identity: o.id ? o.id : undefined }));
        print(cmd, v, () => (o.id ? formatList(v) : formatTable(v, ["Identity", "FromAddress", "Status", "Size", "LastError"])).trim());
      });
    });

  for (const [name, what, fn] of [
    ["retry", "connect to the queue's next hop now", "Retry-Queue"],
    ["suspend", "stop delivery from the queue", "Suspend-Queue"],
    ["resume", "resume a suspended queue (and try it now)", "Resume-Queue"],
  ] as const) {
    queue
      .command(`${name} <queue>`)
      .description(what)
      .action(async (identity: string, _o: unknown, cmd: Command) => {
        await withApi(cmd, async (api) => {
          await runCmdlet(api, fn, { Identity: identity });
          // The cmdlet returns nothing (as Exchange's does); the queue as it is now is printed.
          const v = await runOne(api, "Get-Queue", { Identity: identity });
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
        // Remove-Message returns nothing (as Exchange's does): the entries it will remove are counted first.
        const v = await runCmdlet(api, "Get-Message", { Identity: identity }).catch(() => []);
        await runCmdlet(api, "Remove-Message", { Identity: identity, WithNDR: o.ndr !== false }, { confirm: false });
        print(cmd, v, () => `Removed ${v.length} queue entr${v.length === 1 ? "y" : "ies"}${o.ndr ? " (a non-delivery report will be sent)" : ""}.`);
      });
    });
}
