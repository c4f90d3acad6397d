import assert from "node:assert/strict";
import { test } from "node:test";
import { UNKNOWN, colourFor, expression, ramp } from "../../src/lib/colour.js";

test("unknowns are never coloured", () => {
  const r = ramp("wse", [10, 11, 12, null]);
  for (const v of [null, undefined, NaN, Infinity, "12"]) assert.equal(colourFor(r, v), null);
  const e = expression(r);
  assert.equal(e[0], "case");
  assert.equal(e[e.length - 1], UNKNOWN);
  assert.deepEqual(e[1], ["==", ["typeof", ["get", "wse"]], "number"]);
});

test("a diverging ramp is symmetric around zero and clamps its ends", () => {
  const r = ramp("wse_anomaly", [-0.4, -0.1, 0, 0.05, 0.3, null]);
  const lo = r.stops[0][0];
  const hi = r.stops[r.stops.length - 1][0];
  assert.equal(lo, -hi);
  assert.ok(hi >= 0.3 && hi <= 0.4, `bound ${hi}`);
  assert.equal(colourFor(r, 0), "#f7f7f7");
  assert.equal(colourFor(r, -10), r.stops[0][1]);
  assert.equal(colourFor(r, 10), r.stops[r.stops.length - 1][1]);
  // No values at all still gives a ramp (1 cm either side).
  assert.deepEqual([ramp("wse_anomaly", [null]).stops[0][0], ramp("wse_anomaly", []).stops[6][0]], [-0.01, 0.01]);
});

test("a sequential ramp spans the values with round bounds and interpolates", () => {
  const values = Array.from({ length: 101 }, (_, i) => 100 + i);
  const r = ramp("wse", values);
  assert.equal(r.stops.length, 5);
  assert.ok(r.stops[0][0] >= 100 && r.stops[0][0] <= 103, String(r.stops[0][0]));
  assert.ok(r.stops[4][0] >= 197 && r.stops[4][0] <= 200, String(r.stops[4][0]));
  const mid = (r.stops[0][0] + r.stops[4][0]) / 2;
  assert.equal(colourFor(r, mid), r.stops[2][1]);
  // One value only: a ramp of width 1, not a division by zero.
  const one = ramp("days_since_last_observation", [5]);
  assert.ok(one.stops[4][0] > one.stops[0][0]);
});

test("quality is four categories", () => {
  const r = ramp("quality", []);
  assert.deepEqual(r.stops.map(([v]) => v), [0, 1, 2, 3]);
  assert.equal(colourFor(r, 1), r.stops[1][1]);
  assert.equal(colourFor(r, 7), null);
  const e = expression(r);
  assert.equal(e[2][0], "match");
});
