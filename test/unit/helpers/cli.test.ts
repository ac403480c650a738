// The in-process command line (runSealpost) must be indistinguishable from
// bin/sealpost.js run as a child process: the same exit code, the same
// standard output and standard error byte for byte (which stream, trailing
// newlines), the same files with the same modes, and no process state left
// changed behind it. Each script below runs twice, on two fresh data folders:
// once spawned, once in process.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runSealpost, spawnSealpost, type CliOptions, type CliResult } from "../../helpers/cli.js";

const base = mkdtempSync(path.join(os.tmpdir(), "sealpost-cli-helper-"));
after(() => rmSync(base, { recursive: true, force: true }));

/** A step of a script; `setup` steps run in process both times and are not compared (they must succeed). */
type Step = { args: (dir: string) => string[]; opts?: (work: string) => CliOptions; before?: (work: string) => void; setup?: true };

/** The script's results, with its folder's name replaced by DIR, and the files it left with their modes. */
async function runScript(
  name: string,
  how: "spawn" | "in-process",
  steps: Step[],
): Promise<{ results: CliResult[]; files: string[] }> {
  // Same length for both ways, so help text wrapped around a path wraps alike.
  const work = path.join(base, `${name}-${how === "spawn" ? "s" : "i"}`);
  mkdirSync(work);
  const dir = path.join(work, "data");
  const results: CliResult[] = [];
  for (const s of steps) {
    s.before?.(work);
    const run = how === "spawn" && s.setup !== true ? spawnSealpost : runSealpost;
    const r = await run(s.args(dir), s.opts?.(work) ?? {});
    if (s.setup === true) {
      assert.equal(r.code, 0, `setup ${s.args("DIR").join(" ")}: ${r.stderr}`);
      continue;
    }
    // The two runs make different certificates: thumbprints, serials and times differ, nothing else.
    const norm = (t: string) =>
      t
        .split(work)
        .join("WORK")
        .replace(/\b[0-9A-F]{16,}\b/g, "HEX")
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, "TIME");
    results.push({ code: r.code, stdout: norm(r.stdout), stderr: norm(r.stderr) });
  }
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      // SQLite's journal files come and go; the names and modes of the rest must agree.
      if (/-(wal|shm|journal)$/.test(e.name)) continue;
      // Key files have random names.
      files.push(`${path.relative(work, p).replace(/[0-9a-f]{24}\.key$/, "RANDOM.key")} ${(statSync(p).mode & 0o777).toString(8)}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(work);
  return { results, files: files.sort() };
}

async function sameBothWays(name: string, steps: Step[]): Promise<CliResult[]> {
  const spawned = await runScript(name, "spawn", steps);
  const inProcess = await runScript(name, "in-process", steps);
  const compared = steps.filter((s) => s.setup !== true);
  assert.equal(spawned.results.length, compared.length);
  for (let i = 0; i < compared.length; i++) {
    assert.deepEqual(inProcess.results[i], spawned.results[i], `${name}, step ${i + 1} (${compared[i]?.args("DIR").join(" ")})`);
  }
  assert.deepEqual(inProcess.files, spawned.files, `${name}: the files and their modes`);
  return spawned.results;
}

// The scripts run side by side (the spawned halves are most of the time); in-process calls still go one at a time.
describe("in process as spawned", { concurrency: true }, () => {
  test("commander's own output: the version, an unknown command", async () => {
    const r = await sameBothWays("commander", [{ args: () => ["--version"] }, { args: () => ["no-such-command"] }]);
    assert.deepEqual(
      r.map((x) => x.code),
      [0, 1],
    );
    assert.match(r[0]?.stdout ?? "", /^\d+\.\d+\.\d+\n$/);
    assert.equal(r[1]?.stdout, "");
    assert.match(r[1]?.stderr ?? "", /unknown command 'no-such-command'/);
  });

  test("the shell and subcommands: output, errors as --json, refusals and warnings on stderr, exit codes, files made private", async () => {
    const sh = (line: string, opt: { json?: boolean; setup?: true } = {}): Step => ({
      args: (d) => ["--data", d, ...(opt.json ? ["--json"] : []), "shell", "-c", line],
      ...(opt.setup ? { setup: true as const } : {}),
    });
    const r = await sameBothWays("shell", [
      { args: (d) => ["--data", d, "init", "--name", "mail1.contoso.com"] },
      sh("Get-ReceiveConnector | Format-List Name,Bindings"),
      sh("Get-Frob", { json: true }),
      sh("New-ExchangeCertificate -SubjectName CN=mail1.contoso.com -DomainName mail1.contoso.com -PrivateKeyExportable:$true", { setup: true }),
      sh("Set-ReceiveConnector Inet -DomainSecureEnabled:$true -AuthMechanism TLS", { setup: true }),
      sh("Set-TransportConfig -TLSReceiveDomainSecureList woodgrovebank.com", { setup: true }),
      // Refused (exit 1, the reason on stderr), then forced (exit 0, a WARNING on stderr).
      sh("Set-ReceiveConnector Inet -DomainSecureEnabled:$false"),
      sh("Set-ReceiveConnector Inet -DomainSecureEnabled:$false -Force"),
      // A file written relative to the working directory, mode 0600.
      { args: (d) => ["--data", d, "shell", "-c", "Get-ExchangeCertificate | Export-ExchangeCertificate -Path out.pfx -Password pw"], opts: (w) => ({ cwd: w }) },
      // A verdict that fails (self-signed): exit code 2, set through process.exitCode.
      {
        before: (w) => execFileSync("openssl", ["pkcs12", "-in", path.join(w, "out.pfx"), "-passin", "pass:pw", "-nokeys", "-out", path.join(w, "c.pem")], { stdio: "ignore" }),
        args: (d) => ["--data", d, "cert", "verify", path.join(d, "..", "c.pem")],
      },
    ]);
    assert.deepEqual(
      r.map((x) => x.code),
      [0, 0, 1, 1, 0, 0, 2],
    );
    assert.match(r[2]?.stdout ?? "", /"code": "SHELL_UNKNOWN_CMDLET"/);
    assert.equal(r[2]?.stderr, "");
    assert.match(r[3]?.stderr ?? "", /would turn Domain Security off/);
    assert.match(r[4]?.stderr ?? "", /^WARNING: /m);
    assert.match(r[6]?.stdout ?? "", /CERT_SELF_SIGNED/);
  });

  test("the environment, the working directory and SEALPOST_DATA given to a call", async () => {
    const r = await sameBothWays("env", [
      // A relative --data resolves against the call's working directory.
      { args: () => ["--data", "rel", "init", "--name", "edge.example.net"], opts: (w) => ({ cwd: w }) },
      { args: () => ["shell", "-c", "Get-TransportServer | Format-List Name"], opts: (w) => ({ env: { SEALPOST_DATA: path.join(w, "rel") } }) },
      // $env: in a line reads the call's environment; -Path is relative to the call's working directory.
      {
        args: () => ["--data", "rel", "shell", "-c", "New-ExchangeCertificate -SubjectName CN=edge.example.net -DomainName edge.example.net -PrivateKeyExportable:$true | Export-ExchangeCertificate -Path e.pfx -Password $env:SEALPOST_TEST_PW"],
        opts: (w) => ({ cwd: w, env: { SEALPOST_TEST_PW: "from-env" } }),
      },
    ]);
    assert.deepEqual(
      r.map((x) => x.code),
      [0, 0, 0],
    );
    assert.match(r[1]?.stdout ?? "", /edge\.example\.net/);
    // The PFX was written with the password from the call's environment.
    execFileSync("openssl", ["pkcs12", "-in", path.join(base, "env-i", "e.pfx"), "-passin", "pass:from-env", "-nokeys"], { stdio: "ignore" });
  });
});

test("an in-process call leaves the process as it found it, and calls made together do not mix", async () => {
  const work = mkdtempSync(path.join(base, "state-"));
  const cwd = process.cwd();
  const umask = process.umask();
  const env = { ...process.env };
  const exitCode = process.exitCode;
  const missing = path.join(work, "missing.pem");
  const [a, b, c] = await Promise.all([
    runSealpost(["--data", "a", "init", "--name", "a.example.net"], { cwd: work, env: { SEALPOST_TEST_ONLY: "a" } }),
    runSealpost(["shell", "-c", "Get-TransportServer | Format-List Name"], { cwd: work, env: { SEALPOST_DATA: path.join(work, "a") } }),
    runSealpost(["--data", path.join(work, "a"), "cert", "verify", missing]),
  ]);
  assert.equal(a?.code, 0, a?.stderr);
  assert.match(a?.stdout ?? "", /Server a\.example\.net/);
  assert.equal(b?.code, 0, b?.stderr);
  assert.match(b?.stdout ?? "", /a\.example\.net/);
  assert.notEqual(c?.code, 0);
  assert.equal(c?.stdout, "");
  assert.match(c?.stderr ?? "", /missing\.pem/);
  assert.equal(process.cwd(), cwd);
  assert.equal(process.umask(), umask);
  assert.deepEqual({ ...process.env }, env);
  assert.equal(process.exitCode, exitCode);
});
