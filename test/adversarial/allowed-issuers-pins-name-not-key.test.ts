// Defect: -AllowedIssuers pinned a NAME, not a CA. With
//   Set-DomainSecurePartner woodgrovebank.com -AllowedIssuers "CN=Woodgrove Issuing CA, O=Woodgrove Bank"
// a sub-CA under Fabrikam's (trusted) root, *named* "CN=Woodgrove Issuing CA,
// O=Woodgrove Bank" but with a key of its own, issued a certificate for
// woodgrovebank.com, and it was accepted as Woodgrove's: the pin compared
// subject names only.
// Reproduced as found, on a real data folder through the shell (so the store
// round trip is covered) and the trust engine with the partner's rules as the
// server loads them: two trusted roots (Woodgrove's and Fabrikam's), the real
// Woodgrove issuing CA, the impostor of the same name under Fabrikam, a leaf
// for woodgrovebank.com from each. Also the upgrade of a data folder whose
// partner row still holds the name, as an older release stored it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { OpenSslCa, opensslSha1, type IssuedCert } from "../helpers/openssl-ca.js";
import { parseFormatList, shellC } from "../helpers/cli.js";
import { AdminApi } from "../../src/admin/api.js";
import { readCertificates } from "../../src/pki/certs.js";
import { MIGRATIONS } from "../../src/store/migrations.js";
import type { Verdict } from "../../src/pki/trust/verdict.js";

const der = (pem: string) => readCertificates(Buffer.from(pem))[0] as Buffer;

let work: string;
let woodgroveRoot: OpenSslCa;
let woodgroveCa: OpenSslCa;
let fabrikamRoot: OpenSslCa;
let impostorCa: OpenSslCa;
let real: IssuedCert;
let impostor: IssuedCert;
const files: Record<string, string> = {};

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-pin-"));
  woodgroveRoot = await OpenSslCa.createRoot({ name: "O=Woodgrove Bank,CN=Woodgrove Root CA", keyType: "ec-p256" });
  woodgroveCa = await woodgroveRoot.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  fabrikamRoot = await OpenSslCa.createRoot({ name: "O=Fabrikam,CN=Fabrikam Root CA", keyType: "ec-p256" });
  // The impostor: the same subject name as Woodgrove's issuing CA, another key, under Fabrikam's trusted root.
  impostorCa = await fabrikamRoot.createIntermediate({ name: "O=Woodgrove Bank,CN=Woodgrove Issuing CA", keyType: "ec-p256" });
  real = woodgroveCa.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });
  impostor = impostorCa.issueLeaf({ subject: "CN=woodgrovebank.com", dnsNames: ["woodgrovebank.com"], keyType: "ec-p256" });
  const write = (name: string, ...pems: string[]) => {
    const file = path.join(work, name);
    writeFileSync(file, pems.join(""));
    files[name] = file;
  };
  write("woodgrove-root.pem", woodgroveRoot.certPem);
  write("fabrikam-root.pem", fabrikamRoot.certPem);
  write("woodgrove-ca.pem", woodgroveCa.certPem);
  write("real.pem", real.certPem, woodgroveCa.certPem);
  write("impostor.pem", impostor.certPem, impostorCa.certPem);
});

after(() => {
  woodgroveRoot.cleanup();
  fabrikamRoot.cleanup();
  rmSync(work, { recursive: true, force: true });
});

