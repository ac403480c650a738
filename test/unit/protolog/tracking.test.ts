import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MessageTracking, trackingLogDir, type TrackingEvent } from "../../../src/protolog/tracking.js";

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), "sealpost-tracking-"));
}

const event = (over: Partial<TrackingEvent> = {}): TrackingEvent => ({
  eventId: "RECEIVE",
  messageId: "<abc@example.org>",
  internalId: "0192a1b2c3d4000001aabbccddee",
  sender: "a@example.org",
  recipients: ["b@example.com", "c@example.com"],
  connector: "Inet",
  sessionId: "08C895F533E837EC",
  serverHostname: "mx.example.com",
  clientIp: "192.0.2.1",
  ...over,
});

test("events are written one JSON object a line, timestamp first, and parse back", async () => {
  const dir = tmp();
  try {
    const now = () => new Date("2026-11-29T06:00:00.000Z");
    const t = new MessageTracking({ dir, now });
    t.write(event());
    t.write(
      event({
        timestamp: "2026-11-29T05:59:59.999Z",
        eventId: "DELIVER",
        tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", certSubject: "CN=x", certIssuer: "CN=ca", certThumbprint: "AB" },
        domainSecure: { verdict: "domain-secured", partner: "example.org" },
        detail: "line one\r\nline two, \"quoted\"",
      }),
    );
    await t.close();
    assert.equal(trackingLogDir("/d"), path.join("/d", "logs", "tracking"));
    assert.deepEqual(readdirSync(dir), ["MSGTRK20261129-1.log"]);
    const text = readFileSync(path.join(dir, "MSGTRK20261129-1.log"), "utf8");
    const lines = text.split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, 2);
    const [a, b] = lines.map((l) => JSON.parse(l) as TrackingEvent);
    assert.ok(b);
    assert.ok(lines[0]?.startsWith('{"timestamp":"2026-11-29T06:00:00.000Z"'));
    assert.deepEqual(a, { timestamp: "2026-11-29T06:00:00.000Z", ...event() });
    assert.equal(b.timestamp, "2026-11-29T05:59:59.999Z");
    assert.equal(b.detail, "line one\r\nline two, \"quoted\"");
    assert.deepEqual(b.domainSecure, { verdict: "domain-secured", partner: "example.org" });
    assert.equal(b.tls?.certThumbprint, "AB");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tracking files rotate daily and by size, and old ones are deleted", async () => {
  const dir = tmp();
  try {
    writeFileSync(path.join(dir, "MSGTRK20261001-1.log"), "{}\n");
    let t0 = Date.parse("2026-11-29T23:00:00.000Z");
    const log = new MessageTracking({ dir, now: () => new Date(t0), maxFileBytes: 1500, maxAgeDays: 30 });
    for (let i = 0; i < 20; i++) log.write(event({ detail: `n${i}` }));
    await log.flush();
    t0 += 2 * 3600_000;
    log.write(event({ eventId: "DELIVER", detail: "next day" }));
    await log.close();
    const files = readdirSync(dir).sort();
    assert.ok(!files.includes("MSGTRK20261001-1.log"));
    const day1 = files.filter((f) => f.startsWith("MSGTRK20261129-"));
    assert.ok(day1.length >= 4, files.join());
    assert.deepEqual(files.filter((f) => f.startsWith("MSGTRK20261130-")), ["MSGTRK20261130-1.log"]);
    const all = day1
      .sort((a, b) => Number(/-(\d+)\./.exec(a)?.[1]) - Number(/-(\d+)\./.exec(b)?.[1]))
      .flatMap((f) => {
        const text = readFileSync(path.join(dir, f), "utf8");
        assert.ok(Buffer.byteLength(text) <= 1500);
        return text.trim().split("\n").map((l) => (JSON.parse(l) as TrackingEvent).detail);
      });
    assert.deepEqual(all, Array.from({ length: 20 }, (_, i) => `n${i}`));
    assert.match(readFileSync(path.join(dir, "MSGTRK20261130-1.log"), "utf8"), /"next day"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
