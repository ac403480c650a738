// The relay scenario's bookkeeping (src/bench/relay.ts): a message Contoso
// acknowledged is followed through Contoso's record of the relay to the
// queue id Woodgrove gave it, and then to Woodgrove's sink, for both
// Sealpost's tracking log and Postfix's maillog; Postfix's whole-second
// stamps bound the arrival time the benchmark estimates from its polls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RelayTracker, syslogSecond } from "../../../src/bench/relay.js";

function withDir(fn: (dir: string) => void) {
  return () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-relaytrk-"));
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  "Sealpost: SEND at Contoso → DELIVER at Woodgrove, timed by the tracking event, sessions and Domain Security counted",
  withDir((dir) => {
    const c = path.join(dir, "contoso", "logs", "tracking");
    const w = path.join(dir, "woodgrove", "logs", "tracking");
    mkdirSync(c, { recursive: true });
    mkdirSync(w, { recursive: true });
    const tracker = RelayTracker.sealpost(path.join(dir, "contoso"), path.join(dir, "woodgrove"));
    const deliver = (id: string, ts: string, session: string, secured: boolean) =>
      `${JSON.stringify({ timestamp: ts, eventId: "DELIVER", messageId: "<m@x>", internalId: id, sender: "a@contoso.com", recipients: ["sink@woodgrovebank.com"], connector: "Inet", sessionId: session, serverHostname: "mail.woodgrovebank.com", clientIp: "127.0.0.1", ...(secured ? { domainSecure: { verdict: "domain-secured", partner: "contoso.com", reason: "ok" } } : {}), detail: "discarded" })}\n`;
    const send = (id: string, reply: string) =>
      `${JSON.stringify({ timestamp: "2026-11-29T10:00:00.000Z", eventId: "SEND", messageId: "<m@x>", internalId: id, sender: "a@contoso.com", recipients: ["sink@woodgrovebank.com"], connector: "", sessionId: "S", serverHostname: "mail.contoso.com", clientIp: "127.0.0.2", detail: reply })}\n`;
    writeFileSync(path.join(w, "MSGTRK20261129-1.log"), deliver("0000000000000000aa01", "2026-11-29T10:00:01.250Z", "s1", true) + deliver("0000000000000000aa02", "2026-11-29T10:00:01.500Z", "s1", true));
    // The second SEND line is not complete yet: it does not count until its newline is written.
    writeFileSync(path.join(c, "MSGTRK20261129-1.log"), send("0000000000000000cc01", "250 2.6.0 <0000000000000000aa01@mail.woodgrovebank.com> Queued mail for delivery") + send("0000000000000000cc02", "250 2.6.0 <0000000000000000aa02@mail.woodgrovebank.com> Queued").slice(0, -1));
    tracker.poll();
    assert.equal(tracker.arrival("0000000000000000cc01"), Date.parse("2026-11-29T10:00:01.250Z"));
    assert.equal(tracker.arrival("0000000000000000cc02"), undefined);
    appendFileSync(path.join(c, "MSGTRK20261129-1.log"), `\n${JSON.stringify({ timestamp: "t", eventId: "DEFER", internalId: "0000000000000000cc03", detail: "x" })}\n`);
    tracker.poll();
    assert.equal(tracker.arrival("0000000000000000cc02"), Date.parse("2026-11-29T10:00:01.500Z"));
    assert.equal(tracker.sessions, 1);
    assert.equal(tracker.secured, 2);
    assert.equal(tracker.failed, 1);
    assert.equal(tracker.delivered, 2);
  }),
);

test(
  "Postfix: smtp status=sent at Contoso → discard status=sent at Woodgrove, arrival estimated between polls within the logged second",
  withDir((dir) => {
    const c = path.join(dir, "contoso.maillog");
    const w = path.join(dir, "woodgrove.maillog");
    writeFileSync(c, "");
    writeFileSync(w, "");
    const tracker = RelayTracker.postfix(c, w);
    tracker.poll();
    const stamp = (t: number) => {
      const d = new Date(t);
      const mon = d.toLocaleString("en-US", { month: "short" });
      const p = (n: number) => String(n).padStart(2, "0");
      return `${mon} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    };
    const now = Date.now();
    appendFileSync(w, `${stamp(now)} mail postfix/smtpd[10]: connect from localhost[127.0.0.1]\n${stamp(now)} mail postfix/discard[11]: 4jcjW1: to=<sink@woodgrovebank.com>, relay=none, delay=0.01, delays=0/0/0/0, dsn=2.0.0, status=sent (woodgrovebank.com)\n`);
    appendFileSync(c, `${stamp(now)} mail postfix/smtp[12]: 4jcjC1: to=<sink@woodgrovebank.com>, relay=127.0.0.3[127.0.0.3]:2525, delay=0.18, delays=0.01/0.03/0.1/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4jcjW1)\n`);
    appendFileSync(c, `${stamp(now)} mail postfix/smtp[12]: 4jcjC2: to=<sink@woodgrovebank.com>, relay=127.0.0.3[127.0.0.3]:2525, delay=0.09, dsn=4.7.5, status=deferred (Server certificate not verified)\n`);
    tracker.poll();
    const at = tracker.arrival("4jcjC1");
    assert.ok(at !== undefined);
    const second = Math.floor(now / 1000) * 1000;
    assert.ok(at >= second && at <= second + 999, `${at} within the logged second ${second}`);
    assert.ok(at <= Date.now() + 50);
    assert.equal(tracker.arrival("4jcjC2"), undefined);
    assert.equal(tracker.sessions, 1);
    assert.equal(tracker.failed, 1);
  }),
);

test("syslogSecond reads the maillog's stamp as local time near the given moment", () => {
  const near = new Date(2026, 10, 29, 9, 24, 40, 500).getTime();
  assert.equal(syslogSecond("Nov 29 09:24:40 mail postfix/discard[1]: X: to=<a@b>", near), new Date(2026, 10, 29, 9, 24, 40).getTime());
  assert.equal(syslogSecond("Nov  9 09:24:40 mail x", near), undefined);
  assert.equal(syslogSecond("no stamp", near), undefined);
});
