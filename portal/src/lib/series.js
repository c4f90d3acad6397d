// A feature's time series as the API's compact GeoJSON gives it (one feature,
// its observations as parallel arrays, fills as null), turned into what the
// chart draws: which passes are drawn, which are hidden by the quality levels
// the user chose, which have no value (a fill: counted, never drawn).

/// The quality flag of a kind's series.
export const QUALITY_FLAG = { reach: "reach_q", node: "node_q", lake: "quality_f" };

/// Quality levels a user can toggle: SWOT's 0 good, 1 suspect, 2 degraded, 3 bad,
/// and "null" for an unknown flag.
export const LEVELS = ["0", "1", "2", "3", "null"];

/// The observations of one compact GeoJSON feature, oldest first: time in
/// milliseconds since 1970, the fields as numbers or null, `quality` as the
/// level key ("0".."3" or "null").
export function observations(feature, kind) {
  const p = feature.properties;
  const times = p.time || [];
  const flag = p[QUALITY_FLAG[kind]] || [];
  const column = (name) => p[name] || [];
  const [wse, wseU, width, item] = ["wse", "wse_u", "width", "item"].map(column);
  const out = [];
  for (let i = 0; i < times.length; i++) {
    const q = flag[i];
    out.push({
      time: Date.parse(times[i]),
      iso: times[i],
      wse: number(wse[i]),
      wse_u: number(wseU[i]),
      width: number(width[i]),
      quality: typeof q === "number" && Number.isFinite(q) ? String(Math.round(q)) : "null",
      item: item[i] ?? null,
    });
  }
  out.sort((a, b) => a.time - b.time);
  return out;
}

function number(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/// Splits observations by what the chart does with them under the `shown`
/// quality levels (a Set of level keys).
export function split(obs, shown) {
  const drawn = [];
  const hidden = [];
  const unobserved = [];
  for (const o of obs) {
    if (o.wse === null) unobserved.push(o);
    else if (shown.has(o.quality)) drawn.push(o);
    else hidden.push(o);
  }
  return { drawn, hidden, unobserved };
}

/// uPlot's data for the drawn observations: x in seconds, then the WSE of each
/// quality level as its own series (null elsewhere, so that each level has its
/// colour and its toggle), then the band's low and high.
export function chartData(drawn) {
  const x = drawn.map((o) => o.time / 1000);
  const byLevel = LEVELS.map((level) => drawn.map((o) => (o.quality === level ? o.wse : null)));
  const low = drawn.map((o) => (o.wse_u === null ? null : o.wse - o.wse_u));
  const high = drawn.map((o) => (o.wse_u === null ? null : o.wse + o.wse_u));
  const line = drawn.map((o) => o.wse);
  return [x, line, ...byLevel, low, high];
}
