// Picking a process's input files from the catalogue on a map: a collection, a
// box drawn by dragging (or the view), the items found drawn as footprints and
// listed to tick; the chosen files' links go into the field.

import { getJson, postJson } from "../api.js";
import { t } from "../i18n.js";
import { boxOf, union } from "../lib/bbox.js";
import { el } from "../lib/dom.js";
import { CATALOGUE_FILE } from "../lib/form.js";
import { baseMap, boxDrawer, loaded, viewAsBox } from "./mapbase.js";

/// Items asked for at most.
const LIMIT = 100;

/// The download route of an item's file: its `data` asset, else its first one
/// served by this server.
function fileOf(item) {
  const entries = Object.entries(item.assets || {}).map(([k, a]) => [k, new URL(a.href, location.origin).pathname]);
  const served = entries.filter(([, path]) => CATALOGUE_FILE.test(path));
  return (served.find(([k]) => k === "data") || served[0])?.[1] ?? null;
}

/// Opens the picker for field `f` (`file`: one, `files`: many); `use(hrefs)` gets
/// the chosen links.
export async function pickFiles(f, use) {
  const many = f.kind === "files";
  const collections = (await getJson("/stac/collections")).collections.filter((c) => c.id !== "results");
  const dialog = el("dialog", { class: "picker", "aria-labelledby": "picker-title" });
  const collection = el("select", { id: "picker-collection" }, ...collections.map((c) => el("option", { value: c.id, text: c.title || c.id })));
  const draw = el("button", { type: "button", class: "picker-draw", "aria-pressed": "false", text: t("map.box.draw") });
  const view = el("button", { type: "button", class: "picker-view", text: t("map.box.view") });
  const mapDiv = el("div", { class: "picker-map", role: "region", "aria-label": t("picker.map") });
  const status = el("p", { class: "picker-status", role: "status" });
  const list = el("ul", { class: "picker-list" });
  const chosen = el("button", { type: "button", class: "primary picker-use", text: t("picker.use") });
  const cancel = el("button", { type: "button", text: t("signin.cancel") });
  dialog.append(
    el("h2", { id: "picker-title", text: t("picker.title", { field: f.title }) }),
    el("div", { class: "toolbar-inline" }, el("label", { for: "picker-collection" }, `${t("picker.collection")} `, collection), draw, view),
    mapDiv, status,
    el("fieldset", { class: "picker-found" }, el("legend", { text: t("picker.found") }), list),
    el("p", { class: "actions" }, chosen, " ", cancel));
  document.body.append(dialog);
  dialog.showModal();
  let drawer = null;
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  cancel.addEventListener("click", close);
  dialog.addEventListener("cancel", (e) => {
    // Escape while drawing stops the drawing, not the dialog.
    if (drawer?.active) e.preventDefault();
  });

  const map = await baseMap(mapDiv, { center: [0, 10], zoom: 0 });
  await loaded(map);
  map.addSource("found", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: "found-fill", type: "fill", source: "found", paint: { "fill-color": "#0b5cad", "fill-opacity": 0.2 } });
  map.addLayer({ id: "found-line", type: "line", source: "found", paint: { "line-color": "#0b5cad", "line-width": 1.2 } });
  let box = null;
  let found = [];
  const search = async () => {
    status.textContent = t("map.loading");
    list.innerHTML = "";
    try {
      const body = { collections: [collection.value], limit: LIMIT };
      if (box) body.bbox = box;
      const page = await postJson("/stac/search", body);
      found = page.features.map((item) => ({ item, href: fileOf(item) })).filter((x) => x.href);
    } catch (err) {
      status.textContent = err.message;
      return;
    }
    map.getSource("found").setData({ type: "FeatureCollection", features: found.filter((x) => x.item.geometry).map((x) => ({ type: "Feature", geometry: x.item.geometry, properties: {} })) });
    status.textContent = t("picker.count", { n: found.length });
    list.dataset.count = String(found.length);
    found.forEach((x, i) => list.append(el("li", {}, el("label", {},
      el("input", { type: many ? "checkbox" : "radio", name: "picked", value: String(i), checked: many }),
      ` ${x.item.id}`, el("span", { class: "meta", text: ` ${x.item.properties?.datetime ?? ""}` })))));
    if (!box) {
      const b = union(found.filter((x) => x.item.geometry).map((x) => x.item.bbox || boxOf(x.item.geometry)).filter((b) => b[0] <= b[2]));
      if (b) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, duration: 0, maxZoom: 9 });
    }
  };
  drawer = boxDrawer(map, {
    onBox: (b) => {
      if (b) {
        box = b;
        search();
      }
    },
    button: draw,
    onStart: () => { status.textContent = t("map.box.how"); },
  });
  view.addEventListener("click", () => {
    box = viewAsBox(map);
    drawer.show(box);
    search();
  });
  collection.addEventListener("change", search);
  chosen.addEventListener("click", () => {
    const picked = [...list.querySelectorAll("input:checked")].map((i) => found[Number(i.value)].href);
    close();
    if (picked.length) use(picked);
  });
  window.hysopePicker = { map, search: () => ({ box, found: found.map((x) => x.href) }) };
  await search();
}
