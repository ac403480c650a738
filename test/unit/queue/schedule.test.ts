// The retry schedule: exact timelines simulated with the pure functions (a
// queue down for 3 hours, a queue down for good, a message refused on its
// own), the delay notice sent exactly once and on time, expiry at 2 days
// winning over everything, custom settings, and properties over arbitrary
// states, settings and delivery outcomes.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_TRANSPORT_SERVER_SETTINGS, retrySettingsOf } from "../../../src/settings/transport-server.js";
import {
  decide,
  delayNoticeDue,
  expiresAt,
  isExpired,
  nextMessageAttempt,
  nextQueueAttempt,
  validateRetrySettings,
  type MessageRetryState,
  type QueueRetryState,
  type RetrySettings,
} from "../../../src/queue/schedule.js";

/** The schedule's view of Set-TransportServer's defaults (the one schema, in milliseconds). */
const EXCHANGE_EDGE_DEFAULTS = Object.freeze(retrySettingsOf(DEFAULT_TRANSPORT_SERVER_SETTINGS));

const MIN = 60_000;
const T0 = new Date("2026-11-29T06:00:00Z");
const atMin = (m: number): Date => new Date(T0.getTime() + m * MIN);
const minOf = (d: Date): number => (d.getTime() - T0.getTime()) / MIN;

type Outcome = "ok" | "conn-fail" | "msg-fail";
type Event = [kind: "attempt" | "notice" | "delivered" | "expire", minute: number];

/**
 * Drives one message through decide() the way the delivery loop will: wait
 * when told, attempt when told (the outcome chosen by `outcome`), send the
 * delay notice when told and then carry on. A connection failure counts
 * against the queue; a message failure (4xx to RCPT/DATA) means the
 * connection worked, so the queue is healthy again.
 */
function simulate(s: RetrySettings, outcome: (now: Date, attempt: number) => Outcome, start = T0): Event[] {
  const m: MessageRetryState = { arrivedAt: start, attempts: 0, delayNotified: false };
  const q: QueueRetryState = { consecutiveFailures: 0 };
  const events: Event[] = [];
  let now = start;
  for (let step = 0; step < 100_000; step++) {
    const d = decide(m, q, now, s);
    switch (d.action) {
      case "expire":
        events.push(["expire", minOf(now)]);
        return events;
      case "delay-notice": {
        events.push(["notice", minOf(now)]);
        m.delayNotified = true;
        // `then` must agree with what decide() says once the notice is sent.
        const again = decide(m, q, now, s);
        if (d.then === "now") assert.equal(again.action, "attempt");
        else assert.deepEqual(again, { action: "wait", until: d.then });
        break;
      }
      case "wait":
        assert.ok(d.until > now, "a wait always moves time forward");
        now = d.until;
        break;
      case "attempt": {
        events.push(["attempt", minOf(now)]);
        m.attempts++;
        m.lastAttemptAt = now;
        q.lastAttemptAt = now;
        const o = outcome(now, m.attempts);
        if (o === "ok") {
          q.consecutiveFailures = 0;
          events.push(["delivered", minOf(now)]);
          return events;
        }
        q.consecutiveFailures = o === "conn-fail" ? q.consecutiveFailures + 1 : 0;
        break;
      }
    }
  }
  throw new Error("simulation did not end");
}

const attempts = (ev: Event[]): number[] => ev.filter(([k]) => k === "attempt").map(([, t]) => t);
const range = (from: number, to: number, step: number): number[] => {
  const out: number[] = [];
  for (let t = from; t <= to; t += step) out.push(t);
  return out;
};

test("defaults are those of an Exchange 2007 Edge server", () => {
  assert.deepEqual({ ...EXCHANGE_EDGE_DEFAULTS }, {
    transientFailureRetryCount: 6,
    transientFailureRetryIntervalMs: 10 * MIN,
    outboundConnectionFailureRetryIntervalMs: 30 * MIN,
    messageRetryIntervalMs: 15 * MIN,
    delayNotificationTimeoutMs: 4 * 60 * MIN,
    messageExpirationTimeoutMs: 2 * 24 * 60 * MIN,
  });
  assert.ok(Object.isFrozen(EXCHANGE_EDGE_DEFAULTS));
  validateRetrySettings(EXCHANGE_EDGE_DEFAULTS);
});

