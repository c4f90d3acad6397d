import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCsv, seriesColumns, seriesData } from "../../src/lib/table.js";

test("CSV with quotes, commas and newlines inside them, CRLF and a last line without an end", () => {
  const t = parseCsv('a,b,c\r\n1,"x, y",3\n2,"say ""hi""\nthere",\n\n3,z,5');
  assert.deepEqual(t.header, ["a", "b", "c"]);
  assert.deepEqual(t.rows, [["1", "x, y", "3"], ["2", 'say "hi"\nthere', ""], ["3", "z", "5"]]);
  assert.equal(t.truncated, false);
  const big = parseCsv("v\n1\n2\n3\n4\n", 2);
  assert.deepEqual(big.rows, [["1"], ["2"]]);
  assert.equal(big.truncated, true);
});

test("the time column is the first of dates; numeric columns allow gaps, fills are no value", () => {
  const t = parseCsv([
    "reach_id,time,time_str,wse,note,width",
    "57205900051,829940918.42,2026-04-19T19:08:38Z,175.1407,ok,884.0",
    "57205900061,829940920.00,2026-04-19T19:07:38Z,-999999999999,ok,",
    "57205900071,829940921.00,2026-04-19T19:09:38Z,176.5,bad,901.5",
  ].join("\n"));
  // `time` (seconds since 2000) is a number, not a date; `time_str` is the dates.
  assert.deepEqual(seriesColumns(t), { time: "time_str", numeric: ["reach_id", "time", "wse", "width"] });
  const [x, y] = seriesData(t, "time_str", "wse");
  assert.deepEqual(x, [Date.UTC(2026, 3, 19, 19, 7, 38) / 1000, Date.UTC(2026, 3, 19, 19, 8, 38) / 1000, Date.UTC(2026, 3, 19, 19, 9, 38) / 1000]);
  assert.deepEqual(y, [null, 175.1407, 176.5]);
  assert.deepEqual(seriesData(t, "time_str", "width")[1], [null, 884, 901.5]);
  assert.deepEqual(seriesColumns(parseCsv("a,b\nx,y\n")), { time: null, numeric: [] });
});
