// DSNs: the multipart/report is taken apart by boundary and every part's
// headers and the delivery-status fields are checked exactly; NOTIFY, RET,
// ENVID and ORCPT are honoured; nothing is sent for the null sender or
// NOTIFY=NEVER; lines are CRLF and at most 998 octets whatever the input
// (checked on examples and on arbitrary recipients and texts).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_RETURNED_MESSAGE, buildDsn, notifyAllows, quotedPrintable, type DsnInput, type DsnMessage, type DsnRecipient } from "../../../src/dsn/report.js";

const ORIGINAL = Buffer.from(
  [
    "From: Alice <alice@contoso.com>",
    "To: Bob <bob@woodgrovebank.com>",
    "Subject: Quarterly report",
    "Message-ID: <q3.2026@contoso.com>",
    "Date: Sun, 29 Nov 2026 05:58:00 +0000",
    "",
    "The figures are attached.",
    "",
  ].join("\r\n"),
);
const HEADER_SECTION = ORIGINAL.subarray(0, ORIGINAL.indexOf("\r\n\r\n") + 2);

const bob: DsnRecipient = {
  address: "bob@woodgrovebank.com",
  status: "5.7.5",
  action: "failed",
  diagnostic: "x-domain-security; The certificate CN=mail.woodgrovebank.com is revoked",
  remoteMta: "mail.woodgrovebank.com",
  lastAttemptAt: new Date("2026-11-29T06:00:05Z"),
};

function input(over: Partial<DsnInput> = {}): DsnInput {
  return {
    kind: "failure",
    reportingMta: "edge1.contoso.com",
    originalSender: "alice@contoso.com",
    arrivalDate: new Date("2026-11-29T06:00:00Z"),
    now: new Date("2026-11-29T06:00:06Z"),
    recipients: [bob],
    originalMessage: ORIGINAL,
    messageIdDomain: "contoso.com",
    ...over,
  };
}

// ---- a small MIME reader, independent of the code under test ----

type Fields = Array<[string, string]>;

/** Header fields in order, unfolded (CRLF removed before the WSP that continues a field, RFC 5322 2.2.3). */
function fields(head: string): Fields {
  if (head === "") return [];
  return head
    .replace(/\r\n(?=[ \t])/g, "")
    .split("\r\n")
    .filter((l) => l !== "")
    .map((l) => {
      const i = l.indexOf(":");
      return [l.slice(0, i), l.slice(i + 1).trim()];
    });
}

function splitEntity(s: string): { head: Fields; body: string } {
  const i = s.indexOf("\r\n\r\n");
  return { head: fields(s.slice(0, i + 2)), body: s.slice(i + 4) };
}

const get = (f: Fields, name: string): string | undefined => f.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];

interface Parsed {
  head: Fields;
  preamble: string;
  parts: Array<{ head: Fields; body: string }>;
}

function parse(msg: Buffer): Parsed {
  const { head, body } = splitEntity(msg.toString("latin1"));
  const boundary = /boundary="([^"]+)"/.exec(get(head, "Content-Type") ?? "")?.[1];
  assert.ok(boundary, "a boundary parameter");
  const pieces = body.split(`\r\n--${boundary}`);
  assert.equal(pieces.at(-1), "--\r\n", "closed by the close-delimiter");
  const parts = pieces.slice(1, -1).map((p) => {
    assert.ok(p.startsWith("\r\n"));
    return splitEntity(p.slice(2));
  });
  return { head, preamble: pieces[0] as string, parts };
}

/** The delivery-status part as [per-message fields, ...per-recipient fields]. */
function statusGroups(body: string): Fields[] {
  return body.replace(/\r\n$/, "").split("\r\n\r\n").map((g) => fields(g + "\r\n"));
}

function decodeQp(s: string): string {
  const bytes = Buffer.from(s.replace(/=\r\n/g, ""), "latin1");
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x3d) {
      out.push(parseInt(bytes.toString("latin1", i + 1, i + 3), 16));
      i += 2;
    } else out.push(bytes[i] as number);
  }
  return Buffer.from(out).toString("utf8");
}

/** The human part decoded, whitespace (wrapping) collapsed. */
function humanText(p: Parsed): string {
  const part = p.parts[0] as { head: Fields; body: string };
  const text = get(part.head, "Content-Transfer-Encoding") === "quoted-printable" ? decodeQp(part.body) : part.body;
  return text.replace(/\s+/g, " ");
}

