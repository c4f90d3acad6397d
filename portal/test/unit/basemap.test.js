import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { feature } from "topojson-client";
import { land, unwrapRing } from "../../src/lib/basemap.js";

function edges(geometry) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  return polygons.flat();
}

test("a ring across the antimeridian is made continuous", () => {
  const ring = [[179, 0], [-179, 0], [-179, 1], [179, 1], [179, 0]];
  assert.deepEqual(unwrapRing(ring), [[179, 0], [181, 0], [181, 1], [179, 1], [179, 0]]);
});

test("a ring around a pole is closed along the pole", () => {
  const ring = [[-180, -70], [-90, -72], [0, -71], [90, -73], [180, -70], [-180, -70]];
  const out = unwrapRing(ring);
  assert.deepEqual(out[0], out[out.length - 1]);
  assert.ok(out.some(([, lat]) => lat === -90));
});

test("Natural Earth land has no edge across the world but along a pole", () => {
  const url = new URL("../../node_modules/world-atlas/land-50m.json", import.meta.url);
  const topology = JSON.parse(readFileSync(url, "utf8"));
  const collection = land(topology, feature);
  let rings = 0;
  for (const f of collection.features) {
    for (const ring of edges(f.geometry)) {
      rings++;
      assert.deepEqual(ring[0], ring[ring.length - 1], "closed");
      for (let i = 1; i < ring.length; i++) {
        const wide = Math.abs(ring[i][0] - ring[i - 1][0]) > 180;
        const polar = Math.abs(ring[i][1]) === 90 && Math.abs(ring[i - 1][1]) === 90;
        assert.ok(!wide || polar, `edge ${ring[i - 1]} -> ${ring[i]}`);
      }
    }
  }
  assert.ok(rings > 1000, String(rings));
});
