// The outbound queue's store and its admin API on a real SQLite file:
// idempotent enqueue (a recovered spool message queued twice is one
// message), recipients leaving one by one with the body going last, the
// queue's retry state, suspension, and identities refused with clear errors
// that change nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OutboundStore } from "../../../src/queue/outbound-store.js";
import { failure } from "../../../src/queue/delivery-failure.js";
import Database from "better-sqlite3";
import type { SpoolEnvelope } from "../../../src/queue/spool.js";
import { AdminApi } from "../../../src/admin/api.js";
import { SealpostError } from "../../../src/errors/errors.js";

const env = (rcpts: string[], extra: Partial<SpoolEnvelope> = {}): SpoolEnvelope => ({
  receivedAt: new Date().toISOString(),
  mailFrom: "alice@contoso.com",
  rcptTo: rcpts.map((address) => ({ address, params: address.startsWith("n") ? { notify: ["NEVER"] } : {} })),
  mailParams: {},
  connector: "Inet",
  sessionId: "S1",
  meta: { messageId: "<m1@test>" },
  ...extra,
});
const body = Buffer.from("Subject: Quarterly\r\n report\r\nFrom: a@b\r\n\r\nHi\r\n");

function withDir(fn: (dir: string) => Promise<void> | void) {
  return async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-outq-"));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test("enqueue is idempotent and splits recipients per next-hop domain", withDir(async (dir) => {
  const s = OutboundStore.inDataDir(dir);
  const rcpts = ["bob@woodgrovebank.com", "nina@woodgrovebank.com", "carl@fabrikam.com"];
  await Promise.all([s.enqueue({ id: "0000000000010000000000000a", envelope: env(rcpts), body, recipients: rcpts }), s.enqueue({ id: "0000000000010000000000000a", envelope: env(rcpts), body, recipients: rcpts })]);
  s.insertAll([{ id: "0000000000010000000000000a", envelope: env(rcpts), body, recipients: rcpts }]);
  const queues = s.listQueues();
  assert.deepEqual(queues.map((q) => [q.domain, q.messageCount, q.state]), [["fabrikam.com", 1, "Ready"], ["woodgrovebank.com", 1, "Ready"]]);
  const wg = s.messagesIn("woodgrovebank.com");
  assert.equal(wg.length, 1);
  assert.deepEqual(wg[0]?.recipients.map((r) => [r.address, r.notify]), [["bob@woodgrovebank.com", undefined], ["nina@woodgrovebank.com", ["NEVER"]]]);
  assert.equal(wg[0]?.subject, "Quarterly report");
  assert.deepEqual(s.dueDomains(Date.now()).sort(), ["fabrikam.com", "woodgrovebank.com"]);
  s.close();
}));

test("recipients leave one by one; the body goes with the last", withDir((dir) => {
  const s = OutboundStore.inDataDir(dir);
  const rcpts = ["bob@woodgrovebank.com", "carl@fabrikam.com"];
  s.insertAll([{ id: "0000000000020000000000000b", envelope: env(rcpts), body, recipients: rcpts }]);
  s.complete("0000000000020000000000000b", ["bob@woodgrovebank.com"]);
  assert.ok(s.body("0000000000020000000000000b"), "still owed to fabrikam.com");
  assert.equal(s.messagesIn("woodgrovebank.com").length, 0);
  s.complete("0000000000020000000000000b", ["carl@fabrikam.com"]);
  assert.equal(s.body("0000000000020000000000000b"), undefined);
  s.close();
}));

test("a failed queue goes into Retry with its reason; success resets it; Retry-Queue makes it due", withDir((dir) => {
  const s = OutboundStore.inDataDir(dir);
  s.insertAll([{ id: "0000000000030000000000000c", envelope: env(["bob@woodgrovebank.com"]), body, recipients: ["bob@woodgrovebank.com"] }]);
  const now = Date.now();
  const why = failure("domain-security", "4.7.10", "mx.woodgrovebank.com[192.0.2.1]: STARTTLS is not available", { check: "starttls", host: "mx.woodgrovebank.com" });
  s.queueFailed("woodgrovebank.com", now, now + 600_000, why);
  s.deferred("0000000000030000000000000c", ["bob@woodgrovebank.com"], now, now + 600_000, why);
  let q = s.getQueue("woodgrovebank.com");
  assert.equal(q?.state, "Retry");
  assert.deepEqual(q?.lastFailure, why, "the failure comes back as it was stored");
  assert.deepEqual(s.messagesIn("woodgrovebank.com", { dueAt: now + 700_000 })[0]?.recipients[0]?.lastFailure, why);
  assert.equal(q?.consecutiveFailures, 1);
  assert.deepEqual(s.dueDomains(now + 1000), []);
  assert.equal(s.retryNow("woodgrovebank.com", now + 1000), 1);
  assert.deepEqual(s.dueDomains(now + 1000), ["woodgrovebank.com"]);
  assert.equal(s.messagesIn("woodgrovebank.com")[0]?.recipients[0]?.attempts, 1);
  s.queueSucceeded("woodgrovebank.com", now + 2000);
  q = s.getQueue("woodgrovebank.com");
  assert.equal(q?.consecutiveFailures, 0);
  assert.equal(q?.lastFailure, undefined);
  s.setSuspended("woodgrovebank.com", true);
  assert.equal(s.getQueue("woodgrovebank.com")?.state, "Suspended");
  assert.deepEqual(s.dueDomains(now + 5000), [], "a suspended queue is never due");
  s.close();
}));

