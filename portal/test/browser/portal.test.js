// The portal in a real headless Chromium against `hysope serve` with the shared
// SWOT data ingested: each page's scenario, no request leaving the server, no
// serious or critical axe-core violation, screenshots at desktop and 360 px
// (target/portal-screenshots, kept by CI).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT, axeViolations, guardedContext, hysope, makeToken, screenshotPath, startBrowser, startProvider, startServer } from "./server.js";

const WIDTHS = { desktop: { width: 1280, height: 800 }, phone: { width: 360, height: 740 } };
// A simulated reach with three passes, and a Grey River reach of the real RiverSP file.
const REACH = "74269500211";
const GREY_RIVER_REACH = "57203000041";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

async function api(path) {
  const r = await fetch(`${server.url}${path}`);
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r;
}

/// A page in a guarded context; `done()` asserts nothing left the server and no
/// script failed.
async function open(path, viewport = WIDTHS.desktop, { bearer } = {}) {
  const { context, escaped, errors } = await guardedContext(browser, server.url, { viewport });
  // Signed in already (the token the sign-in dialog keeps for the tab).
  if (bearer) {
    await context.addInitScript((b) => {
      // Frames without storage (about:blank, workers' documents) are left alone.
      if (location.protocol === "http:") sessionStorage.setItem("hysope.token", b);
    }, bearer);
  }
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}${path}`);
  return {
    page,
    /// `expected`: console errors the scenario causes on purpose.
    async done(expected = /^$/) {
      await context.close();
      assert.deepEqual(escaped, [], "requests left the server");
      assert.deepEqual(errors, [], "script errors");
      assert.deepEqual(consoleErrors.filter((e) => !/favicon/.test(e) && !expected.test(e)), [], "console errors");
    },
  };
}

async function idle(page) {
  await page.waitForSelector("#map[data-state=idle]", { timeout: 30000 });
}

describe("map", () => {
  test("renders the reaches and a click opens the one clicked", async () => {
    // The middle vertex of a reach's line, at the centre of the view.
    const feature = await (await api(`/features/collections/reaches/items/${GREY_RIVER_REACH}`)).json();
    const coords = feature.geometry.coordinates;
    const mid = coords[Math.floor(coords.length / 2)];
    const { page, done } = await open(`/portal/?at=${mid[0]},${mid[1]},12`);
    await idle(page);
    const status = await page.textContent(".status");
    assert.match(status, /^\d+ reaches, \d+ lakes/);
    const point = await page.evaluate(([lon, lat]) => {
      const p = window.hysopeMap.project([lon, lat]);
      const rect = window.hysopeMap.getCanvas().getBoundingClientRect();
      const drawn = window.hysopeMap.queryRenderedFeatures(p, { layers: ["reach-line"] }).map((f) => f.properties.reach_id);
      return { x: rect.left + p.x, y: rect.top + p.y, drawn };
    }, mid);
    assert.ok(point.drawn.includes(GREY_RIVER_REACH), `reach drawn there: ${point.drawn}`);
    await page.mouse.click(point.x, point.y);
    await page.waitForSelector(`.panel[data-id="${GREY_RIVER_REACH}"]:not([hidden])`);
    const wse = await page.textContent('.panel dd[data-prop="wse"]');
    assert.equal(wse, `${feature.properties.wse.toFixed(3)} m`);
    // Its colour is the ramp's: a usable value is coloured, never the unknown grey.
    assert.notEqual(await page.getAttribute(".panel", "data-colour"), "none");
    // The selection is in the URL, so the view can be shared.
    assert.match(page.url(), new RegExp(`sel=reach%3A${GREY_RIVER_REACH}|sel=reach:${GREY_RIVER_REACH}`));
    await page.screenshot({ path: screenshotPath("map-panel-desktop") });
    await page.click(".panel a.open");
    await page.waitForSelector(".chart canvas");
    assert.equal(new URL(page.url()).pathname, `/portal/reaches/${GREY_RIVER_REACH}`);
    await done();
  });

  test("a name search finds the river and an id search the reach", async () => {
    const { page, done } = await open("/portal/");
    await idle(page);
    await page.fill("#search", "grey");
    await page.waitForSelector('#suggestions li[role="option"]');
    const options = await page.$$eval('#suggestions li[role="option"]', (lis) => lis.map((li) => li.textContent));
    assert.ok(options.some((o) => o.startsWith("Grey River")), options.join(" | "));
    await page.press("#search", "ArrowDown");
    await page.press("#search", "Enter");
    await page.waitForFunction(() => window.hysopeMap.getZoom() > 8);
    const centre = await page.evaluate(() => window.hysopeMap.getCenter().toArray());
    assert.ok(Math.abs(centre[0] - 171.45) < 0.3 && Math.abs(centre[1] + 42.37) < 0.3, `centre ${centre}`);
    await page.fill("#search", GREY_RIVER_REACH);
    await page.press("#search", "Enter");
    await page.waitForSelector(`.panel[data-id="${GREY_RIVER_REACH}"]:not([hidden])`);
    assert.match(await page.textContent('.panel dd[data-prop="name"]'), /Grey River/);
    await done();
  });

  test("filters are chips that remove themselves, and unknowns are never coloured", async () => {
    const { page, done } = await open("/portal/?at=171.45,-42.37,11&quality=0");
    await idle(page);
    const chip = page.locator(".chips button");
    assert.equal(await chip.count(), 1);
    // Every feature drawn under "quality at most 0" has a latest usable flag of 0.
    const flags = await page.evaluate(() => window.hysopeMap.querySourceFeatures("reach").map((f) => f.properties.quality));
    assert.ok(flags.every((q) => q === 0), `flags ${flags}`);
    await chip.click();
    await idle(page);
    assert.equal(await page.locator(".chips button").count(), 0);
    assert.doesNotMatch(page.url(), /quality=/);
    // A reach without a usable pass is drawn in the unknown grey, never on the ramp.
    const colours = await page.evaluate(() => {
      const map = window.hysopeMap;
      const expr = map.getPaintProperty("reach-line", "line-color");
      return { unknownBranch: expr[expr.length - 1], hasCase: expr[0] === "case" };
    });
    assert.deepEqual(colours, { unknownBranch: "#8c8c8c", hasCase: true });
    await done();
  });

  test("a box drawn on the map keeps the reaches it meets, as a chip that removes itself", async () => {
    const { page, done } = await open("/portal/?at=171.45,-42.37,10");
    await idle(page);
    const before = await page.evaluate(() => window.hysopeMap.querySourceFeatures("reach").length);
    assert.ok(before > 2, `${before} reaches`);
    // Drag from a third to two thirds of the map, width and height.
    const rect = await page.evaluate(() => {
      const r = window.hysopeMap.getCanvas().getBoundingClientRect();
      return { x: r.left, y: r.top, w: r.width, h: r.height };
    });
    await page.click(".draw-box");
    assert.equal(await page.getAttribute(".draw-box", "aria-pressed"), "true");
    const from = { x: rect.x + rect.w / 3, y: rect.y + rect.h / 3 };
    const to = { x: rect.x + (2 * rect.w) / 3, y: rect.y + (2 * rect.h) / 3 };
    const corners = await page.evaluate(([a, b]) => {
      const r = window.hysopeMap.getCanvas().getBoundingClientRect();
      return [a, b].map((p) => window.hysopeMap.unproject([p.x - r.left, p.y - r.top]).toArray());
    }, [from, to]);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
    await page.mouse.move(to.x, to.y, { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(() => /box=/.test(location.search));
    await idle(page);
    const box = new URL(page.url()).searchParams.get("box").split(",").map(Number);
    const [w, s, e, n] = [Math.min(corners[0][0], corners[1][0]), Math.min(corners[0][1], corners[1][1]),
      Math.max(corners[0][0], corners[1][0]), Math.max(corners[0][1], corners[1][1])];
    for (const [got, want] of [[box[0], w], [box[1], s], [box[2], e], [box[3], n]]) assert.ok(Math.abs(got - want) < 1e-3, `${box} vs ${[w, s, e, n]}`);
    // The map did not pan while drawing, and the reaches drawn are those meeting the box.
    const drawn = await page.evaluate(() => window.hysopeMap.querySourceFeatures("reach").map((f) => f.properties.reach_id));
    const api2 = await (await api(`/features/collections/reaches/items?bbox=${box.join(",")}&limit=1000&skipGeometry=true`)).json();
    assert.deepEqual([...new Set(drawn)].sort(), api2.features.map((f) => f.properties.reach_id).sort());
    assert.ok(new Set(drawn).size < before, `${new Set(drawn).size} of ${before}`);
    assert.equal(await page.getAttribute(".draw-box", "aria-pressed"), "false");
    const chip = page.locator(".chips button");
    assert.match(await chip.textContent(), /^Box /);
    await page.screenshot({ path: screenshotPath("map-box-desktop") });
    await chip.click();
    await idle(page);
    assert.doesNotMatch(page.url(), /box=/);
    assert.equal(await page.evaluate(() => window.hysopeMap.querySourceFeatures("reach").length), before);
    // The view as the box, by keyboard.
    await page.focus(".view-box");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => /box=/.test(location.search));
    await done();
  });

  test("reads in French", async () => {
    const { page, done } = await open("/portal/?lang=fr");
    await idle(page);
    assert.equal(await page.getAttribute("html", "lang"), "fr");
    assert.match(await page.textContent(".status"), /tronçons/);
    await done();
  });
});

describe("feature page", () => {
  test("the chart's series is the API's, and the quality toggles hide points", async () => {
    const { page, done } = await open(`/portal/reaches/${REACH}`);
    await page.waitForSelector(".chart canvas");
    const series = await (await api(`/timeseries/reaches?ids=${REACH}&f=geojson`)).json();
    const p = series.features[0].properties;
    const chart = await page.evaluate(() => window.hysopeChart.data.slice(0, 2));
    assert.deepEqual(chart[0], p.time.map((t) => Date.parse(t) / 1000));
    assert.deepEqual(chart[1], p.wse);
    assert.equal(await page.getAttribute(".chart", "data-drawn"), String(p.wse.filter((v) => v !== null).length));
    // The range brush: a drag over its second half shows that range only.
    await page.waitForFunction(() => window.hysopeBrush);
    const b = await page.evaluate(() => {
      const r = window.hysopeBrush.over.getBoundingClientRect();
      return { x: r.left, y: r.top, w: r.width, h: r.height };
    });
    await page.mouse.move(b.x + b.w * 0.45, b.y + b.h / 2);
    await page.mouse.down();
    await page.mouse.move(b.x + b.w * 0.99, b.y + b.h / 2, { steps: 5 });
    await page.mouse.up();
    const range = await page.evaluate(() => [window.hysopeChart.plot.scales.x.min, window.hysopeChart.plot.scales.x.max]);
    const t0 = Date.parse(p.time[0]) / 1000;
    const t2 = Date.parse(p.time[2]) / 1000;
    assert.ok(range[0] > t0 && range[0] < t2 && range[1] <= t2 + 1, `range ${range} of ${t0}..${t2}`);
    await page.click(".reset-range");
    const whole = await page.evaluate(() => [window.hysopeChart.plot.scales.x.min, window.hysopeChart.plot.scales.x.max]);
    assert.deepEqual(whole, [t0, t2]);
    await page.uncheck('input[data-level="0"]');
    assert.equal(await page.getAttribute(".chart", "data-drawn"), "0");
    assert.match(await page.textContent(".counts"), /0 passes drawn, 3 hidden/);
    await done();
  });

  test("a gauge file is paired with the observations: bias, MAE and RMSE by hand", async () => {
    const { page, done } = await open(`/portal/reaches/${REACH}`);
    await page.waitForSelector(".chart canvas");
    const p = (await (await api(`/timeseries/reaches?ids=${REACH}&f=geojson`)).json()).features[0].properties;
    // A French agency's export: semicolons, decimal commas, centimetres; each value
    // 30 min after a pass, 25 cm + k cm below SWOT's WSE; one value far from any pass
    // and one fill.
    const offsets = p.wse.map((_, k) => 0.25 + 0.01 * k);
    const lines = ["Date (TU);Hauteur (cm)"];
    p.time.forEach((time, k) => {
      const at = new Date(Date.parse(time) + 30 * 60000).toISOString().slice(0, 16).replace("T", " ");
      lines.push(`${at};${((p.wse[k] - offsets[k]) * 100).toFixed(1).replace(".", ",")}`);
    });
    lines.push("2001-01-01 00:00;12,5", "2010-09-06 16:00;-999999");
    await page.selectOption("#gauge-unit", "cm");
    await page.setInputFiles("#gauge-file", { name: "station.csv", mimeType: "text/csv", buffer: Buffer.from(lines.join("\n")) });
    await page.waitForSelector('[data-stat="n"]');
    // The differences as the file gives them (to the 0.1 cm written).
    const d = p.wse.map((w, k) => w - Number(((w - offsets[k]) * 100).toFixed(1)) / 100);
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const { stats, pairs, unpaired, read } = await page.evaluate(() => window.hysopeGauge);
    assert.equal(read.points.length, p.time.length + 1);
    assert.equal(read.fills, 1);
    assert.equal(read.skipped, 1);
    assert.equal(pairs.length, p.wse.length);
    assert.equal(unpaired, 0);
    assert.ok(Math.abs(stats.bias - mean(d)) < 1e-9, `${stats.bias} ${mean(d)}`);
    assert.ok(Math.abs(stats.mae - mean(d.map(Math.abs))) < 1e-9);
    assert.ok(Math.abs(stats.rmse - Math.sqrt(mean(d.map((x) => x * x)))) < 1e-9);
    assert.equal(await page.textContent('[data-stat="bias"]'), `${mean(d).toFixed(3)} m`);
    // The gauge drawn at the paired passes.
    const gaugeSeries = await page.evaluate(() => window.hysopeChart.data.at(-1));
    assert.deepEqual(gaugeSeries.map((v) => v.toFixed(3)), p.wse.map((w, k) => (w - d[k]).toFixed(3)));
    // A tolerance shorter than the 30 min gap pairs nothing.
    await page.fill("#gauge-hours", "0.25");
    await page.dispatchEvent("#gauge-hours", "change");
    await page.waitForFunction(() => window.hysopeGauge.pairs.length === 0);
    assert.match(await page.textContent(".gauge-result"), /No drawn observation/);
    await page.screenshot({ path: screenshotPath("feature-gauge-desktop"), fullPage: true });
    assert.deepEqual(await axeViolations(page), []);
    await done();
  });

  test("a reach's longitudinal profile is its nodes' WSE at the chosen pass", async () => {
    const { page, done } = await open(`/portal/reaches/${REACH}`);
    await page.waitForSelector(".profile canvas");
    const reach = (await (await api(`/timeseries/reaches?ids=${REACH}&f=geojson`)).json()).features[0].properties;
    const nodes = (await (await api(`/timeseries/nodes?reach=${REACH}&f=geojson&fields=wse,width`)).json()).features;
    // The nodes' WSE at the reach's pass number `k`, in node id order (fills left out).
    const expected = (k) => {
      const at = Date.parse(reach.time[k]);
      return [...nodes]
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((f) => {
          const i = f.properties.time.findIndex((t) => Math.abs(Date.parse(t) - at) < 30 * 60 * 1000);
          return i < 0 ? null : f.properties.wse[i];
        })
        .filter((v) => v !== null);
    };
    const last = reach.time.length - 1;
    assert.deepEqual(await page.evaluate(() => window.hysopeProfile.data[1]), expected(last));
    assert.ok(expected(last).length > 10);
    const firstPass = await page.$eval("#profile-pass option", (o) => o.value);
    await page.selectOption("#profile-pass", firstPass);
    assert.deepEqual(await page.evaluate(() => window.hysopeProfile.data[1]), expected(0));
    await done();
  });

  test("the CSV download is the API's CSV", async () => {
    const { page, done } = await open(`/portal/reaches/${REACH}`);
    await page.waitForSelector(".chart canvas");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("a.csv")]);
    const file = readFileSync(await download.path(), "utf8");
    const expected = await (await api(`/timeseries/reaches?ids=${REACH}&f=csv`)).text();
    assert.equal(file, expected);
    assert.match(file.split("\n")[0], /^reach_id,time,wse/);
    await done();
  });
});

describe("catalogue", () => {
  const RIVER_ITEM = "SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01";

  test("a search by collection finds the product, its footprint drawn, its file downloadable", async () => {
    const { page, done } = await open("/portal/catalogue");
    await page.waitForSelector(".results li");
    await page.check('input[name=collection][value="SWOT_L2_HR_RiverSP_Reach"]');
    await page.click(".search-form button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll(".results li").length > 0
      && [...document.querySelectorAll(".results li")].every((li) => li.textContent.includes("SWOT_L2_HR_RiverSP_Reach ")));
    const expected = await (await fetch(`${server.url}/stac/search`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ collections: ["SWOT_L2_HR_RiverSP_Reach"], limit: 20 }),
    })).json();
    const ids = await page.$$eval(".results li a", (as) => as.map((a) => a.textContent));
    assert.deepEqual(ids, expected.features.map((f) => f.id));
    assert.ok(ids.includes(RIVER_ITEM));
    await page.waitForSelector(".footprints[data-drawn]");
    assert.equal(await page.getAttribute(".footprints", "data-drawn"), String(expected.features.filter((f) => f.geometry).length));
    assert.match(page.url(), /collection=SWOT_L2_HR_RiverSP_Reach/);
    await page.click(`.results a:text-is("${RIVER_ITEM}")`);
    await page.waitForSelector("table.assets a.download");
    const href = await page.getAttribute("table.assets a.download", "href");
    const size = Number(await page.textContent("table.assets tbody tr td:nth-child(4)"));
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("table.assets a.download")]);
    const bytes = readFileSync(await download.path());
    assert.equal(bytes.length, size);
    assert.match(href, /\/stac\/collections\/SWOT_L2_HR_RiverSP_Reach\/items\/.*\/assets\/data$/);
    await done();
  });

  test("a box drawn on the small map fills the box's fields", async () => {
    const { page, done } = await open("/portal/catalogue");
    await page.waitForSelector(".footprints[data-drawn]");
    await page.click(".catalogue-draw");
    const rect = await page.evaluate(() => {
      const r = document.querySelector(".footprints canvas").getBoundingClientRect();
      return { x: r.left, y: r.top, w: r.width, h: r.height };
    });
    await page.mouse.move(rect.x + rect.w * 0.3, rect.y + rect.h * 0.3);
    await page.mouse.down();
    await page.mouse.move(rect.x + rect.w * 0.7, rect.y + rect.h * 0.7, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction(() => document.getElementById("f-west").value !== "");
    const box = await Promise.all(["west", "south", "east", "north"].map((n) => page.inputValue(`#f-${n}`)));
    const [w, s, e, n] = box.map(Number);
    assert.ok(w < e && s < n, `${box}`);
    assert.equal(await page.getAttribute(".catalogue-draw", "aria-pressed"), "false");
    await page.click(".search-form button[type=submit]");
    await page.waitForFunction(() => /west=/.test(location.search));
    await done();
  });

  test("a wrong box is refused at its field, before any request", async () => {
    const { page, done } = await open("/portal/catalogue");
    await page.waitForSelector(".results li");
    let searches = 0;
    page.on("request", (r) => { if (r.url().endsWith("/stac/search")) searches++; });
    await page.fill("#f-west", "170");
    await page.click(".search-form button[type=submit]");
    assert.match(await page.textContent("#e-south"), /four sides/);
    assert.equal(await page.getAttribute("#f-south", "aria-invalid"), "true");
    assert.equal(searches, 0);
    // A filter the server refuses: its message is shown.
    await page.fill("#f-west", "");
    await page.fill("#f-filter", "bogus ==");
    await page.click(".search-form button[type=submit]");
    await page.waitForFunction(() => document.querySelector("[role=alert]").textContent.includes("filter"));
    await done(/status of 400 \(Bad Request\)/);
  });
});

