// CSV as RFC 4180 says: comma-separated, CRLF line ends, a field quoted when it
// holds a comma, a quote or a line break (its quotes doubled). Nulls and
// non-finite numbers are empty fields, never a number.

export function field(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/// A CSV text of `rows` (objects) with `columns` in that order, header first.
export function toCsv(columns, rows) {
  const lines = [columns.map(field).join(",")];
  for (const row of rows) lines.push(columns.map((c) => field(row[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
