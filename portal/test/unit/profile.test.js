import assert from "node:assert/strict";
import { test } from "node:test";
import { nodeNumber, profile } from "../../src/lib/profile.js";

const node = (id, times, wse, width, q) => ({ id, properties: { time: times, wse, width, node_q: q } });
const t1 = "2010-08-16T18:40:24Z";
const t2 = "2010-09-06T15:25:21Z";
const nodes = [
  node("74269500210031", ["2010-08-16T18:40:23Z", t2], [202.4, 202.5], [360, 380], [0, 0]),
  node("74269500210011", ["2010-08-16T18:40:22Z", t2], [202.3, null], [350, null], [1, 0]),
  node("74269500210021", [t2], [202.6], [370], [0]),
];

test("a pass's nodes in SWORD order, fills and missing passes counted", () => {
  assert.equal(nodeNumber("74269500210031"), 3);
  const first = profile(nodes, Date.parse(t1));
  assert.deepEqual(first.points.map((p) => [p.n, p.wse, p.width, p.quality]), [[1, 202.3, 350, 1], [3, 202.4, 360, 0]]);
  assert.equal(first.unobserved, 1);
  const second = profile(nodes, Date.parse(t2));
  assert.deepEqual(second.points.map((p) => p.n), [2, 3]);
  assert.equal(second.unobserved, 1); // node 1's WSE is a fill at that pass
});

test("an observation days away is not the pass's", () => {
  const far = profile(nodes, Date.parse("2010-08-20T00:00:00Z"));
  assert.deepEqual([far.points.length, far.unobserved], [0, 3]);
});