test("nextQueueAttempt: now until a failure, then +10 min for failures 1..6, then +30 min", () => {
  const last = atMin(0);
  const table: Array<[failures: number, expected: number | "now"]> = [
    [0, "now"], [1, 10], [2, 10], [5, 10], [6, 10], [7, 30], [8, 30], [500, 30],
  ];
  for (const [failures, expected] of table) {
    const got = nextQueueAttempt({ consecutiveFailures: failures, lastAttemptAt: last }, EXCHANGE_EDGE_DEFAULTS);
    assert.deepEqual(got, expected === "now" ? "now" : atMin(expected), `after ${failures} failures`);
  }
  // Failures without a recorded attempt give nothing to count from: go now.
  assert.equal(nextQueueAttempt({ consecutiveFailures: 3 }, EXCHANGE_EDGE_DEFAULTS), "now");
});

test("timeline: a queue failing for 3 hours is tried at t0, +10 min ×6, then every 30 min, and delivers at 3 h", () => {
  const ev = simulate(EXCHANGE_EDGE_DEFAULTS, (now) => (minOf(now) < 180 ? "conn-fail" : "ok"));
  assert.deepEqual(attempts(ev), [0, 10, 20, 30, 40, 50, 60, 90, 120, 150, 180]);
  assert.deepEqual(ev.at(-1), ["delivered", 180]);
  assert.ok(!ev.some(([k]) => k === "notice"), "no delay notice before 4 hours");
});

test("timeline: a queue down for good: one delay notice at exactly 4 h, last try at 47h30, NDR at exactly 2 days", () => {
  const ev = simulate(EXCHANGE_EDGE_DEFAULTS, () => "conn-fail");
  assert.deepEqual(attempts(ev), [...range(0, 60, 10), ...range(90, 2850, 30)]);
  assert.deepEqual(ev.filter(([k]) => k === "notice"), [["notice", 240]]);
  // The notice goes out before the attempt due at the same minute.
  const i = ev.findIndex(([k]) => k === "notice");
  assert.deepEqual(ev[i + 1], ["attempt", 240]);
  assert.deepEqual(ev.at(-1), ["expire", 2880]);
  assert.deepEqual(ev.at(-2), ["attempt", 2850]);
});

test("timeline: a message refused on its own (queue healthy) is retried every 15 min", () => {
  const ev = simulate(EXCHANGE_EDGE_DEFAULTS, (_now, n) => (n < 5 ? "msg-fail" : "ok"));
  assert.deepEqual(attempts(ev), [0, 15, 30, 45, 60]);
  const forever = simulate(EXCHANGE_EDGE_DEFAULTS, () => "msg-fail");
  assert.deepEqual(attempts(forever), range(0, 2865, 15));
  assert.deepEqual(forever.filter(([k]) => k !== "attempt"), [["notice", 240], ["expire", 2880]]);
});

test("timeline: connection failures and message failures mixed: the queue count restarts after a connection succeeds", () => {
  // Connection fails 3 times, then the server answers 4xx, then the connection fails 7 times, then delivery.
  const plan: Outcome[] = ["conn-fail", "conn-fail", "conn-fail", "msg-fail", ...Array<Outcome>(7).fill("conn-fail"), "ok"];
  const ev = simulate(EXCHANGE_EDGE_DEFAULTS, (_now, n) => plan[n - 1] ?? "ok");
  // 0,10,20,30 (4xx at 30) → 45 (message interval) → fails 1..6 at +10 → 7th failure → +30.
  assert.deepEqual(attempts(ev), [0, 10, 20, 30, 45, 55, 65, 75, 85, 95, 105, 135]);
});

