import assert from "node:assert/strict";
import { test } from "node:test";
import { executeRequest, fields } from "../../src/lib/form.js";

const file = { type: "string", format: "uri", contentMediaType: "application/octet-stream" };
const description = {
  inputs: {
    product: { title: "product", schema: file, minOccurs: 1, maxOccurs: 1 },
    passes: { schema: { type: "array", items: file }, minOccurs: 1 },
    max_q: { schema: { type: "number", default: 1.0 }, minOccurs: 0 },
    grid: { schema: { type: "integer", default: 1000 }, minOccurs: 0 },
    flag: { schema: { type: "boolean", default: false }, minOccurs: 0 },
    stat: { schema: { type: "string", enum: ["mean", "median"] }, minOccurs: 0 },
    note: { schema: { type: "string", nullable: true }, minOccurs: 0 },
    extra: { schema: { type: "object" }, minOccurs: 0 },
  },
};
const LINK = "/stac/collections/SWOT_L2_HR_RiverSP_Reach/items/X/assets/data";

test("a description's inputs become typed fields", () => {
  const list = fields(description);
  assert.deepEqual(list.map((f) => [f.id, f.kind, f.required]), [
    ["product", "file", true], ["passes", "files", true], ["max_q", "number", false], ["grid", "integer", false],
    ["flag", "boolean", false], ["stat", "enum", false], ["note", "string", false], ["extra", "json", false],
  ]);
  assert.equal(list[2].default, 1.0);
  assert.deepEqual(list[5].options, ["mean", "median"]);
});

test("values become an execute request; empty optional fields are left to their defaults", () => {
  const { body, errors } = executeRequest(fields(description), {
    product: ` ${LINK} `, passes: `${LINK}\nhttps://example.org/b.zip\n`, max_q: "0.5", grid: "", flag: "true",
    stat: "median", note: "x", extra: '{"a": 1}',
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(body, { inputs: {
    product: { href: LINK }, passes: [{ href: LINK }, { href: "https://example.org/b.zip" }], max_q: 0.5, flag: true,
    stat: "median", note: "x", extra: { a: 1 },
  } });
});

test("each wrong value is named, nothing is guessed", () => {
  const { errors } = executeRequest(fields(description), {
    product: "/etc/passwd", passes: `${LINK}\nfile:///etc/shadow`, max_q: "1e", grid: "1.5", stat: "mode", extra: "{",
  });
  assert.deepEqual(errors.map((e) => e.field), ["product", "passes", "max_q", "grid", "stat", "extra"]);
  assert.match(errors[1].message, /line 2/);
  const missing = executeRequest(fields(description), {}).errors.map((e) => e.field);
  assert.deepEqual(missing, ["product", "passes"]);
});

test("a file is a catalogue link, one's upload or a remote URL, nothing else", async () => {
  const { fileHref } = await import("../../src/lib/form.js");
  const upload = "/uploads/0b6f3c1e-2a4d-4f5e-9a1b-3c2d1e0f9a8b";
  assert.equal(fileHref(` ${upload} `), upload);
  assert.equal(fileHref(LINK), LINK);
  assert.equal(fileHref("s3://bucket/key.nc"), "s3://bucket/key.nc");
  for (const bad of ["/uploads/../../etc/passwd", "/uploads/nothing", `${upload}/x`, "/etc/passwd", "file:///etc/passwd", "ftp://h/x"]) {
    assert.equal(fileHref(bad), null, bad);
  }
});
