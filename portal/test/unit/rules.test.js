import { test } from "node:test";
import assert from "node:assert/strict";
import { backfillOf, periodText, ruleActions, triggerParts } from "../../src/lib/rules.js";

test("a schedule's period in its largest whole unit", () => {
  assert.equal(periodText(86400), "1 d");
  assert.equal(periodText(21600), "6 h");
  assert.equal(periodText(5400), "90 min");
  assert.equal(periodText(45), "45 s");
  assert.equal(periodText(90061), "90061 s");
  assert.equal(periodText(0), "");
  assert.equal(periodText("x"), "");
});

test("a trigger's parts: item or schedule, its collections and filter", () => {
  assert.deepEqual(triggerParts({ type: "item", collections: ["SWOT_L2_HR_RiverSP_Reach"] }),
    { kind: "item", collections: ["SWOT_L2_HR_RiverSP_Reach"], filter: null, every: null });
  assert.deepEqual(triggerParts({ type: "item", collections: ["A"], filter: "reach_q <= 1" }).filter, "reach_q <= 1");
  const json = { op: "<=", args: [{ property: "reach_q" }, 1] };
  assert.equal(triggerParts({ type: "item", collections: ["A"], filter: json }).filter, JSON.stringify(json));
  assert.deepEqual(triggerParts({ type: "schedule", every: 86400, collections: ["B"] }),
    { kind: "schedule", collections: ["B"], filter: null, every: "1 d" });
  assert.deepEqual(triggerParts(undefined), { kind: "item", collections: [], filter: null, every: null });
});

test("the actions of each state", () => {
  assert.deepEqual(ruleActions("active"), ["pause", "delete"]);
  assert.deepEqual(ruleActions("paused"), ["resume", "delete"]);
  assert.deepEqual(ruleActions("gone"), []);
});

test("a backfill's progress, whole percents, never past its total", () => {
  assert.equal(backfillOf({}), null);
  assert.deepEqual(backfillOf({ backfill: { until: "x", total: 3, done: 1 } }), { done: 1, total: 3, percent: 33, finished: false });
  assert.deepEqual(backfillOf({ backfill: { until: "", total: 0, done: 0 } }), { done: 0, total: 0, percent: 100, finished: true });
  assert.deepEqual(backfillOf({ backfill: { until: "x", total: 4, done: 9 } }), { done: 4, total: 4, percent: 100, finished: true });
});
