// A gauge's series beside a SWOT one: reading the file a user gives (CSV, semicolon
// or tab separated, USGS RDB), pairing each SWOT observation with the gauge at the
// same time, and the statistics of the differences.
//
// A line is read as: its first field that is a date (ISO 8601: `2024-05-01`,
// `2024-05-01 12:30`, `2024-05-01T12:30:00Z`, `...+02:00`) is the time, the first
// field after it that is a number is the value. A time without a zone is UTC.
// Lines starting with `#` (RDB comments) and lines without both are skipped and
// counted (a header, RDB's format line); values at or below -9999 are fills
// (USGS writes -999999), skipped and counted. In a semicolon-separated file a
// decimal comma is read (`12,34`).

/// Metres per unit of the values a user may give.
export const UNITS = { m: 1, cm: 0.01, mm: 0.001, ft: 0.3048 };

const FILL_AT_MOST = -9999;
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/// Milliseconds since 1970 of an ISO 8601 date or date-time (UTC without a zone),
/// or null.
export function parseTime(text) {
  const m = DATE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, Math.round(Number(`0.${frac || "0"}`) * 1000));
  if (Number.isNaN(ms) || +mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +s > 60) return null;
  if (!zone || zone === "Z") return ms;
  const sign = zone[0] === "-" ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  return ms - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60000;
}

function separatorOf(line) {
  if (line.includes("\t")) return "\t";
  if (line.includes(";")) return ";";
  return ",";
}

/// The gauge's points from the file's text, in metres, sorted by time; with what
/// was skipped: `{ points: [{time, value}], skipped, fills }`.
export function parseGauge(text, unit = "m") {
  const factor = UNITS[unit];
  if (!factor) throw new Error(`unknown unit ${unit}`);
  const points = [];
  let skipped = 0;
  let fills = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#")) {
      skipped++;
      continue;
    }
    const sep = separatorOf(line);
    const fields = line.split(sep).map((f) => f.trim().replace(/^"(.*)"$/, "$1"));
    let time = null;
    let value = null;
    for (const f of fields) {
      if (time === null) {
        time = parseTime(f);
        continue;
      }
      const text = sep === ";" ? f.replace(/^(-?\d+),(\d+)$/, "$1.$2") : f;
      if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
        value = Number(text);
        break;
      }
    }
    if (time === null || value === null) {
      skipped++;
      continue;
    }
    if (value <= FILL_AT_MOST) {
      fills++;
      continue;
    }
    points.push({ time, value: value * factor });
  }
  points.sort((a, b) => a.time - b.time);
  return { points, skipped, fills };
}

/// Each observation (`{time, wse}`, wse not null) paired with the gauge at its
/// time: interpolated between the two gauge points around it when both are
/// within `toleranceMs`, else the nearest within `toleranceMs`, else unpaired.
/// `{ pairs: [{time, swot, gauge}], unpaired }`.
export function pair(observations, gauge, toleranceMs) {
  const pairs = [];
  let unpaired = 0;
  for (const o of observations) {
    // The first gauge point at or after the observation.
    let lo = 0;
    let hi = gauge.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (gauge[mid].time < o.time) lo = mid + 1;
      else hi = mid;
    }
    const after = gauge[lo];
    const before = gauge[lo - 1];
    const near = (p) => p && Math.abs(p.time - o.time) <= toleranceMs;
    let value = null;
    if (after && after.time === o.time) value = after.value;
    else if (near(before) && near(after)) {
      value = before.value + ((after.value - before.value) * (o.time - before.time)) / (after.time - before.time);
    } else if (near(before) || near(after)) {
      const nearest = !near(after) || (near(before) && o.time - before.time <= after.time - o.time) ? before : after;
      value = nearest.value;
    }
    if (value === null) unpaired++;
    else pairs.push({ time: o.time, swot: o.wse, gauge: value });
  }
  return { pairs, unpaired };
}

/// The differences SWOT - gauge over the pairs: their count, mean (bias), mean
/// absolute value (MAE), root mean square (RMSE), standard deviation (the RMSE
/// once the bias, often a datum difference, is taken out) and Pearson's r of
/// the two series (null below 2 pairs or for a constant series).
export function statistics(pairs) {
  const n = pairs.length;
  if (n === 0) return { n: 0, bias: null, mae: null, rmse: null, sd: null, r: null };
  const d = pairs.map((p) => p.swot - p.gauge);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const bias = mean(d);
  const mae = mean(d.map(Math.abs));
  const rmse = Math.sqrt(mean(d.map((x) => x * x)));
  const sd = Math.sqrt(mean(d.map((x) => (x - bias) ** 2)));
  let r = null;
  if (n >= 2) {
    const ms = mean(pairs.map((p) => p.swot));
    const mg = mean(pairs.map((p) => p.gauge));
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (const p of pairs) {
      sxy += (p.swot - ms) * (p.gauge - mg);
      sxx += (p.swot - ms) ** 2;
      syy += (p.gauge - mg) ** 2;
    }
    r = sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
  }
  return { n, bias, mae, rmse, sd, r };
}