async function ok(dir: string, line: string): Promise<string> {
  const r = await shellC(dir, line);
  assert.equal(r.code, 0, `${line}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A data folder with both roots trusted and woodgrovebank.com a partner (revocation Soft: these CAs publish no CRL). */
async function dataFolder(name: string): Promise<string> {
  const dir = path.join(work, name);
  await ok(dir, `Add-TrustedRootCertificate -Path ${files["woodgrove-root.pem"]}`);
  await ok(dir, `Add-TrustedRootCertificate -Path ${files["fabrikam-root.pem"]}`);
  await ok(dir, "Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com -TLSSendDomainSecureList woodgrovebank.com");
  await ok(dir, "Set-DomainSecurePartner woodgrovebank.com -RevocationMode Soft");
  return dir;
}

/** The verdict the server reaches, inbound (client certificate) and outbound (server certificate), with the partner's stored rules. */
async function verdicts(dir: string, leaf: IssuedCert, issuing: OpenSslCa): Promise<Verdict[]> {
  const api = AdminApi.open(dir);
  try {
    const p = (await api.ctx.org.listPartners()).find((x) => x.domain === "woodgrovebank.com");
    assert.ok(p, "the partner is stored");
    const engine = await api.ctx.trust();
    const chain = [der(leaf.certPem), der(issuing.certPem)];
    return [
      await engine.verifyForDomain(chain, "woodgrovebank.com", p, { role: "client", revocationMode: p.revocationMode, allowWeakCrypto: p.allowWeakCrypto }),
      await engine.verifyForDomain(chain, "woodgrovebank.com", p, { role: "server", revocationMode: p.revocationMode, allowWeakCrypto: p.allowWeakCrypto }),
    ];
  } finally {
    await api.close();
  }
}

async function expectRefused(dir: string): Promise<void> {
  for (const v of await verdicts(dir, impostor, impostorCa)) {
    assert.equal(v.code, "ISSUER_NOT_ALLOWED", `the impostor CA's certificate must be refused: ${v.code}: ${v.reason}`);
    assert.match(v.reason, /bears an allowed issuer's name but another key/);
  }
  const t = await shellC(dir, `Test-Certificate -Path ${files["impostor.pem"]} -Domain woodgrovebank.com`);
  assert.match(t.stdout, /Verdict: FAIL ISSUER_NOT_ALLOWED/, t.stdout + t.stderr);
}

async function expectAccepted(dir: string): Promise<void> {
  for (const v of await verdicts(dir, real, woodgroveCa)) assert.equal(v.code, "OK", `${v.code}: ${v.reason}`);
  const t = await shellC(dir, `Test-Certificate -Path ${files["real.pem"]} -Domain woodgrovebank.com`);
  assert.match(t.stdout, /Verdict: PASS OK/, t.stdout + t.stderr);
}

describe("an allowed issuer is pinned by key, not by name", () => {
  test("the attack: the name alone is refused (and changes nothing); without a pin, any trusted chain is what applies", async () => {
    const dir = await dataFolder("by-name");
    const r = await shellC(dir, 'Set-DomainSecurePartner woodgrovebank.com -AllowedIssuers "CN=Woodgrove Issuing CA, O=Woodgrove Bank"');
    assert.notEqual(r.code, 0, "a name alone must not be taken as a pin");
    assert.match(r.stderr, /give the issuing CA's certificate .* or the thumbprint of a trusted certificate/);
    const [view] = parseFormatList(await ok(dir, "Get-DomainSecurePartner woodgrovebank.com | Format-List"));
    assert.equal(view?.AllowedIssuers, "{}", "nothing was stored");
  });

  test("pinned by the CA's certificate file: the impostor of the same name is refused, the real CA's certificate accepted", async () => {
    const dir = await dataFolder("by-file");
    await ok(dir, `Set-DomainSecurePartner woodgrovebank.com -AllowedIssuers ${files["woodgrove-ca.pem"]}`);
    await expectRefused(dir);
    await expectAccepted(dir);
    const [view] = parseFormatList(await ok(dir, "Get-DomainSecurePartner woodgrovebank.com | Format-List"));
    assert.match(view?.AllowedIssuers ?? "", /CN=Woodgrove Issuing CA, O=Woodgrove Bank \(key SHA-256 [0-9A-F]{64}; thumbprint [0-9A-F]{40}\)/);
  });

  test("pinned by the thumbprint of a trusted intermediate: the same", async () => {
    const dir = await dataFolder("by-thumbprint");
    await ok(dir, `Add-IntermediateCertificate -Path ${files["woodgrove-ca.pem"]}`);
    await ok(dir, `Set-DomainSecurePartner woodgrovebank.com -AllowedIssuers @{Add="${opensslSha1(woodgroveCa.certPem)}"}`);
    await expectRefused(dir);
    await expectAccepted(dir);
    await ok(dir, `Set-DomainSecurePartner woodgrovebank.com -AllowedIssuers @{Remove="CN=Woodgrove Issuing CA, O=Woodgrove Bank"}`);
    const [view] = parseFormatList(await ok(dir, "Get-DomainSecurePartner woodgrovebank.com | Format-List"));
    assert.equal(view?.AllowedIssuers, "{}", "removing by name removes the entries of that name");
  });

  test("upgrade: a name stored by an older release becomes the key of the trusted certificate of that name, else matches nothing", async () => {
    for (const [name, withCa] of [["upgrade-resolved", true], ["upgrade-unresolved", false]] as const) {
      const dir = path.join(work, name);
      // An older data folder: its schema before key pins, the name as that release stored it.
      mkdirSync(dir, { mode: 0o700 });
      const raw = new Database(path.join(dir, "sealpost.db"));
      for (const step of MIGRATIONS.slice(0, 6)) step(raw);
      raw.pragma("user_version = 6");
      const trusted = [["root", woodgroveRoot], ["root", fabrikamRoot], ...(withCa ? [["intermediate", woodgroveCa] as const] : [])] as const;
      for (const [kind, ca] of trusted) {
        raw.prepare("INSERT INTO org_trusted_certificates (thumbprint, kind, der, added_at) VALUES (?, ?, ?, ?)").run(opensslSha1(ca.certPem), kind, der(ca.certPem), new Date().toISOString());
      }
      raw
        .prepare("INSERT INTO org_partners (domain, name_match, certificate_names, allowed_issuers, mode, revocation_mode, updated_at) VALUES (?, 'Exact', '[]', ?, 'Enforce', 'Soft', ?)")
        .run("woodgrovebank.com", JSON.stringify(["CN=Woodgrove Issuing CA, O=Woodgrove Bank"]), new Date().toISOString());
      raw.close();

      const [view] = parseFormatList(await ok(dir, "Get-DomainSecurePartner woodgrovebank.com | Format-List"));
      if (withCa) {
        assert.match(view?.AllowedIssuers ?? "", new RegExp(`CN=Woodgrove Issuing CA, O=Woodgrove Bank \\(key SHA-256 [0-9A-F]{64}; thumbprint ${opensslSha1(woodgroveCa.certPem)}\\)`));
        await expectRefused(dir);
        await expectAccepted(dir);
      } else {
        assert.match(view?.AllowedIssuers ?? "", /CN=Woodgrove Issuing CA, O=Woodgrove Bank \(UNRESOLVED: .*matches nothing/);
        for (const v of [...(await verdicts(dir, impostor, impostorCa)), ...(await verdicts(dir, real, woodgroveCa))]) {
          assert.equal(v.code, "ISSUER_NOT_ALLOWED", `an unresolved name allows nothing: ${v.code}: ${v.reason}`);
        }
      }
    }
  });
});
