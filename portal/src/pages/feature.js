// A feature's page: its summary, the WSE time series as a chart (points coloured
// by quality flag, a toggle per level, the uncertainty band, zoom by dragging,
// double-click to reset), passes without a value counted and not drawn, the
// observations as a table, and downloads (CSV, GeoJSON, NetCDF from the API,
// the chart as PNG, the API URL and the Python to fetch it), and a comparison
// with a gauge series the user gives (read in the page, never sent).

import uPlot from "../../vendor/uplot/dist/uPlot.esm.js";
import { absolute, getJson } from "../api.js";
import { t } from "../i18n.js";
import { el } from "../lib/dom.js";
import { profile } from "../lib/profile.js";
import { UNITS, pair, parseGauge, statistics } from "../lib/gauge.js";
import { LEVELS, chartData, observations, split } from "../lib/series.js";
import { seriesPath } from "../lib/route.js";

export { seriesPath };

const LEVEL_COLOURS = { 0: "#1a9850", 1: "#d4a600", 2: "#e66101", 3: "#b2182b", null: "#6b6b6b" };
const LEVEL_KEYS = { 0: "feature.q0", 1: "feature.q1", 2: "feature.q2", 3: "feature.q3", null: "feature.qnull" };


function python(kind, id) {
  const url = absolute(seriesPath(kind, id, "csv"));
  return [
    "import pandas as pd",
    `series = pd.read_csv("${url}", parse_dates=["time"])`,
    "# fills are empty fields (NaN); the quality flag is a column beside the fields",
    "print(series.head())",
  ].join("\n");
}

async function copy(button, text) {
  try {
    await navigator.clipboard.writeText(text);
    button.dataset.copied = "true";
    const label = button.textContent;
    button.textContent = t("feature.copied");
    setTimeout(() => { button.textContent = label; }, 1500);
  } catch {
    window.prompt("", text);
  }
}

