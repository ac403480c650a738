import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Spool, type SpoolEnvelope, type SpoolIo } from "../../../src/queue/spool.js";
import { defaultSpoolIo } from "../../../src/queue/io.js";
import { parseSegment } from "../../../src/queue/record.js";
import { crc32, crc32Js } from "../../../src/queue/crc32.js";
import { isSealpostError } from "../../../src/errors/errors.js";

/** a[i], which the test needs to be there. */
function at<T>(a: ArrayLike<T>, i: number): T {
  const v = a[i];
  assert.ok(v !== undefined, `no element ${i}`);
  return v;
}

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), "sealpost-spool-"));
}

function env(n: number): SpoolEnvelope {
  return {
    receivedAt: new Date(1_700_000_000_000 + n).toISOString(),
    mailFrom: `sender${n}@example.org`,
    rcptTo: [{ address: `rcpt${n}@example.com`, params: { notify: ["FAILURE"] } }],
    mailParams: { body: "8BITMIME", size: 100 },
    connector: "Inet",
    sessionId: "08C895F533E837EC",
    tls: { protocol: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384" },
    verdict: { verdict: "PARTNER_OK", partner: "example.org" },
    meta: { n, nested: { a: [1, 2] } },
  };
}

function body(n: number): Buffer {
  return Buffer.from(`Subject: m${n}\r\n\r\n${"x".repeat(n % 300)}\r\n`);
}

type Ev =
  | { seq: number; kind: "write-start" | "write-end"; fd: number; ids: string[] }
  | { seq: number; kind: "sync-start" | "sync-end"; fd: number }
  | { seq: number; kind: "ack"; id: string };

/**
 * Wraps the real io and records every call in one global order. The ids a
 * write carries are read back from the bytes it was given, so the proof is
 * about the bytes actually written, not about what the spool says it did.
 */
function recordingIo(opts: { syncDelayMs?: number; failSyncOnce?: boolean } = {}): { io: SpoolIo; events: Ev[]; tick: () => number } {
  const events: Ev[] = [];
  let seq = 0;
  const tick = () => ++seq;
  let failNext = opts.failSyncOnce ?? false;
  const io: SpoolIo = {
    open: (p, f) => defaultSpoolIo.open(p, f),
    close: (fd) => defaultSpoolIo.close(fd),
    fsync: (fd) => defaultSpoolIo.fsync!(fd),
    async write(fd, bufs) {
      const all = Buffer.concat(bufs);
      // A segment's first write starts with the 32-byte segment header; later writes are bare records.
      const ids = all.subarray(0, 4).toString("latin1") === "SPSG" ? idsIn(all, true) : idsIn(all, false);
      events.push({ seq: tick(), kind: "write-start", fd, ids });
      await defaultSpoolIo.write(fd, bufs);
      events.push({ seq: tick(), kind: "write-end", fd, ids });
    },
    async datasync(fd) {
      events.push({ seq: tick(), kind: "sync-start", fd });
      if (opts.syncDelayMs) await new Promise((r) => setTimeout(r, opts.syncDelayMs));
      if (failNext) {
        failNext = false;
        events.push({ seq: tick(), kind: "sync-end", fd });
        throw Object.assign(new Error("EIO: simulated"), { code: "EIO" });
      }
      await defaultSpoolIo.datasync(fd);
      events.push({ seq: tick(), kind: "sync-end", fd });
    },
  };
  return { io, events, tick };
}

/** Ids of the records in a written chunk: JSON envelopes found by walking the record headers. */
function idsIn(chunk: Buffer, withSegmentHeader: boolean): string[] {
  const ids: string[] = [];
  let off = withSegmentHeader ? 32 : 0;
  while (off + 20 <= chunk.length) {
    const size = chunk.readUInt32LE(off + 8);
    const envLen = chunk.readUInt32LE(off + 12);
    ids.push((JSON.parse(chunk.subarray(off + 20, off + 20 + envLen).toString()) as { id: string }).id);
    off += size;
  }
  return ids;
}

/** For every acknowledged id: a write containing it ended, then a datasync on that fd started, then ended, then the ack. */
function assertSyncedBeforeAck(events: Ev[]): void {
  let acks = 0;
  for (const ack of events) {
    if (ack.kind !== "ack") continue;
    acks++;
    let write: { seq: number; fd: number } | undefined;
    for (const e of events) if (e.kind === "write-end" && e.ids.includes(ack.id)) write = e;
    assert.ok(write, `no write carried ${ack.id}`);
    assert.ok(write.seq < ack.seq, `${ack.id} acknowledged before its write completed`);
    // A sync on the same fd whose start follows the write's end and whose end precedes the ack.
    let proven = false;
    for (const s of events) {
      if (s.kind !== "sync-start" || s.fd !== write.fd || s.seq < write.seq) continue;
      const end = events.find((e) => e.kind === "sync-end" && e.fd === s.fd && e.seq > s.seq);
      if (end && end.seq < ack.seq) proven = true;
    }
    assert.ok(proven, `${ack.id} acknowledged without a datasync that began after its write`);
  }
  assert.ok(acks > 0);
}

test("crc32 (native where available, and the table-driven fallback) matches the IEEE check value", () => {
  for (const f of [crc32, crc32Js]) {
    assert.equal(f(Buffer.from("123456789")), 0xcbf43926);
    assert.equal(f(Buffer.alloc(0)), 0);
    const b = Buffer.from("The quick brown fox jumps over the lazy dog");
    assert.equal(f(b), 0x414fa339);
    assert.equal(f(b.subarray(10), f(b.subarray(0, 10))), f(b));
  }
  const r = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 131) & 0xff));
  assert.equal(crc32(r, 0x12345678), crc32Js(r, 0x12345678));
});