test("queue admin: identities, suspend/resume, removal with and without a report; bad identities change nothing", withDir(async (dir) => {
  const api = AdminApi.open(dir);
  await api.setServerName("mail1.contoso.com");
  const s = OutboundStore.inDataDir(dir);
  const id = "0000000000040000000000000d";
  s.insertAll([{ id, envelope: env(["bob@woodgrovebank.com", "carl@fabrikam.com"]), body, recipients: ["bob@woodgrovebank.com", "carl@fabrikam.com"] }]);
  assert.deepEqual(api.queues.listQueues().map((q) => q.Identity), ["mail1.contoso.com\\fabrikam.com", "mail1.contoso.com\\woodgrovebank.com"]);
  assert.equal(api.queues.listQueues("mail1\\woodgrovebank.com")[0]?.MessageCount, 1);
  const msgs = api.queues.listMessages({ queue: "woodgrovebank.com" });
  assert.equal(msgs[0]?.Identity, `mail1.contoso.com\\woodgrovebank.com\\${id}`);
  assert.equal(msgs[0]?.Subject, "Quarterly report");
  const snapshot = JSON.stringify(s.allMessages()) + JSON.stringify(s.listQueues());
  for (const [bad, code] of [
    [() => api.queues.listQueues("mail2.contoso.com\\woodgrovebank.com"), "NOT_FOUND"],
    [() => api.queues.listQueues("a\\b\\c"), "INVALID_ARGUMENT"],
    [() => api.queues.retryQueue("tailspintoys.com"), "NOT_FOUND"],
    [() => api.queues.removeMessage("woodgrovebank.com\\not-an-id", false), "INVALID_ARGUMENT"],
    [() => api.queues.removeMessage("fabrikam.com\\00000000000400000000000999", false), "NOT_FOUND"],
    [() => api.queues.suspendQueue(""), "INVALID_ARGUMENT"],
  ] as const) {
    assert.throws(bad, (e: unknown) => e instanceof SealpostError && e.code === code);
  }
  assert.equal(JSON.stringify(s.allMessages()) + JSON.stringify(s.listQueues()), snapshot, "bad identities changed nothing");
  api.queues.suspendQueue("woodgrovebank.com");
  assert.throws(() => api.queues.retryQueue("woodgrovebank.com"), /suspended: Resume-Queue it first/);
  assert.equal(api.queues.resumeQueue("woodgrovebank.com").Status, "Ready");
  api.queues.removeMessage(`woodgrovebank.com\\${id}`, true);
  assert.equal(s.removalsRequested().length, 1, "the manager reports it, then removes it");
  api.queues.removeMessage(id, false);
  assert.equal(s.allMessages().length, 0);
  assert.equal(s.body(id), undefined);
  s.close();
  await api.close();
}));

test("a reason stored as text by an older version reads back as an unclassified failure with its text", withDir((dir) => {
  const s = OutboundStore.inDataDir(dir);
  s.insertAll([{ id: "0000000000050000000000000e", envelope: env(["bob@woodgrovebank.com"]), body, recipients: ["bob@woodgrovebank.com"] }]);
  s.close();
  const db = new Database(path.join(dir, "queue", "outbound.db"));
  db.prepare("UPDATE recipients SET last_error = ? WHERE message_id = ?").run("mx.woodgrovebank.com[192.0.2.1]: starttls: the server did not start TLS", "0000000000050000000000000e");
  db.prepare("INSERT INTO queues (domain, consecutive_failures, last_error) VALUES (?, 1, ?) ON CONFLICT(domain) DO UPDATE SET last_error = excluded.last_error").run("woodgrovebank.com", "{not json");
  db.close();
  const again = OutboundStore.inDataDir(dir);
  const r = again.messagesIn("woodgrovebank.com", { dueAt: Date.now() + 1e9 })[0]?.recipients[0];
  assert.deepEqual(r?.lastFailure, { kind: "unclassified", status: "4.0.0", text: "mx.woodgrovebank.com[192.0.2.1]: starttls: the server did not start TLS" });
  assert.deepEqual(again.getQueue("woodgrovebank.com")?.lastFailure, { kind: "unclassified", status: "4.0.0", text: "{not json" });
  again.close();
}));
