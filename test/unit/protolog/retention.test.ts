// Retention by the folder's total size (maxTotalBytes), besides age.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_MAX_TOTAL_BYTES, RotatingFile } from "../../../src/protolog/rotating-file.js";
import { MessageTracking } from "../../../src/protolog/tracking.js";
import { ProtocolLog } from "../../../src/protolog/protocol-log.js";

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), "sealpost-retention-"));
}

const now = () => new Date("2026-11-29T06:00:00.000Z");
const line = (i: number) => `line ${String(i).padStart(4, "0")} ${"x".repeat(80)}\n`;
const files = (dir: string, prefix = "RECV") => readdirSync(dir).filter((f) => f.startsWith(prefix)).sort((a, b) => num(a) - num(b));
const num = (f: string) => Number(/-(\d+)\.log$/.exec(f)?.[1]);
const size = (dir: string, f: string) => statSync(path.join(dir, f)).size;

test("the default cap is 1 GiB, and logs pass maxTotalBytes through", () => {
  assert.equal(DEFAULT_MAX_TOTAL_BYTES, 1024 * 1024 * 1024);
  // Type-level and construction check: both writers take the option.
  new ProtocolLog({ dir: tmp(), kind: "receive", maxTotalBytes: 1 });
  new MessageTracking({ dir: tmp(), maxTotalBytes: 1 });
});

test("when the prefix's files pass maxTotalBytes the oldest are deleted, the newest kept", async () => {
  const dir = tmp();
  try {
    // Someone else's files in the same folder are not counted or touched.
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "SEND20261101-1.log"), "y".repeat(5000));
    writeFileSync(path.join(dir, "notes.txt"), "keep");
    const f = new RotatingFile({ dir, prefix: "RECV", header: () => "#header\n", maxFileBytes: 400, maxTotalBytes: 1200, now });
    for (let i = 0; i < 60; i++) {
      f.write(line(i));
      await f.flush();
    }
    await f.close();
    const left = files(dir);
    const numbers = left.map(num);
    // About 4 lines a file, 15 files written: only the newest few remain, contiguous, ending with the last.
    assert.ok(left.length >= 2 && left.length <= 4, left.join(" "));
    assert.equal(numbers[numbers.length - 1], 15);
    assert.deepEqual(numbers, numbers.map((_, i) => (numbers[0] as number) + i));
    const last = left[left.length - 1] as string;
    assert.ok(left.filter((x) => x !== last).reduce((s, x) => s + size(dir, x), 0) <= 1200);
    assert.match(readFileSync(path.join(dir, last), "utf8"), /line 0059/);
    assert.ok(existsSync(path.join(dir, "SEND20261101-1.log")));
    assert.ok(existsSync(path.join(dir, "notes.txt")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("oldest means the earliest day first, then the least recently written", async () => {
  const dir = tmp();
  try {
    const put = (name: string, bytes: number, mtime: number) => {
      writeFileSync(path.join(dir, name), "z".repeat(bytes));
      utimesSync(path.join(dir, name), mtime, mtime);
    };
    const t = Date.now() / 1000;
    put("RECV20261127-1.log", 500, t); // earliest day, though written last
    put("RECV20261128-1.log", 500, t - 100);
    put("RECV20261129-2.log", 500, t - 50); // same day: the one written earlier goes first
    put("RECV20261129-1.log", 500, t - 10);
    const f = new RotatingFile({ dir, prefix: "RECV", maxTotalBytes: 1100, now });
    f.write("new\n");
    await f.close();
    // 2004 bytes; deleting the 27th and 28th leaves 1004 <= 1100.
    assert.deepEqual(readdirSync(dir).sort(), ["RECV20261129-1.log", "RECV20261129-2.log", "RECV20261129-3.log"]);
    const g = new RotatingFile({ dir, prefix: "RECV", maxTotalBytes: 400, now });
    g.write("newer\n");
    await g.close();
    // -2 (written before -1) goes, then -1; -3 and the new -4 stay.
    assert.deepEqual(readdirSync(dir).sort(), ["RECV20261129-3.log", "RECV20261129-4.log"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file open in this process is never deleted, even when it is the oldest", async () => {
  const dir = tmp();
  try {
    // As the primary process has two tracking writers on one folder.
    const a = new RotatingFile({ dir, prefix: "MSGTRK", now, maxTotalBytes: 300, maxFileBytes: 200 });
    a.write(`a first ${"x".repeat(150)}\n`);
    await a.flush();
    const aFile = files(dir, "MSGTRK")[0] as string;
    const b = new RotatingFile({ dir, prefix: "MSGTRK", now, maxTotalBytes: 300, maxFileBytes: 200 });
    for (let i = 0; i < 10; i++) {
      b.write(`b ${i} ${"x".repeat(150)}\n`);
      await b.flush();
    }
    assert.ok(existsSync(path.join(dir, aFile)), "the other writer's open file survives");
    a.write("a second\n");
    await a.close();
    await b.close();
    assert.match(readFileSync(path.join(dir, aFile), "utf8"), /a first[\s\S]*a second/);
    // b's own older files did go.
    assert.ok(files(dir, "MSGTRK").length <= 3, files(dir, "MSGTRK").join(" "));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a writer whose file was deleted (by another process or by hand) starts a new file", async () => {
  const dir = tmp();
  try {
    const f = new RotatingFile({ dir, prefix: "RECV", header: () => "#h\n", now });
    f.write("one\n");
    await f.flush();
    const first = files(dir)[0] as string;
    unlinkSync(path.join(dir, first));
    f.write("two\n");
    await f.close();
    const left = files(dir);
    assert.equal(left.length, 1);
    assert.notEqual(left[0], first);
    assert.equal(readFileSync(path.join(dir, left[0] as string), "utf8"), "#h\ntwo\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("maxTotalBytes 0 keeps everything (age retention still applies)", async () => {
  const dir = tmp();
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "RECV20260101-1.log"), "old\n"); // more than 30 days before now()
    writeFileSync(path.join(dir, "RECV20261128-1.log"), "z".repeat(10_000));
    const f = new RotatingFile({ dir, prefix: "RECV", maxTotalBytes: 0, now });
    f.write("x\n");
    await f.close();
    assert.deepEqual(readdirSync(dir).sort(), ["RECV20261128-1.log", "RECV20261129-1.log"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
