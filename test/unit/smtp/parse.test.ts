// MAIL FROM / RCPT TO argument parsing and the reply formatter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMailFrom, parseRcptTo } from "../../../src/smtp/receive/parse.js";
import { formatReply, isValidReply } from "../../../src/smtp/receive/replies.js";

const MAX = 10_000_000;

function mailOk(arg: string): { address: string; params: unknown } {
  const r = parseMailFrom(arg, MAX);
  assert.ok(r.ok, `${arg} should parse: ${r.ok ? "" : JSON.stringify(r.reply)}`);
  return { address: r.address, params: r.params };
}

function mailReply(arg: string, max = MAX): string {
  const r = parseMailFrom(arg, max);
  assert.ok(!r.ok, `${arg} should be refused`);
  return `${r.reply.code} ${r.reply.enhanced}`;
}

test("MAIL FROM: paths", () => {
  assert.deepEqual(mailOk("FROM:<>"), { address: "", params: {} });
  assert.deepEqual(mailOk("from:<a.b+tag@example.com>"), { address: "a.b+tag@example.com", params: {} });
  assert.deepEqual(mailOk('FROM:<"a b"@x.com>'), { address: '"a b"@x.com', params: {} });
  assert.deepEqual(mailOk('FROM:<"a\\"b>c"@x.com>'), { address: '"a\\"b>c"@x.com', params: {} });
  assert.deepEqual(mailOk("FROM:<@relay.example,@r2.example:user@example.com>"), { address: "user@example.com", params: {} });
  assert.deepEqual(mailOk("FROM:<u@[192.0.2.1]>"), { address: "u@[192.0.2.1]", params: {} });
  assert.deepEqual(mailOk("FROM:<u@[IPv6:2001:db8::1]>"), { address: "u@[IPv6:2001:db8::1]", params: {} });
  assert.deepEqual(mailOk("FROM: <a@b.c>"), { address: "a@b.c", params: {} }, "space after the colon is tolerated");
  for (const bad of ["FROM:<a@b.c", "FROM:<a..b@c.d>", "FROM:<.a@c.d>", "FROM:<a.@c.d>", "FROM:<@c.d>", "FROM:<a@>", "FROM:<a@-b.c>",
    "FROM:<a@b-.c>", "FROM:<a@b.c.>", "FROM:<a b@c.d>", `FROM:<${"l".repeat(65)}@c.d>`, "FROM:<a@[300.1.1.1]>", "FROM:<postmaster>",
    "FROM:<a@b.c>x"]) {
    const r = parseMailFrom(bad, MAX);
    assert.ok(!r.ok, bad);
    assert.match(`${r.reply.code} ${r.reply.enhanced}`, /^501 5\.(1\.7|5\.4)$/, bad);
  }
  assert.equal(mailReply("FROM a@b.c"), "501 5.5.4");
  assert.equal(mailReply("FROM:a@b.c"), "501 5.5.4");
  assert.equal(mailReply("TO:<a@b.c>"), "501 5.5.4");
});

test("MAIL FROM: parameters", () => {
  assert.deepEqual(mailOk("FROM:<a@b.c> SIZE=1000 BODY=8bitmime RET=HDRS ENVID=QQ+2B1 SMTPUTF8").params, {
    size: 1000,
    body: "8BITMIME",
    ret: "HDRS",
    envid: "QQ+2B1",
    smtputf8: true,
  });
  assert.equal(mailReply("FROM:<a@b.c> SIZE=101", 100), "552 5.3.4");
  assert.equal(mailOk("FROM:<a@b.c> SIZE=100").params && parseMailFrom("FROM:<a@b.c> SIZE=100", 100).ok, true);
  assert.equal(mailReply("FROM:<a@b.c> AUTH=<>"), "555 5.5.4");
  assert.equal(mailReply("FROM:<a@b.c> XFOO"), "555 5.5.4");
  assert.equal(mailReply("FROM:<a@b.c> SIZE=abc"), "501 5.5.4");
  assert.equal(mailReply("FROM:<a@b.c> SIZE=1 SIZE=2"), "501 5.5.4");
  assert.equal(mailReply("FROM:<a@b.c> BODY=BINARYMIME"), "501 5.5.4");
  assert.equal(mailReply("FROM:<a@b.c> ENVID=a+zz"), "501 5.5.4");
  assert.equal(mailReply("FROM:<a@b.c> SMTPUTF8=yes"), "501 5.5.4");
  assert.equal(mailReply("FROM:<a@b.c> RET=ALL"), "501 5.5.4");
});

