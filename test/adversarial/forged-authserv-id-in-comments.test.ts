// Found under attack: from an outside sender (plain SMTP to the Internet
// receive connector), Authentication-Results fields naming the
// organization's own authserv-id passed the header firewall unchanged when
// the id was wrapped in RFC 5322 syntax the firewall did not parse:
//   Authentication-Results: (a (b) c) contoso.com; x-domain-secure=pass
//   Authentication-Results: (x\) y) contoso.com; x-domain-secure=pass
//   Authentication-Results: "contoso.com"; x-domain-secure=pass
// a forged Domain Secure mark. This test sends those and more spellings (a
// folded field name, case and a trailing dot, fullwidth and ideographic
// dots, an unbalanced comment or quote, no authserv-id at all, Exchange's
// organization marks spelled loosely) to a real `sealpost serve` and reads
// the delivered Maildir files: none of them may keep such a field; a
// foreign authserv-id, however it is written, is kept.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";

/** Each entry: whole header field(s), CRLF-terminated, all claiming contoso.com or an edge's name. */
const FORGED: string[] = [
  // the three spellings as found
  "Authentication-Results: (a (b) c) contoso.com; x-domain-secure=pass\r\n",
  "Authentication-Results: (x\\) y) contoso.com; x-domain-secure=pass\r\n",
  'Authentication-Results: "contoso.com"; x-domain-secure=pass\r\n',
  // more of the same class
  'Authentication-Results: "cont\\oso.com"; x-domain-secure=pass\r\n',
  "Authentication-Results: ((((((deep) (er)))))) contoso.com 1 (v); x-domain-secure=pass\r\n",
  `Authentication-Results: ${"(".repeat(200)}x${")".repeat(200)} contoso.com; x-domain-secure=pass\r\n`,
  "Authentication-Results: (a\\(b) (c\\\\) contoso.com; x-domain-secure=pass\r\n",
  "Authentication-Results:\r\n\t(c)\r\n contoso.com\r\n\t1 (v)\r\n ; x-domain-secure=pass\r\n",
  'Authentication-Results: (x) "mail1.contoso.com" (edge); x-domain-secure=pass\r\n',
  "Authentication-Results: CONTOSO.COM.; x-domain-secure=pass\r\n",
  "Authentication-Results: contoso.com..; x-domain-secure=pass\r\n",
  "Authentication-Results: \uff43\uff4f\uff4e\uff54\uff4f\uff53\uff4f\uff0e\uff43\uff4f\uff4d; x-domain-secure=pass\r\n",
  "Authentication-Results: contoso\u3002com; x-domain-secure=pass\r\n",
  "Authentication-Results: con\u00adtoso.com; x-domain-secure=pass\r\n",
  "Authentication-Results: xn--contoso-.com; x-domain-secure=pass\r\n",
  "Authentication-Results: Mail1.Contoso.Com; x-domain-secure=pass\r\n",
  // what cannot be parsed goes too
  "Authentication-Results: (unbalanced contoso.com; x-domain-secure=pass\r\n",
  'Authentication-Results: "contoso.com; x-domain-secure=pass\r\n',
  "Authentication-Results: ; x-domain-secure=pass\r\n",
  "Authentication-Results: x-domain-secure=pass smtp.mailfrom=woodgrovebank.com\r\n",
  "Authentication-Results: contoso . com; x-domain-secure=pass\r\n",
  "Authentication-Results: woodgrovebank.com contoso.com; x-domain-secure=pass\r\n",
  // the field name spelled loosely
  "Authentication-Results\r\n : contoso.com; x-domain-secure=pass\r\n",
  "authentication-RESULTS \t: contoso.com; x-domain-secure=pass\r\n",
  "X-MS-Exchange-Organization-AuthAs\r\n : Partner\r\nx-ms-exchange-organization-authdomain \t:\r\n woodgrovebank.com\r\n",
];

