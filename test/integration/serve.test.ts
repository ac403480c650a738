// `sealpost serve` as an administrator runs it: first start (self-signed
// certificate, the token's file named, never the token), the loopback admin endpoint, worker
// processes with counters aggregated for Get-Counter, and kill -9 in the
// middle of a stream of messages: every message that got 250 is delivered
// after the restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SEALPOST_BIN, runSealpost, shellC } from "../helpers/cli.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";

interface Running {
  child: ChildProcess;
  address: string;
  output: () => string;
  stop: () => Promise<number>;
}

function startServe(dataDir: string, workers: number): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SEALPOST_BIN, "--data", dataDir, "serve", "--admin", "127.0.0.1:0", "--workers", String(workers)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /admin API http:\/\/([\d.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          child,
          address: m[1] as string,
          output: () => out,
          stop: () =>
            new Promise((r) => {
              child.once("exit", (code) => r(code ?? -1));
              child.kill("SIGTERM");
            }),
        });
      }
    });
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", () => reject(new Error(`serve exited: ${out}`)));
  });
}

const randomHost = () => `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

async function setup(name: string): Promise<{ dir: string; host: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `sealpost-serve-${name}-`));
  const host = randomHost();
  await runSealpost(["--data", dir, "init", "--name", "edge.example.net"]);
  for (const line of ["New-AcceptedDomain -DomainName example.net", "New-Mailbox -PrimarySmtpAddress bob@example.net", `Set-ReceiveConnector Inet -Bindings ${host}:2525`]) {
    const r = await shellC(dir, line);
    assert.equal(r.code, 0, r.stderr);
  }
  return { dir, host };
}

function delivered(dir: string): string[] {
  const nd = path.join(dir, "maildir", "example.net", "bob", "new");
  return existsSync(nd) ? readdirSync(nd).map((f) => readFileSync(path.join(nd, f), "utf8")) : [];
}

test("first start: self-signed certificate, the token's file named (the token not printed), authenticated loopback admin API", async () => {
  const { dir } = await setup("first");
  try {
    const first = await startServe(dir, 0);
    const token = readFileSync(path.join(dir, "admin.token"), "utf8").trim();
    assert.equal(statSync(path.join(dir, "admin.token")).mode & 0o777, 0o600);
    assert.ok(!first.output().includes(token), "the token is not printed");
    assert.ok(first.output().includes(path.join(dir, "admin.token")), "the log says where the token is");
    assert.match(first.output(), /Created a self-signed certificate [0-9A-F]{40} for edge\.example\.net/);
    const health = await fetch(`http://${first.address}/health`);
    assert.deepEqual(await health.json(), { status: "ok", server: "edge.example.net" });
    assert.equal((await fetch(`http://${first.address}/adminapi/v1/CmdletInfo`)).status, 401);
    assert.equal((await fetch(`http://${first.address}/metrics`, { headers: { authorization: "Bearer wrong" } })).status, 401);
    const invoked = await fetch(`http://${first.address}/adminapi/v1/InvokeCommand`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, origin: `http://${first.address}`, "content-type": "application/json" },
      body: JSON.stringify({ CmdletInput: { CmdletName: "Get-ExchangeCertificate" } }),
    });
    const certs = ((await invoked.json()) as { value: Array<{ Services: string; CertificateDomains: string[] }> }).value;
    assert.equal(certs[0]?.Services, "SMTP");
    assert.deepEqual(certs[0]?.CertificateDomains, ["edge.example.net"]);
    assert.equal(await first.stop(), 0);
    const second = await startServe(dir, 0);
    assert.ok(!second.output().includes(token));
    assert.doesNotMatch(second.output(), /Created a self-signed certificate/);
    assert.equal(await second.stop(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the admin endpoint refuses to listen outside loopback", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-serve-"));
  try {
    const r = await runSealpost(["--data", dir, "serve", "--admin", "0.0.0.0:8025"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /must listen on loopback/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("two workers receive mail, STARTTLS works, and Get-Counter sums every worker", async () => {
  const { dir, host } = await setup("workers");
  const server = await startServe(dir, 2);
  try {
    for (let i = 0; i < 4; i++) {
      const { client } = await TestSmtpClient.connect(host, 2525);
      await client.cmd("EHLO client.example");
      if (i % 2 === 0) await client.startTls({ servername: "edge.example.net" });
      await client.cmd("EHLO client.example");
      const r = await client.send("alice@client.example", ["bob@example.net"], `Subject: worker-${i}\r\n\r\nhi\r\n`);
      assert.match(r[3]?.text ?? "", /^250 2\.6\.0/);
      await client.quit();
    }
    const counters = await runSealpost(["--data", dir, "--json", "counters", "--all"]);
    assert.equal(counters.code, 0, counters.stderr);
    const values = JSON.parse(counters.stdout) as Record<string, number>;
    assert.equal(values.sealpost_messages_received_total, 4);
    assert.equal(values["\\MSExchange Secure Mail Transport\\Domain-Secured Messages Received"], 0);
    const gc = await shellC(dir, 'Get-Counter "\\MSExchange Secure Mail Transport\\*"');
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, /\\MSExchange Secure Mail Transport\\Domain-Secured Messages Received\s+0/);
    assert.match(gc.stdout, /Domain-Secured Outbound Session Failures/);
  } finally {
    assert.equal(await server.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(delivered(dir).length, 0, "the folder was removed");
});

test("kill -9 during a stream of messages: every message that got 250 is delivered after restart", async () => {
  const { dir, host } = await setup("kill");
  try {
    const server = await startServe(dir, 0);
    const acked: string[] = [];
    let stop = false;
    const sender = async (n: number) => {
      for (let i = 0; !stop; i++) {
        let client: TestSmtpClient | undefined;
        try {
          client = (await TestSmtpClient.connect(host, 2525)).client;
          await client.cmd("EHLO client.example");
          for (let k = 0; k < 5 && !stop; k++) {
            const subject = `kill-${n}-${i}-${k}`;
            const r = await client.send("alice@client.example", ["bob@example.net"], `Subject: ${subject}\r\n\r\n${"x".repeat(76).concat("\r\n").repeat(26)}`);
            if (r[3]?.code === 250) acked.push(subject);
          }
          await client.quit();
        } catch {
          client?.write("");
          return;
        }
      }
    };
    const senders = [0, 1, 2, 3].map(sender);
    await new Promise((r) => setTimeout(r, 800));
    server.child.kill("SIGKILL");
    stop = true;
    await Promise.all(senders);
    if (server.child.exitCode === null && server.child.signalCode === null) await new Promise((r) => server.child.once("exit", r));
    assert.ok(acked.length > 10, `only ${acked.length} messages were acknowledged before the kill`);
    const restarted = await startServe(dir, 0);
    const end = Date.now() + 20_000;
    let missing: string[] = [];
    do {
      const subjects = new Set(delivered(dir).map((m) => /Subject: (\S+)/.exec(m)?.[1]));
      missing = acked.filter((s) => !subjects.has(s));
      if (missing.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < end);
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged messages were lost`);
    assert.equal(await restarted.stop(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
