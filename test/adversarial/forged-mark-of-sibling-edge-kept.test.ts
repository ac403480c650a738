// Found by the soak run (FORGED_HEADER_KEPT): in a fleet, an outside sender
// sent mail2.contoso.com a message carrying
//   Authentication-Results: mail1.contoso.com; x-domain-secure=pass smtp.mailfrom=example.net
// and it reached the mailbox: the header firewall removed marks in the name
// of the organization's authserv-id and of *this* server and its connectors,
// but not of the organization's other edges, whose names the internal side
// trusts as much. The firewall's list of the organization's own ids is now
// every server of the organization store (and each receive connector's FQDN).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../../src/admin/api.js";
import { defaultReceiveConnector } from "../../src/org/model.js";
import { runSealpost, shellC } from "../helpers/cli.js";
import { randomLoopback, startServe, waitUntil, type RunningServer } from "../helpers/serve.js";
import { TestSmtpClient } from "../helpers/smtp-client.js";

let dir: string;
let host: string;
let server: RunningServer;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-sibling-mark-"));
  host = randomLoopback();
  const init = await runSealpost(["--data", dir, "init", "--name", "mail2.contoso.com"]);
  assert.equal(init.code, 0, init.stderr);
  for (const line of ["New-AcceptedDomain -DomainName contoso.com", "Set-TransportConfig -AuthservId contoso.com", "New-Mailbox -PrimarySmtpAddress alice@contoso.com", `Set-ReceiveConnector Inet -Bindings ${host}:2525`]) {
    const r = await shellC(dir, line);
    assert.equal(r.code, 0, r.stderr);
  }
  // The organization's other edge, as edge sync copies it into this server's store.
  const api = AdminApi.open(dir);
  await api.ctx.org.addReceiveConnector(defaultReceiveConnector("mail1.contoso.com", "Inet", { fqdn: "smtp1.contoso.com" }));
  await api.close();
  server = await startServe(dir, { workers: 0 });
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a mark in the name of another edge of the organization (its server name or its connector's FQDN) is removed", async () => {
  const forged = [
    "Authentication-Results: mail1.contoso.com; x-domain-secure=pass smtp.mailfrom=example.net\r\n",
    "Authentication-Results: smtp1.contoso.com; x-domain-secure=pass smtp.mailfrom=example.net\r\n",
  ];
  const foreign = "Authentication-Results: mail1.fabrikam.com; spf=pass smtp.mailfrom=fabrikam.com\r\n";
  const { client } = await TestSmtpClient.connect(host, 2525);
  await client.cmd("EHLO attacker.example");
  const r = await client.send("mallory@example.net", ["alice@contoso.com"], `${forged.join("")}${foreign}From: mallory@example.net\r\nSubject: sibling\r\n\r\nhi\r\n`);
  assert.match(r[r.length - 1]?.text ?? "", /^250 /);
  await client.quit();
  const d = path.join(dir, "maildir", "contoso.com", "alice", "new");
  const text = await waitUntil("delivered", () => (existsSync(d) ? readdirSync(d).map((f) => readFileSync(path.join(d, f), "utf8"))[0] : undefined));
  assert.doesNotMatch(text, /^Authentication-Results: (mail1|smtp1)\.contoso\.com/im, "no mark in a sibling edge's name");
  assert.ok(text.includes(foreign), "a foreign authserv-id is kept");
});
