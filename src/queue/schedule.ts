// The outbound retry schedule, as pure functions of the queue's and the
// message's retry state and a clock passed in. Nothing here sleeps, reads the
// time or touches the spool: the delivery loop asks `decide()` what to do with
// a message at `now`, does it, updates the state, and asks again. Keeping the
// policy pure lets the tests run two simulated days in microseconds.
//
// The settings come from Set-TransportServer (settings/transport-server.ts:
// the schema, the defaults in seconds, retrySettingsOf() in milliseconds);
// the defaults are those of an Exchange 2007 Edge Transport server: a queue whose next hop cannot be reached is retried
// every 10 minutes for 6 attempts ("transient" failures: a restarting partner
// server), then every 30 minutes (a longer outage: hammering it helps
// nobody); a single message refused with a 4xx while its queue is healthy is
// retried every 15 minutes; the sender hears about a delay after 4 hours and
// gets an NDR after 2 days.

export interface RetrySettings {
  /** Connection failures retried at the short interval before switching to the long one. */
  transientFailureRetryCount: number;
  transientFailureRetryIntervalMs: number;
  /** Once the transient retries are used up: how often an unreachable next hop is tried. */
  outboundConnectionFailureRetryIntervalMs: number;
  /** A message that failed on its own (its queue is fine) is retried this long after its last attempt. */
  messageRetryIntervalMs: number;
  /** Age at which the sender is told, once, that delivery is delayed. `Infinity` disables delay notices. */
  delayNotificationTimeoutMs: number;
  /** Age at which a message is given up and returned to its sender (NDR). */
  messageExpirationTimeoutMs: number;
}

/** The state of one next-hop queue: consecutive connection failures, reset to 0 by any successful connection. */
export interface QueueRetryState {
  consecutiveFailures: number;
  lastAttemptAt?: Date | undefined;
}

/** The state of one message in a queue. `delayNotified` is set by the caller once the delay notice has been sent. */
export interface MessageRetryState {
  arrivedAt: Date;
  attempts: number;
  lastAttemptAt?: Date | undefined;
  delayNotified: boolean;
}

export type Decision =
  | { action: "attempt" }
  | { action: "wait"; until: Date }
  | { action: "delay-notice"; then: Date | "now" }
  | { action: "expire" };

/**
 * Throws a RangeError naming the first unusable setting. Meant to be called
 * once when the configuration is loaded: the functions below trust their
 * settings (a NaN interval would silently yield an Invalid Date).
 */
export function validateRetrySettings(s: RetrySettings): void {
  const check = (name: keyof RetrySettings, ok: boolean): void => {
    if (!ok) throw new RangeError(`retry setting ${name} is invalid: ${String(s[name])}`);
  };
  const interval = (v: number): boolean => Number.isFinite(v) && v >= 0;
  check("transientFailureRetryCount", Number.isInteger(s.transientFailureRetryCount) && s.transientFailureRetryCount >= 0);
  check("transientFailureRetryIntervalMs", interval(s.transientFailureRetryIntervalMs));
  check("outboundConnectionFailureRetryIntervalMs", interval(s.outboundConnectionFailureRetryIntervalMs));
  check("messageRetryIntervalMs", interval(s.messageRetryIntervalMs));
  // Infinity is allowed here: it switches delay notices off.
  check("delayNotificationTimeoutMs", !Number.isNaN(s.delayNotificationTimeoutMs) && s.delayNotificationTimeoutMs >= 0);
  check("messageExpirationTimeoutMs", Number.isFinite(s.messageExpirationTimeoutMs) && s.messageExpirationTimeoutMs > 0);
}

const at = (ms: number): Date => new Date(ms);

/** When the message is given up (arrival + expiration timeout). */
export function expiresAt(m: MessageRetryState, s: RetrySettings): Date {
  return at(m.arrivedAt.getTime() + s.messageExpirationTimeoutMs);
}

/**
 * When the queue's next hop should next be tried. A queue that has not
 * failed (or has no recorded attempt to count from) goes "now". After its
 * n-th consecutive connection failure it waits the transient interval while
 * n ≤ transientFailureRetryCount, and the long interval after that.
 */
