// The application log: JSON and text lines, levels, the switch between
// them, the level read from plain-text lines, and redaction (no key
// material, password or token ever printed but the admin token's own line).
import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyLine, createLogger, redact, resolveLogFormat, resolveLogLevel, REDACTED, type LogFormat, type Logger } from "../../../src/log/logger.js";

const NOW = new Date("2025-03-04T05:06:07.089Z");

function capture(format: LogFormat = "json", level?: "debug" | "info" | "warn" | "error"): { logger: Logger; lines: string[]; records: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = createLogger({ format, ...(level ? { level } : {}), now: () => NOW, write: (t) => lines.push(t) });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n";

test("JSON lines: time, level, msg, then the fields; one write per line", () => {
  const { logger, lines, records } = capture();
  logger.info("hello", { connector: "Inet", count: 3 });
  logger.warn("careful");
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.endsWith("}\n") && l.indexOf("\n") === l.length - 1));
  assert.deepEqual(records()[0], { time: "2025-03-04T05:06:07.089Z", level: "info", msg: "hello", connector: "Inet", count: 3 });
  assert.deepEqual(Object.keys(records()[0] ?? {}).slice(0, 3), ["time", "level", "msg"]);
  assert.equal(records()[1]?.level, "warn");
});

test("fields cannot overwrite time, level or msg", () => {
  const { logger, records } = capture();
  logger.error("real", { msg: "fake", level: "debug", time: "then" });
  assert.deepEqual(records()[0], { time: NOW.toISOString(), level: "error", msg: "real" });
});

test("text lines for a person: time, level, msg, key=value", () => {
  const { logger, lines } = capture("text");
  logger.warn("edge sync: store down", { org_store: "postgres://u:****@db/x", version: 7, note: "two words" });
  assert.equal(lines[0], `${NOW.toISOString()} WARN  edge sync: store down org_store=postgres://u:****@db/x version=7 note="two words"\n`);
});

test("levels below the minimum are dropped", () => {
  const { logger, records } = capture("json", "warn");
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
  assert.deepEqual(records().map((r) => r.msg), ["w", "e"]);
});

test("redaction: fields named like a key, password, token or secret are masked, at any depth", () => {
  const { logger, lines, records } = capture();
  logger.info("import", {
    password: "hunter2hunter2",
    privateKey: "abc",
    key_pem: "abc",
    token: "t0k3n-value",
    clientSecret: "s3cr3t",
    nested: { passphrase: "pw", list: [{ apiKey: "k" }], fine: "visible" },
    thumbprint: "A".repeat(40),
  });
  const r = records()[0] as Record<string, unknown>;
  for (const k of ["password", "privateKey", "key_pem", "token", "clientSecret"]) assert.equal(r[k], REDACTED, k);
  assert.deepEqual(r.nested, { passphrase: REDACTED, list: [{ apiKey: REDACTED }], fine: "visible" });
  assert.equal(r.thumbprint, "A".repeat(40));
  for (const secret of ["hunter2", "t0k3n", "s3cr3t"]) assert.ok(!lines[0]?.includes(secret), secret);
});

test("redaction: PEM blocks never appear, in fields or in the message, even cut short", () => {
  const { logger, lines } = capture();
  logger.error(`could not load ${PEM_KEY}from file`, { detail: `x ${PEM_KEY}y`, cut: PEM_KEY.slice(0, 60), chain: [PEM_KEY] });
  const out = lines.join("");
  assert.doesNotMatch(out, /-----BEGIN/);
  assert.doesNotMatch(out, /MIGHAgEAMBMG|SECRETSECRET/);
  assert.match(out, /could not load \[REDACTED PEM\]from file/);
  assert.match(out, /"detail":"x \[REDACTED PEM\]y"/);
});

test("redaction: URL passwords, 'password=...' in text, buffers and errors", () => {
  const { logger, lines, records } = capture();
  logger.warn("store postgres://edge:pa55word@db.example/org failed; password=abc123 secret: xyz", {
    url: "postgres://edge:pa55word@db.example/org",
    der: Buffer.from("0123456789"),
    error: Object.assign(new Error(`bad ${PEM_KEY}`), { code: "E_BAD" }),
  });
  const out = lines.join("");
  assert.doesNotMatch(out, /pa55word|abc123|xyz|-----BEGIN/);
  const r = records()[0] as Record<string, unknown>;
  assert.equal(r.url, "postgres://edge:****@db.example/org");
  assert.equal(r.der, "[10 bytes]");
  assert.deepEqual(r.error, { name: "Error", message: "bad [REDACTED PEM]", code: "E_BAD" });
  assert.match(String(r.msg), /password=\[REDACTED\] secret: \[REDACTED\]/);
});

test("redact() is a pure copy: the input is not changed", () => {
  const input = { password: "p", inner: { token: "t" } };
  const out = redact(input) as typeof input;
  assert.equal(input.password, "p");
  assert.equal(out.password, REDACTED);
  assert.equal(out.inner.token, REDACTED);
});

test("the admin token: its own marked line once, masked in every other line (children too)", () => {
  const { logger, lines, records } = capture();
  const token = "Zq3x_9-abcDEFghiJKLmnoPQRstuVWXyz0123456789AB";
  const worker = logger.child({ worker: 42 });
  logger.announceSecret("Admin API token (shown once, stored in /d/admin.token with mode 0600)", "admin_token", token);
  logger.info(`echo ${token}`, { note: `again ${token}` });
  worker.line(`outbound: something with ${token}`);
  const rs = records();
  assert.deepEqual(rs[0], { time: NOW.toISOString(), level: "info", msg: "Admin API token (shown once, stored in /d/admin.token with mode 0600)", shown_once: true, admin_token: token });
  assert.equal(lines.filter((l) => l.includes(token)).length, 1, "the token appears on exactly one line");
  assert.equal(rs[1]?.msg, `echo ${REDACTED}`);
  assert.equal(rs[1]?.note, `again ${REDACTED}`);
  assert.equal(rs[2]?.worker, 42);
  assert.equal(rs[2]?.msg, `outbound: something with ${REDACTED}`);
});

