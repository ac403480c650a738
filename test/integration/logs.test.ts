// Searching the logs of a real server: `sealpost serve` receives two messages
// from different senders on a Verbose connector, stops, and then
// Get-MessageTrackingLog, Get-ProtocolLog and `sealpost logs` find them in
// the data folder it left.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseFormatList, runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil } from "../helpers/serve.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";

const PORT = 2525;
let work: string;
let dir: string;
const host = randomLoopback();
const clientA = randomLoopback();
const clientC = randomLoopback();

async function ok(line: string): Promise<string> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function send(from: string, localAddress: string, messageId: string): Promise<void> {
  const { client, greeting } = await TestSmtpClient.connect(host, PORT, { localAddress });
  assert.equal(greeting.code, 220);
  assert.equal((await client.cmd(`EHLO client.${from.split("@")[1]}`)).code, 250);
  const replies = await client.send(from, ["bob@example.net"], `From: <${from}>\r\nTo: <bob@example.net>\r\nSubject: hello, "logs"\r\nMessage-ID: <${messageId}>\r\n\r\nHello\r\n`);
  assert.match(replies[replies.length - 1]?.text ?? "", /^250 /);
  await client.quit();
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-logs-"));
  dir = path.join(work, "data");
  assert.equal((await runSealpost(["--data", dir, "init", "--name", "edge.example.net"])).code, 0);
  await ok("New-AcceptedDomain -DomainName example.net");
  await ok("New-Mailbox -PrimarySmtpAddress bob@example.net");
  await ok(`Set-ReceiveConnector Inet -Bindings ${host}:${PORT} -ProtocolLoggingLevel Verbose`);
  const server = await startServe(dir);
  try {
    await send("a@x.example", clientA, "first@x.example");
    await send("c@y.example", clientC, "second@y.example");
    const inbox = path.join(dir, "maildir", "example.net", "bob", "new");
    await waitUntil("both messages delivered", () => existsSync(inbox) && readdirSync(inbox).length === 2);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

after(() => rmSync(work, { recursive: true, force: true }));

test("Get-MessageTrackingLog -Sender finds exactly that message's RECEIVE and DELIVER events", async () => {
  const events = parseFormatList(await ok("Get-MessageTrackingLog -Sender A@X.example | Format-List"));
  assert.deepEqual(
    events.map((e) => e.EventId),
    ["RECEIVE", "DELIVER"],
  );
  for (const e of events) {
    assert.equal(e.Sender, "a@x.example");
    assert.equal(e.MessageId, "<first@x.example>");
    assert.equal(e.Recipients, "{bob@example.net}");
    assert.equal(e.ClientIp, clientA);
    assert.equal(e.ConnectorId, "Inet");
    assert.equal(e.ServerHostname, "edge.example.net");
    assert.match(e.SessionId ?? "", /^[0-9a-f]{16}$/);
  }
  assert.equal(events[0]?.SessionId, events[1]?.SessionId);
  // The default view is a table.
  const table = await ok("Get-MessageTrackingLog -Sender a@x.example");
  assert.match(table.split("\n")[0] ?? "", /^Timestamp\s+EventId\s+Sender\s+Recipients\s+MessageId/);
});

test("-EventId DELIVER -Recipients bob@example.net finds both deliveries", async () => {
  const events = parseFormatList(await ok("Get-MessageTrackingLog -EventId DELIVER -Recipients bob@example.net -Start 2000-01-01 -ResultSize Unlimited | Format-List"));
  assert.equal(events.length, 2);
  // Delivered concurrently: in either order.
  assert.deepEqual(events.map((e) => e.Sender).sort(), ["a@x.example", "c@y.example"]);
  const times = events.map((e) => Date.parse(e.Timestamp as string));
  assert.ok((times[0] as number) <= (times[1] as number), "oldest first");
  assert.ok(events.every((e) => e.EventId === "DELIVER"));
  assert.equal(parseFormatList(await ok("Get-MessageTrackingLog -EventId RECEIVE,DELIVER | Format-List")).length, 4);
  assert.equal(parseFormatList(await ok("Get-MessageTrackingLog -ResultSize 1 | Format-List")).length, 1);
});

test("Get-ProtocolLog -SessionId (from the tracking event) returns that session's rows, MAIL FROM included", async () => {
  const [receive] = parseFormatList(await ok("Get-MessageTrackingLog -Sender a@x.example -EventId RECEIVE | Format-List"));
  const session = receive?.SessionId as string;
  const rows = parseFormatList(await ok(`Get-ProtocolLog -SessionId ${session} | Format-List`));
  assert.ok(rows.length >= 8, `${rows.length} rows`);
  assert.ok(rows.every((r) => r.SessionId === session && r.Direction === "Receive" && r.Connector === "Inet"));
  assert.deepEqual(rows.map((r) => Number(r.Sequence)), rows.map((_, i) => i));
  assert.equal(rows[0]?.Event, "+");
  assert.equal(rows[rows.length - 1]?.Event, "-");
  assert.ok(rows.some((r) => r.Event === "<" && r.Data === "MAIL FROM:<a@x.example>"));
  assert.ok(rows.some((r) => r.Event === "<" && r.Data === "EHLO client.x.example"));
  assert.ok(rows.every((r) => r.LocalEndpoint === `${host}:${PORT}` && r.RemoteEndpoint?.startsWith(`${clientA}:`)));
  // The same session by the client's address, and by the domain in its EHLO / MAIL FROM.
  assert.deepEqual(new Set(parseFormatList(await ok(`Get-ProtocolLog -RemoteAddress ${clientA} | Format-List`)).map((r) => r.SessionId)), new Set([session]));
  assert.deepEqual(new Set(parseFormatList(await ok("Get-ProtocolLog -Domain x.example -Direction Receive | Format-List")).map((r) => r.SessionId)), new Set([session]));
  // Both sessions by domain of the recipient.
  assert.equal(new Set(parseFormatList(await ok("Get-ProtocolLog -Domain example.net | Format-List")).map((r) => r.SessionId)).size, 2);
});

test("sealpost logs tracking --message-id ... --json, and logs protocol", async () => {
  const r = await runSealpost(["--data", dir, "--json", "logs", "tracking", "--message-id", "second@y.example"]);
  assert.equal(r.code, 0, r.stderr);
  const events = JSON.parse(r.stdout) as Array<{ EventId: string; Sender: string; MessageId: string; Recipients: string[]; SessionId: string }>;
  assert.deepEqual(events.map((e) => e.EventId), ["RECEIVE", "DELIVER"]);
  assert.ok(events.every((e) => e.Sender === "c@y.example" && e.MessageId === "<second@y.example>" && e.Recipients[0] === "bob@example.net"));
  const p = await runSealpost(["--data", dir, "--json", "logs", "protocol", "--session", events[0]?.SessionId as string, "--limit", "3"]);
  assert.equal(p.code, 0, p.stderr);
  const rows = JSON.parse(p.stdout) as Array<{ Sequence: number; SessionId: string }>;
  assert.deepEqual(rows.map((x) => x.Sequence), [0, 1, 2]);
  const text = await runSealpost(["--data", dir, "logs", "tracking", "--recipient", "bob@example.net", "--event", "DELIVER"]);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout.trim().split("\n").length, 4, text.stdout); // header, rule, two events
});

test("bad input gives a clear error and changes nothing", async () => {
  const e1 = await shellC(dir, "Get-MessageTrackingLog -EventId BOUNCE");
  assert.notEqual(e1.code, 0);
  assert.match(e1.stderr, /The event id 'BOUNCE' is not one this server logs: give RECEIVE, DELIVER, FAIL, DEFER, SEND, DSN, DROP/);
  const e2 = await shellC(dir, 'Get-ProtocolLog -Start "2026-11-29 09:00" -End 2026-11-28');
  assert.notEqual(e2.code, 0);
  assert.match(e2.stderr, /The end time .* is before the start time/);
  const e3 = await shellC(dir, "Get-MessageTrackingLog -ResultSize 0");
  assert.match(e3.stderr, /result size '0' is not valid/);
  const e4 = await runSealpost(["--data", dir, "--json", "logs", "tracking", "--start", "last tuesday"]);
  assert.equal(e4.code, 1);
  assert.equal((JSON.parse(e4.stdout) as { error: { code: string } }).error.code, "INVALID_ARGUMENT");
  // A bad argument is refused before a data folder is even created.
  const fresh = path.join(work, "never-created");
  const e5 = await runSealpost(["--data", fresh, "logs", "protocol", "--remote", "999.1.1.1"]);
  assert.equal(e5.code, 1);
  assert.match(e5.stderr, /'999\.1\.1\.1' is not an IP address/);
  assert.equal(existsSync(fresh), false);
});
