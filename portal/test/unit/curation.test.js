import { test } from "node:test";
import assert from "node:assert/strict";
import { actionsFor, jobRows, latencyText, needsSuccessor, reviewRequest } from "../../src/lib/curation.js";

test("the actions of each state are the registry's transitions", () => {
  assert.deepEqual(actionsFor("submitted"), ["approve", "reject", "quarantine"]);
  assert.deepEqual(actionsFor("approved"), ["deprecate", "yank", "quarantine"]);
  assert.deepEqual(actionsFor("deprecated"), ["undeprecate", "yank", "quarantine"]);
  assert.deepEqual(actionsFor("yanked"), ["unyank", "quarantine"]);
  assert.deepEqual(actionsFor("rejected"), ["quarantine"]);
  assert.deepEqual(actionsFor("quarantined"), []);
  assert.deepEqual(actionsFor("unheard-of"), []);
  // A copy: the table is not changed through it.
  actionsFor("submitted").pop();
  assert.equal(actionsFor("submitted").length, 3);
});

test("a review needs a reason, a deprecation a successor reference", () => {
  assert.deepEqual(reviewRequest("approve", "  checked the report  "), { body: { action: "approve", reason: "checked the report" } });
  assert.deepEqual(reviewRequest("reject", "   "), { errors: [{ field: "reason", key: "desk.error.reason" }] });
  assert.deepEqual(reviewRequest("reject", "é".repeat(1001)), { errors: [{ field: "reason", key: "desk.error.reason_long" }] });
  assert.ok(reviewRequest("reject", "é".repeat(1000)).body);
  assert.equal(needsSuccessor("deprecate"), true);
  assert.deepEqual(reviewRequest("deprecate", "use 2", "dora/echo"), { errors: [{ field: "successor", key: "desk.error.successor" }] });
  assert.deepEqual(reviewRequest("deprecate", "", "x"), {
    errors: [{ field: "reason", key: "desk.error.reason" }, { field: "successor", key: "desk.error.successor" }],
  });
  assert.deepEqual(reviewRequest("deprecate", "use 2", " dora/echo@2.0.0 "), {
    body: { action: "deprecate", reason: "use 2", successor: "dora/echo@2.0.0" },
  });
  // A successor given to another action is left out.
  assert.deepEqual(reviewRequest("yank", "broken", "dora/echo@2.0.0"), { body: { action: "yank", reason: "broken" } });
});

test("status rows and latency text", () => {
  assert.deepEqual(jobRows({ jobs: { by_state: { running: 2, failed: 1 } } }), [
    ["accepted", 0], ["running", 2], ["successful", 0], ["failed", 1], ["dismissed", 0],
  ]);
  assert.deepEqual(jobRows(null).map((r) => r[1]), [0, 0, 0, 0, 0]);
  assert.equal(latencyText(5, 10), "≤ 5 ms");
  assert.equal(latencyText(2000, 10), "≤ 2 s");
  assert.equal(latencyText(null, 10), "> 60 s");
  assert.equal(latencyText(null, 0), "–");
});
