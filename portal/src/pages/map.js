// The map: an offline basemap (Natural Earth land), the reaches as lines, the
// lakes as polygons (both as dots at low zoom), the nodes from zoom 11, coloured
// by the chosen variable (features without a usable value in grey, never on the
// ramp); filters as removable chips (quality, date, a box drawn on the map or
// the view taken as the box); a search by id or name; a click opens the
// feature's panel. The view, colour, filters and selection live in the URL.

import { getJson } from "../api.js";
import { t } from "../i18n.js";
import { boxOf, union } from "../lib/bbox.js";
import { el } from "../lib/dom.js";
import { UNKNOWN, VARIABLES, colourFor, expression, ramp } from "../lib/colour.js";
import { featuresPath, overlap, parseState, searchTarget, stateQuery, viewBox } from "../lib/mapstate.js";
import { collectionOf, featurePath } from "../lib/route.js";
import { baseMap, boxDrawer, loaded, viewAsBox } from "./mapbase.js";

/// Features of one kind drawn at most (the API's largest page).
const LIMIT = 10000;
const NODE_ZOOM = 11;
const LINE_ZOOM = 6;
const KINDS = ["reach", "lake", "node"];

function empty() {
  return { type: "FeatureCollection", features: [] };
}

/// A point at the centre of each feature's box, for the low zooms.
function centres(features, kind) {
  return features.map((f) => {
    const box = f.bbox || boxOf(f.geometry);
    return {
      type: "Feature",
      properties: { ...f.properties, kind },
      geometry: { type: "Point", coordinates: [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2] },
    };
  });
}


function formatValue(key, value) {
  if (value === null || value === undefined) return t("value.none");
  if (key === "wse" || key === "wse_median" || key === "wse_anomaly") return `${value.toFixed(3)} m`;
  if (key === "last_observation") return value.replace("T", " ").replace("Z", " UTC");
  return String(value);
}

const PROPS = [
  "name", "reach_id", "wse", "wse_median", "wse_anomaly", "last_observation",
  "days_since_last_observation", "quality", "usable_passes", "passes",
];

