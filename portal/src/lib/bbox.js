// Boxes of GeoJSON geometries: west, south, east, north.

/// The box of a geometry's coordinates (empty: [Infinity, Infinity, -Infinity, -Infinity]).
export function boxOf(geometry) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === "number") {
      box[0] = Math.min(box[0], c[0]);
      box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]);
      box[3] = Math.max(box[3], c[1]);
    } else c.forEach(walk);
  };
  if (geometry) walk(geometry.coordinates);
  return box;
}

/// The box holding all `boxes` (null for none).
export function union(boxes) {
  if (boxes.length === 0) return null;
  return boxes.reduce((a, x) => [Math.min(a[0], x[0]), Math.min(a[1], x[1]), Math.max(a[2], x[2]), Math.max(a[3], x[3])]);
}
