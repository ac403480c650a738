// Child process for test/integration/spool-kill.test.ts: appends messages in
// a loop from several concurrent "sessions" and prints "<id> <n>" for each
// one the spool acknowledged — exactly when an SMTP server would send 250.
// Usage: node spool-child.js <DIR/queue>
import { Spool } from "../../src/queue/spool.js";
import { killTestEnvelope, killTestMessage } from "./spool-messages.js";

const dir = process.argv[2];
if (!dir) throw new Error("usage: spool-child <dir>");
const spool = new Spool({ dir, maxSegmentBytes: 1024 * 1024 });
let next = 0;

async function session(): Promise<void> {
  for (;;) {
    const n = next++;
    const id = await spool.append(killTestEnvelope(n), killTestMessage(n));
    // stdout to a pipe is synchronous on Linux: once this returns the parent can read it.
    process.stdout.write(`${id} ${n}\n`);
  }
}

for (let i = 0; i < 8; i++) void session();