test("nextMessageAttempt: the queue's retry governs while it is failing; the message interval while it is fine", () => {
  const s = EXCHANGE_EDGE_DEFAULTS;
  const m: MessageRetryState = { arrivedAt: atMin(0), attempts: 1, lastAttemptAt: atMin(0), delayNotified: false };
  assert.deepEqual(nextMessageAttempt(m, { consecutiveFailures: 0 }, s), atMin(15));
  assert.deepEqual(nextMessageAttempt(m, { consecutiveFailures: 1, lastAttemptAt: atMin(0) }, s), atMin(10));
  assert.deepEqual(nextMessageAttempt(m, { consecutiveFailures: 9, lastAttemptAt: atMin(0) }, s), atMin(30));
  // Never tried: now, unless its queue is waiting out a failure of another message's connection.
  const fresh: MessageRetryState = { arrivedAt: atMin(5), attempts: 0, delayNotified: false };
  assert.equal(nextMessageAttempt(fresh, { consecutiveFailures: 0 }, s), "now");
  assert.deepEqual(nextMessageAttempt(fresh, { consecutiveFailures: 2, lastAttemptAt: atMin(0) }, s), atMin(10));
  // A queue attempt recorded before the message's own last attempt never schedules into the message's past.
  const later: MessageRetryState = { arrivedAt: atMin(0), attempts: 1, lastAttemptAt: atMin(40), delayNotified: false };
  assert.deepEqual(nextMessageAttempt(later, { consecutiveFailures: 1, lastAttemptAt: atMin(0) }, s), atMin(40));
  // Capped at expiry: the caller must wake up in time to return the message.
  const old: MessageRetryState = { arrivedAt: atMin(0), attempts: 90, lastAttemptAt: atMin(2870), delayNotified: true };
  assert.deepEqual(nextMessageAttempt(old, { consecutiveFailures: 0 }, s), atMin(2880));
  assert.deepEqual(expiresAt(old, s), atMin(2880));
});

test("expiry: at exactly 2 days, not a millisecond before; it wins over an attempt due and a notice owed", () => {
  const s = EXCHANGE_EDGE_DEFAULTS;
  const m: MessageRetryState = { arrivedAt: atMin(0), attempts: 0, delayNotified: false };
  const twoDays = atMin(2880);
  assert.equal(isExpired(m, new Date(twoDays.getTime() - 1), s), false);
  assert.equal(isExpired(m, twoDays, s), true);
  assert.deepEqual(decide(m, { consecutiveFailures: 0 }, twoDays, s), { action: "expire" });
  assert.equal(delayNoticeDue(m, twoDays, s), true, "the predicate alone says a notice is owed...");
  assert.deepEqual(decide(m, { consecutiveFailures: 0 }, new Date(twoDays.getTime() - 1), s), { action: "delay-notice", then: "now" });
});

test("delay notice: due at exactly 4 h, once; decide never asks for it again after delayNotified", () => {
  const s = EXCHANGE_EDGE_DEFAULTS;
  const m: MessageRetryState = { arrivedAt: atMin(0), attempts: 8, lastAttemptAt: atMin(230), delayNotified: false };
  const q: QueueRetryState = { consecutiveFailures: 8, lastAttemptAt: atMin(230) };
  assert.equal(delayNoticeDue(m, new Date(atMin(240).getTime() - 1), s), false);
  assert.equal(delayNoticeDue(m, atMin(240), s), true);
  // Before 4 h: wait until the notice is due, although the next attempt is at 260.
  assert.deepEqual(decide(m, q, atMin(235), s), { action: "wait", until: atMin(240) });
  assert.deepEqual(decide(m, q, atMin(240), s), { action: "delay-notice", then: atMin(260) });
  // Asked again before the caller records it: the same answer (idempotent), not a second notice.
  assert.deepEqual(decide(m, q, atMin(240), s), { action: "delay-notice", then: atMin(260) });
  const notified = { ...m, delayNotified: true };
  assert.equal(delayNoticeDue(notified, atMin(1000), s), false);
  assert.deepEqual(decide(notified, q, atMin(240), s), { action: "wait", until: atMin(260) });
  assert.deepEqual(decide(notified, q, atMin(260), s), { action: "attempt" });
});

