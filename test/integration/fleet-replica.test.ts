// An edge in a perimeter network may read the configuration from a streaming
// read replica instead of the primary. LISTEN is not available on a standby,
// so the edge polls the version; a change committed on the primary reaches
// it through replication within seconds.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { runSealpost } from "../helpers/cli.js";
import { startStandby, startTestPg, type TestPg } from "../helpers/pg.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";

let work: string;
let primary: TestPg;
let replica: TestPg;
let primaryUrl: string;
let replicaUrl: string;
let edge: RunningServer | undefined;

const IP = randomLoopback();

async function org(line: string): Promise<void> {
  const r = await runSealpost(["--org", primaryUrl, "shell", "-c", line]);
  assert.equal(r.code, 0, `${line}\n${r.stderr}`);
}

async function replicaVersion(): Promise<number> {
  const c = new pg.Client({ connectionString: replicaUrl });
  await c.connect();
  try {
    return Number((await c.query("SELECT version FROM org_version")).rows[0].version);
  } finally {
    await c.end();
  }
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-replica-"));
  primary = await startTestPg({ settings: { wal_level: "replica", max_wal_senders: "4", hot_standby: "on" } });
  primaryUrl = await primary.createDatabase("contoso_org");
  assert.equal((await runSealpost(["--org", primaryUrl, "org", "migrate"])).code, 0);
  await org("New-AcceptedDomain -DomainName contoso.com");
  await org("New-Mailbox -PrimarySmtpAddress alice@contoso.com");
  await org(`New-ReceiveConnector "edge1.contoso.com\\Inet" -Bindings ${IP}:2525 -DomainSecureEnabled:$true -AuthMechanism TLS`);

  replica = await startStandby(primary);
  replicaUrl = new URL(primaryUrl).toString().replace(`:${primary.port}/`, `:${replica.port}/`);
  const want = await (async () => {
    const c = new pg.Client({ connectionString: primaryUrl });
    await c.connect();
    const v = Number((await c.query("SELECT version FROM org_version")).rows[0].version);
    await c.end();
    return v;
  })();
  await waitUntil("the standby caught up", async () => ((await replicaVersion().catch(() => -1)) >= want ? true : undefined), 20_000);

  const dir = path.join(work, "edge1");
  assert.equal((await runSealpost(["--data", dir, "init", "--name", "edge1.contoso.com"])).code, 0);
  edge = await startServe(dir, { args: ["--org", replicaUrl] });
});

after(async () => {
  await edge?.stop();
  await replica?.stop();
  await primary?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("an edge on a streaming read replica receives changes by polling", async () => {
  const e = edge as RunningServer;
  assert.match(e.output(), /\(polling for changes\)/);
  const t0 = Date.now();
  await org("Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com");
  await waitUntil(
    "the change applied on the edge",
    async () => {
      const { client } = await TestSmtpClient.connect(IP, 2525);
      try {
        await client.cmd("EHLO mail.woodgrovebank.com");
        return /^451 4\.7\.3 /.test((await client.cmd("MAIL FROM:<a@woodgrovebank.com>")).text) || undefined;
      } finally {
        await client.quit().catch(() => undefined);
      }
    },
    10_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${e.output()}`);
  });
  assert.ok(Date.now() - t0 < 5000, `applied within 5 s through the replica (${Date.now() - t0} ms)`);
  assert.match(e.output(), /read-only replica; this edge's status is not reported/);
  assert.equal(await e.metric("sealpost_org_store_reachable"), 1);
});