describe("processes", () => {
  test("every process gets a form: a field per input, the required ones marked", async () => {
    const list = (await (await api("/processes")).json()).processes;
    assert.ok(list.length >= 8);
    const { page, done } = await open("/portal/processes");
    await page.waitForSelector(".process-list li");
    assert.equal(await page.locator(".process-list li").count(), list.length);
    for (const p of list) {
      const description = await (await api(`/processes/${p.id}`)).json();
      await page.goto(`${server.url}/portal/processes/${p.id}`);
      await page.waitForSelector(".process-form button[type=submit]");
      const ids = await page.$$eval(".process-form [name]:not([name=mode])", (els) => els.map((e) => e.name));
      assert.deepEqual(ids, Object.keys(description.inputs), p.id);
      const required = Object.values(description.inputs).filter((i) => (i.minOccurs ?? 1) > 0).length;
      assert.equal(await page.locator(".process-form .required").count(), required, p.id);
    }
    await done();
  });

  test("signed in with a token, an asynchronous run is accepted and succeeds", async () => {
    const { page, done } = await open("/portal/processes/echo");
    await page.waitForSelector(".process-form button[type=submit]");
    assert.match(await page.textContent("[role=alert]"), /sign in/);
    await page.click(".signin-open");
    await page.fill("#signin-token", "not-a-token");
    await page.click("dialog.signin button[type=submit]");
    await page.waitForFunction(() => document.querySelector("dialog.signin .error").textContent.length > 0);
    await page.fill("#signin-token", server.token);
    await page.click("dialog.signin button[type=submit]");
    await page.waitForSelector(".who .me");
    assert.match(await page.textContent(".who .me"), /local-operator \(operator\)/);
    await page.waitForSelector(".process-form button[type=submit]");
    // A wrong number is refused at its field, before any request.
    await page.fill("#i-integerInput", "1.5");
    await page.click(".process-form button[type=submit]");
    assert.match(await page.textContent("#e-integerInput"), /whole number/);
    await page.fill("#i-integerInput", "7");
    await page.fill("#i-stringInput", "from the portal");
    const preview = JSON.parse(await page.textContent(".preview"));
    assert.deepEqual(preview.inputs, { stringInput: "from the portal", integerInput: 7 });
    await page.click(".process-form button[type=submit]");
    const job = await (await page.waitForSelector("a.job")).getAttribute("data-job");
    // The job's live page: its bar follows the job's status to the end.
    await page.click("a.job");
    await page.waitForSelector('#job-progress[data-status="successful"]', { timeout: 60000 });
    assert.equal(await page.$eval("#job-progress", (p) => p.value), 100);
    const seen = await page.evaluate(() => window.hysopeJob.seen);
    assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]), `progress went back: ${seen}`);
    const status = await (await fetch(`${server.url}/jobs/${job}`, { headers: { authorization: `Bearer ${server.token}` } })).json();
    assert.equal(status.status, "successful", JSON.stringify(status));
    // Its result file, downloaded with the token.
    const link = await page.waitForSelector("a.output");
    const [file] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const echoed = JSON.parse(readFileSync(await file.path(), "utf8"));
    assert.equal(echoed.stringInput, "from the portal");
    // And the job in the caller's list.
    await page.goto(`${server.url}/portal/jobs?processID=echo`);
    await page.waitForSelector(`tr[data-job="${job}"]`);
    await done(/status of 401 \(Unauthorized\)/);
  });
});

