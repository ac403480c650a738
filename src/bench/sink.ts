// What reached each server's sink, read from the server's own records: a
// message counts only when its queue id (from the 250 reply) shows up there.
//   Sealpost: DELIVER events in the message tracking log (DIR/logs/tracking,
//             one file per worker), written after the copy is in the Maildir
//             (or, with the discard sink, after the message was taken off the spool).
//   Postfix:  "status=sent" lines of the discard(8) transport in its maillog.
// Files are read incrementally (each poll reads only what was appended).
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import path from "node:path";

/** Reads the lines appended to a log file, or to every file of a folder, since the last poll. */
export class LogTail {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, string>();
  private names: string[] = [];
  private listedAt = 0;

  constructor(
    /** A folder (every file in it is read) or one file. */
    private readonly where: string,
    private readonly fileFilter: (name: string) => boolean = () => true,
    /** How often a folder is listed again for new files, ms (rotation). */
    private readonly relistMs = 0,
  ) {}

  private files(): string[] {
    if (this.relistMs > 0 && this.names.length > 0 && performance.now() - this.listedAt < this.relistMs) return this.names;
    this.listedAt = performance.now();
    if (!existsSync(this.where)) return (this.names = []);
    if (statSync(this.where).isFile()) return (this.names = [this.where]);
    return (this.names = readdirSync(this.where)
      .filter(this.fileFilter)
      .map((n) => path.join(this.where, n)));
  }

  /** Calls `onLine` for every complete line appended since the last poll. */
  poll(onLine: (line: string) => void): void {
    for (const file of this.files()) {
      const from = this.offsets.get(file) ?? 0;
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        continue;
      }
      if (size <= from) continue;
      const buf = Buffer.alloc(size - from);
      const fd = openSync(file, "r");
      try {
        readSync(fd, buf, 0, buf.length, from);
      } finally {
        closeSync(fd);
      }
      this.offsets.set(file, size);
      const text = (this.partial.get(file) ?? "") + buf.toString("utf8");
      const lines = text.split("\n");
      this.partial.set(file, lines.pop() ?? "");
      for (const line of lines) onLine(line);
    }
  }
}

export class SinkReader {
  private readonly tail: LogTail;
  readonly ids = new Set<string>();

  constructor(
    /** A folder (every file in it is read) or one file. */
    where: string,
    /** Captures the queue id of a delivered message in group 1. */
    private readonly pattern: RegExp,
    fileFilter: (name: string) => boolean = () => true,
  ) {
    this.tail = new LogTail(where, fileFilter);
  }

  static sealpost(dataDir: string): SinkReader {
    return new SinkReader(path.join(dataDir, "logs", "tracking"), /"eventId":"DELIVER".*?"internalId":"([0-9a-f]+)"/, (n) => n.startsWith("MSGTRK"));
  }

  static postfix(maillog: string): SinkReader {
    return new SinkReader(maillog, /postfix\/discard\[\d+\]: ([0-9A-Za-z]+): to=.*status=sent/);
  }

  /** Reads what was appended since the last poll; returns the number of ids seen so far. */
  poll(): number {
    this.tail.poll((line) => {
      const m = this.pattern.exec(line);
      if (m?.[1]) this.ids.add(m[1]);
    });
    return this.ids.size;
  }

  /** How many of `ids` reached the sink. */
  countOf(ids: string[]): number {
    let n = 0;
    for (const id of ids) if (this.ids.has(id)) n++;
    return n;
  }

  /** Polls until every one of `ids` reached the sink or `timeoutMs` passed; returns how many did. */
  async waitFor(ids: string[], timeoutMs: number): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      const n = this.countOf(ids);
      if (n === ids.length || Date.now() > end) return n;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
