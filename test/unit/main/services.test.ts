// The composition root's services: built from a server context on a real
// data folder, each in the place DataDir names, and working (a message
// appended to the spool is recovered from the spool folder; the queue
// manager starts and stops on the server's outbound queue).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openServerContext } from "../../../src/main/context.js";
import { receiveServices, sendServices, serverStores } from "../../../src/main/services.js";
import { Spool } from "../../../src/queue/spool.js";

test("receive services: the spool, logs and queue live where DataDir says; the spool works", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-services-"));
  const ctx = openServerContext(dir);
  try {
    const s = receiveServices(ctx, { sink: "discard" });
    const id = await s.spool.append(
      { receivedAt: new Date().toISOString(), mailFrom: "a@example.org", rcptTo: [{ address: "b@example.com", params: {} }], mailParams: {}, connector: "Inet", sessionId: "1", meta: {} },
      Buffer.from("Subject: x\r\n\r\nhello\r\n"),
    );
    s.tracking.write({ eventId: "RECEIVE", messageId: "<x@y>", internalId: id, sender: "a@example.org", recipients: ["b@example.com"], connector: "Inet", sessionId: "1", serverHostname: ctx.serverName, clientIp: "127.0.0.1", detail: "" });
    await Promise.all([s.spool.close(), s.tracking.close(), s.protocolLog.close()]);
    s.outbound.close();
    assert.ok(readdirSync(ctx.dir.spoolDir).some((f) => f.endsWith(".seg")), "a segment in queue/spool");
    assert.ok(existsSync(ctx.dir.outboundDbFile), "queue/outbound.db");
    assert.ok(readdirSync(ctx.dir.trackingLogDir).some((f) => f.startsWith("MSGTRK")), "a tracking file in logs/tracking");
    const { pending } = await Spool.recover(ctx.dir.queueDir);
    assert.deepEqual(pending.map((p) => p.id), [id]);
  } finally {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("send services: the queue manager runs on the server's stores and stops", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-services-"));
  const ctx = openServerContext(dir);
  try {
    const stores = serverStores(ctx);
    const lines: string[] = [];
    const send = sendServices(ctx, stores, { log: (l) => lines.push(l) });
    send.manager.start();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(send.manager.activeDomains(), []);
    await send.manager.stop();
    await Promise.all([send.sendLog.close(), stores.tracking.close()]);
    stores.outbound.close();
    assert.deepEqual(lines, [], "nothing went wrong");
    assert.ok(existsSync(ctx.dir.outboundDbFile));
  } finally {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
