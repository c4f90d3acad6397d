// A job's CSV result as a table, and which of its columns make a time series:
// the page draws a chart of a numeric column against the time column.

import { parseTime } from "./gauge.js";

/// Rows of CSV text (RFC 4180: quoted fields with "" for a quote, commas and
/// newlines inside quotes), at most `maxRows` after the header: `{ header, rows,
/// truncated }`.
export function parseCsv(text, maxRows = 100000) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  let truncated = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
      continue;
    }
    if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      field = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
      if (rows.length > maxRows) {
        truncated = true;
        break;
      }
    } else field += c;
  }
  if (!truncated && (field !== "" || row.length)) {
    row.push(field);
    rows.push(row);
  }
  const [header = [], ...body] = rows;
  return { header, rows: body.slice(0, maxRows), truncated };
}

/// SWOT's fill value and any below it (-999999999999) are no value.
const FILL_AT_MOST = -1e11;

function numberOf(text) {
  const t = (text ?? "").trim();
  if (t === "" || /^(nan|null|none|na|n\/a|no_data)$/i.test(t)) return null;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  const v = Number(t);
  return v <= FILL_AT_MOST ? null : v;
}

/// The time column (the first whose values are all ISO 8601 dates) and the
/// numeric columns (every value a number or empty, at least one number).
export function seriesColumns(table) {
  let time = null;
  const numeric = [];
  table.header.forEach((name, c) => {
    const values = table.rows.map((r) => r[c] ?? "").filter((v) => v.trim() !== "");
    if (values.length === 0) return;
    if (time === null && values.every((v) => parseTime(v) !== null)) {
      time = name;
      return;
    }
    const numbers = values.map(numberOf);
    if (numbers.every((v) => v !== undefined) && numbers.some((v) => v !== null)) numeric.push(name);
  });
  return { time, numeric };
}

/// uPlot data of `column` against `time`, sorted by time (seconds): rows without a
/// time are left out, empty values and fills are null (gaps, never drawn).
export function seriesData(table, time, column) {
  const t = table.header.indexOf(time);
  const c = table.header.indexOf(column);
  const points = [];
  for (const r of table.rows) {
    const at = parseTime(r[t] ?? "");
    if (at === null) continue;
    const v = numberOf(r[c]);
    points.push([at / 1000, v === undefined ? null : v]);
  }
  points.sort((a, b) => a[0] - b[0]);
  return [points.map((p) => p[0]), points.map((p) => p[1])];
}
