// The map page's state in its URL (shareable: a reach with its filters), and
// the features requests it makes.

import { VARIABLES } from "./colour.js";

const KINDS = ["reach", "node", "lake"];

/// The state a query string says; anything malformed is left at its default.
export function parseState(search) {
  const p = new URLSearchParams(search);
  const state = { variable: "wse_anomaly", quality: null, since: null, center: null, zoom: null, selected: null, box: null };
  if (VARIABLES[p.get("colour")]) state.variable = p.get("colour");
  const q = p.get("quality");
  if (q !== null && /^[0-3]$/.test(q)) state.quality = Number(q);
  const since = p.get("since");
  if (since && /^\d{4}-\d{2}-\d{2}$/.test(since) && !Number.isNaN(Date.parse(`${since}T00:00:00Z`))) {
    state.since = since;
  }
  const at = (p.get("at") || "").split(",").map(Number);
  if (at.length === 3 && at.every(Number.isFinite) && Math.abs(at[1]) <= 90 && at[2] >= 0 && at[2] <= 22) {
    state.center = [at[0], at[1]];
    state.zoom = at[2];
  }
  state.box = parseBox(p.get("box"));
  const sel = (p.get("sel") || "").split(":");
  if (sel.length === 2 && KINDS.includes(sel[0]) && /^\d{10,14}$/.test(sel[1])) {
    state.selected = { kind: sel[0], id: sel[1] };
  }
  return state;
}

/// The query string of a state (defaults left out).
export function stateQuery(state) {
  const p = new URLSearchParams();
  if (state.variable !== "wse_anomaly") p.set("colour", state.variable);
  if (state.quality !== null) p.set("quality", String(state.quality));
  if (state.since) p.set("since", state.since);
  if (state.center && state.zoom !== null) {
    const digits = Math.max(0, Math.min(6, Math.ceil(state.zoom / 3) + 1));
    p.set("at", `${state.center[0].toFixed(digits)},${state.center[1].toFixed(digits)},${state.zoom.toFixed(2)}`);
  }
  if (state.selected) p.set("sel", `${state.selected.kind}:${state.selected.id}`);
  if (state.box) p.set("box", state.box.join(","));
  const text = p.toString();
  return text ? `?${text}` : "";
}

/// A box filter's text `west,south,east,north` (degrees, west < east, south <
/// north, inside the world) as numbers, or null.
export function parseBox(text) {
  const b = (text || "").split(",").map((v) => (v.trim() === "" ? NaN : Number(v)));
  if (b.length !== 4 || !b.every(Number.isFinite)) return null;
  const [w, s, e, n] = b;
  if (w < -180 || e > 180 || s < -90 || n > 90 || !(w < e) || !(s < n)) return null;
  return b;
}

/// The box two corners of a drag span (each `[lng, lat]`), rounded to 1e-4
/// degree and kept in the world; null when it has no area.
export function boxFromCorners(a, b) {
  const round = (v) => Math.round(v * 1e4) / 1e4;
  const lng = (v) => round(Math.max(-180, Math.min(180, v)));
  const lat = (v) => round(Math.max(-90, Math.min(90, v)));
  const box = [lng(Math.min(a[0], b[0])), lat(Math.min(a[1], b[1])), lng(Math.max(a[0], b[0])), lat(Math.max(a[1], b[1]))];
  return box[0] < box[2] && box[1] < box[3] ? box : null;
}

/// Where a view box and a filter box overlap: the box to ask for, or null when
/// they do not. A view across the antimeridian (west > east) is taken as its two
/// halves.
export function overlap(view, box) {
  if (!box) return view;
  const parts = view[0] > view[2] ? [[view[0], view[1], 180, view[3]], [-180, view[1], view[2], view[3]]] : [view];
  const hits = parts.map((v) => [Math.max(v[0], box[0]), Math.max(v[1], box[1]), Math.min(v[2], box[2]), Math.min(v[3], box[3])])
    .filter((b) => b[0] < b[2] && b[1] < b[3]);
  if (hits.length === 0) return null;
  // Both halves meet the box: it spans the whole longitude range of the view.
  return hits.length === 1 ? hits[0] : [box[0], hits[0][1], box[2], hits[0][3]];
}

/// West, south, east, north of a map view clamped to the API's ranges; a view
/// wider than the world is the whole world, one across the antimeridian keeps
/// west > east.
export function viewBox(west, south, east, north) {
  const clampLat = (v) => Math.max(-90, Math.min(90, v));
  if (east - west >= 360) return [-180, clampLat(south), 180, clampLat(north)];
  const wrap = (v) => ((((v + 180) % 360) + 360) % 360) - 180;
  let w = wrap(west);
  let e = wrap(east);
  if (e === -180 && east > west) e = 180;
  return [w, clampLat(south), e, clampLat(north)];
}

/// The features request of `kind` in `bbox` under the state's filters: a
/// quality threshold (a CQL2 filter on the latest usable pass's flag: a feature
/// with no usable pass has a null flag and is not selected) and a date (the
/// latest usable pass on or after it).
export function featuresPath(kind, bbox, state, limit, skipGeometry = false) {
  const collection = { reach: "reaches", node: "nodes", lake: "lakes" }[kind];
  const p = new URLSearchParams();
  p.set("bbox", bbox.map((v) => Number(v.toFixed(6))).join(","));
  p.set("limit", String(limit));
  if (state.quality !== null) p.set("filter", `quality <= ${state.quality}`);
  if (state.since) p.set("datetime", `${state.since}T00:00:00Z/..`);
  if (skipGeometry) p.set("skipGeometry", "true");
  return `/features/collections/${collection}/items?${p}`;
}

/// What a search box text names: an id of a kind (SWORD reach 11 digits, node
/// 14, Prior lake 10) or a name to complete.
export function searchTarget(text) {
  const q = text.trim();
  if (/^\d{11}$/.test(q)) return { kind: "reach", id: q };
  if (/^\d{14}$/.test(q)) return { kind: "node", id: q };
  if (/^\d{10}$/.test(q)) return { kind: "lake", id: q };
  return { name: q };
}
