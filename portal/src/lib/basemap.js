// The offline basemap: Natural Earth land (world-atlas, TopoJSON) as GeoJSON.
// A ring that crosses the antimeridian jumps from +180 to -180 between two
// points, which a map draws as a line across the world; each such ring is made
// continuous instead (longitudes beyond ±180, which MapLibre draws on the next
// world copy), so that no edge spans more than half the globe.

function jump(a, b) {
  if (b - a > 180) return -360;
  if (a - b > 180) return 360;
  return 0;
}

/// A ring with its longitudes unwrapped: each point within 180° of the previous.
/// A ring around a pole (Antarctica's coast), which comes back shifted by 360°
/// once unwrapped, is cut at its crossing and closed along the pole instead.
export function unwrapRing(ring) {
  if (ring.length === 0) return ring;
  const out = [ring[0].slice()];
  let shift = 0;
  for (let i = 1; i < ring.length; i++) {
    const [lon, lat] = ring[i];
    shift += jump(ring[i - 1][0], lon);
    out.push([lon + shift, lat]);
  }
  if (shift === 0) return out;
  // Around a pole: start right after a crossing, run to the one before it, then
  // go along the pole's latitude back to the start.
  const closed = ring[0][0] === ring[ring.length - 1][0] && ring[0][1] === ring[ring.length - 1][1];
  const points = closed ? ring.slice(0, -1) : ring.slice();
  const n = points.length;
  let cut = 0;
  for (let i = 0; i < n; i++) {
    if (jump(points[i][0], points[(i + 1) % n][0]) !== 0) {
      cut = (i + 1) % n;
      break;
    }
  }
  const around = [points[cut].slice()];
  let s = 0;
  for (let k = 1; k < n; k++) {
    const i = (cut + k) % n;
    s += jump(points[(i - 1 + n) % n][0], points[i][0]);
    around.push([points[i][0] + s, points[i][1]]);
  }
  const mean = points.reduce((sum, p) => sum + p[1], 0) / n;
  const pole = mean < 0 ? -90 : 90;
  const first = around[0];
  const last = around[around.length - 1];
  around.push([last[0], pole], [first[0], pole], first.slice());
  return around;
}

/// A GeoJSON geometry (Polygon or MultiPolygon) with every ring unwrapped.
export function unwrap(geometry) {
  if (geometry.type === "Polygon") {
    return { type: "Polygon", coordinates: geometry.coordinates.map(unwrapRing) };
  }
  if (geometry.type === "MultiPolygon") {
    return {
      type: "MultiPolygon",
      coordinates: geometry.coordinates.map((polygon) => polygon.map(unwrapRing)),
    };
  }
  return geometry;
}

/// The land of a world-atlas topology as a GeoJSON FeatureCollection, through
/// topojson-client's `feature`.
export function land(topology, feature) {
  const collection = feature(topology, topology.objects.land);
  const features = collection.type === "FeatureCollection" ? collection.features : [collection];
  return {
    type: "FeatureCollection",
    features: features.map((f) => ({ ...f, geometry: unwrap(f.geometry) })),
  };
}
