// Bad input through `sealpost --data DIR shell -c` (and a few CLI
// subcommands). The product rule: every bad input is refused with a clear
// error (non-zero exit, a message on stderr that names the problem, no stack
// trace) and changes NOTHING in the data folder: no certificate, pending
// request, key file, trusted root or intermediate is added, removed or changed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { OpenSslCa, runOpenssl, type IssuedCert } from "../helpers/openssl-ca.js";
import { runSealpost, shellC, type CliResult } from "../helpers/cli.js";
import { AdminApi } from "../../src/admin/api.js";

const PFX_PW = "Right-Pfx-Pw-4096";
// Distinctive, so the assertion that no message repeats it means something
// (a password spelt "wrong" would match the word in "the password is wrong").
const WRONG_PW = "Wr0ng-Guess-7731";
const UNSET = "SEALPOST_UNSET_VAR_X";
const ZEROS = "0".repeat(40);
const importFresh = `Import-ExchangeCertificate -Path fresh.pfx -Password ${PFX_PW}`;

let work: string;
let dir: string; // the shared data folder every refusal runs against
let root: OpenSslCa;
let issuing: OpenSslCa;
let exportable: IssuedCert; // imported with -PrivateKeyExportable $true, enabled for SMTP
let locked: IssuedCert; // imported without -PrivateKeyExportable
let fresh: IssuedCert; // fresh.pfx: valid, never imported until the last test
let forPending: IssuedCert; // issued by the CA for the pending request (pending.req)

const f = (name: string) => path.join(work, name);
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const half = (b: Buffer) => b.subarray(0, Math.floor(b.length / 2));
const derOf = (pemPath: string) => runOpenssl(["x509", "-in", pemPath, "-outform", "DER"]);

