// A MapLibre map on the offline basemap (Natural Earth land from world-atlas),
// for the map page and the catalogue's footprints. No request leaves the server.

import * as maplibregl from "../../vendor/maplibre-gl/dist/maplibre-gl.mjs";
import { feature as topoFeature } from "../../vendor/topojson-client/src/index.js";
import { land } from "../lib/basemap.js";
import { boxFromCorners, viewBox } from "../lib/mapstate.js";

export { maplibregl };

const BASE = import.meta.url.replace(/\/app\/pages\/mapbase\.js.*$/, "");
let topology = null;

/// A map in `container` at `center`/`zoom` with the land drawn, its navigation
/// and scale controls; resolves once the map is made (not yet loaded).
export async function baseMap(container, { center = [0, 20], zoom = 1, attribution = "Natural Earth" } = {}) {
  topology ??= fetch(`${BASE}/vendor/world-atlas/land-50m.json`).then((r) => r.json());
  const map = new maplibregl.Map({
    container,
    center,
    zoom,
    attributionControl: { compact: true, customAttribution: attribution },
    style: {
      version: 8,
      sources: { land: { type: "geojson", data: land(await topology, topoFeature) } },
      layers: [
        { id: "ocean", type: "background", paint: { "background-color": "#dbe7f0" } },
        { id: "land", type: "fill", source: "land", paint: { "fill-color": "#f3f0e8", "fill-outline-color": "#a9a395" } },
      ],
    },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl(), "bottom-right");
  return map;
}

/// Resolves when `map` has loaded its style.
export function loaded(map) {
  return map.loaded() ? Promise.resolve() : new Promise((resolve) => map.on("load", resolve));
}

/// A box shape to draw (GeoJSON; none: empty).
export function boxShape(box) {
  const features = [];
  if (box) {
    const [w, s, e, n] = box;
    features.push({ type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } });
  }
  return { type: "FeatureCollection", features };
}

/// The box of `map`'s view (none for a view across the antimeridian).
export function viewAsBox(map) {
  const b = map.getBounds();
  const v = viewBox(b.getWest(), b.getSouth(), b.getEast(), b.getNorth());
  return v[0] < v[2] ? boxFromCorners([v[0], v[1]], [v[2], v[3]]) : null;
}

/// Drawing a box on `map` by dragging: `start()` turns the map's panning off
/// until a drag ends (`onBox(box)`, box null for a drag without area) or
/// `stop()` (Escape too). The box being drawn is shown by the source `source`
/// (made here, with a dashed line layer), which keeps `current` otherwise.
/// `button`, if given, toggles the drawing and says so (`aria-pressed`);
/// `onStart` is told when a drawing starts.
export function boxDrawer(map, { source = "box", current = null, onBox, onStop = () => {}, button = null, onStart = () => {} }) {
  map.addSource(source, { type: "geojson", data: boxShape(current) });
  map.addLayer({ id: `${source}-line`, type: "line", source, paint: { "line-color": "#0b5cad", "line-width": 2, "line-dasharray": [3, 2] } });
  let active = false;
  let corner = null;
  const drawer = {
    get active() {
      return active;
    },
    show(box) {
      current = box;
      map.getSource(source).setData(boxShape(box));
    },
    start() {
      active = true;
      map.dragPan.disable();
      map.getCanvas().style.cursor = "crosshair";
      button?.setAttribute("aria-pressed", "true");
      onStart();
    },
    stop() {
      if (!active) return;
      active = false;
      corner = null;
      map.dragPan.enable();
      map.getCanvas().style.cursor = "";
      map.getSource(source).setData(boxShape(current));
      button?.setAttribute("aria-pressed", "false");
      onStop();
    },
  };
  button?.addEventListener("click", () => (active ? drawer.stop() : drawer.start()));
  map.on("mousedown", (e) => {
    if (!active) return;
    e.preventDefault();
    corner = [e.lngLat.lng, e.lngLat.lat];
  });
  map.on("mousemove", (e) => {
    if (!active || !corner) return;
    const box = boxFromCorners(corner, [e.lngLat.lng, e.lngLat.lat]);
    if (box) map.getSource(source).setData(boxShape(box));
  });
  map.on("mouseup", (e) => {
    if (!active || !corner) return;
    const box = boxFromCorners(corner, [e.lngLat.lng, e.lngLat.lat]);
    if (box) current = box;
    drawer.stop();
    onBox(box);
  });
  map.getContainer().ownerDocument.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && active) drawer.stop();
  });
  return drawer;
}