/// `early`: the feature and its series, asked for by main.js while this module
/// loads, as `[feature, series]` promises.
export async function featurePage(main, kind, id, early) {
  main.innerHTML = "";
  const page = el("article", { class: "feature-page" });
  main.append(page);
  let mapLink = "/portal/";
  try {
    mapLink = sessionStorage.getItem("hysope.map") || mapLink;
  } catch {
    // The plain map, then.
  }
  const title = t("feature.title", { kind: t(`kind.${kind}`), id });
  document.title = `${title} · Hysope`;
  page.append(el("p", {}, el("a", { href: mapLink, text: `← ${t("feature.back")}` })), el("h1", { text: title }));

  const [feature, series] = await Promise.all(early);
  const name = feature.properties.river_name ?? feature.properties.lake_name;
  if (name) page.querySelector("h1").textContent = `${title} · ${name}`;

  const all = series.features.length ? observations(series.features[0], kind) : [];
  const shown = new Set(LEVELS);
  const counts = el("p", { class: "counts", "aria-live": "polite" });
  const chartBox = el("div", { class: "chart", role: "img", "aria-label": t("feature.chart.label", { kind: t(`kind.${kind}`), id }) });
  // The range brush: the whole series small; dragging on it sets the chart's range.
  const brushBox = el("div", { class: "brush", role: "img", "aria-label": t("feature.brush") });
  const resetRange = el("button", { type: "button", class: "reset-range", text: t("feature.brush.reset") });
  const toggles = el("fieldset", { class: "toggles" }, el("legend", { text: t("feature.quality") }));
  for (const level of LEVELS) {
    const box = el("input", { type: "checkbox", checked: true, value: level, "data-level": level });
    box.addEventListener("change", () => {
      if (box.checked) shown.add(level);
      else shown.delete(level);
      draw();
    });
    toggles.append(el("label", {}, box, el("span", { class: "swatch", style: `background:${LEVEL_COLOURS[level]}` }), t(LEVEL_KEYS[level])));
  }
  const tableBody = el("tbody");
  const table = el("table", {},
    el("caption", { class: "visually-hidden", text: t("feature.table") }),
    el("thead", {}, el("tr", {}, ...["time", "wse", "wse_u", "width", "quality", "item"].map((c) =>
      el("th", { scope: "col", text: t(`feature.col.${c}`) })))),
    tableBody);
  const downloads = el("div", { class: "downloads" },
    el("a", { href: seriesPath(kind, id, "csv"), download: `${kind}-${id}.csv`, class: "csv", text: t("feature.csv") }),
    el("a", { href: seriesPath(kind, id, "geojson"), download: `${kind}-${id}.geojson`, text: t("feature.geojson") }),
    el("a", { href: seriesPath(kind, id, "netcdf"), download: `${kind}-${id}.nc`, text: t("feature.netcdf") }));
  const png = el("button", { type: "button", text: t("feature.png") });
  const copyUrl = el("button", { type: "button", text: t("feature.copy.url") });
  const copyPython = el("button", { type: "button", text: t("feature.copy.python") });
  copyUrl.addEventListener("click", () => copy(copyUrl, absolute(seriesPath(kind, id, "csv"))));
  copyPython.addEventListener("click", () => copy(copyPython, python(kind, id)));
  downloads.append(png, copyUrl, copyPython);
  // The gauge comparison: a file read in the page (never sent), paired with the
  // drawn observations.
  const gaugeFile = el("input", { id: "gauge-file", type: "file", accept: ".csv,.txt,.tsv,.rdb,text/csv,text/plain" });
  const gaugeUnit = el("select", { id: "gauge-unit" }, ...Object.keys(UNITS).map((u) => el("option", { value: u, text: t(`gauge.unit.${u}`) })));
  const gaugeHours = el("input", { id: "gauge-hours", type: "number", min: "0.25", max: "240", step: "0.25", value: "12", inputmode: "decimal" });
  const gaugeOut = el("div", { class: "gauge-result", "aria-live": "polite" });
  const gaugeSection = el("section", { class: "gauge", "aria-labelledby": "gauge-title" },
    el("h2", { id: "gauge-title", text: t("gauge.title") }),
    el("p", { class: "meta", text: t("gauge.hint") }),
    el("div", { class: "toolbar-inline" },
      el("label", { for: "gauge-file" }, `${t("gauge.file")} `, gaugeFile),
      el("label", { for: "gauge-unit" }, `${t("gauge.unit")} `, gaugeUnit),
      el("label", { for: "gauge-hours" }, `${t("gauge.hours")} `, gaugeHours)),
    gaugeOut);
  let gauge = null;
  let gaugeFor = new Map();
  page.append(
    el("h2", { text: t("feature.chart") }), toggles, chartBox, brushBox,
    el("p", { class: "brush-help" }, el("span", { class: "meta", text: `${t("feature.brush.help")} ` }), resetRange), counts, gaugeSection,
    el("h2", { text: t("feature.downloads") }), downloads,
    el("h2", { id: "table-title", text: t("feature.table") }),
    el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "table-title" }, table));

  if (all.length === 0) {
    chartBox.replaceWith(el("p", { class: "none", text: t("feature.none") }));
    brushBox.remove();
    resetRange.parentElement.remove();
    gaugeSection.remove();
    return;
  }

  let plot = null;
  let brush = null;
  resetRange.addEventListener("click", () => {
    const x = plot?.data[0] || [];
    if (x.length) plot.setScale("x", { min: x[0], max: x[x.length - 1] });
    brush?.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
  });
  function drawBrush(width, data) {
    brush?.destroy();
    brush = new uPlot({
      width, height: 70, legend: { show: false }, scales: { x: { time: true } },
      axes: [{ size: 24 }, { show: false }],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      series: [{}, { stroke: "#1b1f24", width: 1, points: { show: false } }],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 2) return;
          const min = u.posToVal(u.select.left, "x");
          const max = u.posToVal(u.select.left + u.select.width, "x");
          plot.setScale("x", { min, max });
        }],
      },
    }, [data[0], data[1]], brushBox);
    window.hysopeBrush = brush;
  }
  /// Pairs the drawn observations with the gauge and shows the statistics.
  function compare(drawn) {
    gaugeFor = new Map();
    if (!gauge) return;
    const hours = Number(gaugeHours.value);
    if (!(hours > 0 && hours <= 240)) {
      gaugeOut.replaceChildren(el("p", { class: "error", role: "alert", text: t("gauge.error.hours") }));
      return;
    }
    const { pairs, unpaired } = pair(drawn, gauge.points, hours * 3600000);
    for (const p of pairs) gaugeFor.set(p.time, p.gauge);
    const s = statistics(pairs);
    const m = (v) => (v === null ? t("value.none") : `${v.toFixed(3)} m`);
    window.hysopeGauge = { pairs, stats: s, unpaired, read: gauge };
    const csv = ["time,swot_wse_m,gauge_m,difference_m", ...pairs.map((p) =>
      `${new Date(p.time).toISOString()},${p.swot},${p.gauge},${p.swot - p.gauge}`)].join("\n");
    gaugeOut.replaceChildren(
      el("p", { class: "gauge-counts", text: t("gauge.counts", { points: gauge.points.length, skipped: gauge.skipped, fills: gauge.fills, pairs: pairs.length, unpaired }) }),
      el("dl", { class: "props gauge-stats" },
        el("dt", { text: t("gauge.n") }), el("dd", { "data-stat": "n", text: String(s.n) }),
        el("dt", { text: t("gauge.bias") }), el("dd", { "data-stat": "bias", text: m(s.bias) }),
        el("dt", { text: t("gauge.mae") }), el("dd", { "data-stat": "mae", text: m(s.mae) }),
        el("dt", { text: t("gauge.rmse") }), el("dd", { "data-stat": "rmse", text: m(s.rmse) }),
        el("dt", { text: t("gauge.sd") }), el("dd", { "data-stat": "sd", text: m(s.sd) }),
        el("dt", { text: t("gauge.r") }), el("dd", { "data-stat": "r", text: s.r === null ? t("value.none") : s.r.toFixed(3) })),
      pairs.length
        ? el("a", { class: "gauge-pairs", href: `data:text/csv;charset=utf-8,${encodeURIComponent(csv)}`, download: `${kind}-${id}-gauge-pairs.csv`, text: t("gauge.download") })
        : el("p", { class: "meta", text: t("gauge.none") }));
  }
  async function readGauge() {
    const file = gaugeFile.files?.[0];
    gauge = null;
    if (!file) {
      gaugeOut.replaceChildren();
      draw();
      return;
    }
    if (file.size > 64 << 20) {
      gaugeOut.replaceChildren(el("p", { class: "error", role: "alert", text: t("gauge.error.size") }));
      return;
    }
    gauge = parseGauge(await file.text(), gaugeUnit.value);
    draw();
  }
  gaugeFile.addEventListener("change", readGauge);
  gaugeUnit.addEventListener("change", readGauge);
  gaugeHours.addEventListener("change", () => draw());
  function draw() {
    const parts = split(all, shown);
    counts.textContent = t("feature.counts", { drawn: parts.drawn.length, hidden: parts.hidden.length, unobserved: parts.unobserved.length });
    chartBox.dataset.drawn = String(parts.drawn.length);
    compare(parts.drawn);
    const data = chartData(parts.drawn);
    data.push(parts.drawn.map((o) => gaugeFor.get(o.time) ?? null));
    const width = Math.max(300, chartBox.clientWidth || page.clientWidth || 600);
    const options = {
      width,
      height: 320,
      cursor: { drag: { x: true, y: false } },
      // The quality toggles above are the legend.
      legend: { show: false },
      scales: { x: { time: true } },
      axes: [{}, { label: "WSE (m)" }],
      series: [
        {},
        { label: "WSE", stroke: "#1b1f24", width: 1, points: { show: false } },
        ...LEVELS.map((level) => ({
          label: t(LEVEL_KEYS[level]),
          stroke: LEVEL_COLOURS[level],
          fill: LEVEL_COLOURS[level],
          width: 0,
          paths: () => null,
          points: { show: true, size: 8, fill: LEVEL_COLOURS[level] },
        })),
        { label: t("feature.band"), stroke: "rgba(11,92,173,.35)", width: 1, points: { show: false } },
        { label: t("feature.band"), stroke: "rgba(11,92,173,.35)", width: 1, points: { show: false } },
        { label: t("gauge.series"), stroke: "#b34700", width: 0, paths: () => null, points: { show: true, size: 9, width: 2, fill: "#fff", stroke: "#b34700" } },
      ],
      bands: [{ series: [LEVELS.length + 3, LEVELS.length + 2], fill: "rgba(11,92,173,.12)" }],
    };
    plot?.destroy();
    plot = new uPlot(options, data, chartBox);
    // The brush after the chart is painted: the chart first.
    const brushData = [data[0], data[1]];
    requestAnimationFrame(() => drawBrush(width, brushData));
    window.hysopeChart = { data, plot };
    // The table's rows are made once, after the chart is painted; a redraw only
    // says which are drawn.
    if (rows) markRows();
    else requestAnimationFrame(fillTable);
  }
  let rows = null;
  const rowClass = (o) => (o.wse === null ? "unobserved" : shown.has(o.quality) ? "drawn" : "hidden");
  function markRows() {
    rows.forEach((tr, i) => { tr.className = rowClass(all[i]); });
  }
  function fillTable() {
    if (rows) return;
    rows = all.map((o) => el("tr", { class: rowClass(o) },
      el("td", { text: o.iso.replace("T", " ").replace("Z", "") }),
      el("td", { text: o.wse === null ? t("value.none") : o.wse.toFixed(3) }),
      el("td", { text: o.wse_u === null ? t("value.none") : o.wse_u.toFixed(3) }),
      el("td", { text: o.width === null ? t("value.none") : o.width.toFixed(1) }),
      el("td", { text: o.quality === "null" ? t("feature.qnull") : o.quality }),
      el("td", { text: o.item ?? "" })));
    tableBody.replaceChildren(...rows);
  }
  png.addEventListener("click", () => {
    const canvas = chartBox.querySelector("canvas");
    if (!canvas) return;
    const a = el("a", { href: canvas.toDataURL("image/png"), download: `${kind}-${id}.png` });
    document.body.append(a);
    a.click();
    a.remove();
  });
  draw();
  // For the benchmark (portal/bench): when the chart was first drawn.
  performance.mark("hysope:chart");
  if (kind === "reach") await profileSection(id, all, chartBox);
  window.addEventListener("resize", () => {
    plot?.setSize({ width: Math.max(300, chartBox.clientWidth), height: 320 });
    brush?.setSize({ width: Math.max(300, chartBox.clientWidth), height: 70 });
  });
}

