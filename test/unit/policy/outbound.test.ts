// Outbound routing and the Domain Security safety rule, case by case.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultSendConnector } from "../../../src/org/model.js";
import { planOutbound, selectSendConnector } from "../../../src/policy/outbound.js";

const internet = defaultSendConnector("Internet", { domainSecureEnabled: true });
const cheap = defaultSendConnector("Cheap", { addressSpaces: [{ domain: "*", cost: 0 }] });

test("the most specific address space wins, then the lowest cost, then the name", () => {
  const partner = defaultSendConnector("Woodgrove", { addressSpaces: [{ domain: "woodgrovebank.com", cost: 5 }] });
  const subs = defaultSendConnector("Subs", { addressSpaces: [{ domain: "*.woodgrovebank.com", cost: 1 }] });
  const all = [internet, partner, subs];
  assert.equal(selectSendConnector("woodgrovebank.com", all, "mail1")?.connector.name, "Woodgrove");
  assert.equal(selectSendConnector("eu.woodgrovebank.com", all, "mail1")?.connector.name, "Subs");
  assert.equal(selectSendConnector("example.org", all, "mail1")?.connector.name, "Internet");
  assert.equal(selectSendConnector("example.org", [internet, cheap], "mail1")?.connector.name, "Cheap");
  assert.equal(selectSendConnector("example.org", [defaultSendConnector("Off", { enabled: false })], "mail1"), undefined);
  const pinned = defaultSendConnector("Pinned", { addressSpaces: [{ domain: "example.org", cost: 1 }], sourceTransportServers: ["mail2"] });
  assert.equal(selectSendConnector("example.org", [internet, pinned], "mail1")?.connector.name, "Internet");
});

test("a send partner goes out only through a Domain Security connector with DNS routing and STARTTLS", () => {
  const list = ["woodgrovebank.com"];
  assert.equal(planOutbound("woodgrovebank.com", list, [internet], "mail1").kind, "domain-secure");
  assert.equal(planOutbound("example.org", list, [internet], "mail1").kind, "opportunistic");
  const smart = defaultSendConnector("ToSmartHost", { addressSpaces: [{ domain: "woodgrovebank.com", cost: 1 }], dnsRoutingEnabled: false, smartHosts: ["relay.contoso.com"], domainSecureEnabled: false });
  const held = planOutbound("woodgrovebank.com", list, [internet, smart], "mail1");
  assert.equal(held.kind, "held");
  assert.match((held as { reason: string }).reason, /ToSmartHost routes through a smart host, not DNS/);
  const ignoring = defaultSendConnector("Ignoring", { addressSpaces: [{ domain: "woodgrovebank.com", cost: 1 }], domainSecureEnabled: true, ignoreSTARTTLS: true });
  assert.match((planOutbound("woodgrovebank.com", list, [internet, ignoring], "mail1") as { reason: string }).reason, /ignores STARTTLS/);
  const plain = defaultSendConnector("Plain", { addressSpaces: [{ domain: "woodgrovebank.com", cost: 1 }] });
  assert.match((planOutbound("woodgrovebank.com", list, [internet, plain], "mail1") as { reason: string }).reason, /Plain does not have DomainSecureEnabled/);
  assert.equal(planOutbound("woodgrovebank.com", list, [], "mail1").kind, "no-route");
  assert.equal(planOutbound("eu.fabrikam.com", ["*.fabrikam.com"], [internet], "mail1").kind, "domain-secure");
});
