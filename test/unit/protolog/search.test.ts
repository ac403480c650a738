// Searching the logs (admin/logs.ts over protolog/search.ts) in a data folder
// whose files the test writes itself: two days, several processes' files
// interleaved in time, a session across midnight, a size-rotated file, quoted
// fields, damaged lines.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LogAdmin, parseLogTime, type ProtocolLogQuery, type TrackingLogQuery } from "../../../src/admin/logs.js";
import type { ServerContext } from "../../../src/admin/context.js";
import { DataDir } from "../../../src/config/datadir.js";
import { isSealpostError } from "../../../src/errors/errors.js";
import { csvField, PROTOCOL_LOG_FIELDS, protocolLogDir } from "../../../src/protolog/protocol-log.js";
import { mergeByTime, type MergeSource } from "../../../src/protolog/search.js";
import { trackingLogDir, type TrackingEvent } from "../../../src/protolog/tracking.js";

let root: string;
let logs: LogAdmin;

function header(kind: "Receive" | "Send", date: string): string {
  return [`#Software: Sealpost`, `#Version: 1.0`, `#Log-type: SMTP ${kind} Protocol Log`, `#Date: ${date}`, `#Fields: ${PROTOCOL_LOG_FIELDS}`, ""].join("\r\n");
}

type Row = [time: string, connector: string, session: string, seq: number, local: string, remote: string, event: string, data: string, context?: string];

function rows(list: Row[]): string {
  return list.map(([t, c, s, n, l, r, e, d, ctx]) => `${[t, csvField(c), csvField(s), String(n), csvField(l), csvField(r), e, csvField(d), csvField(ctx ?? "")].join(",")}\r\n`).join("");
}

function writeLog(kind: "Receive" | "Send", name: string, list: Row[], extra = ""): void {
  const dir = protocolLogDir(root, kind === "Receive" ? "receive" : "send");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), header(kind, list[0]?.[0] ?? "2026-11-29T00:00:00.000Z") + rows(list) + extra);
}

const L = "127.0.0.1:2525";
const W = "192.0.2.10:40000"; // woodgrove's client
const F = "198.51.100.7:51000"; // fabrikam's client
const T = "[2001:db8::25]:41000"; // tailspin's client, IPv6

const event = (over: Partial<TrackingEvent> & { timestamp: string }): TrackingEvent => ({
  eventId: "RECEIVE",
  messageId: "<m1@woodgrovebank.com>",
  internalId: "0192a1b2c3d4000001aabbccddee",
  sender: "Alice@WoodgroveBank.com",
  recipients: ["bob@contoso.com"],
  connector: "Inet",
  sessionId: "s1",
  serverHostname: "mail1.contoso.com",
  clientIp: "192.0.2.10",
  ...over,
});

function writeTracking(name: string, events: TrackingEvent[], extra = ""): void {
  const dir = trackingLogDir(root);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), events.map((e) => `${JSON.stringify(e)}\n`).join("") + extra);
}

