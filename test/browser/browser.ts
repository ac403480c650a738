// The browser side of the console's suite: Debian's chromium driven by
// playwright-core (no browser download), axe-core evaluated in the page
// (through the debugging protocol, so the page's CSP stays as served), and
// a folder of screenshots that the suite names at its start.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.SEALPOST_CHROMIUM ?? "/usr/bin/chromium";
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

export async function launch(): Promise<Browser> {
  const runningAsRoot = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: runningAsRoot ? ["--no-sandbox"] : [] });
}

/** The folder of this run's screenshots (SEALPOST_BROWSER_ARTIFACTS, or a new one under the temporary folder). */
export function artifactsDir(): string {
  const dir = process.env.SEALPOST_BROWSER_ARTIFACTS ?? path.join(os.tmpdir(), `sealpost-browser-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  await page.screenshot({ path: path.join(dir, `${name.replace(/[^A-Za-z0-9-]+/g, "-")}.png`), fullPage: true });
}

interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/** axe-core with the WCAG 2.1 A and AA rules on the page as it is now (an open dialog included); fails on any violation. */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  const loaded = await page.evaluate("typeof window.axe === 'object'");
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(`window.axe.run(document, { runOnly: { type: "tag", values: ${JSON.stringify(WCAG_TAGS)} }, resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`)) as AxeViolation[];
  assert.deepEqual(
    violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`),
    [],
    `${what}: WCAG 2.1 A/AA violations`,
  );
}
