// Defect: the data folder and its files were readable by every user.
//
// Found by listing a data folder the administrator had made beforehand
// (`mkdir /srv/sealpost`, mode 0755): Sealpost used it as it was, and created
// sealpost.db and queue/outbound.db (and their -wal/-shm files) with mode
// 0644, so any local user could read the organization's configuration, the
// queue with every message's envelope, and copy the databases. The folder
// must be 0700 and every file in it 0600, whoever made them. Reproduced with
// the real command line: a folder pre-created with 0755 holding a 0644 file,
// `init`, shell commands, a short `serve` that receives a message (local
// delivery and the outbound queue), then a walk of the whole folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { shellC, spawnSealpost } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil } from "../helpers/serve.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";

const base = mkdtempSync(path.join(os.tmpdir(), "sealpost-modes-"));
const dir = path.join(base, "data");

test.after(() => rmSync(base, { recursive: true, force: true }));

/** Every entry under `root` that is looser than 0700 (folders) / 0600 (files). */
function looseEntries(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    const st = lstatSync(d);
    if ((st.mode & 0o777) !== 0o700) out.push(`${d} (folder, ${(st.mode & 0o777).toString(8)})`);
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) out.push(`${p} (a symbolic link)`);
      else if (s.isDirectory()) walk(p);
      else if ((s.mode & 0o777) !== 0o600) out.push(`${p} (file, ${(s.mode & 0o777).toString(8)})`);
    }
  };
  walk(root);
  return out;
}

async function ok(line: string): Promise<void> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}: ${r.stderr}`);
}

test("a data folder made with mode 0755 and the files Sealpost writes in it end up 0700 / 0600", async () => {
  // What an administrator (or a package's install script) made beforehand.
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, "README.txt"), "Sealpost data\n");
  chmodSync(path.join(dir, "README.txt"), 0o644);
  mkdirSync(path.join(dir, "backup"));
  chmodSync(path.join(dir, "backup"), 0o755);
  writeFileSync(path.join(dir, "backup", "old.db"), "");
  chmodSync(path.join(dir, "backup", "old.db"), 0o644);

  // A fresh process, as the administrator runs it: the modes it leaves are the point here.
  const init = await spawnSealpost(["--data", dir, "init", "--name", "edge.example.net"]);
  assert.equal(init.code, 0, init.stderr);
  assert.deepEqual(looseEntries(dir), [], "after init");

  const host = randomLoopback();
  await ok("New-AcceptedDomain -DomainName example.net");
  await ok("New-Mailbox -PrimarySmtpAddress bob@example.net");
  // Mail for a relay domain goes to the outbound queue; its DNS server is a closed loopback port.
  await ok("New-AcceptedDomain -DomainName relay.example -DomainType InternalRelay");
  await ok("Set-TransportServer -ExternalDNSServers 127.0.0.1:9");
  await ok(`Set-ReceiveConnector Inet -Bindings ${host}:2525 -ProtocolLoggingLevel Verbose`);
  await ok("New-ExchangeCertificate -DomainName edge.example.net");
  // A file of an earlier release, or one a backup tool restored, with a loose mode.
  chmodSync(path.join(dir, "sealpost.db"), 0o644);
  await ok("Get-ExchangeCertificate");
  assert.deepEqual(looseEntries(dir), [], "after shell commands");

  const server = await startServe(dir);
  try {
    const { client } = await TestSmtpClient.connect(host, 2525);
    await client.cmd("EHLO client.example");
    await client.startTls({ servername: "edge.example.net" });
    await client.cmd("EHLO client.example");
    // One recipient delivered here, one for the outbound queue.
    const r = await client.send("alice@client.example", ["bob@example.net", "carol@relay.example"], "Subject: modes\r\n\r\nhello\r\n");
    assert.match(r[r.length - 1]?.text ?? "", /^250 /);
    await client.quit();
    await waitUntil("local delivery", () => {
      const nd = path.join(dir, "maildir", "example.net", "bob", "new");
      return existsSync(nd) && readdirSync(nd).length > 0 ? true : undefined;
    });
    await waitUntil("the outbound queue", async () => {
      const q = await shellC(dir, "Get-Queue relay.example");
      return q.code === 0 ? true : undefined;
    });
    // While it runs, the databases' -wal and -shm files exist too.
    assert.deepEqual(looseEntries(dir), [], "while serving");
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.ok(existsSync(path.join(dir, "queue", "outbound.db")));
  assert.deepEqual(looseEntries(dir), [], "after serve");
});

test("the databases are 0600 even when the process's umask would allow 0644 (the modes are explicit)", async () => {
  const { AdminApi } = await import("../../src/admin/api.js");
  const { OutboundStore } = await import("../../src/queue/outbound-store.js");
  const d = path.join(base, "in-process");
  const old = process.umask(0o022);
  try {
    const api = await AdminApi.openWithDefaults(d);
    await api.close();
    const q = new OutboundStore(path.join(d, "queue", "outbound.db"));
    q.close();
  } finally {
    process.umask(old);
  }
  assert.ok(existsSync(path.join(d, "sealpost.db")));
  assert.deepEqual(looseEntries(d), []);
});
