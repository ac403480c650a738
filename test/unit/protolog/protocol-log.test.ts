import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { certificateLogLines, csvField, ProtocolLog, protocolLogDir, type ProtocolLogRow } from "../../../src/protolog/protocol-log.js";

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), "sealpost-protolog-"));
}

/** A clock the test moves by hand. */
function clock(iso: string): { now: () => Date; set: (iso: string) => void; add: (ms: number) => void } {
  let t = Date.parse(iso);
  return { now: () => new Date(t), set: (s) => (t = Date.parse(s)), add: (ms) => (t += ms) };
}

const row = (over: Partial<ProtocolLogRow> = {}): ProtocolLogRow => ({
  connector: "Inet",
  sessionId: "08C895F533E837EC",
  sequence: 0,
  local: "127.0.0.1:2525",
  remote: "127.0.0.1:53211",
  event: "+",
  data: "",
  ...over,
});

/** RFC 4180 reader, enough to check what the writer produced. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let f = "";
  let r: string[] = [];
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        f += '"';
        i++;
      } else if (c === '"') q = false;
      else f += c;
    } else if (c === '"') q = true;
    else if (c === ",") {
      r.push(f);
      f = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      r.push(f);
      rows.push(r);
      r = [];
      f = "";
      i++;
    } else f += c;
  }
  return rows;
}

test("csvField quotes commas, quotes, CR and LF and nothing else", () => {
  assert.equal(csvField("plain text"), "plain text");
  assert.equal(csvField(""), "");
  assert.equal(csvField("a,b"), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField("a\r\nb"), '"a\r\nb"');
  assert.equal(csvField("a\nb"), '"a\nb"');
  assert.equal(csvField("CN=x, O=y"), '"CN=x, O=y"');
});

test("each file starts with Exchange's header lines; rows follow in CSV", async () => {
  const dir = tmp();
  try {
    const c = clock("2026-11-29T06:00:00.000Z");
    const log = new ProtocolLog({ dir, kind: "receive", now: c.now });
    c.add(123);
    log.write(row());
    c.add(1);
    log.write(row({ sequence: 1, event: "<", data: 'MAIL FROM:<a@b.c> SIZE=1,"x"\r\nRCPT', context: "ctx, with comma" }));
    log.write(row({ sequence: 2, event: "*", data: "", context: "Sending certificate" }));
    await log.close();
    assert.deepEqual(readdirSync(dir), ["RECV20261129-1.log"]);
    const text = readFileSync(path.join(dir, "RECV20261129-1.log"), "utf8");
    const lines = text.split("\r\n");
    assert.deepEqual(lines.slice(0, 5), [
      "#Software: Sealpost",
      "#Version: 1.0",
      "#Log-type: SMTP Receive Protocol Log",
      "#Date: 2026-11-29T06:00:00.123Z",
      "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context",
    ]);
    assert.equal(lines[5], "2026-11-29T06:00:00.123Z,Inet,08C895F533E837EC,0,127.0.0.1:2525,127.0.0.1:53211,+,,");
    const rows = parseCsv(lines.slice(5).join("\r\n"));
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[1], ["2026-11-29T06:00:00.124Z", "Inet", "08C895F533E837EC", "1", "127.0.0.1:2525", "127.0.0.1:53211", "<", 'MAIL FROM:<a@b.c> SIZE=1,"x"\r\nRCPT', "ctx, with comma"]);
    assert.deepEqual(rows[2]?.slice(6), ["*", "", "Sending certificate"]);
    assert.equal(statSync(path.join(dir, "RECV20261129-1.log")).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("send logs are SENDyyyymmdd-n.log with the send log type; protocolLogDir names the folders", async () => {
  const dir = tmp();
  try {
    const log = new ProtocolLog({ dir, kind: "send", now: () => new Date("2026-01-02T03:04:05.000Z") });
    log.write(row());
    await log.close();
    assert.deepEqual(readdirSync(dir), ["SEND20260102-1.log"]);
    assert.match(readFileSync(path.join(dir, "SEND20260102-1.log"), "utf8"), /^#Log-type: SMTP Send Protocol Log\r$/m);
    assert.equal(protocolLogDir("/d", "receive"), path.join("/d", "logs", "protocol", "SmtpReceive"));
    assert.equal(protocolLogDir("/d", "send"), path.join("/d", "logs", "protocol", "SmtpSend"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a new file each UTC day (injected clock)", async () => {
  const dir = tmp();
  try {
    const c = clock("2026-11-29T23:59:59.900Z");
    const log = new ProtocolLog({ dir, kind: "receive", now: c.now, maxAgeDays: 0 });
    log.write(row({ data: "before midnight" }));
    c.add(200);
    // Buffered across midnight: each row still lands in its own day's file.
    log.write(row({ data: "after midnight" }));
    await log.flush();
    c.set("2026-12-01T10:00:00.000Z");
    log.write(row({ data: "two days later" }));
    await log.close();
    assert.deepEqual(readdirSync(dir).sort(), ["RECV20261129-1.log", "RECV20261130-1.log", "RECV20261201-1.log"]);
    assert.match(readFileSync(path.join(dir, "RECV20261129-1.log"), "utf8"), /before midnight/);
    const second = readFileSync(path.join(dir, "RECV20261130-1.log"), "utf8");
    assert.match(second, /^#Date: 2026-11-30T00:00:00.100Z\r$/m);
    assert.match(second, /^2026-11-30T00:00:00.100Z,.*after midnight/m);
    assert.doesNotMatch(second, /before midnight/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file is rotated to n+1 before it would pass the size cap", async () => {
  const dir = tmp();
  try {
    const now = () => new Date("2026-11-29T06:00:00.000Z");
    const log = new ProtocolLog({ dir, kind: "receive", now, maxFileBytes: 2000 });
    for (let i = 0; i < 100; i++) log.write(row({ sequence: i, data: `line ${i} ${"x".repeat(50)}` }));
    await log.flush();
    // One row larger than the cap still goes somewhere (alone in its file).
    log.write(row({ sequence: 100, data: "y".repeat(5000) }));
    await log.close();
    const files = readdirSync(dir).sort((a, b) => Number(/-(\d+)/.exec(a)?.[1]) - Number(/-(\d+)/.exec(b)?.[1]));
    assert.ok(files.length >= 5, files.join());
    files.forEach((f, i) => assert.equal(f, `RECV20261129-${i + 1}.log`));
    let seqs: number[] = [];
    for (const f of files) {
      const text = readFileSync(path.join(dir, f), "utf8");
      assert.ok(text.startsWith("#Software: Sealpost\r\n"), f);
      if (!text.includes("y".repeat(5000))) assert.ok(Buffer.byteLength(text) <= 2000, `${f}: ${Buffer.byteLength(text)}`);
      seqs = seqs.concat(parseCsv(text.split("\r\n").slice(5).join("\r\n")).map((r) => Number(r[3])));
    }
    assert.deepEqual(seqs, Array.from({ length: 101 }, (_, i) => i));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("another process's files are never reused: numbers are allocated with O_EXCL", async () => {
  const dir = tmp();
  try {
    const now = () => new Date("2026-11-29T06:00:00.000Z");
    writeFileSync(path.join(dir, "RECV20261129-1.log"), "other worker\r\n");
    const a = new ProtocolLog({ dir, kind: "receive", now });
    const b = new ProtocolLog({ dir, kind: "receive", now });
    a.write(row({ data: "from a" }));
    b.write(row({ data: "from b" }));
    await Promise.all([a.close(), b.close()]);
    assert.deepEqual(readdirSync(dir).sort(), ["RECV20261129-1.log", "RECV20261129-2.log", "RECV20261129-3.log"]);
    assert.equal(readFileSync(path.join(dir, "RECV20261129-1.log"), "utf8"), "other worker\r\n");
    const texts = ["RECV20261129-2.log", "RECV20261129-3.log"].map((f) => readFileSync(path.join(dir, f), "utf8"));
    assert.ok(texts.every((t) => (t.match(/from [ab]/g) ?? []).length === 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("retention deletes files older than maxAgeDays when a file is opened", async () => {
  const dir = tmp();
  try {
    for (const f of ["RECV20261001-1.log", "RECV20261028-3.log", "RECV20261029-1.log", "RECV20261128-1.log", "SEND20261001-1.log", "notes.txt"]) {
      writeFileSync(path.join(dir, f), "old\r\n");
    }
    const c = clock("2026-11-29T06:00:00.000Z");
    const log = new ProtocolLog({ dir, kind: "receive", now: c.now, maxAgeDays: 31 });
    log.write(row());
    await log.flush();
    // 2026-11-29 minus 31 days is 2026-10-29: older files go, that day stays; other prefixes are not ours.
    assert.deepEqual(readdirSync(dir).sort(), ["RECV20261029-1.log", "RECV20261128-1.log", "RECV20261129-1.log", "SEND20261001-1.log", "notes.txt"]);
    c.set("2026-12-30T00:00:01.000Z");
    log.write(row());
    await log.close();
    assert.deepEqual(readdirSync(dir).sort(), ["RECV20261129-1.log", "RECV20261230-1.log", "SEND20261001-1.log", "notes.txt"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("writes are flushed by the timer without an explicit flush", async () => {
  const dir = tmp();
  try {
    const log = new ProtocolLog({ dir, kind: "receive" });
    log.write(row({ data: "timed" }));
    await new Promise((r) => setTimeout(r, 400));
    const [f = "(none)"] = readdirSync(dir);
    assert.match(readFileSync(path.join(dir, f), "utf8"), /timed/);
    await log.close();
    log.write(row({ data: "after close" }));
    await log.flush();
    assert.doesNotMatch(readFileSync(path.join(dir, f), "utf8"), /after close/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("certificateLogLines gives Exchange's '*' rows", () => {
  const rows = certificateLogLines("Received certificate", {
    subject: "CN=mail.contoso.com, O=Contoso",
    issuer: "CN=Contoso CA",
    serialNumber: "0A1B",
    thumbprint: "ABCDEF0123",
    names: ["mail.contoso.com", "contoso.com"],
  });
  assert.deepEqual(rows, [
    { data: "", context: "Received certificate" },
    { data: "CN=mail.contoso.com, O=Contoso", context: "Certificate subject" },
    { data: "CN=Contoso CA", context: "Certificate issuer name" },
    { data: "0A1B", context: "Certificate serial number" },
    { data: "ABCDEF0123", context: "Certificate thumbprint" },
    { data: "mail.contoso.com;contoso.com", context: "Certificate alternate names" },
  ]);
  assert.equal(certificateLogLines("Sending certificate", { subject: "", issuer: "", serialNumber: "", thumbprint: "", names: [] })[0]?.context, "Sending certificate");
});