describe("uploads", () => {
  test("a file uploaded from the form is the job's input, and the job's copy is that file", async () => {
    const { page, done } = await open("/portal/processes/echo", WIDTHS.desktop, { bearer: server.token });
    await page.waitForSelector("#u-fileInput");
    const content = "time,stage_m\n2024-05-01T00:00:00Z,1.25\n";
    await page.setInputFiles("#u-fileInput", { name: "my gauge.csv", mimeType: "text/csv", buffer: Buffer.from(content) });
    await page.waitForFunction(() => /^\/uploads\/[0-9a-f-]{36}$/.test(document.getElementById("i-fileInput").value));
    assert.match(await page.textContent(".upload-note"), new RegExp(`Uploaded my gauge\\.csv \\(${content.length} bytes\\)`));
    const preview = JSON.parse(await page.textContent(".preview"));
    assert.match(preview.inputs.fileInput.href, /^\/uploads\//);
    await page.click(".process-form button[type=submit]");
    await (await page.waitForSelector("a.job")).click();
    await page.waitForSelector('#job-progress[data-status="successful"]', { timeout: 60000 });
    const link = await page.waitForSelector('a.output:has-text("my gauge.csv")');
    const [file] = await Promise.all([page.waitForEvent("download"), link.click()]);
    assert.equal(readFileSync(await file.path(), "utf8"), content);
    await done();
  });
});

describe("files picked on a map", () => {
  test("a box drawn in the picker finds the catalogue's items, whose files become the input", async () => {
    const { page, done } = await open("/portal/processes/river-filter-summary", WIDTHS.desktop, { bearer: server.token });
    await page.click('.pick-map[data-field="reaches"]');
    await page.waitForSelector("dialog.picker[open] .picker-list[data-count]");
    await page.selectOption("#picker-collection", "SWOT_L2_HR_RiverSP_Reach");
    await page.waitForFunction(() => window.hysopePicker.search().found.some((h) => h.includes("RiverSP_Reach")));
    const all = await page.evaluate(() => window.hysopePicker.search().found.length);
    // The view on the real RiverSP product's footprint (the simulated passes lie elsewhere).
    const real = await (await api("/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01")).json();
    await page.evaluate((b) => window.hysopePicker.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 60, duration: 0 }), real.bbox);
    await page.click(".picker-draw");
    const rect = await page.evaluate(() => {
      const r = window.hysopePicker.map.getCanvas().getBoundingClientRect();
      return { x: r.left, y: r.top, w: r.width, h: r.height };
    });
    await page.mouse.move(rect.x + rect.w * 0.15, rect.y + rect.h * 0.15);
    await page.mouse.down();
    await page.mouse.move(rect.x + rect.w * 0.5, rect.y + rect.h * 0.5, { steps: 4 });
    await page.mouse.move(rect.x + rect.w * 0.85, rect.y + rect.h * 0.85, { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(() => window.hysopePicker.search().box !== null);
    await page.waitForFunction(() => document.querySelector(".picker-status").textContent.includes("items"));
    const { box, found } = await page.evaluate(() => window.hysopePicker.search());
    // The items the API finds in the same box, with their data files.
    const api2 = await (await fetch(`${server.url}/stac/search`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ collections: ["SWOT_L2_HR_RiverSP_Reach"], bbox: box, limit: 100 }) })).json();
    assert.deepEqual(found.sort(), api2.features.map((i) => new URL(i.assets.data.href).pathname).sort());
    assert.ok(found.length > 0 && found.length <= all, `${found.length} of ${all}`);
    await page.screenshot({ path: screenshotPath("picker-desktop") });
    assert.deepEqual(await axeViolations(page), []);
    await page.click(".picker-use");
    const lines = (await page.inputValue("#i-reaches")).split("\n");
    assert.deepEqual(lines.sort(), found.sort());
    await page.click(".process-form button[type=submit]");
    await (await page.waitForSelector("a.job")).click();
    await page.waitForSelector('#job-progress[data-status="successful"]', { timeout: 60000 });
    await done();
  });
});

