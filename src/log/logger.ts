// The application log of `sealpost serve`: one line per event on stdout,
// JSON (`{"time","level","msg",...fields}`) for machines or text for a
// person at a terminal. Separate from the protocol logs and message tracking
// (src/protolog/), which are files with formats of their own.
//
// Nothing secret is ever written: every line passes through `redact` (fields
// named like a key, password, token or secret are masked; PEM blocks,
// passwords in URLs and byte buffers are never printed). The admin token is
// the one secret printed on purpose, once, on a line of its own
// (`announceSecret`); every other line masks it.
import { SealpostError } from "../errors/errors.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "text";
export type LogFields = Record<string, unknown>;

/** A `(line) => void` callback, as the server's parts take one (see `Logger.line`). */
export type LineLog = (line: string) => void;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /**
   * Prints a secret the administrator must learn (the admin token at first
   * start) on its own line, marked `"shown_once": true`, unredacted; from
   * then on the value is masked wherever else it would appear.
   */
  announceSecret(msg: string, field: string, value: string): void;
  /** The same log with fields added to every line (e.g. `{ worker: pid }`). */
  child(fields: LogFields): Logger;
  /** For the parts that take a `(line: string) => void`: the level is read from the line's wording (`classifyLine`). */
  readonly line: LineLog;
  readonly format: LogFormat;
}

export interface LoggerOptions {
  format: LogFormat;
  /** Lines below this level are dropped (default info). */
  level?: LogLevel;
  /** Where lines go (default process.stdout; one write per line, so lines from several processes never interleave). */
  write?: (text: string) => void;
  now?: () => Date;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_FORMAT_ENV = "SEALPOST_LOG_FORMAT";
export const LOG_LEVEL_ENV = "SEALPOST_LOG_LEVEL";

/**
 * The format: `--log-format` wins, then SEALPOST_LOG_FORMAT, then text when
 * stdout is a terminal and JSON otherwise (a service manager, a container, a
 * pipe to a collector).
 */
export function resolveLogFormat(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, isTTY: boolean = process.stdout.isTTY === true): LogFormat {
  for (const [value, from] of [
    [flag, "--log-format"],
    [env[LOG_FORMAT_ENV], LOG_FORMAT_ENV],
  ] as const) {
    if (value === undefined || value === "") continue;
    const v = value.toLowerCase();
    if (v === "json" || v === "text") return v;
    throw new SealpostError("INVALID_ARGUMENT", `${from} '${value}' is not valid: give json or text.`);
  }
  return isTTY ? "text" : "json";
}

/** SEALPOST_LOG_LEVEL (debug, info, warn, error); default info. */
export function resolveLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const v = env[LOG_LEVEL_ENV]?.toLowerCase();
  if (v === undefined || v === "") return "info";
  if (v in LEVELS) return v as LogLevel;
  throw new SealpostError("INVALID_ARGUMENT", `${LOG_LEVEL_ENV} '${env[LOG_LEVEL_ENV] ?? ""}' is not valid: give debug, info, warn or error.`);
}

// --- redaction -------------------------------------------------------------

/** Field names whose values are never printed. */
const SECRET_NAME = /key|passw|passphrase|pwd|token|secret|credential|authorization|cookie/i;
/** A PEM block (or what is left of one when it was cut short). */
const PEM = /-----BEGIN[^-]*-----[\s\S]*?(?:-----END[^-]*-----\r?\n?|$)/g;
/** The password part of a URL's user information (postgres://user:pw@host). */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi;
/** "password=...", "secret: ..." written into a message. */
const ASSIGNED_SECRET = /\b(password|passwd|passphrase|pwd|secret|token|api[_-]?key|private[_-]?key)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;]+)/gi;
export const REDACTED = "[REDACTED]";
const MAX_DEPTH = 5;