before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), "sealpost-logsearch-"));
  // Process A, Nov 28: session s1 begins before midnight ...
  writeLog("Receive", "RECV20261128-1.log", [
    ["2026-11-28T23:59:58.000Z", "Inet", "s1", 0, L, W, "+", ""],
    ["2026-11-28T23:59:58.100Z", "Inet", "s1", 1, L, W, "<", "EHLO mail.woodgrovebank.com"],
    ["2026-11-28T23:59:59.000Z", "Inet", "s1", 2, L, W, "<", "MAIL FROM:<alice@woodgrovebank.com> SIZE=100"],
  ]);
  // ... and goes on after it, in Nov 29's first file of process A; s2 follows.
  writeLog(
    "Receive",
    "RECV20261129-1.log",
    [
      ["2026-11-29T00:00:00.500Z", "Inet", "s1", 3, L, W, "<", "RCPT TO:<Bob@Contoso.com>"],
      ["2026-11-29T00:00:01.000Z", "Inet", "s1", 4, L, W, ">", '250 2.6.0 <id@mail1.contoso.com> Queued, "quoted", with commas', "reply, with comma"],
      ["2026-11-29T00:00:01.500Z", "Inet", "s1", 5, L, W, "-", ""],
      ["2026-11-29T09:00:00.000Z", "Inet", "s2", 0, L, F, "+", ""],
      ["2026-11-29T09:00:00.300Z", "Inet", "s2", 1, L, F, "<", "HELO fabrikam.com"],
    ],
    // Hand-written RFC 4180: a field with CRLF and doubled quotes, and a damaged line.
    '2026-11-29T09:00:00.600Z,Inet,s2,2,127.0.0.1:2525,198.51.100.7:51000,<,"MAIL FROM:<x@fabrikam.com>\r\nsecond ""line""",\r\nnot a row\r\n',
  );
  // Process B, same day, its rows interleaved with A's.
  writeLog("Receive", "RECV20261129-2.log", [
    ["2026-11-29T09:00:00.200Z", "Partner", "s3", 0, L, T, "+", ""],
    ["2026-11-29T09:00:00.400Z", "Partner", "s3", 1, L, T, "<", "EHLO other.example"],
    ["2026-11-29T09:00:00.500Z", "Partner", "s3", 2, L, T, "*", "", "Sending certificate"],
    ["2026-11-29T09:00:00.500Z", "Partner", "s3", 3, L, T, "*", "CN=mail1.contoso.com", "Certificate subject"],
    ["2026-11-29T09:00:00.500Z", "Partner", "s3", 4, L, T, "*", "mail1.contoso.com;contoso.com", "Certificate alternate names"],
    ["2026-11-29T09:00:00.700Z", "Partner", "s3", 5, L, T, "*", "", "Received certificate"],
    ["2026-11-29T09:00:00.700Z", "Partner", "s3", 6, L, T, "*", "CN=mail.tailspintoys.com, O=Tailspin", "Certificate subject"],
    ["2026-11-29T09:00:00.700Z", "Partner", "s3", 7, L, T, "*", "mail.tailspintoys.com;tailspintoys.com", "Certificate alternate names"],
    ["2026-11-29T09:00:00.800Z", "Partner", "s3", 8, L, T, "<", "MAIL FROM:<>"],
    ["2026-11-29T09:00:00.900Z", "Partner", "s3", 9, L, T, "-", ""],
  ]);
  // Process A again, after a size rotation.
  writeLog("Receive", "RECV20261129-3.log", [
    ["2026-11-29T10:00:00.000Z", "Inet", "s2", 3, L, F, "<", "QUIT"],
    ["2026-11-29T10:00:00.100Z", "Inet", "s2", 4, L, F, "-", ""],
  ]);
  writeLog("Send", "SEND20261129-1.log", [
    ["2026-11-29T09:30:00.000Z", "Internet", "s9", 0, "", "192.0.2.25:25", "+", ""],
    ["2026-11-29T09:30:00.100Z", "Internet", "s9", 1, "", "192.0.2.25:25", ">", "EHLO mail.contoso.com"],
    ["2026-11-29T09:30:00.200Z", "Internet", "s9", 2, "", "192.0.2.25:25", ">", "MAIL FROM:<bob@contoso.com>"],
    ["2026-11-29T09:30:00.300Z", "Internet", "s9", 3, "", "192.0.2.25:25", ">", "RCPT TO:<carol@WOODGROVEBANK.com>"],
    ["2026-11-29T09:30:00.400Z", "Internet", "s9", 4, "", "192.0.2.25:25", "-", ""],
  ]);

  writeTracking("MSGTRK20261128-1.log", [
    event({ timestamp: "2026-11-28T23:59:59.900Z" }),
    event({ timestamp: "2026-11-28T23:59:59.950Z", eventId: "DELIVER", detail: "delivered, to \"Bob\"", domainSecure: { verdict: "domain-secured", partner: "woodgrovebank.com" } }),
  ]);
  writeTracking(
    "MSGTRK20261129-1.log",
    [
      event({
        timestamp: "2026-11-29T09:00:01.000Z",
        messageId: "<m2@fabrikam.com>",
        sender: "x@fabrikam.com",
        recipients: ["bob@contoso.com", "dave@contoso.com"],
        sessionId: "s2",
        clientIp: "198.51.100.7",
        tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384", certSubject: "CN=mx.fabrikam.com", certThumbprint: "AB12" },
      }),
      event({ timestamp: "2026-11-29T09:00:02.000Z", eventId: "DELIVER", messageId: "<m2@fabrikam.com>", sender: "x@fabrikam.com", recipients: ["dave@contoso.com"], sessionId: "s2" }),
    ],
    "not json\n\n{\"half\": \n",
  );
  writeTracking("MSGTRK20261129-2.log", [
    event({ timestamp: "2026-11-29T09:00:01.500Z", eventId: "FAIL", messageId: "", sender: "", recipients: [], sessionId: "s3", serverHostname: "edge2.contoso.com", detail: "sender refused by Domain Security" }),
    event({ timestamp: "2026-11-29T09:30:00.400Z", eventId: "SEND", messageId: "<m3@contoso.com>", sender: "bob@contoso.com", recipients: ["carol@woodgrovebank.com"], sessionId: "s9" }),
  ]);
  logs = new LogAdmin({ dir: new DataDir(root) } as unknown as ServerContext);
});