export async function mapPage(main) {
  document.title = `${t("map.title")} · Hysope`;
  const state = parseState(location.search);
  main.innerHTML = "";
  const status = el("p", { class: "status", role: "status", "aria-live": "polite", text: t("map.loading") });
  const variableSelect = el("select", { id: "colour" },
    ...Object.keys(VARIABLES).map((v) => el("option", { value: v, text: t(`map.var.${v}`) })));
  variableSelect.value = state.variable;
  const qualitySelect = el("select", { id: "quality" },
    el("option", { value: "", text: t("map.filter.any") }),
    ...[0, 1, 2].map((q) => el("option", { value: String(q), text: String(q) })));
  qualitySelect.value = state.quality === null ? "" : String(state.quality);
  const sinceInput = el("input", { id: "since", type: "date", value: state.since || "" });
  const searchInput = el("input", {
    id: "search", type: "search", autocomplete: "off", role: "combobox",
    "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": "suggestions",
    placeholder: t("map.search"),
  });
  const suggestions = el("ul", { id: "suggestions", class: "suggestions", role: "listbox", hidden: true, "aria-label": t("map.search") });
  const chips = el("ul", { class: "chips", "aria-label": t("map.filters") });
  const drawButton = el("button", { type: "button", class: "draw-box", "aria-pressed": "false", text: t("map.box.draw") });
  const viewButton = el("button", { type: "button", class: "view-box", text: t("map.box.view") });
  const legend = el("div", { class: "legend", "aria-live": "polite" });
  const panel = el("aside", { class: "panel", hidden: true, "aria-labelledby": "panel-title" });
  const mapDiv = el("div", { id: "map", role: "region", "aria-label": t("map.label") });
  const toolbar = el("div", { class: "toolbar" },
    el("form", { class: "search", role: "search", onsubmit: (e) => { e.preventDefault(); search(searchInput.value, true); } },
      el("label", {}, el("span", { class: "visually-hidden", text: t("map.search") }), searchInput),
      el("button", { type: "submit", text: t("map.search.go") }),
      suggestions),
    el("label", {}, t("map.colour"), variableSelect),
    el("label", {}, t("map.filter.quality"), qualitySelect),
    el("label", {}, t("map.filter.since"), sinceInput),
    el("div", { class: "box-tools", role: "group", "aria-label": t("map.filter.box") }, drawButton, viewButton),
    chips);
  const page = el("section", { class: "map-page" },
    el("h1", { class: "visually-hidden", text: t("map.title") }),
    toolbar,
    el("div", { class: "map-wrap" }, mapDiv, legend, panel),
    status);
  main.append(page);

  const map = await baseMap(mapDiv, {
    center: state.center || [0, 20],
    zoom: state.zoom ?? 1,
    attribution: "Natural Earth · SWOT (NASA/CNES)",
  });
  window.hysopeMap = map;
  let loading = null;
  let firstLoad = !state.center;
  // The features are asked for while the map loads its style and basemap.
  const first = request();
  await loaded(map);

  for (const kind of KINDS) map.addSource(kind, { type: "geojson", data: empty(), promoteId: `${kind}_id` });
  map.addSource("centres", { type: "geojson", data: empty() });
  // Hovered and selected features are drawn wider.
  const hoverWidth = (base) => ["case",
    ["any", ["boolean", ["feature-state", "hover"], false], ["boolean", ["feature-state", "selected"], false]], base + 3, base];
  map.addLayer({ id: "lake-fill", type: "fill", source: "lake", minzoom: LINE_ZOOM, paint: { "fill-color": UNKNOWN, "fill-opacity": 0.75 } });
  map.addLayer({ id: "lake-line", type: "line", source: "lake", minzoom: LINE_ZOOM, paint: { "line-color": "#1b1f24", "line-width": hoverWidth(0.5) } });
  // A dark casing under each reach: a colour near the paper's (a null anomaly) stays visible.
  map.addLayer({ id: "reach-casing", type: "line", source: "reach", minzoom: LINE_ZOOM, layout: { "line-cap": "round" }, paint: { "line-color": "#1b1f24", "line-width": hoverWidth(5) } });
  map.addLayer({ id: "reach-line", type: "line", source: "reach", minzoom: LINE_ZOOM, layout: { "line-cap": "round" }, paint: { "line-color": UNKNOWN, "line-width": hoverWidth(3) } });
  map.addLayer({ id: "node-point", type: "circle", source: "node", minzoom: NODE_ZOOM, paint: { "circle-color": UNKNOWN, "circle-radius": ["case", ["boolean", ["feature-state", "hover"], false], 7, 4], "circle-stroke-color": "#1b1f24", "circle-stroke-width": 0.5 } });
  map.addLayer({ id: "centre-point", type: "circle", source: "centres", maxzoom: LINE_ZOOM, paint: { "circle-color": UNKNOWN, "circle-radius": 4, "circle-stroke-color": "#1b1f24", "circle-stroke-width": 0.6 } });
  const drawer = boxDrawer(map, {
    current: state.box,
    onBox: (box) => {
      if (box) {
        setBox(box);
        reload();
      }
    },
    button: drawButton,
    onStart: () => { status.textContent = t("map.box.how"); },
  });
  const layers = ["node-point", "reach-line", "lake-fill", "centre-point"];
  const drawn = { reach: [], lake: [], node: [] };

  function recolour() {
    const values = [...drawn.reach, ...drawn.lake, ...drawn.node].map((f) => f.properties[state.variable]);
    const r = ramp(state.variable, values);
    const colour = expression(r);
    map.setPaintProperty("reach-line", "line-color", colour);
    map.setPaintProperty("lake-fill", "fill-color", colour);
    map.setPaintProperty("node-point", "circle-color", colour);
    map.setPaintProperty("centre-point", "circle-color", colour);
    drawLegend(r);
  }

  function drawLegend(r) {
    legend.innerHTML = "";
    const unit = t(VARIABLES[state.variable].unit);
    legend.append(el("strong", { text: `${t(`map.var.${state.variable}`)} (${unit})` }));
    if (r.kind === "categorical") {
      legend.append(el("ul", {}, ...r.stops.map(([v, c]) =>
        el("li", {}, el("span", { class: "swatch", style: `background:${c}` }), `${v}`))));
    } else {
      const stops = r.stops.map(([, c], i) => `${c} ${(100 * i) / (r.stops.length - 1)}%`).join(",");
      const lo = r.stops[0][0];
      const hi = r.stops[r.stops.length - 1][0];
      const fmt = (v) => (Math.abs(hi - lo) < 10 ? v.toFixed(2) : v.toFixed(0));
      legend.append(
        el("div", { class: "bar", style: `background:linear-gradient(to right,${stops})`, role: "img", "aria-label": `${fmt(lo)} … ${fmt(hi)} ${unit}` }),
        el("div", { class: "ends" }, el("span", { text: `≤ ${fmt(lo)}` }), el("span", { text: `≥ ${fmt(hi)}` })));
    }
    legend.append(el("div", {}, el("span", { class: "swatch", style: `background:${UNKNOWN}` }), t("map.unknown")));
  }

  function drawChips() {
    chips.innerHTML = "";
    const chip = (label, clear) => chips.append(el("li", {}, el("button", {
      type: "button", "aria-label": t("map.filter.remove", { what: label }),
      onclick: () => { clear(); reload(); },
    }, `${label} ✕`)));
    if (state.quality !== null) chip(`${t("map.filter.quality")} ${state.quality}`, () => { state.quality = null; qualitySelect.value = ""; });
    if (state.since) chip(`${t("map.filter.since")} ${state.since}`, () => { state.since = null; sinceInput.value = ""; });
    if (state.box) chip(`${t("map.filter.box")} ${state.box.join(", ")}`, () => { setBox(null); });
  }

  function setBox(box) {
    state.box = box;
    drawer.show(box);
  }

  function remember() {
    const c = map.getCenter();
    state.center = [c.lng, c.lat];
    state.zoom = map.getZoom();
    const query = stateQuery(state);
    history.replaceState(null, "", `${location.pathname}${query}`);
    try {
      sessionStorage.setItem("hysope.map", `${location.pathname}${query}`);
    } catch {
      // Nowhere to keep it: the feature page's link goes to the plain map.
    }
  }

  /// Starts the requests of the features in view: below the lines' zoom, without
  /// their geometries (the map draws dots at their boxes' centres).
  function request() {
    loading?.abort();
    const controller = new AbortController();
    loading = controller;
    const b = map.getBounds();
    const view = firstLoad ? [-180, -90, 180, 90] : viewBox(b.getWest(), b.getSouth(), b.getEast(), b.getNorth());
    // A box filter: the part of the view inside it (nothing when they do not meet).
    const bbox = overlap(view, state.box);
    const zoom = map.getZoom();
    const kinds = zoom >= NODE_ZOOM ? KINDS : ["reach", "lake"];
    const bare = firstLoad || zoom < LINE_ZOOM;
    const pages = bbox === null
      ? Promise.resolve(kinds.map(() => ({ features: [], numberMatched: 0 })))
      : Promise.all(kinds.map((kind) =>
        getJson(featuresPath(kind, bbox, state, LIMIT, bare), { signal: controller.signal })));
    pages.catch(() => {});
    return { controller, kinds, pages };
  }

  async function reload(pending = request()) {
    drawChips();
    remember();
    const { controller, kinds } = pending;
    status.textContent = t("map.loading");
    mapDiv.dataset.state = "loading";
    try {
      const pages = await pending.pages;
      let truncated = false;
      for (const kind of KINDS) {
        const i = kinds.indexOf(kind);
        const features = i < 0 ? [] : pages[i].features;
        if (i >= 0 && (pages[i].numberMatched ?? 0) > features.length) truncated = true;
        drawn[kind] = features;
        map.getSource(kind).setData({ type: "FeatureCollection", features });
      }
      map.getSource("centres").setData({ type: "FeatureCollection", features: [...centres(drawn.reach, "reach"), ...centres(drawn.lake, "lake")] });
      recolour();
      status.textContent = t("map.count", { reaches: drawn.reach.length, lakes: drawn.lake.length, nodes: drawn.node.length })
        + (truncated ? ` ${t("map.truncated", { n: LIMIT })}` : "");
      if (firstLoad) {
        firstLoad = false;
        const box = union([...drawn.reach, ...drawn.lake].map((f) => f.bbox || boxOf(f.geometry)).filter((x) => x[0] <= x[2]));
        if (box) {
          map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 40, duration: 0, maxZoom: 12 });
        }
      }
      map.once("idle", () => {
        if (loading !== controller) return;
        mapDiv.dataset.state = "idle";
        // For the benchmark (portal/bench): when the map first had all it asked for drawn.
        if (performance.getEntriesByName("hysope:map-idle").length === 0) performance.mark("hysope:map-idle");
      });
      map.triggerRepaint();
    } catch (e) {
      if (e.name === "AbortError") return;
      status.textContent = t("error.load", { what: "features", why: e.message });
      mapDiv.dataset.state = "error";
    }
  }

  let timer = null;
  map.on("moveend", () => {
    clearTimeout(timer);
    timer = setTimeout(reload, 200);
  });
  variableSelect.addEventListener("change", () => { state.variable = variableSelect.value; recolour(); remember(); });
  qualitySelect.addEventListener("change", () => { state.quality = qualitySelect.value === "" ? null : Number(qualitySelect.value); reload(); });
  sinceInput.addEventListener("change", () => { state.since = sinceInput.value || null; reload(); });

  // The box filter: drawn by dragging on the map once the button is pressed (Escape
  // stops), or the view as it is (by keyboard too).
  viewButton.addEventListener("click", () => {
    setBox(viewAsBox(map));
    reload();
  });

  // Hover highlight and click.
  let hovered = null;
  map.on("mousemove", (e) => {
    const hit = map.queryRenderedFeatures(e.point, { layers })[0];
    if (hovered && (!hit || hit.id !== hovered.id)) {
      map.setFeatureState(hovered, { hover: false });
      hovered = null;
    }
    if (hit && hit.layer.id !== "centre-point") {
      hovered = { source: hit.source, id: hit.id };
      map.setFeatureState(hovered, { hover: true });
    }
    map.getCanvas().style.cursor = hit ? "pointer" : "";
  });
  map.on("click", (e) => {
    if (drawer.active) return;
    const hit = map.queryRenderedFeatures(e.point, { layers })[0];
    if (!hit) return;
    const kind = hit.source === "centres" ? hit.properties.kind : hit.source;
    open(kind, String(hit.properties[`${kind}_id`]));
  });

  async function open(kind, id, fly = false) {
    let f;
    try {
      f = await getJson(`/features/collections/${collectionOf(kind)}/items/${encodeURIComponent(id)}`);
    } catch (e) {
      status.textContent = e.status === 404 ? t("map.search.none", { q: id }) : t("error.load", { what: id, why: e.message });
      return;
    }
    if (state.selected && map.getSource(state.selected.kind)) {
      map.removeFeatureState({ source: state.selected.kind, id: state.selected.id }, "selected");
    }
    state.selected = { kind, id };
    map.setFeatureState({ source: kind, id }, { selected: true });
    remember();
    if (fly) {
      const box = boxOf(f.geometry);
      if (box[0] <= box[2]) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 80, maxZoom: kind === "node" ? 14 : 11, duration: 0 });
    }
    const props = { ...f.properties, name: f.properties.river_name ?? f.properties.lake_name ?? null };
    if (kind !== "node") delete props.reach_id;
    panel.innerHTML = "";
    const close = el("button", { type: "button", "aria-label": t("panel.close"), text: "✕", onclick: () => {
      panel.hidden = true;
      map.removeFeatureState({ source: kind, id }, "selected");
      state.selected = null;
      remember();
      mapDiv.querySelector("canvas")?.focus();
    } });
    panel.append(
      el("header", {}, el("h2", { id: "panel-title", tabindex: "-1", text: `${t(`kind.${kind}`)} ${id}` }), close),
      el("dl", { class: "props" }, ...PROPS.filter((k) => k in props).flatMap((k) => [
        el("dt", { text: t(`prop.${k}`) }),
        el("dd", { "data-prop": k, text: formatValue(k, props[k]) }),
      ])),
      el("p", {}, el("a", { href: featurePath(kind, id), class: "open", text: t("panel.open") })));
    const value = props[state.variable];
    const colour = colourFor(ramp(state.variable, [value]), value);
    panel.dataset.colour = colour || "none";
    panel.dataset.kind = kind;
    panel.dataset.id = id;
    panel.hidden = false;
    panel.querySelector("h2").focus();
  }

  // Search: ids go straight to the feature; names complete from the name index.
  let options = [];
  let active = -1;
  function showSuggestions(list) {
    options = list;
    active = -1;
    suggestions.innerHTML = "";
    list.forEach((hit, i) => suggestions.append(el("li", {
      id: `suggestion-${i}`, role: "option", "aria-selected": "false",
      onmousedown: (e) => { e.preventDefault(); choose(i); },
    }, `${hit.name} — ${t(`kind.${hit.kind}`)} (${hit.count})`)));
    suggestions.hidden = list.length === 0;
    searchInput.setAttribute("aria-expanded", String(list.length > 0));
  }
  function choose(i) {
    const hit = options[i];
    if (!hit) return;
    showSuggestions([]);
    searchInput.value = hit.name;
    const [w, s, e, n] = hit.bbox;
    map.fitBounds([[w, s], [e, n]], { padding: 60, maxZoom: 12, duration: 0 });
    if (hit.ids.length === 1) open(hit.kind, hit.ids[0]);
  }
  async function search(text, submit) {
    const target = searchTarget(text);
    if (target.id) {
      if (submit) open(target.kind, target.id, true);
      return;
    }
    if (target.name.length < 2) {
      showSuggestions([]);
      return;
    }
    let found;
    try {
      found = await getJson(`/features/names?q=${encodeURIComponent(target.name)}&limit=8`);
    } catch (e) {
      status.textContent = t("error.load", { what: target.name, why: e.message });
      return;
    }
    showSuggestions(found.names);
    if (!submit) return;
    if (found.names.length) choose(0);
    else status.textContent = t("map.search.none", { q: target.name });
  }
  let typing = null;
  searchInput.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => search(searchInput.value, false), 150);
  });
  searchInput.addEventListener("keydown", (e) => {
    if (suggestions.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      [...suggestions.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
      searchInput.setAttribute("aria-activedescendant", `suggestion-${active}`);
    } else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      choose(active);
    } else if (e.key === "Escape") {
      showSuggestions([]);
    }
  });
  searchInput.addEventListener("blur", () => setTimeout(() => showSuggestions([]), 100));

  await reload(first);
  if (state.selected) open(state.selected.kind, state.selected.id);
}