describe("operators' desk", () => {
  test("an operator sees the server's state and approves a submission with a reason", async () => {
    // dora, a developer, signs the echo component and publishes it: it waits for review.
    const keys = mkdtempSync(join(tmpdir(), "hysope-keys-"));
    try {
      const key = join(keys, "dora");
      const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dora", "-f", key]);
      assert.equal(made.status, 0, String(made.stderr));
      const dora = makeToken(server.data, "dora", "developer");
      const remote = ["--server", server.url, "--token", dora];
      hysope(["plugin", "keys", "add", `${key}.pub`, ...remote]);
      hysope(["plugin", "publish", join(ROOT, "target/wasm32-wasip2/release/echo.wasm"), "--cwl", join(ROOT, "plugins/echo/echo.cwl"),
        "--name", "dora/echo", "--version", "1.0.0", "--sign", key, ...remote]);
    } finally {
      rmSync(keys, { recursive: true, force: true });
    }
    const operator = makeToken(server.data, "olga", "operator");
    // A user is told the desk is not theirs, and the header does not offer it.
    const user = await open("/portal/desk", WIDTHS.desktop, { bearer: makeToken(server.data, "ulla", "user") });
    await user.page.waitForSelector(".desk-page p.meta");
    assert.match(await user.page.textContent(".desk-page"), /for operators/);
    assert.equal(await user.page.isVisible("nav li.desk"), false);
    await user.done();

    const { page, done } = await open("/portal/desk", WIDTHS.desktop, { bearer: operator });
    await page.waitForSelector('.submission form[data-reference="dora/echo@1.0.0"]');
    assert.equal(await page.isVisible("nav li.desk"), true);
    // The state: what /admin/status says.
    await page.waitForSelector('#desk-state [data-figure="queue"]');
    const status = await page.evaluate(() => window.hysopeDesk.status);
    assert.equal(status.registry.submitted, 1);
    assert.match(await page.textContent('[data-figure="queue"]'), new RegExp(`^${status.jobs.queue_depth} waiting`));
    const succeeded = await page.textContent(".desk-table tbody tr:nth-child(3) td");
    assert.equal(Number(succeeded), status.jobs.by_state.successful);
    await page.screenshot({ path: screenshotPath("desk-submission-desktop"), fullPage: true });
    assert.deepEqual(await axeViolations(page), []);
    // The report and descriptor are there to read; the buttons are the state's actions.
    assert.match(await page.textContent(".submission details pre"), /\{/);
    const buttons = await page.$$eval(".submission .actions button", (b) => b.map((x) => x.value));
    assert.deepEqual(buttons, ["approve", "reject", "quarantine"]);
    // No reason: refused at the field, nothing sent.
    await page.click('.submission button[value="approve"]');
    assert.match(await page.textContent(".submission [role=alert]"), /reason/);
    assert.equal((await (await fetch(`${server.url}/registry/queue`, { headers: { authorization: `Bearer ${operator}` } })).json()).submissions.length, 1);
    await page.fill(".submission textarea", "signature and sandbox report checked");
    await page.click('.submission button[value="approve"]');
    await page.waitForFunction(() => /approved/.test(document.querySelector(".desk-note").textContent));
    await page.waitForSelector("#desk-submissions p.meta");
    // The registry says so, with the operator and the reason in the version's log.
    const version = await (await fetch(`${server.url}/registry/packages/dora/echo/versions/1.0.0`, { headers: { authorization: `Bearer ${operator}` } })).json();
    assert.equal(version.state, "approved");
    const audit = await (await fetch(`${server.url}/registry/audit`, { headers: { authorization: `Bearer ${operator}` } })).json();
    assert.ok(JSON.stringify(audit).includes("signature and sandbox report checked"), JSON.stringify(audit));
    // The version's curation: deprecating needs a successor.
    await page.selectOption("#curate-version", { label: "dora/echo@1.0.0 (approved)" });
    await page.selectOption("#curate-action", "deprecate");
    await page.fill("#curate-reason", "superseded");
    await page.click(".curate-form button[type=submit]");
    assert.match(await page.textContent("#e-successor"), /namespace\/name@version/);
    await page.selectOption("#curate-action", "yank");
    await page.click(".curate-form button[type=submit]");
    await page.waitForFunction(() => /yanked/.test(document.querySelector(".desk-note").textContent));
    const yanked = await (await fetch(`${server.url}/registry/packages/dora/echo/versions/1.0.0`, { headers: { authorization: `Bearer ${operator}` } })).json();
    assert.equal(yanked.state, "yanked");
    await done();
  });

  test("an operator follows a production rule's backfill, pauses, resumes and deletes it", async () => {
    const operator = makeToken(server.data, "otto", "operator");
    const auth = { authorization: `Bearer ${operator}`, "content-type": "application/json" };
    const rule = {
      id: "desk-filter", title: "usable reach products, filtered", process: "swot-river-filter",
      trigger: { type: "item", collections: ["SWOT_L2_HR_RiverSP_Reach"], filter: "reach_q <= 1" },
      inputs: { product: { asset: "data" } }, backfill: true,
    };
    const made = await fetch(`${server.url}/rules`, { method: "POST", headers: auth, body: JSON.stringify(rule) });
    assert.equal(made.status, 201, await made.text());
    // The backfill reads the catalogue's changes: the six reach files of quality <= 1 each make a job.
    const api = async () => (await fetch(`${server.url}/rules/desk-filter`, { headers: auth })).json();
    for (let i = 0; i < 300 && (await api()).backfill.progress < 1; i++) await new Promise((r) => setTimeout(r, 100));
    const shown = await api();
    assert.equal(shown.backfill.progress, 1);
    assert.equal(shown.counts.triggered, 6);

    const { page, done } = await open("/portal/desk", WIDTHS.desktop, { bearer: operator });
    const card = '.rule[data-rule="desk-filter"]';
    await page.waitForSelector(`${card} progress[data-finished="true"]`);
    assert.match(await page.textContent(`${card} h3`), /desk-filter · usable reach products/);
    assert.match(await page.textContent(`${card} .backfill`), new RegExp(`${shown.backfill.done} of ${shown.backfill.total} changes read \\(100 %\\)`));
    assert.match(await page.textContent(`${card} [data-figure="rule-counts"]`), /^6 jobs · 0 items passed over/);
    assert.equal(await page.textContent(`${card} code`), "reach_q <= 1");
    assert.deepEqual(await page.$$eval(`${card} .actions button`, (b) => b.map((x) => x.value)), ["pause", "delete"]);
    await page.screenshot({ path: screenshotPath("desk-rules-desktop"), fullPage: true });
    assert.deepEqual(await axeViolations(page), []);

    await page.click(`${card} button[value="pause"]`);
    await page.waitForFunction(() => /paused/.test(document.querySelector(".desk-note").textContent));
    assert.equal((await api()).state, "paused");
    await page.waitForSelector(`${card} button[value="resume"]`);
    assert.equal(await page.textContent(`${card} [data-figure="rule-state"]`), "paused");
    await page.click(`${card} button[value="resume"]`);
    await page.waitForFunction(() => /resumed/.test(document.querySelector(".desk-note").textContent));
    assert.equal((await api()).state, "active");

    // The rule's jobs, from its link: the jobs page filtered by the rule.
    await page.click(`${card} [data-figure="rule-counts"] ~ dd a`);
    await page.waitForSelector('.jobs-page p[data-rule="desk-filter"]');
    await page.waitForFunction(() => document.querySelectorAll("table.jobs tbody tr").length === 6);
    assert.ok((await page.$$eval("table.jobs tbody tr td:nth-child(2)", (c) => c.map((x) => x.textContent))).every((p) => p === "swot-river-filter"));
    assert.match(page.url(), /rule=desk-filter/);

    // Deleting asks once more; the rule is gone, its jobs stay.
    await page.goto(`${server.url}/portal/desk`);
    await page.click(`${card} button[value="delete"]`);
    assert.equal((await fetch(`${server.url}/rules/desk-filter`, { headers: auth })).status, 200);
    await page.click(`${card} button[value="confirm-delete"]`);
    await page.waitForFunction(() => /deleted/.test(document.querySelector(".desk-note").textContent));
    assert.equal((await fetch(`${server.url}/rules/desk-filter`, { headers: auth })).status, 404);
    assert.equal(await page.$(card), null);
    const jobs = await (await fetch(`${server.url}/jobs?rule=desk-filter`, { headers: auth })).json();
    assert.equal(jobs.jobs.length, 6);
    await done();
  });
});

describe("sign-in through the OIDC provider", () => {
  let provider;
  let oidcServer;
  before(async () => {
    provider = await startProvider();
    oidcServer = await startServer(["--oidc-issuer", provider.issuer, "--oidc-audience", "hysope",
      "--oidc-portal-client", "hysope-portal"]);
  });
  after(() => {
    oidcServer?.stop();
    provider?.stop();
  });

  test("authorization code with PKCE: the provider's login and consent, then the portal as that account", async () => {
    const issuer = new URL(provider.issuer).origin;
    const { context, escaped, errors } = await guardedContext(browser, oidcServer.url, { viewport: WIDTHS.desktop }, [issuer]);
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    const authorizations = [];
    page.on("request", (r) => { if (r.url().includes("code_challenge=")) authorizations.push(new URL(r.url())); });
    // The portal's policy lets the page reach this provider (and only it).
    const shell = await fetch(`${oidcServer.url}/portal/desk`);
    assert.match(shell.headers.get("content-security-policy"), new RegExp(`connect-src 'self' ${issuer};`));
    await page.goto(`${oidcServer.url}/portal/desk`);
    await page.waitForSelector(".desk-page p.meta");
    await page.click(".signin-open");
    await page.click(".signin-provider");
    // The provider's own pages: any password; the account's name gives its role.
    await page.waitForURL((u) => u.origin === issuer);
    await page.fill("input[name=login]", "operator-olga");
    await page.fill("input[name=password]", "any");
    await page.click("button[type=submit]");
    // The consent page (its button has the login page's class: wait for the page itself).
    await page.waitForSelector('input[name=prompt][value=consent]', { state: "attached" });
    await page.click("button.login-submit");
    // Back on the portal: the code exchanged, the page the sign-in started from.
    await page.waitForURL((u) => u.origin === oidcServer.url && u.pathname === "/portal/desk", { timeout: 30000 });
    await page.waitForSelector(".who .me");
    assert.match(await page.textContent(".who .me"), /operator-olga \(operator\)/);
    await page.waitForSelector("#desk-state [data-figure=queue]");
    assert.equal(await page.isVisible("nav li.desk"), true);
    // The token the page holds is the provider's JWT, and the server takes it.
    const bearer = await page.evaluate(() => sessionStorage.getItem("hysope.token"));
    assert.equal(bearer.split(".").length, 3, "a JWT");
    const me = await (await fetch(`${oidcServer.url}/me`, { headers: { authorization: `Bearer ${bearer}` } })).json();
    assert.equal(me.subject, "operator-olga");
    assert.equal(me.role, "operator");
    // The request the provider got: PKCE with S256, the state and the loopback redirect.
    assert.equal(authorizations.length, 1);
    const [authorize] = authorizations;
    assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
    assert.match(authorize.searchParams.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(authorize.searchParams.get("redirect_uri"), `${oidcServer.url}/portal/signed-in`);
    assert.equal(authorize.searchParams.get("client_id"), "hysope-portal");
    // An answer that is not this tab's (a replayed or forged one) is refused.
    await page.goto(`${oidcServer.url}/portal/signed-in?code=stolen&state=forged`);
    await page.waitForSelector("main [role=alert]");
    assert.match(await page.textContent("main [role=alert]"), /state/);
    // Signing out forgets the token.
    await page.goto(`${oidcServer.url}/portal/`);
    await page.click(".who .signout");
    await page.waitForSelector(".signin-open");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("hysope.token")), null);
    await context.close();
    assert.deepEqual(escaped, [], "requests left the server and the provider");
    assert.deepEqual(errors, [], "script errors");
  });
});