/** Foreign authserv-ids, however written, stay. */
const FOREIGN = [
  "Authentication-Results: woodgrovebank.com; spf=pass smtp.mailfrom=woodgrovebank.com\r\n",
  'Authentication-Results: (a (contoso.com) c) "woodgrovebank.com" 1; dkim=pass\r\n',
  "Authentication-Results:\r\n (x\\) contoso.com)\r\n mx.woodgrovebank.com; dmarc=pass header.from=contoso.com\r\n",
];

let dir: string;
let host: string;
let server: RunningServer;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-forged-authserv-"));
  host = randomLoopback();
  const init = await runSealpost(["--data", dir, "init", "--name", "mail1.contoso.com"]);
  assert.equal(init.code, 0, init.stderr);
  for (const line of ["New-AcceptedDomain -DomainName contoso.com", "New-Mailbox -PrimarySmtpAddress alice@contoso.com", `Set-ReceiveConnector Inet -Bindings ${host}:2525`]) {
    const r = await shellC(dir, line);
    assert.equal(r.code, 0, r.stderr);
  }
  server = await startServe(dir, { workers: 0 });
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function delivered(): Map<string, string> {
  const out = new Map<string, string>();
  const d = path.join(dir, "maildir", "contoso.com", "alice", "new");
  if (!existsSync(d)) return out;
  for (const f of readdirSync(d)) {
    const text = readFileSync(path.join(d, f), "utf8");
    const subject = /^Subject: (\S+)/m.exec(text)?.[1];
    if (subject) out.set(subject, text);
  }
  return out;
}

/**
 * The marks a reader of the delivered message could see: every unfolded
 * header line whose name, spaces and case aside, is Authentication-Results
 * or X-MS-Exchange-Organization-*.
 */
function marks(message: string): string[] {
  const end = message.indexOf("\r\n\r\n");
  const header = message.slice(0, end < 0 ? message.length : end).replace(/\r\n(?=[ \t])/g, "");
  return header.split("\r\n").filter((l) => /^[ \t]*(authentication-results|x-ms-exchange-organization-[^:]*)[ \t]*:/i.test(l));
}

test("forged Authentication-Results for the organization's authserv-id never reach the mailbox, however they are spelled", async () => {
  const { client, greeting } = await TestSmtpClient.connect(host, 2525);
  assert.match(greeting.text, /^220 /);
  await client.cmd("EHLO attacker.example");
  const messages = new Map<string, { fields: string; forged: boolean }>();
  FORGED.forEach((f, i) => messages.set(`forged-${i}`, { fields: f, forged: true }));
  FOREIGN.forEach((f, i) => messages.set(`foreign-${i}`, { fields: f, forged: false }));
  for (const [subject, { fields }] of messages) {
    // Half of them put the field at the very start of the message.
    const body = subject.endsWith("0") || subject.endsWith("2") || subject.endsWith("4")
      ? `${fields}From: mallory@attacker.example\r\nSubject: ${subject}\r\n\r\nhi\r\n`
      : `From: mallory@attacker.example\r\n${fields}Subject: ${subject}\r\n\r\nhi\r\n`;
    const r = await client.send("mallory@attacker.example", ["alice@contoso.com"], body);
    assert.match(r[3]?.text ?? "", /^250 2\.6\.0/, `${subject}: ${r.map((x) => x.text).join(" | ")}`);
  }
  await client.quit();

  const got = await waitUntil("every message delivered", () => {
    const m = delivered();
    return m.size === messages.size ? m : undefined;
  });
  const leaked: string[] = [];
  for (const [subject, { fields, forged }] of messages) {
    const text = got.get(subject) as string;
    const seen = marks(text);
    if (forged) {
      // An unauthenticated sender: Sealpost adds no Authentication-Results of its own.
      if (seen.length) leaked.push(`${subject}: ${JSON.stringify(seen)}`);
    } else {
      assert.ok(text.includes(fields), `${subject}: the foreign field is kept as written`);
      assert.equal(seen.length, 1, `${subject}: ${JSON.stringify(seen)}`);
    }
  }
  assert.deepEqual(leaked, [], "forged marks delivered");
});
