// The catalogue: a STAC search (collections, a box, dates, a CQL2 filter), its
// results with their footprints on a small map, page after page; each item opens
// its page. The form's values live in the URL, so a search can be shared.

import { getJson, postJson } from "../api.js";
import { t } from "../i18n.js";
import { union } from "../lib/bbox.js";
import { el, showErrors } from "../lib/dom.js";
import { searchBody } from "../lib/stacquery.js";
import { baseMap, boxDrawer, loaded } from "./mapbase.js";

const FIELDS = ["west", "south", "east", "north", "start", "end", "filter"];

function input(name, attrs = {}) {
  return el("label", { class: `field field-${name}` }, t(`catalogue.${name}`),
    el("input", { name, id: `f-${name}`, "aria-describedby": `e-${name}`, ...attrs }),
    el("span", { class: "field-error error", id: `e-${name}`, "aria-live": "polite" }));
}

export async function cataloguePage(main) {
  main.innerHTML = "";
  document.title = `${t("catalogue.title")} · Hysope`;
  const params = new URLSearchParams(location.search);
  const collections = (await getJson("/stac/collections")).collections;
  const chosen = new Set(params.getAll("collection"));
  const form = el("form", { class: "search-form", novalidate: true },
    el("fieldset", { class: "collections" }, el("legend", { text: t("catalogue.collections") }),
      ...collections.map((c) => el("label", {},
        el("input", { type: "checkbox", name: "collection", value: c.id, checked: chosen.has(c.id) }),
        c.title || c.id))),
    el("fieldset", { class: "box" }, el("legend", { text: t("catalogue.bbox") }),
      ...["west", "south", "east", "north"].map((s) => input(s, { inputmode: "decimal", size: 8 })),
      el("button", { type: "button", class: "catalogue-draw", "aria-pressed": "false", text: t("map.box.draw") })),
    el("fieldset", { class: "dates" }, el("legend", { text: t("catalogue.dates") }),
      input("start", { type: "date" }), input("end", { type: "date" })),
    input("filter", { placeholder: "cycle_id = 49", size: 30 }),
    el("button", { type: "submit", class: "primary", text: t("catalogue.search") }));
  for (const name of FIELDS) {
    if (params.has(name)) form.elements[name].value = params.get(name);
  }
  const alert = el("p", { class: "error", role: "alert" });
  const summary = el("p", { class: "summary", "aria-live": "polite" });
  const list = el("ol", { class: "results" });
  const more = el("button", { type: "button", hidden: true, text: t("catalogue.more") });
  const mapDiv = el("div", { class: "footprints", role: "region", "aria-label": t("catalogue.footprints") });
  main.append(el("section", { class: "catalogue-page" },
    el("h1", { text: t("catalogue.title") }), form, alert,
    el("div", { class: "results-wrap" }, el("div", {}, summary, list, more), mapDiv)));

  const map = await baseMap(mapDiv, { center: [0, 10], zoom: 0 });
  await loaded(map);
  map.addSource("footprints", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: "footprint-fill", type: "fill", source: "footprints", paint: { "fill-color": "#0b5cad", "fill-opacity": 0.25 } });
  map.addLayer({ id: "footprint-line", type: "line", source: "footprints", paint: { "line-color": "#0b5cad", "line-width": 1.5 } });
  map.addLayer({ id: "footprint-point", type: "circle", source: "footprints", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": "#0b5cad", "circle-radius": 4 } });
  // A box drawn on the small map fills the box's four fields.
  const drawButton = form.querySelector(".catalogue-draw");
  const sides = ["west", "south", "east", "north"];
  const given = sides.map((n) => Number(form.elements[n].value));
  const drawer = boxDrawer(map, {
    current: sides.every((n) => form.elements[n].value.trim() !== "") && given.every(Number.isFinite) ? given : null,
    onBox: (box) => {
      if (!box) return;
      sides.forEach((n, i) => { form.elements[n].value = String(box[i]); });
      form.elements.west.focus();
    },
    button: drawButton,
    onStart: () => { summary.textContent = t("map.box.how"); },
  });
  const shown = [];
  let next = null;

  function drawFootprints() {
    const features = shown.filter((i) => i.geometry).map((i) => ({ type: "Feature", geometry: i.geometry, properties: { id: i.id } }));
    map.getSource("footprints").setData({ type: "FeatureCollection", features });
    mapDiv.dataset.drawn = String(features.length);
    const b = union(shown.map((i) => i.bbox).filter((x) => Array.isArray(x) && x.length >= 4));
    if (b) {
      map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, duration: 0, maxZoom: 8 });
    }
  }

  function show(page, append) {
    if (!append) {
      list.innerHTML = "";
      shown.length = 0;
    }
    for (const item of page.features) {
      shown.push(item);
      const when = item.properties.datetime || item.properties.start_datetime || "";
      list.append(el("li", {},
        el("a", { href: `/portal/items/${encodeURIComponent(item.collection)}/${encodeURIComponent(item.id)}`, text: item.id }),
        el("span", { class: "meta", text: ` ${item.collection} · ${when.replace("T", " ").replace("Z", " UTC")} · ${t("catalogue.assets", { n: Object.keys(item.assets || {}).length })}` })));
    }
    summary.textContent = t("catalogue.count", { shown: shown.length, matched: page.numberMatched ?? "?" });
    next = (page.links || []).find((l) => l.rel === "next") || null;
    more.hidden = !next;
    drawFootprints();
  }

  async function run(body, append) {
    alert.textContent = "";
    try {
      show(await postJson("/stac/search", body), append);
    } catch (e) {
      alert.textContent = t("error.load", { what: t("catalogue.results"), why: e.message });
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const values = { collections: [...form.querySelectorAll("input[name=collection]:checked")].map((c) => c.value) };
    for (const name of FIELDS) values[name] = form.elements[name].value;
    const { body, errors } = searchBody(values);
    if (!showErrors(form, FIELDS, errors)) return;
    const query = new URLSearchParams();
    for (const c of values.collections) query.append("collection", c);
    for (const name of FIELDS) if (values[name].trim()) query.set(name, values[name].trim());
    history.replaceState(null, "", `${location.pathname}${query.size ? `?${query}` : ""}`);
    run(body, false);
  });
  more.addEventListener("click", () => {
    if (next?.body) run(next.body, true);
  });
  // A shared search runs at once.
  if (params.size) form.requestSubmit();
  else run({ limit: 20 }, false);
}
