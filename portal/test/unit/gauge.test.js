import { test } from "node:test";
import assert from "node:assert/strict";
import { pair, parseGauge, parseTime, statistics } from "../../src/lib/gauge.js";

const H = 3600000;

test("times: ISO dates and date-times, UTC without a zone, offsets applied", () => {
  assert.equal(parseTime("2024-05-01"), Date.UTC(2024, 4, 1));
  assert.equal(parseTime("2024-05-01 12:30"), Date.UTC(2024, 4, 1, 12, 30));
  assert.equal(parseTime("2024-05-01T12:30:15.250Z"), Date.UTC(2024, 4, 1, 12, 30, 15, 250));
  assert.equal(parseTime("2019-02-14T00:15:00.000-05:00"), Date.UTC(2019, 1, 14, 5, 15));
  assert.equal(parseTime("2024-05-01T12:30+0200"), Date.UTC(2024, 4, 1, 10, 30));
  for (const bad of ["01/05/2024", "2024-13-01", "2024-05-01T25:00", "value", ""]) assert.equal(parseTime(bad), null, bad);
});

test("a CSV with a header, a fill and a wrong line; a unit to metres", () => {
  const text = "time,stage_ft\n2024-05-02T00:00:00Z,10\n2024-05-01T00:00:00Z,5.5\n2024-05-03,-999999\n2024-05-04,n/a\n\n";
  const g = parseGauge(text, "ft");
  assert.deepEqual(g.points, [
    { time: Date.UTC(2024, 4, 1), value: 5.5 * 0.3048 },
    { time: Date.UTC(2024, 4, 2), value: 10 * 0.3048 },
  ]);
  assert.equal(g.fills, 1);
  assert.equal(g.skipped, 2); // the header and "n/a"
  assert.throws(() => parseGauge(text, "furlong"), /unknown unit/);
});

test("semicolons with decimal commas (a French export) and USGS RDB", () => {
  const fr = "Date (TU);Valeur (en mm)\n2024-05-01 06:00;1234,5\n\"2024-05-01 07:00\";\"1240\"\n";
  assert.deepEqual(parseGauge(fr, "mm").points.map((p) => p.value), [1.2345, 1.24]);
  const rdb = "# comment\nagency_cd\tsite_no\tdatetime\ttz_cd\t123_00065\t123_00065_cd\n5s\t15s\t20d\t6s\t14n\t10s\n" +
    "USGS\t01491000\t2019-02-14 00:00\tEST\t6.48\tA\nUSGS\t01491000\t2019-02-14 00:15\tEST\t6.46\tA\n";
  const g = parseGauge(rdb, "ft");
  // The site number is not a value: the time comes first; the zone column is text.
  assert.equal(g.points.length, 2);
  assert.equal(g.points[0].value, 6.48 * 0.3048);
  assert.equal(g.skipped, 3);
});

test("pairing: exact, interpolated, nearest within the tolerance, else unpaired", () => {
  const gauge = [
    { time: 0, value: 10 },
    { time: 2 * H, value: 12 },
    { time: 100 * H, value: 50 },
  ];
  const obs = [
    { time: 0, wse: 10.5 }, // exact
    { time: 1 * H, wse: 11.2 }, // between 0 and 2 h: 11
    { time: 5 * H, wse: 12.4 }, // 3 h after the last near one: nearest 12
    { time: 50 * H, wse: 30 }, // nothing within 6 h
    { time: 104 * H, wse: 49 }, // after the end, 4 h: nearest 50
  ];
  const { pairs, unpaired } = pair(obs, gauge, 6 * H);
  assert.deepEqual(pairs.map((p) => [p.time / H, p.gauge]), [[0, 10], [1, 11], [5, 12], [104, 50]]);
  assert.equal(unpaired, 1);
  assert.deepEqual(pair(obs, [], H), { pairs: [], unpaired: 5 });
});

test("statistics of SWOT - gauge, by hand", () => {
  const pairs = [
    { swot: 10.5, gauge: 10 }, // +0.5
    { swot: 11.2, gauge: 11 }, // +0.2
    { swot: 12.4, gauge: 12 }, // +0.4
    { swot: 49, gauge: 50 }, // -1
  ];
  const s = statistics(pairs);
  assert.equal(s.n, 4);
  assert.ok(Math.abs(s.bias - 0.025) < 1e-12, s.bias);
  assert.ok(Math.abs(s.mae - 0.525) < 1e-12, s.mae);
  assert.ok(Math.abs(s.rmse - Math.sqrt((0.25 + 0.04 + 0.16 + 1) / 4)) < 1e-12, s.rmse);
  const sd = Math.sqrt([0.475, 0.175, 0.375, -1.025].reduce((a, x) => a + x * x, 0) / 4);
  assert.ok(Math.abs(s.sd - sd) < 1e-12, s.sd);
  assert.ok(s.r > 0.99 && s.r <= 1, s.r);
  assert.deepEqual(statistics([]), { n: 0, bias: null, mae: null, rmse: null, sd: null, r: null });
  assert.equal(statistics([{ swot: 1, gauge: 2 }]).r, null);
  assert.equal(statistics([{ swot: 1, gauge: 2 }, { swot: 1, gauge: 3 }]).r, null);
});
