// A successful job's results on its page: every output as a download, the
// geographic ones (GeoJSON) drawn on a map, the series (a CSV with a column of
// dates) as a chart of a chosen column, and the provenance its result item
// records (the process and version, the sha256 of each component it ran, the
// inputs, the items it was derived from).

import uPlot from "../../vendor/uplot/dist/uPlot.esm.js";
import { download, getJson, getText } from "../api.js";
import { t } from "../i18n.js";
import { boxOf, union } from "../lib/bbox.js";
import { el } from "../lib/dom.js";
import { parseCsv, seriesColumns, seriesData } from "../lib/table.js";

/// The largest result file read into the page (bigger ones are downloads only).
const MAX_READ = 8 << 20;

function isGeo(o) {
  return /geo\+json/.test(o.type || "") || /\.geojson$/i.test(o.href);
}

function isCsv(o) {
  return /text\/csv/.test(o.type || "") || /\.csv$/i.test(o.href);
}

function nameOf(href) {
  return decodeURIComponent(href.split("/").pop());
}

/// Every output file (an array output's files each) with its output name.
function files(outputs) {
  return Object.entries(outputs).flatMap(([name, v]) => (Array.isArray(v) ? v : [v])
    .filter((o) => o && o.href).map((o) => ({ ...o, output: name, path: new URL(o.href, location.origin).pathname })));
}

