// The portal in a headless Chromium against a running `hysope serve`: the map
// page from navigation to idle (every feature it asked for drawn), a feature page
// from navigation to its chart, and what a first visit transfers (bytes on the
// wire, as compressed as the server sent them), each on a fresh browser context
// (empty cache). Prints Markdown rows. Machine-dependent: Chromium draws with
// SwiftShader (WebGL on the CPU) here.
//
//   node portal/bench/portal-bench.mjs URL MAP_QUERY FEATURE_PATH [RUNS]
//
// MAP_QUERY or FEATURE_PATH "-" leaves that page out.
// e.g. node portal/bench/portal-bench.mjs http://127.0.0.1:5000 '?at=10,45,6' /portal/reaches/21000000011 5

import { guardedContext, startBrowser } from "../test/browser/server.js";

const [url, mapQuery, featurePath, runsArg] = process.argv.slice(2);
if (!url || mapQuery === undefined || !featurePath) {
  console.error("usage: portal-bench.mjs URL MAP_QUERY FEATURE_PATH [RUNS]");
  process.exit(2);
}
const runs = Number(runsArg || 5);
const origin = new URL(url).origin;

const browser = await startBrowser();

/// Opens `path` in a fresh context, waits for the performance mark `mark`, and
/// returns its time (ms from navigation start), the bytes received by kind, and
/// what `after(page)` says.
async function visit(path, mark, after) {
  const { context, escaped } = await guardedContext(browser, origin, { viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const urls = new Map();
  const bytes = { portal: 0, api: 0 };
  cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, e.request.url));
  cdp.on("Network.loadingFinished", (e) => {
    const u = urls.get(e.requestId) || "";
    bytes[u.includes("/portal/") ? "portal" : "api"] += e.encodedDataLength;
  });
  await page.goto(`${origin}${path}`);
  await page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, mark, { timeout: 120000 });
  const ms = await page.evaluate((m) => performance.getEntriesByName(m)[0].startTime, mark);
  const extra = await after(page);
  await context.close();
  if (escaped.length) throw new Error(`requests left the server: ${escaped}`);
  return { ms, bytes, extra };
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
}

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;

const map = [];
for (let i = 0; i < runs && mapQuery !== "-"; i++) {
  map.push(await visit(`/portal/${mapQuery}`, "hysope:map-idle", (page) => page.textContent(".status")));
}
const feature = [];
for (let i = 0; i < runs && featurePath !== "-"; i++) {
  feature.push(await visit(featurePath, "hysope:chart", (page) => page.getAttribute(".chart", "data-drawn")));
}
await browser.close();

console.log("| page | what is drawn | to idle / chart, median of " + runs + " (ms) | max (ms) | transferred: portal files | transferred: API data |");
console.log("|---|---|---|---|---|---|");
if (map.length) {
  const m = summary(map.map((r) => r.ms));
  console.log(`| map \`/portal/${mapQuery}\` | ${map[0].extra} | ${m.median.toFixed(0)} | ${m.max.toFixed(0)} | ${kib(map[0].bytes.portal)} | ${kib(map[0].bytes.api)} |`);
}
if (feature.length) {
  const f = summary(feature.map((r) => r.ms));
  console.log(`| feature \`${featurePath}\` | ${feature[0].extra} observations drawn | ${f.median.toFixed(0)} | ${f.max.toFixed(0)} | ${kib(feature[0].bytes.portal)} | ${kib(feature[0].bytes.api)} |`);
}