describe("a job's live page", () => {
  test("a paced run: the bar moves through intermediate values, the plugin's log lines appear, it ends successful", async () => {
    const { page, done } = await open("/portal/processes/paced", WIDTHS.desktop, { bearer: server.token });
    await page.waitForSelector(".process-form button[type=submit]");
    await page.fill("#i-steps", "5");
    await page.fill("#i-millis", "800");
    await page.click(".process-form button[type=submit]");
    await (await page.waitForSelector("a.job")).click();
    await page.waitForSelector("#job-progress[data-status=running]", { timeout: 30000 });
    // A log line while it runs.
    await page.waitForSelector(".job-log li", { timeout: 30000 });
    await page.waitForSelector('#job-progress[data-status="successful"]', { timeout: 60000 });
    const seen = await page.evaluate(() => window.hysopeJob.seen);
    const between = seen.filter((v) => v > 0 && v < 100);
    assert.ok(between.length >= 2, `the bar went through ${seen}`);
    assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]), `progress went back: ${seen}`);
    assert.equal(seen.at(-1), 100);
    const lines = await page.$$eval(".job-log li", (li) => li.map((l) => l.textContent));
    assert.equal(lines.length, 5);
    assert.match(lines[4], /info step 5 of 5 done$/);
    await page.screenshot({ path: screenshotPath("job-desktop"), fullPage: true });
    assert.deepEqual(await axeViolations(page), []);
    await done();
  });
});

