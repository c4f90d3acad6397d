import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { format, pickLanguage, setLanguage, t } from "../../src/i18n.js";
import { route } from "../../src/lib/route.js";
import { STRINGS } from "../../src/strings.js";

test("French has every English string, with the same placeholders", () => {
  for (const [key, text] of Object.entries(STRINGS.en)) {
    assert.ok(key in STRINGS.fr, `fr lacks ${key}`);
    const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(names(STRINGS.fr[key]), names(text), key);
  }
  assert.deepEqual(Object.keys(STRINGS.fr).sort(), Object.keys(STRINGS.en).sort());
});

test("every key the pages use exists", () => {
  const dir = new URL("../../src/", import.meta.url);
  const files = ["main.js", "index.html", ...readdirSync(new URL("pages/", dir)).map((f) => `pages/${f}`)];
  for (const file of files) {
    const text = readFileSync(new URL(file, dir), "utf8");
    for (const m of text.matchAll(/(?:\bt\(|data-i18n(?:-label)?=)["`]([a-z][\w.]*)["`]/g)) {
      assert.ok(m[1] in STRINGS.en, `${file}: ${m[1]}`);
    }
  }
});

test("the language comes from the URL, the last choice, then the browser", () => {
  assert.equal(pickLanguage("?lang=fr", null, ["en-GB"]), "fr");
  assert.equal(pickLanguage("", "fr", ["en-GB"]), "fr");
  assert.equal(pickLanguage("", null, ["de-DE", "fr-CA"]), "fr");
  assert.equal(pickLanguage("?lang=xx", null, ["de"]), "en");
  setLanguage("fr");
  assert.equal(t("map.count", { reaches: 2, lakes: 1, nodes: 0 }), "2 tronçons, 1 lacs, 0 nœuds dans la vue");
  setLanguage("en");
  assert.equal(format("{a} and {b}", { a: 1 }), "1 and {b}");
});

test("paths name pages", () => {
  assert.deepEqual(route("/portal/"), { page: "map" });
  assert.deepEqual(route("/portal/reaches/57203000041"), { page: "feature", kind: "reach", id: "57203000041" });
  assert.deepEqual(route("/portal/lakes/5240011682/"), { page: "feature", kind: "lake", id: "5240011682" });
  assert.deepEqual(route("/portal/elsewhere/x"), { page: "missing" });
  assert.deepEqual(route("/portal/catalogue"), { page: "catalogue" });
  assert.deepEqual(route("/portal/items/C%2FD/I"), { page: "item", collection: "C/D", id: "I" });
});