function assertLines(msg: Buffer): void {
  const s = msg.toString("latin1");
  assert.ok(!/[^\r]\n|^\n/.test(s), "no bare LF");
  assert.ok(!/\r(?!\n)/.test(s), "no bare CR");
  assert.ok(s.endsWith("\r\n"));
  for (const line of s.split("\r\n")) assert.ok(Buffer.byteLength(line, "latin1") <= 998, `line of ${line.length} octets`);
}

function build(over: Partial<DsnInput> = {}): { r: DsnMessage; p: Parsed } {
  const r = buildDsn(input(over));
  assert.ok(r, "a report");
  assertLines(r.message);
  return { r, p: parse(r.message) };
}

// ---- tests ----

test("failure report: top-level fields, three parts with their headers, delivery-status fields exactly, original returned whole", () => {
  const { r, p } = build({ envid: "QQ314159", recipients: [{ ...bob, orcpt: "rfc822;bob@woodgrovebank.com" }], humanReason: "The certificate CN=mail.woodgrovebank.com is revoked." });
  assert.equal(r.mailFrom, "");
  assert.equal(r.rcptTo, "alice@contoso.com");
  assert.equal(r.eightBit, false);
  assert.deepEqual(p.head.map(([n]) => n), ["From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Auto-Submitted", "MIME-Version", "Content-Type"]);
  assert.equal(get(p.head, "From"), "Mail Delivery System <MAILER-DAEMON@edge1.contoso.com>");
  assert.equal(get(p.head, "To"), "<alice@contoso.com>");
  assert.equal(get(p.head, "Subject"), "Undeliverable: Quarterly report");
  assert.equal(get(p.head, "Date"), "Sun, 29 Nov 2026 06:00:06 +0000");
  assert.match(get(p.head, "Message-ID") ?? "", /^<[0-9a-f]{32}@contoso\.com>$/);
  assert.equal(get(p.head, "In-Reply-To"), "<q3.2026@contoso.com>");
  assert.equal(get(p.head, "References"), "<q3.2026@contoso.com>");
  assert.equal(get(p.head, "Auto-Submitted"), "auto-replied");
  assert.equal(get(p.head, "MIME-Version"), "1.0");
  assert.match(get(p.head, "Content-Type") ?? "", /^multipart\/report; report-type=delivery-status; boundary="=_sealpost_report_[0-9a-f]{24}"$/);
  assert.equal(p.preamble, "This is a delivery status notification in MIME format.\r\n");
  assert.equal(p.parts.length, 3);

  const [human, status, original] = p.parts as Array<{ head: Fields; body: string }>;
  assert.deepEqual(human!.head, [["Content-Type", "text/plain; charset=utf-8"], ["Content-Transfer-Encoding", "7bit"], ["Content-Description", "Notification"]]);
  assert.deepEqual(status!.head, [["Content-Type", "message/delivery-status"], ["Content-Description", "Delivery report"]]);
  assert.deepEqual(statusGroups(status!.body), [
    [["Original-Envelope-Id", "QQ314159"], ["Reporting-MTA", "dns; edge1.contoso.com"], ["Arrival-Date", "Sun, 29 Nov 2026 06:00:00 +0000"]],
    [
      ["Original-Recipient", "rfc822; bob@woodgrovebank.com"],
      ["Final-Recipient", "rfc822; bob@woodgrovebank.com"],
      ["Action", "failed"],
      ["Status", "5.7.5"],
      ["Remote-MTA", "dns; mail.woodgrovebank.com"],
      ["Diagnostic-Code", "x-domain-security; The certificate CN=mail.woodgrovebank.com is revoked"],
      ["Last-Attempt-Date", "Sun, 29 Nov 2026 06:00:05 +0000"],
    ],
  ]);
  assert.deepEqual(original!.head, [["Content-Type", "message/rfc822"], ["Content-Description", "Undelivered message"]]);
  assert.equal(original!.body, ORIGINAL.toString("latin1"));

  const text = humanText(p);
  assert.match(text, /could not be delivered/);
  assert.ok(text.includes("bob@woodgrovebank.com Status: 5.7.5 Reason: x-domain-security; The certificate CN=mail.woodgrovebank.com is revoked"));
  assert.ok(text.includes("The certificate CN=mail.woodgrovebank.com is revoked."), "humanReason");
  assert.ok(text.includes("Remote server: mail.woodgrovebank.com"));
});