describe("a job's results", () => {
  test("a filter's reaches on a map, its table as a chart, its provenance", async () => {
    const ITEM = "SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01";
    const auth = { authorization: `Bearer ${server.token}`, "content-type": "application/json" };
    const product = `/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/${ITEM}/assets/data`;
    const accepted = await fetch(`${server.url}/processes/swot-river-filter/execution`, {
      method: "POST", headers: { ...auth, prefer: "respond-async" },
      body: JSON.stringify({ inputs: { product: { href: product } } }),
    });
    assert.equal(accepted.status, 201, await accepted.clone().text());
    const job = (await accepted.json()).jobID;
    const { page, done } = await open(`/portal/jobs/${job}`, WIDTHS.desktop, { bearer: server.token });
    await page.waitForSelector('#job-progress[data-status="successful"]', { timeout: 60000 });
    // The GeoJSON output drawn: as many features as the file has.
    const results = await (await fetch(`${server.url}/jobs/${job}/results`, { headers: auth })).json();
    const geo = await (await fetch(results.geojson.href, { headers: auth })).json();
    await page.waitForSelector("#result-map[data-state=idle]", { timeout: 30000 });
    assert.equal(await page.getAttribute("#result-map", "data-features"), String(geo.features.length));
    const onMap = await page.evaluate(() => new Set(window.hysopeResultMap.querySourceFeatures("result").map((f) => f.properties.reach_id)).size);
    assert.equal(onMap, new Set(geo.features.map((f) => f.properties.reach_id)).size);
    // The CSV output as a chart of its WSE against its dates (fills as gaps).
    await page.waitForSelector(".result-series .chart canvas");
    const chart = await page.evaluate(() => window.hysopeResultChart);
    assert.equal(chart.column, "wse");
    const csv = await (await fetch(results.csv.href, { headers: auth })).text();
    const rows = csv.trim().split("\n").slice(1).map((l) => l.split(","));
    const header = csv.split("\n")[0].split(",");
    const wse = rows.map((r) => Number(r[header.indexOf("wse")])).filter((v) => v > -1e11);
    assert.deepEqual([...chart.data[1].filter((v) => v !== null)].sort(), [...wse].sort());
    // Provenance: the component's digest and the product it was derived from.
    const item = await (await fetch(`${server.url}/stac/collections/results/items/${job}`, { headers: auth })).json();
    const digest = item.properties["hysope:components"][0].sha256;
    assert.match(await page.textContent(".provenance"), new RegExp(digest));
    const derived = await page.getAttribute(".provenance a[href^='/portal/items/SWOT_L2_HR_RiverSP_Reach/']", "href");
    assert.equal(derived, `/portal/items/SWOT_L2_HR_RiverSP_Reach/${ITEM}`);
    await page.screenshot({ path: screenshotPath("job-results-desktop"), fullPage: true });
    assert.deepEqual(await axeViolations(page), []);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page wider than the window by ${overflow}px`);
    await done();
  });
});

describe("every page", () => {
  // A finished job of the swot-river-filter (results on a map, a chart, provenance),
  // made once for the job page's screenshots.
  let jobPath = null;
  before(async () => {
    const ITEM = "SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01";
    const r = await fetch(`${server.url}/processes/swot-river-filter/execution`, {
      method: "POST", headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
      body: JSON.stringify({ inputs: { product: { href: `/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/${ITEM}/assets/data` } } }),
    });
    assert.equal(r.status, 200, await r.clone().text());
    jobPath = `/portal/jobs/${r.headers.get("location").split("/").pop()}`;
  });
  const pages = {
    map: "/portal/?at=171.45,-42.37,10",
    feature: `/portal/reaches/${REACH}`,
    catalogue: "/portal/catalogue",
    item: "/portal/items/SWOT_L2_HR_RiverSP_Reach/SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01",
    processes: "/portal/processes",
    process: "/portal/processes/swot-river-filter",
    jobs: "/portal/jobs",
    job: null,
    desk: "/portal/desk",
  };
  const ready = {
    map: "#map[data-state=idle]", feature: ".chart canvas", catalogue: ".footprints[data-drawn]", item: "table.assets",
    processes: ".process-list li", process: ".process-form button[type=submit]", jobs: ".jobs-page [role=status]",
    job: ".provenance", desk: "#desk-state [data-figure=queue]",
  };
  // Pages seen signed in (the local operator).
  const signedIn = new Set(["job", "desk"]);
  for (const name of Object.keys(pages)) {
    for (const [size, viewport] of Object.entries(WIDTHS)) {
      test(`${name} at ${viewport.width} px: no serious accessibility violation, a screenshot`, async () => {
        const path = pages[name] ?? jobPath;
        const { page, done } = await open(path, viewport, signedIn.has(name) ? { bearer: server.token } : {});
        await page.waitForSelector(ready[name], { timeout: 30000 });
        await page.screenshot({ path: screenshotPath(`${name}-${size}`), fullPage: name !== "map" });
        assert.deepEqual(await axeViolations(page), []);
        // Nothing wider than the screen (usable at 360 px).
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `page wider than the window by ${overflow}px`);
        await done();
      });
    }
  }
});
