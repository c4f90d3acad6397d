import assert from "node:assert/strict";
import { test } from "node:test";
import { LEVELS, chartData, observations, split } from "../../src/lib/series.js";

const feature = {
  properties: {
    reach_id: "74269500211",
    time: ["2010-09-06T15:25:21Z", "2010-08-16T18:40:24Z", "2010-09-27T12:10:18Z", "2010-10-18T00:00:00Z", "2010-11-08T00:00:00Z"],
    wse: [202.9, 203.0, 203.2, null, 204.0],
    wse_u: [0.1, 0.1, null, null, 0.2],
    width: [380, 377, 372, null, 400],
    reach_q: [0, 1, 3, 0, null],
    item: ["b", "a", "c", "d", "e"],
  },
};

test("observations come oldest first with their quality level", () => {
  const obs = observations(feature, "reach");
  assert.deepEqual(obs.map((o) => o.item), ["a", "b", "c", "d", "e"]);
  assert.deepEqual(obs.map((o) => o.quality), ["1", "0", "3", "0", "null"]);
  assert.equal(obs[0].time, Date.parse("2010-08-16T18:40:24Z"));
});

test("fills are counted, not drawn; toggled levels are hidden", () => {
  const obs = observations(feature, "reach");
  const all = split(obs, new Set(LEVELS));
  assert.deepEqual([all.drawn.length, all.hidden.length, all.unobserved.length], [4, 0, 1]);
  const good = split(obs, new Set(["0", "1"]));
  assert.deepEqual(good.drawn.map((o) => o.item), ["a", "b"]);
  assert.deepEqual(good.hidden.map((o) => o.item), ["c", "e"]);
  assert.deepEqual(good.unobserved.map((o) => o.item), ["d"]);
});

test("the chart data has a series per level and the band", () => {
  const { drawn } = split(observations(feature, "reach"), new Set(LEVELS));
  const data = chartData(drawn);
  assert.equal(data.length, 2 + LEVELS.length + 2);
  assert.deepEqual(data[0], drawn.map((o) => o.time / 1000));
  assert.deepEqual(data[1], [203.0, 202.9, 203.2, 204.0]);
  assert.deepEqual(data[2], [null, 202.9, null, null]); // level 0
  assert.deepEqual(data[3], [203.0, null, null, null]); // level 1
  assert.deepEqual(data[6], [null, null, null, 204.0]); // unknown flag
  const low = data[7];
  const high = data[8];
  assert.ok(Math.abs(low[0] - 202.9) < 1e-9 && Math.abs(high[3] - 204.2) < 1e-9);
  assert.equal(low[2], null); // no uncertainty, no band
});

test("lakes read their quality_f flag", () => {
  const lake = { properties: { time: ["2025-06-05T22:57:53Z"], wse: [712.59], wse_u: [1.356], width: [null], quality_f: [1] } };
  assert.equal(observations(lake, "lake")[0].quality, "1");
});
