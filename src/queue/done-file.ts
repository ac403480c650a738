// The "<segment>.done" file: ids of finished messages, one a line, appended
// and never synced (a lost marker means a second delivery, not a lost one).
import type { SpoolIo } from "./io.js";

/** Appends done ids to "<segment>.done", batching concurrent markDone calls into one write. */
export class DoneFile {
  private fd: number | undefined;
  private lines: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private running: Promise<void> | undefined;

  /** Start the first write with a newline: the file may end in a partial line (a killed writer). */
  private freshLine: boolean;

  constructor(
    private readonly io: SpoolIo,
    readonly file: string,
    opts: { freshLine?: boolean } = {},
  ) {
    this.freshLine = opts.freshLine === true;
  }

  add(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.lines.push(`${id}\n`);
      this.waiters.push({ resolve, reject });
      this.running ??= this.run();
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.lines.length > 0) {
        const data = Buffer.from((this.freshLine ? "\n" : "") + this.lines.splice(0).join(""));
        const waiters = this.waiters.splice(0);
        try {
          this.fd ??= await this.io.open(this.file, "a");
          await this.io.write(this.fd, [data]);
          this.freshLine = false;
          for (const w of waiters) w.resolve();
        } catch (e) {
          for (const w of waiters) w.reject(e);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  async close(): Promise<void> {
    while (this.running) await this.running;
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      await this.io.close(fd);
    }
  }
}
