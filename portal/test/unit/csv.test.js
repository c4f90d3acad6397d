import assert from "node:assert/strict";
import { test } from "node:test";
import { field, toCsv } from "../../src/lib/csv.js";

test("fields are quoted when they must be, unknowns are empty", () => {
  assert.equal(field('a "b", c'), '"a ""b"", c"');
  assert.equal(field("line\nbreak"), '"line\nbreak"');
  assert.equal(field(null), "");
  assert.equal(field(NaN), "");
  assert.equal(field(-999999999999), "-999999999999");
  assert.equal(field(0.1), "0.1");
});

test("a CSV has its header and CRLF lines", () => {
  const text = toCsv(["time", "wse"], [{ time: "2024-01-01T00:00:00Z", wse: 1.5 }, { time: "x", wse: null }]);
  assert.equal(text, "time,wse\r\n2024-01-01T00:00:00Z,1.5\r\nx,\r\n");
});