test("SMTPUTF8: non-ASCII addresses need the parameter", () => {
  assert.equal(mailReply("FROM:<jörg@bücher.example>"), "553 5.6.7");
  assert.deepEqual(mailOk("FROM:<jörg@bücher.example> SMTPUTF8"), { address: "jörg@bücher.example", params: { smtputf8: true } });
  const r = parseRcptTo("TO:<用户@例子.广告>", false);
  assert.ok(!r.ok && r.reply.code === 553 && r.reply.enhanced === "5.6.7");
  assert.ok(parseRcptTo("TO:<用户@例子.广告>", true).ok);
});

test("RCPT TO: paths and DSN parameters", () => {
  const ok = parseRcptTo("TO:<u@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40example.com", false);
  assert.ok(ok.ok);
  assert.equal(ok.address, "u@example.com");
  assert.deepEqual(ok.params, { notify: ["SUCCESS", "FAILURE"], orcpt: "rfc822;u+40example.com" });
  const pm = parseRcptTo("to:<Postmaster>", false);
  assert.ok(pm.ok && pm.address === "Postmaster");
  const reply = (arg: string): string => {
    const r = parseRcptTo(arg, false);
    assert.ok(!r.ok, arg);
    return `${r.reply.code} ${r.reply.enhanced}`;
  };
  assert.equal(reply("TO:<>"), "501 5.1.3");
  assert.equal(reply("TO:<a@@b>"), "501 5.1.3");
  assert.equal(reply("TO:u@example.com"), "501 5.5.4");
  assert.equal(reply("FROM:<u@example.com>"), "501 5.5.4");
  assert.equal(reply("TO:<u@example.com> NOTIFY=NEVER,SUCCESS"), "501 5.5.4");
  assert.equal(reply("TO:<u@example.com> NOTIFY=SOMETIMES"), "501 5.5.4");
  assert.equal(reply("TO:<u@example.com> ORCPT=rfc822"), "501 5.5.4");
  assert.equal(reply("TO:<u@example.com> SIZE=1"), "555 5.5.4");
});

test("reply formatting: single, multi-line, without enhanced code; CR/LF cannot inject a reply", () => {
  assert.equal(formatReply({ code: 451, enhanced: "4.7.5", text: "Try later" }), "451 4.7.5 Try later\r\n");
  assert.equal(formatReply({ code: 550, enhanced: "5.7.1", text: ["one", "two", "three"] }), "550-5.7.1 one\r\n550-5.7.1 two\r\n550 5.7.1 three\r\n");
  assert.equal(formatReply({ code: 220, text: "mx ready" }), "220 mx ready\r\n");
  assert.equal(formatReply({ code: 250, text: ["a", "b"] }), "250-a\r\n250 b\r\n");
  assert.equal(formatReply({ code: 550, enhanced: "5.7.1", text: "bad\r\n250 2.0.0 injected" }), "550 5.7.1 bad 250 2.0.0 injected\r\n");
  assert.ok(isValidReply({ code: 250, text: "x" }));
  assert.ok(!isValidReply({ code: 99, text: "x" }));
  assert.ok(!isValidReply({ code: 250, enhanced: "2.0", text: "x" }));
  assert.ok(!isValidReply({ code: 250 }));
  assert.ok(!isValidReply(undefined));
});
