import assert from "node:assert/strict";
import { test } from "node:test";
import { itemPage, searchBody } from "../../src/lib/stacquery.js";

test("a full form is a STAC search body", () => {
  const { body, errors } = searchBody({
    collections: ["SWOT_L2_HR_RiverSP_Reach"], west: "170", south: "-45", east: " 175 ", north: "-40",
    start: "2026-04-01", end: "2026-04-30", filter: "cycle_id = 49",
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(body, {
    limit: 20, collections: ["SWOT_L2_HR_RiverSP_Reach"], bbox: [170, -45, 175, -40],
    datetime: "2026-04-01T00:00:00Z/2026-04-30T23:59:59Z", filter: "cycle_id = 49", "filter-lang": "cql2-text",
  });
});

test("empty fields are left out, open dates are open", () => {
  assert.deepEqual(searchBody({}).body, { limit: 20 });
  assert.equal(searchBody({ start: "2024-01-01" }).body.datetime, "2024-01-01T00:00:00Z/..");
  assert.equal(searchBody({ end: "2024-01-01" }).body.datetime, "../2024-01-01T23:59:59Z");
  // Across the antimeridian: west > east is a box, not an error.
  assert.deepEqual(searchBody({ west: "170", south: "-50", east: "-170", north: "-30" }).body.bbox, [170, -50, -170, -30]);
});

test("each wrong field is named", () => {
  const fields = (form) => searchBody(form).errors.map((e) => e.field);
  assert.deepEqual(fields({ west: "1", south: "2" }), ["east"]);
  assert.deepEqual(fields({ west: "x", south: "2", east: "3", north: "4" }), ["west"]);
  assert.deepEqual(fields({ west: "1", south: "50", east: "3", north: "40" }), ["south"]);
  assert.deepEqual(fields({ west: "200", south: "0", east: "3", north: "40" }), ["west"]);
  assert.deepEqual(fields({ start: "2024-13-01" }), ["start"]);
  assert.deepEqual(fields({ start: "2024-05-01", end: "2024-04-01" }), ["end"]);
});

test("links to items of this catalogue become portal pages", () => {
  const o = "http://127.0.0.1:5000";
  assert.equal(itemPage(`${o}/stac/collections/C/items/I`, o), "/portal/items/C/I");
  assert.equal(itemPage("/stac/collections/C/items/I", o), "/portal/items/C/I");
  assert.equal(itemPage("https://elsewhere.example/stac/collections/C/items/I", o), null);
  assert.equal(itemPage(`${o}/stac/collections/C`, o), null);
  assert.equal(itemPage("::not a url", o), null);
});