test("custom settings: short intervals, a notice between attempts, no transient phase", () => {
  const s: RetrySettings = {
    transientFailureRetryCount: 2,
    transientFailureRetryIntervalMs: 1 * MIN,
    outboundConnectionFailureRetryIntervalMs: 5 * MIN,
    messageRetryIntervalMs: 3 * MIN,
    delayNotificationTimeoutMs: 8 * MIN,
    messageExpirationTimeoutMs: 20 * MIN,
  };
  validateRetrySettings(s);
  const ev = simulate(s, () => "conn-fail");
  assert.deepEqual(ev, [
    ["attempt", 0], ["attempt", 1], ["attempt", 2], ["attempt", 7], ["notice", 8], ["attempt", 12], ["attempt", 17], ["expire", 20],
  ]);
  const noTransient = simulate({ ...s, transientFailureRetryCount: 0 }, () => "conn-fail");
  assert.deepEqual(attempts(noTransient), [0, 5, 10, 15]);
  const msgFail = simulate(s, () => "msg-fail");
  assert.deepEqual(attempts(msgFail), [0, 3, 6, 9, 12, 15, 18]);
});

test("delay notices switched off (Infinity) or not earlier than expiry: never sent", () => {
  for (const delayNotificationTimeoutMs of [Infinity, 2880 * MIN, 5000 * MIN]) {
    const s = { ...EXCHANGE_EDGE_DEFAULTS, delayNotificationTimeoutMs };
    validateRetrySettings(s);
    const ev = simulate(s, () => "conn-fail");
    assert.ok(!ev.some(([k]) => k === "notice"), String(delayNotificationTimeoutMs));
    assert.deepEqual(ev.at(-1), ["expire", 2880]);
  }
});

test("validateRetrySettings names the first unusable setting", () => {
  const bad: Array<[Partial<RetrySettings>, RegExp]> = [
    [{ transientFailureRetryCount: -1 }, /transientFailureRetryCount/],
    [{ transientFailureRetryCount: 1.5 }, /transientFailureRetryCount/],
    [{ transientFailureRetryIntervalMs: NaN }, /transientFailureRetryIntervalMs/],
    [{ outboundConnectionFailureRetryIntervalMs: Infinity }, /outboundConnectionFailureRetryIntervalMs/],
    [{ messageRetryIntervalMs: -5 }, /messageRetryIntervalMs/],
    [{ delayNotificationTimeoutMs: NaN }, /delayNotificationTimeoutMs/],
    [{ messageExpirationTimeoutMs: 0 }, /messageExpirationTimeoutMs/],
  ];
  for (const [patch, re] of bad) assert.throws(() => validateRetrySettings({ ...EXCHANGE_EDGE_DEFAULTS, ...patch }), re);
});

// ---- properties ----

const arbSettings: fc.Arbitrary<RetrySettings> = fc.record({
  transientFailureRetryCount: fc.integer({ min: 0, max: 10 }),
  transientFailureRetryIntervalMs: fc.integer({ min: 1, max: 60 }).map((m) => m * MIN),
  outboundConnectionFailureRetryIntervalMs: fc.integer({ min: 1, max: 120 }).map((m) => m * MIN),
  messageRetryIntervalMs: fc.integer({ min: 1, max: 60 }).map((m) => m * MIN),
  delayNotificationTimeoutMs: fc.oneof(fc.integer({ min: 0, max: 48 * 60 }).map((m) => m * MIN), fc.constant(Infinity)),
  messageExpirationTimeoutMs: fc.integer({ min: 1, max: 72 * 60 }).map((m) => m * MIN),
});