test("no report for NOTIFY=NEVER or the null sender (never report on a report)", () => {
  assert.equal(buildDsn(input({ recipients: [{ ...bob, notify: ["NEVER"] }] })), undefined);
  assert.equal(buildDsn(input({ kind: "delay", recipients: [{ ...bob, action: "delayed", status: "4.4.1", notify: ["NEVER"] }] })), undefined);
  assert.equal(buildDsn(input({ originalSender: "" })), undefined);
  assert.equal(buildDsn(input({ originalSender: "<>" })), undefined);
  assert.equal(buildDsn(input({ originalSender: "<alice@contoso.com>" }))?.rcptTo, "alice@contoso.com", "brackets are not part of the address");
  assert.equal(buildDsn(input({ recipients: [] })), undefined);
});

test("NOTIFY: SUCCESS alone gets no failure report; absent means FAILURE,DELAY; case does not matter", () => {
  assert.equal(buildDsn(input({ recipients: [{ ...bob, notify: ["SUCCESS"] }] })), undefined);
  assert.equal(buildDsn(input({ recipients: [{ ...bob, notify: ["DELAY"] }] })), undefined);
  assert.ok(buildDsn(input({ recipients: [{ ...bob, notify: ["SUCCESS", "FAILURE"] }] })));
  assert.ok(buildDsn(input({ recipients: [{ ...bob, notify: [] }] })));
  const table: Array<[string[] | undefined, "FAILURE" | "DELAY" | "SUCCESS", boolean]> = [
    [undefined, "FAILURE", true], [undefined, "DELAY", true], [undefined, "SUCCESS", false],
    [["NEVER"], "FAILURE", false], [["NEVER", "FAILURE"], "FAILURE", false], [["failure"], "FAILURE", true], [["FAILURE"], "DELAY", false], [["DELAY"], "DELAY", true],
  ];
  for (const [notify, what, want] of table) assert.equal(notifyAllows(notify, what), want, `${String(notify)} ${what}`);
});

const delayed: DsnRecipient = {
  address: "bob@woodgrovebank.com",
  status: "4.4.1",
  action: "delayed",
  diagnostic: "smtp; 451 4.4.1 Connection timed out",
  lastAttemptAt: new Date("2026-11-29T10:00:00Z"),
  willRetryUntil: new Date("2026-12-01T06:00:00Z"),
};

test("delay report: only when NOTIFY includes DELAY or is absent; Will-Retry-Until; the header only, whatever RET", () => {
  assert.equal(buildDsn(input({ kind: "delay", recipients: [{ ...delayed, notify: ["FAILURE"] }] })), undefined);
  assert.equal(buildDsn(input({ kind: "delay", recipients: [{ ...delayed, notify: ["SUCCESS", "FAILURE"] }] })), undefined);
  assert.ok(buildDsn(input({ kind: "delay", recipients: [{ ...delayed, notify: ["DELAY"] }] })));
  const { p } = build({ kind: "delay", ret: "FULL", now: new Date("2026-11-29T10:00:00Z"), recipients: [delayed] });
  assert.equal(get(p.head, "Subject"), "Delivery Status Notification (Delay)");
  assert.deepEqual(statusGroups(p.parts[1]!.body)[1], [
    ["Final-Recipient", "rfc822; bob@woodgrovebank.com"],
    ["Action", "delayed"],
    ["Status", "4.4.1"],
    ["Diagnostic-Code", "smtp; 451 4.4.1 Connection timed out"],
    ["Last-Attempt-Date", "Sun, 29 Nov 2026 10:00:00 +0000"],
    ["Will-Retry-Until", "Tue, 01 Dec 2026 06:00:00 +0000"],
  ]);
  assert.equal(get(p.parts[2]!.head, "Content-Type"), "text/rfc822-headers");
  assert.equal(p.parts[2]!.body, HEADER_SECTION.toString("latin1"));
  const text = humanText(p);
  assert.match(text, /is delayed/);
  assert.match(text, /Will keep trying until: Tue, 01 Dec 2026 06:00:00 \+0000/);
  assert.match(text, /Do not send the message again/);
});

