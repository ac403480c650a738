// The composition root's second part: the runtime services of one server,
// built in one place from its context (main/context.ts) with the paths its
// DataDir names, instead of by hand in each process's start:
//   receive side (every edge process): the spool, message tracking, the
//     receive protocol log, the outbound queue, local delivery;
//   send side (the primary, once per server): the outbound queue, message
//     tracking, the send protocol log, the queue manager.
// Each runtime part receives what it needs as parameters; none of them opens
// a store or spells a path. Closing is the caller's, in the reverse order.
import type { LocalSink } from "../delivery/local.js";
import { LocalDelivery } from "../delivery/local.js";
import type { MailResolver } from "../dns/resolver.js";
import { OutboundManager } from "../outbound/manager.js";
import { outboundSettings } from "../outbound/settings.js";
import { ProtocolLog } from "../protolog/protocol-log.js";
import { MessageTracking } from "../protolog/tracking.js";
import { OutboundStore } from "../queue/outbound-store.js";
import { Spool } from "../queue/spool.js";
import type { ServerContext } from "./context.js";

export interface ReceiveServices {
  spool: Spool;
  tracking: MessageTracking;
  protocolLog: ProtocolLog;
  outbound: OutboundStore;
  delivery: LocalDelivery;
}

/** The receive side of one edge process. */
export function receiveServices(ctx: Pick<ServerContext, "dir" | "serverName">, o: { sink?: LocalSink | undefined; onQueued?: (() => void) | undefined } = {}): ReceiveServices {
  const spool = new Spool({ dir: ctx.dir.queueDir });
  const tracking = new MessageTracking({ dir: ctx.dir.trackingLogDir });
  const protocolLog = new ProtocolLog({ dir: ctx.dir.protocolLogDir("receive"), kind: "receive" });
  const outbound = OutboundStore.inDataDir(ctx.dir.root);
  const delivery = new LocalDelivery({
    maildirRoot: ctx.dir.maildirRoot,
    spool,
    tracking,
    serverName: ctx.serverName,
    outbound,
    ...(o.onQueued ? { onQueued: o.onQueued } : {}),
    ...(o.sink ? { sink: o.sink } : {}),
  });
  return { spool, tracking, protocolLog, outbound, delivery };
}

/** The stores the primary keeps for the whole server: the outbound queue and message tracking (spool recovery uses them before anything sends). */
export interface ServerStores {
  outbound: OutboundStore;
  tracking: MessageTracking;
}

export function serverStores(ctx: Pick<ServerContext, "dir">): ServerStores {
  return { outbound: OutboundStore.inDataDir(ctx.dir.root), tracking: new MessageTracking({ dir: ctx.dir.trackingLogDir }) };
}

export interface SendServices {
  sendLog: ProtocolLog;
  manager: OutboundManager;
}

/** The send side (once per server): the send protocol log and the queue manager on the server's stores; the manager is not started. */
export function sendServices(ctx: ServerContext, stores: ServerStores, o: { log: (line: string) => void; resolver?: (servers: string[]) => MailResolver }): SendServices {
  const sendLog = new ProtocolLog({ dir: ctx.dir.protocolLogDir("send"), kind: "send" });
  const manager = new OutboundManager({
    ctx,
    store: stores.outbound,
    tracking: stores.tracking,
    protocolLog: sendLog,
    settings: () => outboundSettings(ctx.db),
    log: o.log,
    ...(o.resolver ? { resolver: o.resolver } : {}),
  });
  return { sendLog, manager };
}