/** Settings plus a consistent state: every recorded attempt lies between arrival and expiry, `now` anywhere up to a day past expiry. */
const arbCase = arbSettings.chain((s) => {
  const life = s.messageExpirationTimeoutMs;
  const offset = fc.integer({ min: 0, max: life });
  return fc.record({
    s: fc.constant(s),
    m: fc.record({
      arrivedAt: fc.constant(T0),
      attempts: fc.integer({ min: 0, max: 50 }),
      lastAttemptAt: fc.option(offset.map((o) => new Date(T0.getTime() + o)), { nil: undefined }),
      delayNotified: fc.boolean(),
    }),
    q: fc.record({
      consecutiveFailures: fc.integer({ min: 0, max: 20 }),
      lastAttemptAt: fc.option(offset.map((o) => new Date(T0.getTime() + o)), { nil: undefined }),
    }),
    now: fc.integer({ min: 0, max: life + 24 * 60 * MIN }).map((o) => new Date(T0.getTime() + o)),
  });
});

test("property: the next attempt is never before the last attempt (message's or queue's) and never after expiry", () => {
  fc.assert(
    fc.property(arbCase, ({ s, m, q }) => {
      const next = nextMessageAttempt(m, q, s);
      if (next === "now") return;
      assert.ok(next <= expiresAt(m, s), "not after expiry");
      if (m.lastAttemptAt) assert.ok(next >= m.lastAttemptAt, "not before the message's last attempt");
      if (q.consecutiveFailures > 0 && q.lastAttemptAt) assert.ok(next >= q.lastAttemptAt, "not before the queue's last attempt");
    }),
    { numRuns: 500 },
  );
});

test("property: decide expires exactly when the age reaches the timeout; a wait always lies in (now, expiry]; no notice once notified", () => {
  fc.assert(
    fc.property(arbCase, ({ s, m, q, now }) => {
      const d = decide(m, q, now, s);
      assert.equal(d.action === "expire", now.getTime() - m.arrivedAt.getTime() >= s.messageExpirationTimeoutMs);
      if (m.delayNotified) assert.notEqual(d.action, "delay-notice");
      if (d.action === "wait") {
        assert.ok(d.until > now && d.until <= expiresAt(m, s));
        const next = nextMessageAttempt(m, q, s);
        assert.ok(next !== "now" && d.until <= next, "never waits past the next attempt");
      }
      if (d.action === "attempt") {
        const next = nextMessageAttempt(m, q, s);
        assert.ok(next === "now" || next <= now, "never attempts early");
      }
      if (d.action === "delay-notice") assert.ok(d.then === "now" || d.then > now);
    }),
    { numRuns: 500 },
  );
});

test("property: under any outcomes a message is delivered or expired on time, with at most one notice, sent on the dot", () => {
  const arbOutcomes = fc.array(fc.constantFrom<Outcome>("conn-fail", "conn-fail", "msg-fail", "ok"), { minLength: 1, maxLength: 40 });
  fc.assert(
    fc.property(arbSettings, arbOutcomes, fc.boolean(), (s, plan, neverOk) => {
      const ev = simulate(s, (_now, n) => {
        const o = plan[(n - 1) % plan.length] as Outcome;
        return neverOk && o === "ok" ? "msg-fail" : o;
      });
      const last = ev.at(-1) as Event;
      const expiry = s.messageExpirationTimeoutMs / MIN;
      const delay = s.delayNotificationTimeoutMs / MIN;
      assert.ok(last[0] === "delivered" || last[0] === "expire");
      if (last[0] === "expire") assert.equal(last[1], expiry);
      const times = attempts(ev);
      assert.equal(times[0], 0, "first attempt immediately");
      const maxGap = Math.max(s.transientFailureRetryIntervalMs, s.outboundConnectionFailureRetryIntervalMs, s.messageRetryIntervalMs) / MIN;
      for (let i = 1; i < times.length; i++) {
        const gap = (times[i] as number) - (times[i - 1] as number);
        assert.ok(gap > 0 && gap <= maxGap, `gap ${gap}`);
      }
      assert.ok(times.every((t) => t < expiry), "no attempt at or after expiry");
      const notices = ev.filter(([k]) => k === "notice");
      // The notice comes before an attempt due at the same instant, so a message still queued at the deadline gets it.
      if (delay < expiry && last[1] >= delay) assert.deepEqual(notices, [["notice", delay]]);
      else assert.deepEqual(notices, []);
    }),
    { numRuns: 200 },
  );
});