test("only recipients of the report's kind whose NOTIFY allows it are listed; Will-Retry-Until never on a failure", () => {
  const recipients: DsnRecipient[] = [
    { ...bob, address: "a@woodgrovebank.com", willRetryUntil: new Date("2026-12-01T06:00:00Z") },
    { ...bob, address: "never@woodgrovebank.com", notify: ["NEVER"] },
    { ...bob, address: "delayonly@woodgrovebank.com", notify: ["DELAY"] },
    { ...delayed, address: "late@woodgrovebank.com" },
    { ...bob, address: "b@woodgrovebank.com", notify: ["FAILURE", "DELAY"] },
  ];
  const { p } = build({ recipients });
  const groups = statusGroups(p.parts[1]!.body).slice(1);
  assert.deepEqual(groups.map((g) => get(g, "Final-Recipient")), ["rfc822; a@woodgrovebank.com", "rfc822; b@woodgrovebank.com"]);
  assert.ok(groups.every((g) => get(g, "Will-Retry-Until") === undefined));
  const text = humanText(p);
  for (const absent of ["never@", "delayonly@", "late@"]) assert.ok(!text.includes(absent), absent);
  const delay = build({ kind: "delay", recipients }).p;
  assert.deepEqual(statusGroups(delay.parts[1]!.body).slice(1).map((g) => get(g, "Final-Recipient")), ["rfc822; late@woodgrovebank.com"]);
});

test("RET=HDRS: text/rfc822-headers holding exactly the header section", () => {
  const { p } = build({ ret: "HDRS" });
  assert.deepEqual(p.parts[2]!.head, [["Content-Type", "text/rfc822-headers"], ["Content-Description", "Undelivered message headers"]]);
  assert.equal(p.parts[2]!.body, HEADER_SECTION.toString("latin1"));
  assert.ok(!p.parts[2]!.body.includes("figures"));
});

test("ENVID and ORCPT echoed, xtext decoded when that gives printable ASCII, kept encoded otherwise", () => {
  const { p } = build({
    envid: "ID+2B42",
    recipients: [
      { ...bob, orcpt: "rfc822;bob+2Bsales@woodgrovebank.com" },
      { ...bob, address: "c@woodgrovebank.com", orcpt: "rfc822;odd+0Aname@woodgrovebank.com" },
      { ...bob, address: "d@woodgrovebank.com", orcpt: "utf-8;j\\x{F6}rg@woodgrovebank.com" },
    ],
  });
  const groups = statusGroups(p.parts[1]!.body);
  assert.equal(get(groups[0]!, "Original-Envelope-Id"), "ID+42");
  assert.deepEqual(groups.slice(1).map((g) => get(g, "Original-Recipient")), [
    "rfc822; bob+sales@woodgrovebank.com",
    "rfc822; odd+0Aname@woodgrovebank.com",
    "utf-8; j\\x{F6}rg@woodgrovebank.com",
  ]);
  // Without ORCPT or ENVID the fields are absent.
  const plain = statusGroups(build().p.parts[1]!.body);
  assert.equal(get(plain[0]!, "Original-Envelope-Id"), undefined);
  assert.equal(get(plain[1]!, "Original-Recipient"), undefined);
});

test("a long diagnostic is folded within 998-octet lines (at spaces, and by force inside a huge word)", () => {
  const words = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
  const huge = "X".repeat(2500);
  const { r, p } = build({ recipients: [{ ...bob, diagnostic: `smtp; 554 5.7.5 ${words}` }, { ...bob, address: "e@woodgrovebank.com", diagnostic: `smtp; 554 ${huge}` }] });
  const raw = p.parts[1]!.body;
  assert.ok(raw.split("\r\n").every((l) => l.length <= 78 || !l.includes(" word")), "folded near 78 columns at spaces");
  const groups = statusGroups(raw);
  assert.equal(get(groups[1]!, "Diagnostic-Code"), `smtp; 554 5.7.5 ${words}`, "unfolds to the same text");
  assert.equal(get(groups[2]!, "Diagnostic-Code")?.replace(/ /g, ""), `smtp;554${huge}`);
  // The human part has a line over 998 characters to carry, so it goes quoted-printable.
  assert.equal(get(p.parts[0]!.head, "Content-Transfer-Encoding"), "quoted-printable");
  assert.ok(humanText(p).includes(huge));
  assertLines(r.message);
});