function redactString(s: string, secrets: ReadonlySet<string>): string {
  let out = s;
  if (out.includes("-----BEGIN")) out = out.replace(PEM, "[REDACTED PEM]");
  if (out.includes("://")) out = out.replace(URL_PASSWORD, "$1****@");
  out = out.replace(ASSIGNED_SECRET, `$1$2${REDACTED}`);
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * A copy of a value fit to print: fields named like a secret masked, PEM
 * blocks, URL passwords and announced secrets cut out of every string,
 * buffers reduced to their length, errors to name and message.
 */
export function redact(value: unknown, secrets: ReadonlySet<string> = new Set(), depth = 0): unknown {
  if (typeof value === "string") return redactString(value, secrets);
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? value.toString() : value;
  if (depth >= MAX_DEPTH) return "[...]";
  if (Buffer.isBuffer(value) || value instanceof Uint8Array || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) {
    return redact({ name: value.name, message: value.message, ...((value as { code?: unknown }).code !== undefined ? { code: (value as { code?: unknown }).code } : {}) }, secrets, depth + 1);
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets, depth + 1));
  const out: LogFields = {};
  for (const [k, v] of Object.entries(value as LogFields)) {
    out[k] = SECRET_NAME.test(k) && v !== undefined && v !== null && v !== "" ? REDACTED : redact(v, secrets, depth + 1);
  }
  return out;
}

// --- lines from the parts that take (line) => void ------------------------

/**
 * The level (and a few fields) of a line from a part that logs plain text
 * (the outbound queue manager, edge sync, an edge process), read from its
 * wording. The texts stay the `msg` unchanged: tests and administrators'
 * scripts match them.
 */
const LINE_RULES: Array<[RegExp, LogLevel, LogFields?]> = [
  [/^ALERT\b/, "error", { alert: true }],
  [/^outbound: a report for .* was dropped/, "warn"],
  [/^outbound: /, "error"],
  [/^cannot listen on /, "error"],
  [/^configuration reload failed/, "warn"],
  [/^warning: /i, "warn"],
  [/^edge sync: (the organization store is unreachable|refusing)/, "warn"],
  [/^edge sync: connected to a read-only replica/, "warn"],
  [/store unreachable/, "warn"],
  [/^worker \d+ exited/, "warn"],
  [/^spool recovery: skipped/, "warn"],
];
const COMPONENT = /^(?:ALERT )?(outbound|edge sync|spool recovery):/;

export function classifyLine(line: string): { level: LogLevel; fields: LogFields } {
  const rule = LINE_RULES.find(([re]) => re.test(line));
  const component = COMPONENT.exec(line)?.[1];
  return { level: rule?.[1] ?? "info", fields: { ...(component ? { component: component.replace(" ", "_") } : {}), ...(rule?.[2] ?? {}) } };
}

// --- the logger ------------------------------------------------------------

const RESERVED = new Set(["time", "level", "msg"]);

function textValue(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

export function createLogger(opts: LoggerOptions): Logger {
  const write = opts.write ?? ((t: string) => void process.stdout.write(t));
  const now = opts.now ?? (() => new Date());
  const min = LEVELS[opts.level ?? "info"];
  const secrets = new Set<string>();

  const emit = (level: LogLevel, msg: string, base: LogFields, fields: LogFields | undefined, raw?: LogFields): void => {
    if (LEVELS[level] < min && !raw) return;
    const clean = redact({ ...base, ...fields }, secrets) as LogFields;
    for (const k of RESERVED) delete clean[k];
    const rec: LogFields = { time: now().toISOString(), level, msg: redactString(msg, secrets), ...clean, ...raw };
    if (opts.format === "json") return write(`${JSON.stringify(rec)}\n`);
    const extra = Object.entries(rec)
      .filter(([k, v]) => !RESERVED.has(k) && v !== undefined)
      .map(([k, v]) => ` ${k}=${textValue(v)}`)
      .join("");
    write(`${rec.time as string} ${level.toUpperCase().padEnd(5)} ${rec.msg as string}${extra}\n`);
  };

  const make = (base: LogFields): Logger => {
    const logger: Logger = {
      format: opts.format,
      debug: (msg, fields) => emit("debug", msg, base, fields),
      info: (msg, fields) => emit("info", msg, base, fields),
      warn: (msg, fields) => emit("warn", msg, base, fields),
      error: (msg, fields) => emit("error", msg, base, fields),
      announceSecret(msg, field, value) {
        // Its own line, whatever the level; the value unmasked only here.
        emit("info", msg, base, { shown_once: true }, { [field]: value });
        if (value.length >= 8) secrets.add(value);
      },
      child: (fields) => make({ ...base, ...fields }),
      line: (text) => {
        const { level, fields } = classifyLine(text);
        emit(level, text, base, fields);
      },
    };
    return logger;
  };
  return make({});
}