test("every append resolves only after a datasync that began after its write completed", async () => {
  const dir = tmp();
  try {
    const { io, events, tick } = recordingIo({ syncDelayMs: 2 });
    const spool = new Spool({ dir, io });
    // Sequential, concurrent, and staggered appends.
    const ack = (id: string): void => void events.push({ seq: tick(), kind: "ack", id });
    for (let i = 0; i < 3; i++) ack(await spool.append(env(i), body(i)));
    await Promise.all(Array.from({ length: 50 }, (_, i) => spool.append(env(100 + i), body(100 + i)).then(ack)));
    const staggered: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      staggered.push(spool.append(env(200 + i), body(200 + i)).then(ack));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(staggered);
    await spool.close();
    assert.equal(events.filter((e) => e.kind === "ack").length, 83);
    assertSyncedBeforeAck(events);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("200 concurrent appends share a few datasyncs (group commit) and are all recovered", async () => {
  const dir = tmp();
  try {
    const { io, events, tick } = recordingIo();
    const spool = new Spool({ dir, io });
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        spool.append(env(i), body(i)).then((id) => {
          events.push({ seq: tick(), kind: "ack", id });
          return id;
        }),
      ),
    );
    assert.equal(new Set(ids).size, 200);
    assert.equal(spool.stats.appends, 200);
    assert.ok(spool.stats.syncs < 20, `syncs: ${spool.stats.syncs}`);
    assertSyncedBeforeAck(events);
    await spool.close();
    const { pending, skipped } = await Spool.recover(dir);
    assert.equal(skipped, 0);
    assert.deepEqual(pending.map((p) => p.id), ids);
    assert.ok(ids.every((id, i) => i === 0 || (ids[i - 1] as string) < id), "ids sort in acceptance order");
    pending.forEach((p, i) => {
      assert.deepEqual(p.message, body(i));
      assert.deepEqual(p.envelope, env(i));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the new segment's folder entry is synced before the first acknowledgement", async () => {
  const dir = tmp();
  try {
    const calls: string[] = [];
    const io: SpoolIo = {
      open: async (p, f) => {
        const fd = await defaultSpoolIo.open(p, f);
        calls.push(`open ${path.basename(p)} ${f} ${fd}`);
        return fd;
      },
      close: (fd) => defaultSpoolIo.close(fd),
      write: (fd, b) => (calls.push("write"), defaultSpoolIo.write(fd, b)),
      datasync: (fd) => (calls.push("datasync"), defaultSpoolIo.datasync(fd)),
      fsync: (fd) => (calls.push(`fsync ${fd}`), defaultSpoolIo.fsync!(fd)),
    };
    const spool = new Spool({ dir, io });
    await spool.append(env(1), body(1));
    const segOpen = calls.findIndex((c) => /^open \d+-\d+-0\.seg ax/.test(c));
    const dirOpen = calls.findIndex((c, i) => i > segOpen && c.startsWith("open spool r"));
    const dirFd = calls[dirOpen]?.split(" ")[3];
    const dirSync = calls.indexOf(`fsync ${dirFd}`, dirOpen);
    assert.ok(segOpen >= 0 && dirOpen > segOpen && dirSync > dirOpen && dirSync < calls.indexOf("datasync"), calls.join("\n"));
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a failed datasync rejects its batch; later appends go to a fresh segment", async () => {
  const dir = tmp();
  try {
    const { io } = recordingIo({ failSyncOnce: true });
    const spool = new Spool({ dir, io });
    const first = await Promise.allSettled([spool.append(env(1), body(1)), spool.append(env(2), body(2))]);
    assert.ok(first.every((r) => r.status === "rejected" && isSealpostError(r.reason, "IO_ERROR")));
    const id = await spool.append(env(3), body(3));
    await spool.close();
    // The failed segment held nothing acknowledged, so it was retired and deleted.
    const segs = readdirSync(path.join(dir, "spool")).filter((n) => n.endsWith(".seg"));
    assert.equal(segs.length, 1);
    assert.match(segs[0] ?? "", /-1\.seg$/);
    const { pending } = await Spool.recover(dir);
    assert.deepEqual(pending.map((p) => [p.id, p.message]), [[id, body(3)]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("recover returns exactly the messages not done; segments all done are deleted", async () => {
  const dir = tmp();
  try {
    const spool = new Spool({ dir, maxSegmentBytes: 2000 });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await spool.append(env(i), body(i)));
    const segs = () => readdirSync(path.join(dir, "spool")).filter((n) => n.endsWith(".seg")).sort();
    const before = segs();
    assert.ok(before.length > 3, `rotation made ${before.length} segments`);
    for (const s of before) assert.ok(statSync(path.join(dir, "spool", s)).size <= 2000 + 400);
    // Done: everything in the first segment, and every third message.
    const firstSeg = before[0] as string;
    const first = readFileSync(path.join(dir, "spool", firstSeg));
    const inFirst = new Set(parseSegment(first).records.map((r) => r.id));
    const done = new Set(ids.filter((id, i) => inFirst.has(id) || i % 3 === 0));
    for (const id of done) await spool.markDone(id);
    await assert.rejects(spool.markDone(ids[0] as string), (e) => isSealpostError(e, "NOT_FOUND"));
    // A closed segment whose records are all done is deleted at once.
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!segs().includes(firstSeg));
    assert.ok(!existsSync(path.join(dir, "spool", `${firstSeg}.done`)));
    await spool.close();

    const r1 = await Spool.recover(dir);
    assert.deepEqual(r1.pending.map((p) => p.id), ids.filter((id) => !done.has(id)));
    for (const p of r1.pending) assert.deepEqual(p.message, body(ids.indexOf(p.id)));

    // A new process adopts the recovered messages and finishes them: every segment goes.
    const next = new Spool({ dir });
    next.adopt(r1.pending);
    for (const p of r1.pending) await next.markDone(p.id);
    await next.close();
    assert.deepEqual(segs(), []);
    assert.deepEqual(readdirSync(path.join(dir, "spool")), []);
    assert.deepEqual((await Spool.recover(dir)).pending, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a torn tail record is skipped and reported; the records before it survive", async () => {
  const dir = tmp();
  try {
    const spool = new Spool({ dir });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await spool.append(env(i), body(i)));
    await spool.close();
    const seg = at(readdirSync(path.join(dir, "spool")), 0);
    const file = path.join(dir, "spool", seg);
    const records = parseSegment(readFileSync(file)).records;
    // Cut the last record in the middle of its message.
    truncateSync(file, at(records, 4).offset + 20 + 30);
    const { pending, skipped, skippedRecords } = await Spool.recover(dir);
    assert.equal(skipped, 1);
    assert.equal(at(skippedRecords, 0).reason, "truncated record");
    assert.deepEqual(pending.map((p) => p.id), ids.slice(0, 4));
    // Cut inside a header too.
    truncateSync(file, at(records, 3).offset + 7);
    const again = await Spool.recover(dir);
    assert.equal(again.skipped, 1);
    assert.deepEqual(again.pending.map((p) => p.id), ids.slice(0, 3));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a record with a CRC mismatch is skipped; the reader resynchronises on the next record", async () => {
  const dir = tmp();
  try {
    const spool = new Spool({ dir });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await spool.append(env(i), body(i)));
    await spool.close();
    const seg = at(readdirSync(path.join(dir, "spool")), 0);
    const file = path.join(dir, "spool", seg);
    const buf = readFileSync(file);
    const records = parseSegment(buf).records;
    const k = at(records, 2).offset + 60;
    buf[k] = at(buf, k) ^ 0x01; // flip one bit in the third record's envelope
    writeFileSync(file, buf);
    const { pending, skippedRecords } = await Spool.recover(dir);
    assert.deepEqual(skippedRecords.map((s) => s.reason), ["CRC mismatch"]);
    assert.deepEqual(pending.map((p) => p.id), [ids[0], ids[1], ids[3], ids[4]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a record forged inside a message body is never accepted when resynchronising", async () => {
  const dir = tmp();
  try {
    const spool = new Spool({ dir });
    await spool.append(env(0), body(0));
    await spool.close();
    // A valid record for the same segment bytes layout but without the segment's salt.
    const other = tmp();
    const s2 = new Spool({ dir: other });
    await s2.append({ ...env(9), rcptTo: [{ address: "victim@example.net", params: {} }] }, body(9));
    await s2.close();
    const forged = readFileSync(path.join(other, "spool", at(readdirSync(path.join(other, "spool")), 0))).subarray(32);
    rmSync(other, { recursive: true, force: true });
    const spool2 = new Spool({ dir });
    // The sender's message contains a complete forged record; the spool then dies mid-write of it.
    await spool2.append(env(1), Buffer.concat([Buffer.from("Subject: x\r\n\r\n"), forged]));
    await spool2.close();
    const seg = readdirSync(path.join(dir, "spool")).filter((n) => n.endsWith(".seg")).sort()[1] ?? "(none)";
    const file = path.join(dir, "spool", seg);
    const b = readFileSync(file);
    b[40] = at(b, 40) ^ 0xff; // damage the enclosing record's header
    writeFileSync(file, b);
    const { pending } = await Spool.recover(dir);
    assert.equal(pending.length, 1);
    assert.ok(!pending.some((p) => p.envelope.rcptTo[0]?.address === "victim@example.net"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("empty and orphaned files are cleaned; appending after close is refused", async () => {
  const dir = tmp();
  try {
    const spool = new Spool({ dir });
    await spool.append(env(0), body(0));
    await spool.close();
    await assert.rejects(spool.append(env(1), body(1)), (e) => isSealpostError(e, "SPOOL_CLOSED"));
    const sd = path.join(dir, "spool");
    writeFileSync(path.join(sd, "99999999-1-0.seg"), ""); // created, crashed before the first write
    writeFileSync(path.join(sd, "99999999-1-1.seg.done"), "x\n"); // its segment already deleted
    const { pending } = await Spool.recover(dir);
    assert.equal(pending.length, 1);
    assert.deepEqual(readdirSync(sd).filter((n) => n.startsWith("99999999-")), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("recover of a missing folder is empty", async () => {
  assert.deepEqual(await Spool.recover(path.join(os.tmpdir(), "sealpost-none-" + process.pid)), { pending: [], skipped: 0, skippedRecords: [] });
});
