import assert from "node:assert/strict";
import { test } from "node:test";
import { featuresPath, parseState, searchTarget, stateQuery, viewBox } from "../../src/lib/mapstate.js";

test("a state goes through its URL and back", () => {
  const state = { variable: "quality", quality: 1, since: "2024-05-01", center: [171.45, -42.37], zoom: 11, selected: { kind: "reach", id: "57203000041" }, box: [171.2, -42.6, 171.8, -42.1] };
  const back = parseState(stateQuery(state));
  assert.deepEqual(back, state);
  assert.equal(stateQuery(parseState("")), "");
});

test("malformed URL values are left at their defaults", () => {
  const s = parseState("?colour=evil&quality=9&since=2024-13-45&at=1,2&sel=reach:../../etc");
  assert.deepEqual(s, { variable: "wse_anomaly", quality: null, since: null, center: null, zoom: null, selected: null, box: null });
});

test("a view box is clamped to the world, across the antimeridian kept", () => {
  assert.deepEqual(viewBox(-400, -100, 400, 100), [-180, -90, 180, 90]);
  assert.deepEqual(viewBox(170, -45, 190, -40), [170, -45, -170, -40]);
  assert.deepEqual(viewBox(-10, 40, 10, 50), [-10, 40, 10, 50]);
});

test("filters become the features API's parameters", () => {
  const path = featuresPath("lake", [1, 2, 3, 4], { quality: 1, since: "2024-05-01" }, 10000);
  const url = new URL(path, "http://x");
  assert.equal(url.pathname, "/features/collections/lakes/items");
  assert.equal(url.searchParams.get("bbox"), "1,2,3,4");
  assert.equal(url.searchParams.get("filter"), "quality <= 1");
  assert.equal(url.searchParams.get("datetime"), "2024-05-01T00:00:00Z/..");
  assert.equal(url.searchParams.get("limit"), "10000");
  assert.equal(url.searchParams.get("skipGeometry"), null);
  const bare = new URL(featuresPath("reach", [1, 2, 3, 4], { quality: null, since: null }, 10, true), "http://x");
  assert.equal(bare.searchParams.get("skipGeometry"), "true");
  assert.equal(bare.searchParams.get("filter"), null);
});

test("a search text is an id of its kind or a name", () => {
  assert.deepEqual(searchTarget(" 57203000041 "), { kind: "reach", id: "57203000041" });
  assert.deepEqual(searchTarget("74269500210011"), { kind: "node", id: "74269500210011" });
  assert.deepEqual(searchTarget("5240011682"), { kind: "lake", id: "5240011682" });
  assert.deepEqual(searchTarget("Grey"), { name: "Grey" });
});

test("a drawn box: read from the URL, made from a drag, met with the view", async () => {
  const { boxFromCorners, overlap, parseBox } = await import("../../src/lib/mapstate.js");
  assert.deepEqual(parseBox("171.2,-42.6,171.8,-42.1"), [171.2, -42.6, 171.8, -42.1]);
  for (const bad of [null, "", "1,2,3", "1,2,3,x", "10,0,5,1", "0,10,1,5", "-181,0,1,1", "0,0,1,91", "0,,1,1"]) {
    assert.equal(parseBox(bad), null, String(bad));
  }
  const state = parseState("?box=171.2,-42.6,171.8,-42.1&quality=1");
  assert.deepEqual(state.box, [171.2, -42.6, 171.8, -42.1]);
  assert.match(stateQuery(state), /box=171\.2%2C-42\.6%2C171\.8%2C-42\.1/);
  assert.equal(parseState("?box=nonsense").box, null);
  // Corners in any order, rounded, clamped; a line is no box.
  assert.deepEqual(boxFromCorners([171.81234, -42.1], [171.2, -42.60004]), [171.2, -42.6, 171.8123, -42.1]);
  assert.deepEqual(boxFromCorners([170, 10], [200, 95]), [170, 10, 180, 90]);
  assert.equal(boxFromCorners([1, 1], [1, 5]), null);
  // The view and the box.
  assert.deepEqual(overlap([0, 0, 10, 10], null), [0, 0, 10, 10]);
  assert.deepEqual(overlap([0, 0, 10, 10], [5, 5, 20, 20]), [5, 5, 10, 10]);
  assert.equal(overlap([0, 0, 10, 10], [20, 20, 30, 30]), null);
  // A view across the antimeridian meets a box on either side.
  assert.deepEqual(overlap([170, -50, -170, -30], [171, -45, 175, -40]), [171, -45, 175, -40]);
  assert.deepEqual(overlap([170, -50, -170, -30], [-179, -45, -175, -40]), [-179, -45, -175, -40]);
  assert.equal(overlap([170, -50, -170, -30], [0, -45, 10, -40]), null);
});
