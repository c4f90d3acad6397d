// A MapLibre map on the offline basemap (Natural Earth land from world-atlas),
// for the map page and the catalogue's footprints. No request leaves the server.

import * as maplibregl from "../../vendor/maplibre-gl/dist/maplibre-gl.mjs";
import { feature as topoFeature } from "../../vendor/topojson-client/src/index.js";
import { land } from "../lib/basemap.js";

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