/// A reach's longitudinal profile: its nodes' WSE (left axis) and width (right)
/// in SWORD's node order at a chosen pass of the reach.
async function profileSection(id, passes, before) {
  const times = passes.filter((o) => o.wse !== null).map((o) => o.time);
  const section = el("section", { class: "profile-section", "aria-labelledby": "profile-title" },
    el("h2", { id: "profile-title", text: t("profile.title") }));
  before.parentElement.insertBefore(section, before.nextElementSibling?.nextElementSibling ?? null);
  const nodes = await getJson(`/timeseries/nodes?reach=${encodeURIComponent(id)}&f=geojson&fields=wse,width`);
  if (times.length === 0 || nodes.features.length === 0) {
    section.append(el("p", { text: t("profile.none") }));
    return;
  }
  const select = el("select", { id: "profile-pass" },
    ...times.map((time) => el("option", { value: String(time), text: new Date(time).toISOString().replace("T", " ").slice(0, 19) })));
  select.value = String(times[times.length - 1]);
  const box = el("div", { class: "chart profile", role: "img", "aria-label": t("profile.label", { id }) });
  const counts = el("p", { class: "profile-counts", "aria-live": "polite" });
  section.append(el("label", {}, `${t("profile.pass")} `, select), box, counts);
  let plot = null;
  const drawProfile = () => {
    const { points, unobserved } = profile(nodes.features, Number(select.value));
    counts.textContent = t("profile.counts", { drawn: points.length, unobserved });
    box.dataset.drawn = String(points.length);
    const data = [points.map((p) => p.n), points.map((p) => p.wse), points.map((p) => p.width)];
    plot?.destroy();
    plot = new uPlot({
      width: Math.max(300, box.clientWidth || 600),
      height: 260,
      legend: { show: false },
      scales: { x: { time: false }, width: {} },
      axes: [{ label: t("profile.axis") }, { label: "WSE (m)" }, { side: 1, scale: "width", label: `${t("feature.col.width")}`, grid: { show: false } }],
      series: [
        {},
        { label: "WSE", stroke: "#0b5cad", width: 2, points: { show: true, size: 5 } },
        { label: t("feature.col.width"), stroke: "#8c510a", width: 1, dash: [4, 4], scale: "width", points: { show: false } },
      ],
    }, data, box);
    window.hysopeProfile = { data };
  };
  select.addEventListener("change", drawProfile);
  drawProfile();
}