async function ok(line: string): Promise<string> {
  const r = await shellC(dir, line, { cwd: work });
  assert.equal(r.code, 0, `${line}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/**
 * Everything a refusal must leave alone, read from the data folder's stores
 * (not from Get-ExchangeCertificate, whose Status is computed, not stored):
 * certificates with their flags and chains, pending requests, trusted roots
 * and intermediates, and every file under keys/ with its hash.
 */
async function snapshot() {
  const api = AdminApi.open(dir);
  try {
    const { certs, org } = api.ctx;
    const trusted = async (kind: "root" | "intermediate") => (await org.listTrusted(kind)).map((r) => `${r.thumbprint} ${sha256(r.der)}`).sort();
    return {
      certificates: certs.list().map((c) => ({
        thumbprint: c.thumbprint,
        services: c.services,
        friendlyName: c.friendlyName,
        hasPrivateKey: c.hasPrivateKey,
        exportable: c.privateKeyExportable,
        source: c.source,
        chain: c.chain.map(sha256),
      })),
      pending: certs.listPending().map((p) => ({ id: p.id, subject: p.subject, dnsNames: p.dnsNames, exportable: p.privateKeyExportable })),
      roots: await trusted("root"),
      intermediates: await trusted("intermediate"),
      keys: readdirSync(path.join(dir, "keys")).sort().map((k) => `${k} ${sha256(readFileSync(path.join(dir, "keys", k)))}`),
    };
  } finally {
    await api.close();
  }
}

/** A shell line (string) or CLI arguments after `--data DIR` (array). */
type Cmd = string | string[];

/** Runs cmd and asserts: non-zero exit, stderr matches, no stack trace, data folder unchanged. */
async function refused(cmd: Cmd, pattern: RegExp, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const what = typeof cmd === "string" ? cmd : `sealpost ${cmd.join(" ")}`;
  const beforeState = await snapshot();
  const r = typeof cmd === "string" ? await shellC(dir, cmd, { cwd: work, env }) : await runSealpost(["--data", dir, ...cmd], { cwd: work, env });
  assert.notEqual(r.code, 0, `${what}: should have failed\nstdout: ${r.stdout}`);
  assert.match(r.stderr, pattern, `${what}: unexpected message`);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `${what}: a stack trace reached the user`);
  assert.deepEqual(await snapshot(), beforeState, `${what}: the data folder changed`);
  return r;
}

/** One test per case: [name, command (made when the test runs), expected message]. */
function refusals(title: string, cases: Array<[string, () => Cmd, RegExp]>): void {
  describe(title, () => {
    for (const [name, cmd, pattern] of cases) test(name, async () => void (await refused(cmd(), pattern)));
  });
}

before(async () => {
  assert.equal(process.env[UNSET], undefined, `${UNSET} must not be set for these tests`);
  work = mkdtempSync(path.join(os.tmpdir(), "sealpost-bad-input-"));
  dir = f("data");
  root = await OpenSslCa.createRoot({ name: "O=Bad Input Test,CN=Bad Input Root CA" });
  issuing = await root.createIntermediate({ name: "O=Bad Input Test,CN=Bad Input Issuing CA" });
  writeFileSync(f("root.crt"), root.certPem);
  writeFileSync(f("issuing.crt"), issuing.certPem);
  exportable = issuing.issueLeaf({ subject: "CN=exportable.example", dnsNames: ["exportable.example"] });
  locked = issuing.issueLeaf({ subject: "CN=locked.example", dnsNames: ["locked.example"] });
  fresh = issuing.issueLeaf({ subject: "CN=fresh.example", dnsNames: ["fresh.example"] });
  writeFileSync(f("exportable.pfx"), issuing.pfx(exportable, PFX_PW, { withChain: true }));
  writeFileSync(f("locked.pfx"), issuing.pfx(locked, PFX_PW));
  writeFileSync(f("fresh.pfx"), issuing.pfx(fresh, PFX_PW));
  writeFileSync(f("pw.txt"), `${PFX_PW}\n`, { mode: 0o600 });
  writeFileSync(f("wrong-pw.txt"), `${WRONG_PW}\n`, { mode: 0o600 });

  // The state every refusal must leave alone.
  await ok("Add-TrustedRootCertificate -Path root.crt");
  await ok("Add-IntermediateCertificate -Path issuing.crt");
  await ok(`Import-ExchangeCertificate -Path exportable.pfx -Password ${PFX_PW} -PrivateKeyExportable $true | Enable-ExchangeCertificate -Services SMTP`);
  await ok(`Import-ExchangeCertificate -Path locked.pfx -Password ${PFX_PW}`);
  await ok('New-ExchangeCertificate -GenerateRequest -SubjectName "CN=pending.example" -Path pending.req');
  forPending = issuing.signRequest(f("pending.req"));

  // Damaged forms of the certificate issued for the pending request: intact,
  // any of them would import (the last test shows it).
  const pem = forPending.certPem;
  writeFileSync(f("issued.cer"), pem + issuing.certPem);
  const lines = pem.split("\n");
  lines[3] = `@@@@${(lines[3] ?? "").slice(4)}`;
  writeFileSync(f("damaged-base64.cer"), lines.join("\n"));
  writeFileSync(f("cut.cer"), pem.slice(0, Math.floor(pem.length / 2)));
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const cutBody = body.slice(0, Math.floor(body.length / 8) * 4);
  writeFileSync(f("cut-body.cer"), `-----BEGIN CERTIFICATE-----\n${cutBody.replace(/.{1,64}/g, "$&\n")}-----END CERTIFICATE-----\n`);
  writeFileSync(f("truncated.der"), half(derOf(forPending.certPath)));
  writeFileSync(f("truncated.p7b"), half(issuing.p7b([pem, issuing.certPem])));
  writeFileSync(f("truncated.pfx"), half(readFileSync(f("fresh.pfx"))));
  const garbage = randomBytes(2048);
  garbage[0] = 0x5a; // not a DER SEQUENCE, whatever the random bytes are
  writeFileSync(f("garbage.pfx"), garbage);

  const orphan = issuing.issueLeaf({ subject: "CN=orphan.example", dnsNames: ["orphan.example"] });
  writeFileSync(f("orphan.cer"), orphan.certPem + issuing.certPem);
  writeFileSync(f("leaf.cer"), orphan.certPem);
  const second = await root.createIntermediate({ name: "O=Bad Input Test,CN=Second Issuing CA" });
  writeFileSync(f("ca-and-leaf.pem"), second.certPem + orphan.certPem);
});

after(() => {
  root?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("baseline: two certificates, one pending request, a root and an intermediate", async () => {
  const s = await snapshot();
  const thumbprints = (list: string[]) => list.map((r) => r.split(" ")[0]);
  assert.deepEqual(
    s.certificates.map((c) => [c.thumbprint, c.services, c.exportable, c.hasPrivateKey]),
    [[exportable.sha1, ["SMTP"], true, true], [locked.sha1, [], false, true]],
  );
  assert.deepEqual(s.pending.map((p) => p.subject), ["CN=pending.example"]);
  assert.deepEqual(thumbprints(s.roots), [root.sha1]);
  assert.deepEqual(thumbprints(s.intermediates), [issuing.sha1]);
  assert.equal(s.keys.length, 3);
});

refusals("1. malformed subject names", [
  ['-SubjectName "CN" (no =)', () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "CN" -Path s1.req', /subject name 'CN' is not valid: 'CN' has no '='/],
  ['-SubjectName "CN=a=b"', () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "CN=a=b" -Path s2.req', /subject name 'CN=a=b' is not valid: '=' must be escaped/],
  ["unknown attribute XX", () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "XX=foo,CN=a.example"', /attribute 'XX' is not known \(use one of CN, /],
  ["self-signed with a malformed subject", () => 'New-ExchangeCertificate -SubjectName "CN=a=b"', /subject name 'CN=a=b' is not valid/],
  ["CLI cert request --subject XX=foo,...", () => ["cert", "request", "--subject", "XX=foo,CN=a.example"], /attribute 'XX' is not known/],
]);

refusals("2. invalid domain names", [
  ["woodgrove..com", () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "CN=a.example" -DomainName woodgrove..com', /'woodgrove\.\.com' is not a valid domain name: it has an empty label/],
  ["user@x.com", () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "CN=a.example" -DomainName user@x.com', /'user@x\.com' is not a valid domain name: it looks like an e-mail address/],
  ["https://x.com", () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "CN=a.example" -DomainName https://x.com', /'https:\/\/x\.com' is not a valid domain name: it looks like a URL/],
  ["self-signed with an invalid name in a list", () => "New-ExchangeCertificate -DomainName good.example,woodgrove..com", /'woodgrove\.\.com' is not a valid domain name/],
  ["CLI cert request --domain user@x.com", () => ["cert", "request", "--subject", "CN=a.example", "--domain", "user@x.com"], /e-mail address/],
]);

refusals("3. an issued certificate with no matching pending request", [
  ["PEM chain of a certificate whose key openssl made", () => "Import-ExchangeCertificate -Path orphan.cer", /matches no pending request on this server/],
  ["the same through cert import", () => ["cert", "import", "orphan.cer"], /matches no pending request/],
]);

refusals("4. corrupt or truncated files", [
  ["PEM with damaged Base64", () => "Import-ExchangeCertificate -Path damaged-base64.cer", /PEM block 'CERTIFICATE' is damaged/],
  ["PEM cut in the middle (no END line)", () => "Import-ExchangeCertificate -Path cut.cer", /The PEM block 'CERTIFICATE' is truncated: it has no '-----END CERTIFICATE-----' line/],
  ["PEM whose body was cut", () => "Import-ExchangeCertificate -Path cut-body.cer", /damaged or truncated/],
  ["truncated DER", () => "Import-ExchangeCertificate -Path truncated.der", /damaged or truncated/],
  ["truncated PKCS#7", () => "Import-ExchangeCertificate -Path truncated.p7b", /damaged or truncated/],
  ["truncated PFX", () => `Import-ExchangeCertificate -Path truncated.pfx -Password ${PFX_PW}`, /PFX file: its ASN\.1 structure is damaged or truncated/],
  ["garbage bytes named .pfx", () => `Import-ExchangeCertificate -Path garbage.pfx -Password ${PFX_PW}`, /neither a PFX \(PKCS#12\) file, a certificate \(PEM or DER\) nor a PKCS#7 bundle/],
  ["a missing file", () => "Import-ExchangeCertificate -Path no-such.pfx", /no-such\.pfx could not be read \(it does not exist\)/],
  ["truncated PKCS#7 as trusted roots", () => "Add-TrustedRootCertificate -Path truncated.p7b", /damaged or truncated/],
  ["CLI trust add --intermediate truncated.der", () => ["trust", "add", "--intermediate", "truncated.der"], /damaged or truncated/],
]);

describe("5. a wrong PFX password", () => {
  const noSecrets = (r: CliResult) => {
    for (const pw of [WRONG_PW, PFX_PW]) {
      assert.ok(!r.stderr.includes(pw) && !r.stdout.includes(pw), "a password was printed");
    }
  };
  test("-Password", async () => noSecrets(await refused(`Import-ExchangeCertificate -Path fresh.pfx -Password ${WRONG_PW}`, /The PFX password is wrong/)));
  test("-PasswordFile", async () => noSecrets(await refused("Import-ExchangeCertificate -Path fresh.pfx -PasswordFile wrong-pw.txt", /The PFX password is wrong/)));
  test("$env:NAME", async () => noSecrets(await refused("Import-ExchangeCertificate -Path fresh.pfx -Password $env:SP_TEST_PW", /The PFX password is wrong/, { SP_TEST_PW: WRONG_PW })));
  test("CLI cert import --password-env", async () => noSecrets(await refused(["cert", "import", "fresh.pfx", "--password-env", "SP_TEST_PW"], /The PFX password is wrong/, { SP_TEST_PW: WRONG_PW })));
  test("no password and no terminal to ask on", async () => void (await refused("Import-ExchangeCertificate -Path fresh.pfx", /no terminal to ask on/)));
});

refusals("7. Enable-ExchangeCertificate with a bad thumbprint or service", [
  ["unknown thumbprint", () => `Enable-ExchangeCertificate -Thumbprint ${ZEROS} -Services SMTP`, new RegExp(`No certificate with thumbprint ${ZEROS} is in this server's store`)],
  ["malformed thumbprint", () => "Enable-ExchangeCertificate -Thumbprint abc -Services SMTP", /'abc' is not a thumbprint \(40 hexadecimal digits/],
  ["unsupported service IIS", () => `Enable-ExchangeCertificate -Thumbprint ${locked.sha1} -Services IIS`, /The service 'IIS' is not supported/],
  ["SMTP together with None", () => `Enable-ExchangeCertificate -Thumbprint ${locked.sha1} -Services SMTP,None`, /'None' cannot be combined/],
  ["CLI cert enable with an unknown thumbprint", () => ["cert", "enable", ZEROS, "--services", "SMTP"], /No certificate with thumbprint 0{40}/],
]);

describe("8. exporting a non-exportable key", () => {
  for (const [name, cmd] of [
    ["Export-ExchangeCertificate", () => `Export-ExchangeCertificate -Thumbprint ${locked.sha1} -Password x -Path out.pfx`],
    ["CLI cert export", () => ["cert", "export", locked.sha1, "--out", "out.pfx", "--password-file", "pw.txt"]],
  ] as Array<[string, () => Cmd]>) {
    test(name, async () => {
      await refused(cmd(), new RegExp(`The private key of ${locked.sha1} is not exportable`));
      assert.equal(existsSync(f("out.pfx")), false, "out.pfx was created");
    });
  }
});

refusals("9. a path that cannot be written", [
  ["request to a missing folder (no pending request kept)", () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "CN=a.example" -Path /nonexistent-dir/req.txt', /The path \/nonexistent-dir\/req\.txt cannot be written: the folder \/nonexistent-dir does not exist/],
  ["request to a path that is a folder", () => `New-ExchangeCertificate -GenerateRequest -SubjectName "CN=a.example" -Path ${JSON.stringify(work)}`, /is a folder; give a file name/],
  ["export of an exportable key to a missing folder", () => `Export-ExchangeCertificate -Thumbprint ${exportable.sha1} -Password x -Path /nonexistent-dir/out.pfx`, /\/nonexistent-dir\/out\.pfx cannot be written/],
  ["pipeline: import | export to a missing folder", () => `${importFresh} -PrivateKeyExportable $true | Export-ExchangeCertificate -Password x -Path /nonexistent-dir/out.pfx`, /\/nonexistent-dir\/out\.pfx cannot be written/],
  ["CLI cert request --out to a missing folder", () => ["cert", "request", "--subject", "CN=a.example", "--out", "/nonexistent-dir/req.txt"], /cannot be written: the folder \/nonexistent-dir does not exist/],
  ["CLI cert export --out to a missing folder", () => ["cert", "export", exportable.sha1, "--out", "/nonexistent-dir/out.pfx", "--password-file", "pw.txt"], /cannot be written/],
]);

refusals("10. shell grammar", [
  ["unknown cmdlet", () => "Frobnicate-ExchangeThing -Path x", /The term 'Frobnicate-ExchangeThing' is not recognized as the name of a cmdlet/],
  ["unknown parameter", () => "Get-ExchangeCertificate -Bogus", /Get-ExchangeCertificate: A parameter cannot be found that matches parameter name 'Bogus'/],
  ["Import-ExchangeCertificate alone", () => "Import-ExchangeCertificate", /Import-ExchangeCertificate: the mandatory parameter -Path is missing/],
  ["-Thumbprint without -Services", () => "Enable-ExchangeCertificate -Thumbprint X", /Enable-ExchangeCertificate: the mandatory parameter -Services is missing/],
  ["-KeySize abc", () => "New-ExchangeCertificate -KeySize abc", /New-ExchangeCertificate: -KeySize: Key size 'abc' is not supported: use 2048, 3072 or 4096/],
  ["-KeySize 1024", () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "CN=k.example" -KeySize 1024 -Path k.req', /New-ExchangeCertificate: -KeySize: Key size '1024' is not supported: use 2048, 3072 or 4096/],
  ["a parameter with no value", () => "New-ExchangeCertificate -GenerateRequest -SubjectName", /New-ExchangeCertificate: Missing an argument for parameter -SubjectName/],
  ["a bool that is not one", () => `${importFresh} -PrivateKeyExportable:maybe`, /Import-ExchangeCertificate: Cannot bind parameter -PrivateKeyExportable: 'maybe' is not a boolean/],
  ["an extra positional value", () => `${importFresh} extra`, /Import-ExchangeCertificate: A positional parameter cannot be found that accepts argument 'extra'/],
  ["unclosed quote", () => 'New-ExchangeCertificate -GenerateRequest -SubjectName "CN=a.example', /A string starting with " is not closed \(at character \d+\)/],
  ["pipeline: unknown parameter in the 2nd command", () => `${importFresh} | Enable-ExchangeCertificate -Bogus`, /Enable-ExchangeCertificate: A parameter cannot be found that matches parameter name 'Bogus'/],
  ["pipeline: 2nd command lacks -Services", () => `${importFresh} | Enable-ExchangeCertificate`, /Enable-ExchangeCertificate: the mandatory parameter -Services is missing/],
  ["pipeline: 2nd command has an unsupported service", () => `${importFresh} | Enable-ExchangeCertificate -Services IIS`, /The service 'IIS' is not supported/],
  ["pipeline: unknown cmdlet 2nd", () => `${importFresh} | Frobnicate-ExchangeThing`, /'Frobnicate-ExchangeThing' is not recognized/],
]);

refusals("11. trusted roots and intermediates", [
  ["a leaf as a trusted root", () => "Add-TrustedRootCertificate -Path leaf.cer", /CN=orphan\.example \([0-9A-F]{40}\) is neither a CA certificate nor self-signed/],
  ["a leaf as an intermediate", () => "Add-IntermediateCertificate -Path leaf.cer", /CN=orphan\.example \([0-9A-F]{40}\) is not a CA certificate/],
  ["a CA and a leaf in one file: neither is added", () => "Add-IntermediateCertificate -Path ca-and-leaf.pem", /orphan\.example .* is not a CA certificate/],
  ["a root already trusted", () => "Add-TrustedRootCertificate -Path root.crt", /is already a trusted root certificate/],
  ["removing an unknown root", () => `Remove-TrustedRootCertificate -Thumbprint ${ZEROS}`, new RegExp(`No trusted root certificate has the thumbprint ${ZEROS}`)],
  ["removing an intermediate as a root", () => `Remove-TrustedRootCertificate -Thumbprint ${issuing.sha1}`, /No trusted root certificate has the thumbprint/],
  ["CLI trust add of a leaf", () => ["trust", "add", "leaf.cer"], /neither a CA certificate nor self-signed/],
  ["CLI trust remove of an unknown root", () => ["trust", "remove", ZEROS], /No trusted root certificate/],
]);

refusals("12. a password from an unset environment variable", [
  ["-Password $env:UNSET", () => `Import-ExchangeCertificate -Path fresh.pfx -Password $env:${UNSET}`, new RegExp(`The environment variable ${UNSET} is not set`)],
  ["$env:UNSET in the 2nd command of a pipeline", () => `${importFresh} | Enable-ExchangeCertificate -Services $env:${UNSET}`, new RegExp(`The environment variable ${UNSET} is not set`)],
  ["-PasswordFile that does not exist", () => "Import-ExchangeCertificate -Path fresh.pfx -PasswordFile no-such-pw.txt", /password file .*no-such-pw\.txt could not be read/],
  ["CLI cert import --password-env UNSET", () => ["cert", "import", "fresh.pfx", "--password-env", UNSET], new RegExp(`The environment variable ${UNSET} is not set`)],
]);

describe("6. the same certificate twice (and the intact files import)", () => {
  test("an issued certificate: the first import binds the pending request, the second is refused", async () => {
    await ok("Import-ExchangeCertificate -Path issued.cer");
    const s = await snapshot();
    assert.deepEqual(s.pending, [], "the request was completed");
    assert.equal(s.certificates.find((c) => c.thumbprint === forPending.sha1)?.hasPrivateKey, true, "the intact certificate imported with its key");
    await refused("Import-ExchangeCertificate -Path issued.cer", new RegExp(`The certificate ${forPending.sha1} is already in this server's store`));
    writeFileSync(f("issued.der"), derOf(forPending.certPath));
    await refused("Import-ExchangeCertificate -Path issued.der", /already in this server's store/);
    assert.match(await ok(`Get-ExchangeCertificate -Thumbprint ${forPending.sha1} | Format-List`), /HasPrivateKey\s*: True/);
  });

  test("a PFX: the second import is refused and the first keeps its services", async () => {
    await refused(`Import-ExchangeCertificate -Path exportable.pfx -Password ${PFX_PW}`, new RegExp(`The certificate ${exportable.sha1} is already in this server's store`));
    await refused(["cert", "import", "exportable.pfx", "--password-file", "pw.txt"], /already in this server's store/);
    assert.match(await ok(`Get-ExchangeCertificate ${exportable.sha1}`), new RegExp(`${exportable.sha1}\\s+SMTP\\s+CN=exportable\\.example`));
  });

  test("fresh.pfx, refused above for other reasons, imports with its password", async () => {
    await ok(`${importFresh} | Enable-ExchangeCertificate -Services SMTP`);
    assert.match(await ok(`Get-ExchangeCertificate ${fresh.sha1}`), /SMTP/);
  });
});