export function nextQueueAttempt(q: QueueRetryState, s: RetrySettings): Date | "now" {
  if (q.consecutiveFailures <= 0 || q.lastAttemptAt === undefined) return "now";
  const interval =
    q.consecutiveFailures <= s.transientFailureRetryCount ? s.transientFailureRetryIntervalMs : s.outboundConnectionFailureRetryIntervalMs;
  return at(q.lastAttemptAt.getTime() + interval);
}

/**
 * When this message should next be tried, never later than its expiry (so
 * the caller wakes up in time to return it).
 *
 * - Queue in retry (consecutiveFailures > 0): the message goes with the
 *   queue's next connection attempt. Its own 15-minute interval does not
 *   apply: the failure was the connection's, not the message's, and adding
 *   it would stretch the queue's 10-minute transient retries.
 * - Queue healthy: a message never tried goes now; one that failed on its
 *   own (a 4xx to RCPT or DATA) goes messageRetryIntervalMs after its last
 *   attempt.
 *
 * The result is never before the message's own last attempt: a queue whose
 * recorded attempt is older than the message's would otherwise schedule a
 * retry in the message's past.
 */
export function nextMessageAttempt(m: MessageRetryState, q: QueueRetryState, s: RetrySettings): Date | "now" {
  let next: Date | "now";
  if (q.consecutiveFailures > 0) {
    next = nextQueueAttempt(q, s);
    if (next !== "now" && m.lastAttemptAt !== undefined && next < m.lastAttemptAt) next = m.lastAttemptAt;
  } else if (m.attempts <= 0 || m.lastAttemptAt === undefined) {
    next = "now";
  } else {
    next = at(m.lastAttemptAt.getTime() + s.messageRetryIntervalMs);
  }
  if (next === "now") return next;
  const expiry = expiresAt(m, s);
  return next > expiry ? expiry : next;
}

/** The message is too old to try again: return it to its sender. Inclusive: at exactly the timeout it has expired. */
export function isExpired(m: MessageRetryState, now: Date, s: RetrySettings): boolean {
  return now.getTime() - m.arrivedAt.getTime() >= s.messageExpirationTimeoutMs;
}

/**
 * A delay notice is owed: the message is at least delayNotificationTimeoutMs
 * old and none was sent yet. Only the age counts, not whether an attempt
 * failed: a message stuck behind an unreachable hop is delayed too. This
 * predicate ignores expiry; `decide()` lets expiry win.
 */
export function delayNoticeDue(m: MessageRetryState, now: Date, s: RetrySettings): boolean {
  return !m.delayNotified && now.getTime() - m.arrivedAt.getTime() >= s.delayNotificationTimeoutMs;
}

/** When a delay notice will become due, if one still can (not yet sent, and due before the message expires). */
function delayNoticeAt(m: MessageRetryState, s: RetrySettings): Date | undefined {
  if (m.delayNotified || !Number.isFinite(s.delayNotificationTimeoutMs)) return undefined;
  if (s.delayNotificationTimeoutMs >= s.messageExpirationTimeoutMs) return undefined;
  return at(m.arrivedAt.getTime() + s.delayNotificationTimeoutMs);
}

/**
 * One decision for a message at `now`, in this order:
 * 1. expired → "expire" (the NDR replaces any delay notice still owed);
 * 2. delay notice owed → "delay-notice", with when to try next ("now" if
 *    already due), so the caller sends the notice, sets delayNotified and
 *    carries on without asking again;
 * 3. next attempt due → "attempt";
 * 4. otherwise "wait" until the earliest of the next attempt, the moment a
 *    delay notice becomes due, and expiry (both already bound the next
 *    attempt): a notice must not go out up to 30 minutes late just because
 *    the next retry is that far away.
 */
export function decide(m: MessageRetryState, q: QueueRetryState, now: Date, s: RetrySettings): Decision {
  if (isExpired(m, now, s)) return { action: "expire" };
  const next = nextMessageAttempt(m, q, s);
  const due = next === "now" || next <= now;
  if (delayNoticeDue(m, now, s)) return { action: "delay-notice", then: due ? "now" : next };
  if (due) return { action: "attempt" };
  const notice = delayNoticeAt(m, s);
  return { action: "wait", until: notice !== undefined && notice < next ? notice : next };
}