test("non-ASCII: a UTF-8 subject becomes encoded-words, the human part quoted-printable UTF-8, the original message/global 8bit", () => {
  const original = Buffer.from("Subject: Rapport trimestriel – été 2026\r\nMessage-ID: <x@contoso.com>\r\n\r\nCorps en français.\r\n", "utf8");
  const { r, p } = build({ originalMessage: original, humanReason: "Le certificat de mail.woodgrovebank.com est révoqué." });
  const subject = get(p.head, "Subject") ?? "";
  assert.match(subject, /^Undeliverable: (=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?= ?)+$/);
  const decoded = subject.replace(/^Undeliverable: /, "").split(" ").map((w) => Buffer.from(w.slice(10, -2), "base64").toString("utf8")).join("");
  assert.equal(decoded, "Rapport trimestriel – été 2026");
  assert.ok(subject.split(" ").every((w) => w.length <= 75));
  assert.deepEqual(p.parts[0]!.head.slice(0, 2), [["Content-Type", "text/plain; charset=utf-8"], ["Content-Transfer-Encoding", "quoted-printable"]]);
  assert.ok(humanText(p).includes("Le certificat de mail.woodgrovebank.com est révoqué."));
  assert.deepEqual(p.parts[2]!.head.slice(0, 2), [["Content-Type", "message/global"], ["Content-Transfer-Encoding", "8bit"]]);
  assert.equal(get(p.head, "Content-Transfer-Encoding"), "8bit");
  assert.equal(r.eightBit, true);
  assert.ok(r.message.subarray(r.message.length - original.length - 100).includes(original), "the original bytes untouched");
  // The machine part stays US-ASCII.
  assert.ok(/^[\x20-\x7e\r\n]*$/.test(p.parts[1]!.body));
});

test("an SMTPUTF8 recipient is reported with the utf-8 address type in its ASCII form (RFC 6533)", () => {
  const { p } = build({ recipients: [{ ...bob, address: "jörg+x@bücher.example" }] });
  assert.equal(get(statusGroups(p.parts[1]!.body)[1]!, "Final-Recipient"), "utf-8; j\\x{F6}rg\\x{2B}x@b\\x{FC}cher.example");
  assert.ok(humanText(p).includes("jörg+x@bücher.example"));
});

test("an original over 256 KB, or not made of valid lines, is returned as its header only, with a note", () => {
  // A well-formed message of exactly n octets.
  const sized = (n: number): Buffer => {
    let rest = n - HEADER_SECTION.length - 2;
    let body = "";
    for (; rest >= 200; rest -= 100) body += "y".repeat(98) + "\r\n";
    body += "z".repeat(rest - 2) + "\r\n";
    const b = Buffer.concat([HEADER_SECTION, Buffer.from("\r\n" + body)]);
    assert.equal(b.length, n);
    return b;
  };
  const big = sized(MAX_RETURNED_MESSAGE + 1);
  const { p } = build({ originalMessage: big });
  assert.equal(get(p.parts[2]!.head, "Content-Type"), "text/rfc822-headers");
  assert.equal(p.parts[2]!.body, HEADER_SECTION.toString("latin1"));
  assert.match(humanText(p), /is larger than 256 KB; only its header is attached/);

  const exact = build({ originalMessage: sized(MAX_RETURNED_MESSAGE) }).p;
  assert.equal(get(exact.parts[2]!.head, "Content-Type"), "message/rfc822");
  assert.equal(exact.parts[2]!.body.length, MAX_RETURNED_MESSAGE);

  const bare = Buffer.from("Subject: bare\nX-A: 1\r\n\nbody\nmore\r\n");
  const b = build({ originalMessage: bare }).p;
  assert.equal(get(b.parts[2]!.head, "Content-Type"), "text/rfc822-headers");
  assert.equal(b.parts[2]!.body, "Subject: bare\r\nX-A: 1\r\n");
  assert.match(humanText(b), /not made of valid lines/);
});

test("no field can be injected through an address, a diagnostic, a host or the sender; malformed statuses fall back", () => {
  assert.equal(buildDsn(input({ originalSender: "alice@contoso.com\r\nBcc: x@evil.example" })), undefined, "no report to an unusable sender");
  const { p } = build({
    recipients: [{ ...bob, address: "bob@woodgrovebank.com\r\nX-Evil: 1", diagnostic: "smtp; 550\r\nX-Evil: 2", remoteMta: "mx\r\nX-Evil: 3", status: "bogus" }],
  });
  assert.ok(p.parts.every((part) => get(part.head, "X-Evil") === undefined));
  const g = statusGroups(p.parts[1]!.body)[1]!;
  assert.equal(get(g, "X-Evil"), undefined);
  assert.equal(get(g, "Final-Recipient"), "rfc822; bob@woodgrovebank.com X-Evil: 1");
  assert.equal(get(g, "Status"), "5.0.0");
  const d = build({ kind: "delay", recipients: [{ ...delayed, status: "5.1.1" }] }).p;
  assert.equal(get(statusGroups(d.parts[1]!.body)[1]!, "Status"), "4.0.0");
  // A diagnostic without a type gets one.
  const t = build({ recipients: [{ ...bob, diagnostic: "421 busy" }, { ...bob, address: "f@woodgrovebank.com", diagnostic: "handshake failed" }] }).p;
  assert.deepEqual(statusGroups(t.parts[1]!.body).slice(1).map((x) => get(x, "Diagnostic-Code")), ["smtp; 421 busy", "x-sealpost; handshake failed"]);
});

