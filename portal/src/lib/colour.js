// Colour ramps of the map's variables. A feature without a usable value (null:
// a fill value, a bad or unknown quality, never observed) gets no ramp colour:
// the map draws it in UNKNOWN, and the legend says so.

export const UNKNOWN = "#8c8c8c";

// Colour-blind-safe ramps (ColorBrewer RdBu reversed so that high water is blue,
// and viridis), from low to high.
const DIVERGING = ["#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac"];
const SEQUENTIAL = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
const AGE = ["#08306b", "#2171b5", "#6baed6", "#c6dbef", "#f7fbff"];
const QUALITY = ["#1a9850", "#fee08b", "#fc8d59", "#d73027"];

/// The map's variables: the property, its unit key, its ramp's kind.
export const VARIABLES = {
  wse_anomaly: { unit: "map.unit.m", kind: "diverging" },
  wse: { unit: "map.unit.m", kind: "sequential" },
  days_since_last_observation: { unit: "map.unit.days", kind: "age" },
  quality: { unit: "map.unit.flag", kind: "categorical" },
};

/// The known (finite) values of `values`, sorted.
function known(values) {
  return values.filter((v) => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b);
}

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/// Rounds a legend bound to two significant digits of the range, so that the
/// legend reads 0.25, not 0.2487.
function nice(x, span) {
  if (span <= 0 || !Number.isFinite(span)) return x;
  // Divided by a whole power of ten, not multiplied by its inverse: 38 / 100
  // is the number nearest 0.38, 38 * 0.01 is not.
  const power = Math.floor(Math.log10(span)) - 1;
  return power < 0 ? Math.round(x * 10 ** -power) / 10 ** -power : Math.round(x / 10 ** power) * 10 ** power;
}

/// The ramp of `variable` for these values (the features in view): stops as
/// [value, colour] pairs, increasing. Diverging ramps are symmetric around 0
/// (the 95th percentile of |value|, at least 1 cm); sequential ones span the 2nd
/// to 98th percentiles; quality is the four flags.
export function ramp(variable, values) {
  const spec = VARIABLES[variable];
  if (!spec) throw new Error(`no ramp for ${variable}`);
  if (spec.kind === "categorical") {
    return { variable, kind: "categorical", stops: QUALITY.map((c, i) => [i, c]) };
  }
  const sorted = known(values);
  let lo;
  let hi;
  let colours;
  if (spec.kind === "diverging") {
    const magnitudes = known(sorted.map(Math.abs));
    const m = Math.max(quantile(magnitudes, 0.95) ?? 0.01, 0.01);
    const bound = nice(m, m) || m;
    [lo, hi, colours] = [-bound, bound, DIVERGING];
  } else {
    lo = quantile(sorted, 0.02) ?? 0;
    hi = quantile(sorted, 0.98) ?? 1;
    if (hi - lo < 1e-9) hi = lo + 1;
    [lo, hi] = [nice(lo, hi - lo), nice(hi, hi - lo)];
    if (hi <= lo) hi = lo + 1;
    colours = spec.kind === "age" ? AGE : SEQUENTIAL;
  }
  const n = colours.length - 1;
  return {
    variable,
    kind: spec.kind,
    stops: colours.map((c, i) => [i === n ? hi : lo + ((hi - lo) * i) / n, c]),
  };
}

function hex(c) {
  const v = parseInt(c.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function mix(a, b, f) {
  const [x, y] = [hex(a), hex(b)];
  const c = x.map((xi, i) => Math.round(xi + (y[i] - xi) * f));
  return `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/// The colour of `value` on `r` (clamped to the ends), or null when the value is
/// not a finite number: unknowns are never coloured.
export function colourFor(r, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  const stops = r.stops;
  if (r.kind === "categorical") {
    const hit = stops.find(([v]) => v === Math.round(value));
    return hit ? hit[1] : null;
  }
  if (value <= stops[0][0]) return stops[0][1];
  for (let i = 1; i < stops.length; i++) {
    const [v1, c1] = stops[i];
    if (value <= v1) {
      const [v0, c0] = stops[i - 1];
      return mix(c0, c1, (value - v0) / (v1 - v0));
    }
  }
  return stops[stops.length - 1][1];
}

/// A MapLibre expression colouring by property `variable` on `r`, UNKNOWN for
/// null or missing values.
export function expression(r) {
  const value = ["get", r.variable];
  const known = ["==", ["typeof", value], "number"];
  if (r.kind === "categorical") {
    const match = ["match", ["to-number", value]];
    for (const [v, c] of r.stops) match.push(v, c);
    match.push(UNKNOWN);
    return ["case", known, match, UNKNOWN];
  }
  const interpolate = ["interpolate", ["linear"], value];
  for (const [v, c] of r.stops) interpolate.push(v, c);
  return ["case", known, interpolate, UNKNOWN];
}