async function mapOf(container, collection) {
  const { baseMap, loaded } = await import("./mapbase.js");
  const box = union(collection.features.filter((f) => f.geometry).map((f) => f.bbox || boxOf(f.geometry)).filter((b) => b[0] <= b[2]));
  const map = await baseMap(container, { attribution: "Natural Earth · Hysope" });
  await loaded(map);
  map.addSource("result", { type: "geojson", data: collection });
  map.addLayer({ id: "result-fill", type: "fill", source: "result", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#0b5cad", "fill-opacity": 0.35 } });
  map.addLayer({ id: "result-line", type: "line", source: "result", filter: ["in", ["geometry-type"], ["literal", ["LineString", "MultiLineString", "Polygon"]]], paint: { "line-color": "#0b5cad", "line-width": 2.5 } });
  map.addLayer({ id: "result-point", type: "circle", source: "result", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": "#0b5cad", "circle-radius": 4, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
  if (box) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 30, duration: 0, maxZoom: 12 });
  map.once("idle", () => { container.dataset.state = "idle"; });
  return map;
}

function chartOf(container, table, columns) {
  const pick = el("select", { id: `col-${container.id}` }, ...columns.numeric.map((c) => el("option", { value: c, text: c })));
  pick.value = columns.numeric.includes("wse") ? "wse" : columns.numeric.find((c) => !/_id$|^id$/.test(c)) || columns.numeric[0];
  const box = el("div", { class: "chart", role: "img" });
  const note = el("p", { class: "counts" });
  let plot = null;
  const draw = () => {
    const data = seriesData(table, columns.time, pick.value);
    const drawn = data[1].filter((v) => v !== null).length;
    note.textContent = t("results.chart.counts", { drawn, missing: data[1].length - drawn });
    box.setAttribute("aria-label", t("results.chart.label", { column: pick.value, time: columns.time }));
    box.dataset.drawn = String(drawn);
    plot?.destroy();
    plot = new uPlot({
      width: Math.max(300, container.clientWidth || 600), height: 260,
      scales: { x: { time: true } }, legend: { show: false },
      axes: [{}, { label: pick.value }],
      series: [{}, { label: pick.value, stroke: "#0b5cad", width: 1.5, points: { show: true, size: 6, fill: "#0b5cad" }, spanGaps: false }],
    }, data, box);
    window.hysopeResultChart = { data, column: pick.value };
  };
  pick.addEventListener("change", draw);
  container.append(el("label", { for: pick.id }, `${t("results.chart.column")} `, pick), box, note);
  draw();
}

/// Fills `container` with the results `outputs` (the job's results document) of
/// job `id`; `alert` shows what failed.
export async function showResults(container, id, outputs, alert) {
  const list = files(outputs);
  const literal = Object.entries(outputs).filter(([, v]) => !(v && v.href) && !(Array.isArray(v) && v.some((o) => o && o.href)));
  container.append(el("h2", { text: t("jobs.results") }),
    el("ul", { class: "outputs" },
      ...list.map((o) => el("li", {}, `${o.output}: `, el("a", { href: o.href, class: "output", onclick: (e) => {
        e.preventDefault();
        download(o.path, nameOf(o.href)).catch((err) => { alert.textContent = err.message; });
      }, text: `${nameOf(o.href)} (${o.type || ""}, ${o.size ?? "?"} B)` }))),
      ...literal.map(([name, v]) => el("li", {}, `${name}: `, el("code", { text: JSON.stringify(v) })))));

  // Geographic outputs on a map, series as a chart: the first of each, others on demand.
  const geo = list.filter((o) => isGeo(o) && (o.size ?? 0) <= MAX_READ);
  const csv = list.filter((o) => isCsv(o) && (o.size ?? 0) <= MAX_READ);
  if (geo.length) {
    const pick = el("select", { id: "geo-output" }, ...geo.map((o, i) => el("option", { value: String(i), text: nameOf(o.href) })));
    const mapBox = el("div", { id: "result-map", class: "result-map", role: "region", "aria-label": t("results.map.label") });
    const note = el("p", { class: "counts" });
    container.append(el("h2", { text: t("results.map") }), el("label", { for: "geo-output" }, `${t("results.file")} `, pick), mapBox, note);
    let map = null;
    const show = async () => {
      const o = geo[Number(pick.value)];
      try {
        const collection = JSON.parse(await getText(o.path));
        const features = collection.type === "FeatureCollection" ? collection : { type: "FeatureCollection", features: [collection] };
        note.textContent = t("results.map.counts", { n: features.features.length });
        mapBox.dataset.features = String(features.features.length);
        if (map) {
          map.getSource("result").setData(features);
        } else {
          map = await mapOf(mapBox, features);
          window.hysopeResultMap = map;
        }
      } catch (err) {
        note.textContent = t("error.load", { what: nameOf(o.href), why: err.message });
      }
    };
    pick.addEventListener("change", show);
    await show();
  }
  for (const [i, o] of csv.entries()) {
    let table;
    try {
      table = parseCsv(await getText(o.path));
    } catch {
      continue;
    }
    const columns = seriesColumns(table);
    if (!columns.time || columns.numeric.length === 0) continue;
    const section = el("section", { id: `series-${i}`, class: "result-series" }, el("h2", { text: t("results.chart", { name: nameOf(o.href) }) }));
    container.append(section);
    chartOf(section, table, columns);
    break;
  }

  // Provenance: the job's result item.
  let item = null;
  try {
    item = await getJson(`/stac/collections/results/items/${encodeURIComponent(id)}`);
  } catch {
    return;
  }
  const p = item.properties || {};
  const derived = (item.links || []).filter((l) => l.rel === "derived_from");
  const portalPath = (href) => {
    const m = new URL(href, location.origin).pathname.match(/^\/stac\/collections\/([^/]+)\/items\/([^/]+)$/);
    return m ? `/portal/items/${m[1]}/${m[2]}` : href;
  };
  container.append(el("section", { class: "provenance" },
    el("h2", { text: t("results.provenance") }),
    el("dl", { class: "props" },
      el("dt", { text: t("results.process") }), el("dd", { text: `${p["hysope:process_id"] ?? ""} (${Object.entries(p["processing:software"] || {}).map(([k, v]) => `${k} ${v}`).join(", ")})` }),
      el("dt", { text: t("results.components") }), el("dd", {}, ...(p["hysope:components"] || []).map((c) => el("div", { class: "digest", text: `${c.component} sha256:${c.sha256}` }))),
      el("dt", { text: t("results.lineage") }), el("dd", { text: p["processing:lineage"] || "" }),
      el("dt", { text: t("results.derived") }), el("dd", {}, ...(derived.length
        ? derived.map((l) => el("div", {}, el("a", { href: portalPath(l.href), text: decodeURIComponent(new URL(l.href, location.origin).pathname.split("/").pop()) })))
        : [t("value.none")])),
      el("dt", { text: t("results.item") }), el("dd", {}, el("a", { class: "result-item", href: `/portal/items/results/${encodeURIComponent(id)}`, text: item.id }))),
    el("details", {}, el("summary", { text: t("results.inputs") }), el("pre", { class: "preview", text: JSON.stringify(p["hysope:inputs"] ?? {}, null, 2) }))));
}
