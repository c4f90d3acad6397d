// A real `hysope serve` for the browser tests: the shared SWOT data ingested
// into a fresh data folder, listening on a free loopback port. And a headless
// Chromium (Debian's) whose every request is checked: one leaving the server
// fails the test.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, "../../..");
export const SHARED_DATA = resolve(ROOT, "../shared/data");
export const SCREENSHOTS = process.env.HYSOPE_SCREENSHOTS || join(ROOT, "target/portal-screenshots");
const HYSOPE = process.env.HYSOPE_BIN || join(ROOT, "target/debug/hysope");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

async function waitFor(check, what, ms = 60000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/// Starts the OIDC provider of the identity tests (tests/oidc/provider.mjs, a
/// real oidc-provider); `stop()` kills it.
export async function startProvider() {
  const script = join(ROOT, "tests/oidc/provider.mjs");
  if (!existsSync(join(ROOT, "tests/oidc/node_modules/oidc-provider"))) {
    throw new Error("tests/oidc/node_modules is missing: npm ci in tests/oidc (tests/install-tools.sh does)");
  }
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  const issuer = await waitFor(() => {
    if (child.exitCode !== null) throw new Error("the OIDC provider exited");
    const line = out.split("\n")[0];
    return out.includes("\n") ? JSON.parse(line).issuer : null;
  }, "the OIDC provider");
  return { issuer, stop: () => child.kill("SIGTERM") };
}

/// Starts the server (`args`: more flags of `hysope serve`); `stop()` kills it
/// and removes its folder.
export async function startServer(args = []) {
  if (!existsSync(HYSOPE)) throw new Error(`${HYSOPE} is missing: cargo build -p hysope-cli first (or set HYSOPE_BIN)`);
  const data = mkdtempSync(join(tmpdir(), "hysope-portal-"));
  const ingest = spawnSync(HYSOPE, ["ingest", "--data-dir", data, SHARED_DATA], { encoding: "utf8" });
  if (ingest.status !== 0) throw new Error(`hysope ingest failed: ${ingest.stderr}`);
  const child = spawn(HYSOPE, ["serve", "--data-dir", data, "--addr", "127.0.0.1:0", "--input-root", SHARED_DATA,
    "--processes", join(ROOT, "plugins"), "--processes", join(ROOT, "portal/test/processes"), ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => { log += d; });
  const serverFile = join(data, "server.json");
  const info = await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`hysope serve exited: ${log}`);
    try {
      return JSON.parse(readFileSync(serverFile, "utf8"));
    } catch {
      return null;
    }
  }, "server.json");
  await waitFor(async () => (await fetch(`${info.url}/ready`).catch(() => null))?.ok, "/ready");
  return {
    url: info.url,
    data,
    token: info.local_token,
    log: () => log,
    stop() {
      child.kill("SIGTERM");
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/// Runs the hysope command with `args`; its standard output (it must succeed).
export function hysope(args, options = {}) {
  const run = spawnSync(HYSOPE, args, { encoding: "utf8", ...options });
  if (run.status !== 0) throw new Error(`hysope ${args.join(" ")} failed: ${run.stderr}`);
  return run.stdout;
}

/// A personal token for `user` with `role`, made by the server's local operator.
export function makeToken(data, user, role) {
  return hysope(["admin", "token", "create", "--user", user, "--role", role, "--data-dir", data]).trim().split("\n").pop();
}

/// A headless Chromium; `guard(context, origin)` records every request that
/// leaves `origin` (workers' too) and aborts it.
export async function startBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--ignore-gpu-blocklist"],
  });
}

/// `allow`: other origins the portal may reach (the configured OIDC provider);
/// what those sites' own pages ask of third parties is refused, not counted.
export async function guardedContext(browser, origin, options = {}, allow = []) {
  const context = await browser.newContext({ acceptDownloads: true, ...options });
  const escaped = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.origin === origin || allow.includes(url.origin) || url.protocol === "data:" || url.protocol === "blob:") {
      return route.continue();
    }
    const referer = route.request().headers().referer;
    const from = referer ? new URL(referer).origin : null;
    if (!from || !allow.includes(from)) escaped.push(url.href);
    return route.abort();
  });
  const errors = [];
  context.on("weberror", (e) => errors.push(String(e.error())));
  return { context, escaped, errors };
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${name}.png`);
}

/// Runs axe-core in the page; returns its serious and critical violations.
export async function axeViolations(page) {
  const source = readFileSync(join(ROOT, "portal/node_modules/axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`);
}