after(() => rmSync(root, { recursive: true, force: true }));

const key = (r: { SessionId: string; Sequence: number }) => `${r.SessionId}.${r.Sequence}`;

describe("protocol log", () => {
  test("every row of both directions, in time order across processes' files and days", async () => {
    const all = await logs.protocolLog({ limit: "Unlimited" });
    assert.equal(all.length, 3 + 6 + 10 + 2 + 5);
    const times = all.map((r) => Date.parse(r.DateTime));
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    // Interleaving: s3's first row (process B) comes between s1's end and s2's HELO (process A).
    assert.deepEqual(all.slice(5, 9).map(key), ["s1.5", "s2.0", "s3.0", "s2.1"]);
    assert.deepEqual(new Set(all.map((r) => r.Direction)), new Set(["Receive", "Send"]));
  });

  test("RFC 4180 fields come back whole: commas, quotes, CRLF", async () => {
    const s1 = await logs.protocolLog({ sessionId: "s1" });
    const reply = s1.find((r) => r.Sequence === 4);
    assert.equal(reply?.Data, '250 2.6.0 <id@mail1.contoso.com> Queued, "quoted", with commas');
    assert.equal(reply?.Context, "reply, with comma");
    const mail = (await logs.protocolLog({ sessionId: "S2" })).find((r) => r.Sequence === 2);
    assert.equal(mail?.Data, 'MAIL FROM:<x@fabrikam.com>\r\nsecond "line"');
    assert.equal(mail?.RemoteEndpoint, F);
  });

  test("-SessionId: one session's rows, across midnight, in order", async () => {
    const s1 = await logs.protocolLog({ sessionId: "s1" });
    assert.deepEqual(s1.map((r) => r.Sequence), [0, 1, 2, 3, 4, 5]);
    assert.ok(s1.every((r) => r.SessionId === "s1" && r.Connector === "Inet" && r.LocalEndpoint === L));
    assert.deepEqual(await logs.protocolLog({ sessionId: "nosuch" }), []);
  });

  test("-RemoteAddress matches the remote endpoint's IP (IPv4, IPv6 in any spelling)", async () => {
    assert.deepEqual(new Set((await logs.protocolLog({ remoteAddress: "198.51.100.7" })).map((r) => r.SessionId)), new Set(["s2"]));
    const v6 = await logs.protocolLog({ remoteAddress: "2001:DB8:0:0::25" });
    assert.equal(v6.length, 10);
    assert.ok(v6.every((r) => r.SessionId === "s3"));
    assert.deepEqual(await logs.protocolLog({ remoteAddress: "192.0.2.1" }), []);
    assert.equal((await logs.protocolLog({ remoteAddress: "::ffff:192.0.2.25" })).length, 5);
  });

  test("-Domain returns every row of each session naming the domain (EHLO, MAIL FROM, RCPT TO, the peer's certificate)", async () => {
    const wood = await logs.protocolLog({ domain: "WoodgroveBank.com" });
    // s1 (EHLO, MAIL FROM) in the receive log, s9 (RCPT TO) in the send log; whole sessions, "+" and "-" rows too.
    assert.deepEqual(wood.map(key), ["s1.0", "s1.1", "s1.2", "s1.3", "s1.4", "s1.5", "s9.0", "s9.1", "s9.2", "s9.3", "s9.4"]);
    // The peer's certificate names (not ours: s3 presented contoso.com only in "Sending certificate").
    const tail = await logs.protocolLog({ domain: "tailspintoys.com" });
    assert.equal(tail.length, 10);
    assert.ok(tail.every((r) => r.SessionId === "s3"));
    const contoso = await logs.protocolLog({ domain: "contoso.com" });
    assert.deepEqual(new Set(contoso.map((r) => r.SessionId)), new Set(["s1", "s9"]));
    assert.deepEqual(new Set((await logs.protocolLog({ domain: "fabrikam.com" })).map((r) => r.SessionId)), new Set(["s2"]));
    assert.deepEqual(await logs.protocolLog({ domain: "nowhere.example" }), []);
    // Combined with a direction.
    assert.deepEqual(new Set((await logs.protocolLog({ domain: "woodgrovebank.com", direction: "Send" })).map((r) => r.SessionId)), new Set(["s9"]));
  });

  test("-Direction, -Connector, -Start/-End and -ResultSize", async () => {
    assert.equal((await logs.protocolLog({ direction: "send" })).length, 5);
    assert.equal((await logs.protocolLog({ direction: "Receive", limit: "Unlimited" })).length, 21);
    assert.deepEqual(new Set((await logs.protocolLog({ connector: "partner" })).map((r) => r.SessionId)), new Set(["s3"]));
    assert.deepEqual(new Set((await logs.protocolLog({ connector: "EDGE1\\Partner" })).map((r) => r.SessionId)), new Set(["s3"]));
    // Up to the end of Nov 28: s1 goes on after midnight, those rows are not in the range.
    const day28 = await logs.protocolLog({ end: "2026-11-28T23:59:59.999Z" });
    assert.deepEqual(day28.map(key), ["s1.0", "s1.1", "s1.2"]);
    const window = await logs.protocolLog({ start: "2026-11-29T09:00:00.300Z", end: new Date("2026-11-29T09:00:00.500Z") });
    assert.deepEqual(window.map(key), ["s2.1", "s3.1", "s3.2", "s3.3", "s3.4"]);
    const first = await logs.protocolLog({ limit: 2 });
    assert.deepEqual(first.map(key), ["s1.0", "s1.1"]);
    assert.deepEqual((await logs.protocolLog({ limit: "3", sessionId: "s9" })).map(key), ["s9.0", "s9.1", "s9.2"]);
  });

  test("bad arguments are INVALID_ARGUMENT with what to give, before anything is read", async () => {
    const bad: Array<[ProtocolLogQuery, RegExp]> = [
      [{ direction: "Sideways" }, /Receive, Send or Both/],
      [{ start: "yesterday" }, /start time 'yesterday' is not a date/],
      [{ end: "2026-02-30" }, /end time '2026-02-30' is not a date/],
      [{ start: "2026-11-29", end: "2026-11-28" }, /before the start time/],
      [{ limit: 0 }, /at least 1, or Unlimited/],
      [{ limit: "-5" }, /at least 1/],
      [{ limit: "many" }, /at least 1/],
      [{ remoteAddress: "not-an-ip" }, /not an IP address/],
      [{ domain: "bad domain" }, /not a valid domain/],
      [{ sessionId: "a b" }, /session id/],
    ];
    for (const [q, msg] of bad) {
      assert.throws(
        () => logs.streamProtocolLog(q),
        (e: unknown) => isSealpostError(e, "INVALID_ARGUMENT") && msg.test(e.message),
        JSON.stringify(q),
      );
      await assert.rejects(logs.protocolLog(q), (e: unknown) => isSealpostError(e, "INVALID_ARGUMENT"));
    }
  });
});