test("the admin token line is printed whatever the level", () => {
  const { logger, records } = capture("json", "error");
  logger.announceSecret("Admin API token", "admin_token", "0123456789abcdef");
  assert.equal(records()[0]?.admin_token, "0123456789abcdef");
});

test("plain-text lines: the level from the wording, the text kept as msg", () => {
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ["ALERT outbound: mail for woodgrovebank.com is held, not sent: the send connector Woodgrove does not have DomainSecureEnabled", "error", { component: "outbound", alert: true }],
    ["outbound: queue fabrikam.com: Error: boom\n    at x", "error", { component: "outbound" }],
    ["outbound: a report for x@contoso.com was dropped: no such mailbox", "warn", { component: "outbound" }],
    ["edge of the organization postgres://postgres:****@127.0.0.1:5432/org: configuration version 3 (store unreachable: serving the last copy)", "warn", {}],
    ["edge sync: the organization store is unreachable; serving configuration version 3 until it returns (ECONNREFUSED)", "warn", { component: "edge_sync" }],
    ["edge sync: refusing the organization store's schema; serving configuration version 3 until this server or the store is upgraded (x)", "warn", { component: "edge_sync" }],
    ["edge sync: connected to a read-only replica; this edge's status is not reported (Test-EdgeSynchronization will not list it)", "warn", { component: "edge_sync" }],
    ["edge sync: applied configuration version 4 (was 3)", "info", { component: "edge_sync" }],
    ["warning: no SMTP certificate names mail.contoso.com; connector Inet does not offer STARTTLS", "warn", {}],
    ["configuration reload failed, keeping the previous one: SQLITE_BUSY", "warn", {}],
    ["cannot listen on 127.0.0.1:25: EACCES", "error", {}],
    ["worker 1234 exited (SIGKILL); starting another", "warn", {}],
    ["spool recovery: skipped 1 torn record(s) that were never acknowledged", "warn", { component: "spool_recovery" }],
    ["spool recovery: delivering 3 message(s) accepted before the last stop", "info", { component: "spool_recovery" }],
  ];
  for (const [line, level, fields] of cases) {
    const c = classifyLine(line);
    assert.equal(c.level, level, line);
    assert.deepEqual(c.fields, fields, line);
    const { logger, records } = capture();
    logger.line(line);
    assert.equal(records()[0]?.msg, line);
    assert.equal(records()[0]?.level, level);
  }
});

test("the texts tests and scripts match survive JSON encoding", () => {
  const { logger, lines } = capture();
  logger.info("Sealpost edge.example.net: data /tmp/d, SMTP 127.1.2.3:2525, admin API http://127.0.0.1:40123, 2 worker(s)");
  logger.line("ALERT outbound: mail for woodgrovebank.com is held, not sent: x");
  logger.warn("edge of the organization postgres://p:****@h/o: configuration version 1 (store unreachable: serving the last copy)");
  logger.info("edge of the organization postgres://p:****@h/o: configuration version 1 (polling for changes)");
  logger.line("edge sync: connected to a read-only replica; this edge's status is not reported (Test-EdgeSynchronization will not list it)");
  logger.info("Created a self-signed certificate 0123456789ABCDEF0123456789ABCDEF01234567 for edge.example.net (enabled for SMTP).");
  const out = lines.join("");
  assert.equal(/admin API http:\/\/([\d.]+:\d+)/.exec(out)?.[1], "127.0.0.1:40123");
  assert.match(out, /ALERT outbound: mail for woodgrovebank\.com is held/);
  assert.match(out, /store unreachable: serving the last copy/);
  assert.match(out, /\(polling for changes\)/);
  assert.match(out, /read-only replica; this edge's status is not reported/);
  assert.match(out, /Created a self-signed certificate [0-9A-F]{40} for edge\.example\.net/);
});

test("the format: --log-format, then SEALPOST_LOG_FORMAT, then text on a terminal and JSON otherwise", () => {
  assert.equal(resolveLogFormat(undefined, {}, true), "text");
  assert.equal(resolveLogFormat(undefined, {}, false), "json");
  assert.equal(resolveLogFormat(undefined, { SEALPOST_LOG_FORMAT: "text" }, false), "text");
  assert.equal(resolveLogFormat(undefined, { SEALPOST_LOG_FORMAT: "JSON" }, true), "json");
  assert.equal(resolveLogFormat("json", { SEALPOST_LOG_FORMAT: "text" }, true), "json");
  assert.equal(resolveLogFormat("text", {}, false), "text");
  assert.throws(() => resolveLogFormat("xml", {}, false), /--log-format 'xml' is not valid: give json or text/);
  assert.throws(() => resolveLogFormat(undefined, { SEALPOST_LOG_FORMAT: "yaml" }, false), /SEALPOST_LOG_FORMAT 'yaml' is not valid/);
  assert.equal(resolveLogLevel({}), "info");
  assert.equal(resolveLogLevel({ SEALPOST_LOG_LEVEL: "debug" }), "debug");
  assert.throws(() => resolveLogLevel({ SEALPOST_LOG_LEVEL: "loud" }), /SEALPOST_LOG_LEVEL 'loud' is not valid/);
});
