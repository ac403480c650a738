// Organization configuration through the admin API (what the cmdlets call):
// the seed's forms work, Exchange's rules refuse what they refuse, and a
// refused change leaves everything as it was.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdminApi } from "../../src/admin/api.js";
import { isSealpostError } from "../../src/errors/errors.js";

let dir: string;
let api: AdminApi;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-config-"));
  api = await AdminApi.openWithDefaults(dir);
  await api.setServerName("mail1.contoso.com");
});

after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

const refused = async (p: Promise<unknown>, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => isSealpostError(e) && re.test(e.message));
};

test("a fresh server has Inet on 127.0.0.1:2525 (Tls, its own FQDN) and the organization the Internet send connector", async () => {
  const [inet] = await api.connectors.get("Inet");
  assert.equal(inet?.Identity, "mail1.contoso.com\\Inet");
  assert.deepEqual(inet?.Bindings, ["127.0.0.1:2525"]);
  assert.equal(inet?.AuthMechanism, "Tls");
  assert.equal(inet?.Fqdn, "mail1.contoso.com");
  const [internet] = await api.sendConnectors.get("Internet");
  assert.deepEqual(internet?.AddressSpaces, ["SMTP:*;1"]);
  assert.equal(internet?.DNSRoutingEnabled, true);
});

test("lists: a value replaces, @{Add;Remove} edits, invalid entries change nothing", async () => {
  await api.transport.setConfig({ tlsReceiveDomainSecureList: { replace: ["woodgrovebank.com"] } });
  await api.transport.setConfig({ tlsReceiveDomainSecureList: { add: ["Fabrikam.COM", "*.tailspin.example"], remove: [] } });
  assert.deepEqual((await api.transport.getConfig()).TLSReceiveDomainSecureList, ["woodgrovebank.com", "fabrikam.com", "*.tailspin.example"]);
  await refused(api.transport.setConfig({ tlsReceiveDomainSecureList: { add: ["ok.example", "woodgrove..com"], remove: [] } }), /woodgrove\.\.com/);
  await refused(api.transport.setConfig({ tlsSendDomainSecureList: { replace: ["a@b.com"] }, maxMessageSize: "20MB" }), /e-mail address/);
  const cfg = await api.transport.getConfig();
  assert.deepEqual(cfg.TLSReceiveDomainSecureList, ["woodgrovebank.com", "fabrikam.com", "*.tailspin.example"]);
  assert.deepEqual(cfg.TLSSendDomainSecureList, []);
  assert.match(cfg.MaxMessageSize, /^10 MB/);
  await api.transport.setConfig({ tlsReceiveDomainSecureList: { add: [], remove: ["fabrikam.com"] } });
  assert.deepEqual((await api.transport.getConfig()).TLSReceiveDomainSecureList, ["woodgrovebank.com", "*.tailspin.example"]);
});

test("concurrent @{Add=...} edits both survive", async () => {
  const other = AdminApi.open(dir);
  try {
    await Promise.all([
      api.transport.setConfig({ tlsSendDomainSecureList: { add: ["one.example"], remove: [] } }),
      other.transport.setConfig({ tlsSendDomainSecureList: { add: ["two.example"], remove: [] } }),
    ]);
  } finally {
    await other.close();
  }
  assert.deepEqual([...(await api.transport.getConfig()).TLSSendDomainSecureList].sort(), ["one.example", "two.example"]);
});

test("receive connectors: the seed's Set-ReceiveConnector form; Domain Security needs TLS; bad values refused", async () => {
  await api.connectors.set("Inet", { domainSecureEnabled: true, authMechanism: ["TLS"] });
  assert.equal((await api.connectors.get("Inet"))[0]?.DomainSecureEnabled, true);
  await refused(api.connectors.set("Inet", { authMechanism: ["None"] }), /DomainSecureEnabled needs AuthMechanism Tls/);
  await refused(api.connectors.set("Inet", { bindings: ["127.0.0.1"] }), /binding '127\.0\.0\.1' is not valid/);
  await refused(api.connectors.set("Inet", { remoteIPRanges: ["10.0.0.0/33"] }), /remote IP range/);
  await refused(api.connectors.set("Inet", { connectionTimeout: "00:00:30", connectionInactivityTimeout: "00:01:00" }), /ConnectionTimeout must be at least/);
  await refused(api.connectors.set("Inet", { maxMessageSize: "ten" }), /MaxMessageSize 'ten'/);
  await refused(api.connectors.set("Nope", { enabled: false }), /No receive connector mail1\.contoso\.com\\Nope/);
  const internal = await api.connectors.create("Internal", { usage: "Internal", bindings: ["127.0.0.1:2526"], remoteIPRanges: ["10.0.0.0/8", "127.0.0.1"] });
  assert.deepEqual(internal.RemoteIPRanges, ["10.0.0.0/8", "127.0.0.1"]);
  await refused(api.connectors.create("Internal", { bindings: ["127.0.0.1:2527"] }), /already exists/);
});

test("send connectors: Exchange's rules", async () => {
  await api.sendConnectors.set("Internet", { domainSecureEnabled: true, fqdn: "mail.contoso.com" });
  await refused(api.sendConnectors.set("Internet", { ignoreSTARTTLS: true }), /cannot be combined with IgnoreSTARTTLS/);
  await refused(api.sendConnectors.create("Hub", { addressSpaces: ["SMTP:woodgrovebank.com;1"], smartHosts: ["relay.contoso.com"], domainSecureEnabled: true }), /DomainSecureEnabled needs DNS routing/);
  await refused(api.sendConnectors.create("Bad", { addressSpaces: ["X400:c=us;1"] }), /only SMTP/);
  const hub = await api.sendConnectors.create("Hub", { addressSpaces: ["SMTP:contoso.local;1"], smartHosts: ["relay.contoso.local:2525"] });
  assert.equal(hub.DNSRoutingEnabled, false);
  assert.deepEqual(hub.SmartHosts, ["relay.contoso.local:2525"]);
});

test("accepted domains and mailboxes", async () => {
  await api.transport.newAcceptedDomain({ name: "Contoso", domainName: "contoso.com" });
  await refused(api.transport.newMailbox({ primarySmtpAddress: "alice@fabrikam.com" }), /not an authoritative accepted domain/);
  await api.transport.newMailbox({ primarySmtpAddress: "alice@contoso.com" });
  await refused(api.transport.newMailbox({ primarySmtpAddress: "ALICE@contoso.com" }), /already exists/);
  await refused(api.transport.newMailbox({ primarySmtpAddress: "../x@contoso.com" }), /part before '@'/);
  await api.transport.setAcceptedDomain("Contoso", { catchAllMailbox: "alice@contoso.com" });
  assert.equal((await api.transport.getAcceptedDomains("contoso.com"))[0]?.CatchAllMailbox, "alice@contoso.com");
  assert.equal((await api.transport.getConfig()).AuthservId, "contoso.com", "the first authoritative accepted domain");
});