describe("message tracking log", () => {
  test("every event in time order across files; damaged lines skipped; the view's fields", async () => {
    const all = await logs.trackingLog();
    assert.deepEqual(
      all.map((e) => `${e.EventId} ${e.MessageId}`),
      ["RECEIVE <m1@woodgrovebank.com>", "DELIVER <m1@woodgrovebank.com>", "RECEIVE <m2@fabrikam.com>", "FAIL ", "DELIVER <m2@fabrikam.com>", "SEND <m3@contoso.com>"],
    );
    const m2 = all[2];
    assert.deepEqual(m2, {
      Timestamp: "2026-11-29T09:00:01.000Z",
      EventId: "RECEIVE",
      MessageId: "<m2@fabrikam.com>",
      InternalId: "0192a1b2c3d4000001aabbccddee",
      Sender: "x@fabrikam.com",
      Recipients: ["bob@contoso.com", "dave@contoso.com"],
      ConnectorId: "Inet",
      SessionId: "s2",
      ServerHostname: "mail1.contoso.com",
      ClientIp: "198.51.100.7",
      TlsProtocol: "TLSv1.3",
      TlsCipher: "TLS_AES_256_GCM_SHA384",
      CertificateSubject: "CN=mx.fabrikam.com",
      CertificateThumbprint: "AB12",
      Detail: "",
    });
    assert.equal(all[1]?.DomainSecure, "domain-secured");
    assert.equal(all[1]?.DomainSecurePartner, "woodgrovebank.com");
    assert.equal(all[1]?.Detail, 'delivered, to "Bob"');
  });

  test("-Sender and -Recipients match case-insensitively; -Recipients is any of", async () => {
    assert.deepEqual((await logs.trackingLog({ sender: "alice@woodgrovebank.com" })).map((e) => e.EventId), ["RECEIVE", "DELIVER"]);
    assert.deepEqual((await logs.trackingLog({ sender: "<ALICE@woodgrovebank.com>" })).length, 2);
    assert.deepEqual((await logs.trackingLog({ sender: "<>" })).map((e) => e.EventId), ["FAIL"]);
    assert.equal((await logs.trackingLog({ recipients: "BOB@contoso.com" })).length, 3);
    assert.equal((await logs.trackingLog({ recipients: ["nobody@x.example", "dave@contoso.com"] })).length, 2);
    assert.equal((await logs.trackingLog({ recipients: "carol@woodgrovebank.com,dave@contoso.com" })).length, 3);
  });

  test("-MessageId with or without angle brackets; -EventId one or several; -Server", async () => {
    assert.equal((await logs.trackingLog({ messageId: "m2@fabrikam.com" })).length, 2);
    assert.equal((await logs.trackingLog({ messageId: " <m2@fabrikam.com> " })).length, 2);
    assert.deepEqual((await logs.trackingLog({ eventId: "deliver" })).map((e) => e.MessageId), ["<m1@woodgrovebank.com>", "<m2@fabrikam.com>"]);
    assert.deepEqual((await logs.trackingLog({ eventId: ["FAIL", "SEND"] })).map((e) => e.EventId), ["FAIL", "SEND"]);
    assert.deepEqual((await logs.trackingLog({ eventId: "DELIVER", recipients: "bob@contoso.com" })).length, 1);
    assert.deepEqual((await logs.trackingLog({ server: "edge2" })).map((e) => e.EventId), ["FAIL"]);
    assert.equal((await logs.trackingLog({ server: "MAIL1.contoso.com" })).length, 5);
  });

  test("-Start/-End and -ResultSize", async () => {
    assert.deepEqual((await logs.trackingLog({ start: "2026-11-29T00:00:00Z" })).length, 4);
    assert.deepEqual((await logs.trackingLog({ end: "2026-11-29T00:00:00Z" })).length, 2);
    assert.deepEqual((await logs.trackingLog({ start: "2026-11-29T09:00:01.500Z", end: "2026-11-29T09:00:02Z" })).map((e) => e.EventId), ["FAIL", "DELIVER"]);
    assert.deepEqual((await logs.trackingLog({ start: "2026-11-29T10:00:01+01:00", end: "2026-11-29 09:00:02Z" })).map((e) => e.EventId), ["RECEIVE", "FAIL", "DELIVER"]);
    assert.deepEqual((await logs.trackingLog({ limit: 1 })).map((e) => e.EventId), ["RECEIVE"]);
  });

  test("bad arguments are INVALID_ARGUMENT", async () => {
    const bad: Array<[TrackingLogQuery, RegExp]> = [
      [{ eventId: "RECIEVE" }, /event id 'RECIEVE'.*RECEIVE, DELIVER/],
      [{ eventId: ["DELIVER", "EXPAND"] }, /'EXPAND'/],
      [{ start: "29.11.2026" }, /not a date/],
      [{ start: "2026-11-29T25:00" }, /not a date/],
      [{ start: "2026-11-29T10:00Z", end: "2026-11-29T09:00Z" }, /before the start/],
      [{ limit: 0 }, /at least 1/],
      [{ messageId: "<>" }, /message id is empty/],
      [{ sender: "a b@x" }, /not an address/],
    ];
    for (const [q, msg] of bad) {
      await assert.rejects(logs.trackingLog(q), (e: unknown) => isSealpostError(e, "INVALID_ARGUMENT") && msg.test(e.message), JSON.stringify(q));
    }
  });

  test("lines written with other key orders are still read (the cheap time cut only skips what it understands)", async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), "sealpost-logsearch-order-"));
    try {
      mkdirSync(trackingLogDir(other), { recursive: true });
      const e = { eventId: "DELIVER", timestamp: "2026-11-29T12:00:00.000Z", messageId: "<k@x>", internalId: "1", sender: "S@x.example", recipients: ["r@y.example"], connector: "", sessionId: "", serverHostname: "h", clientIp: "" };
      writeFileSync(path.join(trackingLogDir(other), "MSGTRK20261129-1.log"), `${JSON.stringify(e)}\n`);
      const admin = new LogAdmin({ dir: new DataDir(other) } as unknown as ServerContext);
      const found = await admin.trackingLog({ start: "2026-11-29T11:00:00Z", end: "2026-11-29T13:00:00Z", sender: "s@X.example", eventId: "deliver", recipients: "R@y.example" });
      assert.equal(found.length, 1);
      assert.equal(found[0]?.Timestamp, "2026-11-29T12:00:00.000Z");
      assert.deepEqual(await admin.trackingLog({ start: "2026-11-29T12:00:00.001Z" }), []);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test("a data folder without logs has nothing to find", async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), "sealpost-logsearch-empty-"));
    try {
      const none = new LogAdmin({ dir: new DataDir(empty) } as unknown as ServerContext);
      assert.deepEqual(await none.trackingLog(), []);
      assert.deepEqual(await none.protocolLog({ domain: "example.com" }), []);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

test("times as administrators type them: ISO, with a space, with a zone, US style; local time without a zone", () => {
  assert.equal(parseLogTime("2026-11-29T09:00:00Z", "t"), Date.UTC(2026, 10, 29, 9));
  assert.equal(parseLogTime("2026-11-29 09:00Z", "t"), Date.UTC(2026, 10, 29, 9));
  assert.equal(parseLogTime("2026-11-29T09:00:00.250+02:00", "t"), Date.UTC(2026, 10, 29, 7, 0, 0, 250));
  assert.equal(parseLogTime("2026-11-29 09:00", "t"), new Date(2026, 10, 29, 9, 0).getTime());
  assert.equal(parseLogTime("2026-11-29", "t"), new Date(2026, 10, 29).getTime());
  assert.equal(parseLogTime("11/29/2026 9:05 PM", "t"), new Date(2026, 10, 29, 21, 5).getTime());
  assert.equal(parseLogTime("11/29/2026", "t"), new Date(2026, 10, 29).getTime());
  for (const bad of ["", "2026-13-01", "2026-11-31", "2026-11-29T24:00", "2026-11-29Z", "13/29/2026 13:00 PM", "tomorrow"]) {
    assert.throws(() => parseLogTime(bad, "start time"), (e: unknown) => isSealpostError(e, "INVALID_ARGUMENT"), bad);
  }
});

test("mergeByTime opens a source only when the merge reaches its start, and closes what is open when stopped early", async () => {
  let open = 0;
  let maxOpen = 0;
  /** A file of `count` items from `first`, every `step`, read in batches of `batch`. */
  const source = (first: number, step: number, count: number, batch: number, order: number): MergeSource<number> => ({
    start: first,
    order,
    open: async function* () {
      open++;
      maxOpen = Math.max(maxOpen, open);
      try {
        for (let i = 0; i < count; i += batch) {
          yield Array.from({ length: Math.min(batch, count - i) }, (_, k) => first + (i + k) * step);
        }
      } finally {
        open--;
      }
    },
  });
  // Two writers at a time (even and odd times) over ten sequential files each.
  const sources: Array<MergeSource<number>> = [];
  for (let f = 0; f < 10; f++) {
    sources.push(source(f * 1000, 2, 500, 7, sources.length));
    sources.push(source(f * 1000 + 1, 2, 500, 1 + f, sources.length));
  }
  const out: number[] = [];
  for await (const batch of mergeByTime(sources, (x) => x)) out.push(...batch);
  assert.equal(out.length, 10_000);
  assert.deepEqual(out, Array.from({ length: 10_000 }, (_, i) => i));
  assert.ok(maxOpen <= 3, `at most ${maxOpen} open at once`);
  let seen = 0;
  for await (const batch of mergeByTime(sources, (x) => x)) {
    seen += batch.length;
    break;
  }
  assert.ok(seen > 0 && seen < 10_000);
  assert.equal(open, 0, "every open source was closed");
});