test("no subject gives 'Undeliverable'; a long subject is folded; Message-IDs and boundaries differ per report", () => {
  const noSubject = Buffer.from("From: a@contoso.com\r\n\r\nx\r\n");
  const { p } = build({ originalMessage: noSubject });
  assert.equal(get(p.head, "Subject"), "Undeliverable");
  assert.equal(get(p.head, "In-Reply-To"), undefined);
  const long = "word ".repeat(60).trim();
  const l = buildDsn(input({ originalMessage: Buffer.from(`Subject: ${long}\r\n\r\nx\r\n`) }))!;
  const subjectLines = l.message.toString().split("\r\n\r\n")[0]!.split("\r\n");
  const i = subjectLines.findIndex((x) => x.startsWith("Subject:"));
  assert.ok(subjectLines[i + 1]!.startsWith(" "), "continued");
  assert.ok(subjectLines.every((x) => x.length <= 78));
  assert.equal(get(parse(l.message).head, "Subject"), `Undeliverable: ${long}`);
  const a = build().p;
  const b = build().p;
  assert.notEqual(get(a.head, "Message-ID"), get(b.head, "Message-ID"));
  assert.notEqual(get(a.head, "Content-Type"), get(b.head, "Content-Type"));
});

test("property: quoted-printable round-trips any text with lines of at most 76 characters", () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 300 }), { maxLength: 5 }), (lines) => {
      const text = lines.map((l) => l.replace(/[\r\n]/g, "")).join("\r\n");
      const enc = quotedPrintable(text);
      assert.ok(/^[\x20-\x7e\r\n]*$/.test(enc));
      assert.ok(enc.split("\r\n").every((l) => l.length <= 76 && !/[ \t]$/.test(l)));
      assert.equal(decodeQp(enc), text);
    }),
    { numRuns: 200 },
  );
});

test("property: any recipients and texts give CRLF lines of at most 998 octets, an ASCII delivery-status, one block per listed recipient", () => {
  const text = fc.string({ unit: "binary", maxLength: 1200 });
  const arbRecipient: fc.Arbitrary<DsnRecipient> = fc.record(
    {
      address: fc.oneof(fc.emailAddress(), text),
      status: fc.constantFrom("5.7.5", "4.4.1", "5.1.1", "x"),
      action: fc.constantFrom<"failed" | "delayed">("failed", "delayed"),
      notify: fc.option(fc.subarray<"NEVER" | "SUCCESS" | "FAILURE" | "DELAY">(["NEVER", "SUCCESS", "FAILURE", "DELAY"]), { nil: undefined }),
      diagnostic: text,
      remoteMta: text,
      orcpt: text,
      willRetryUntil: fc.constant(new Date("2026-12-01T06:00:00Z")),
    },
    { requiredKeys: ["address", "status", "action"] },
  );
  fc.assert(
    fc.property(
      fc.constantFrom<"failure" | "delay">("failure", "delay"),
      fc.array(arbRecipient, { minLength: 1, maxLength: 4 }),
      fc.option(text, { nil: undefined }),
      fc.option(text, { nil: undefined }),
      (kind, recipients, humanReason, envid) => {
        const r = buildDsn(input({ kind, recipients, humanReason, envid }));
        const action = kind === "failure" ? "failed" : "delayed";
        const listed = recipients.filter((x) => x.action === action && notifyAllows(x.notify, kind === "failure" ? "FAILURE" : "DELAY"));
        if (listed.length === 0) return assert.equal(r, undefined);
        assert.ok(r);
        assertLines(r.message);
        const p = parse(r.message);
        assert.equal(p.parts.length, 3);
        assert.ok(/^[\x20-\x7e\r\n]*$/.test(p.parts[1]!.body), "delivery-status is US-ASCII");
        const groups = statusGroups(p.parts[1]!.body);
        assert.equal(groups.length, 1 + listed.length);
        for (const g of groups.slice(1)) assert.equal(get(g, "Action"), action);
      },
    ),
    { numRuns: 150 },
  );
});
