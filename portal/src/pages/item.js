// A catalogue item: its properties, its assets with their download links (served
// by this server, with their size and checksum), and its links, those to other
// items of the catalogue (provenance: what a result was derived from) as portal
// pages.

import { getJson } from "../api.js";
import { t } from "../i18n.js";
import { el } from "../lib/dom.js";
import { itemPage } from "../lib/stacquery.js";

function value(v) {
  if (v === null || v === undefined) return t("value.none");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export async function itemPageView(main, collection, id) {
  main.innerHTML = "";
  document.title = `${id} · Hysope`;
  const item = await getJson(`/stac/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}`);
  const props = Object.entries(item.properties || {}).sort(([a], [b]) => a.localeCompare(b));
  const assets = Object.entries(item.assets || {});
  const links = (item.links || []).filter((l) => !["self", "root", "parent"].includes(l.rel));
  main.append(el("article", { class: "item-page" },
    el("p", {}, el("a", { href: "/portal/catalogue", text: `← ${t("item.back")}` })),
    el("h1", { text: id }),
    el("p", { class: "meta", text: `${t("item.collection")}: ${item.collection}` }),
    el("h2", { id: "assets-title", text: t("item.assets") }),
    el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "assets-title" },
      el("table", { class: "assets" },
        el("thead", {}, el("tr", {}, ...["key", "title", "type", "size", "checksum"].map((c) => el("th", { scope: "col", text: t(`item.col.${c}`) })))),
        el("tbody", {}, ...assets.map(([key, a]) => el("tr", {},
          el("td", {}, el("a", { href: a.href, download: "", class: "download", text: key })),
          el("td", { text: a.title || "" }),
          el("td", { text: a.type || "" }),
          el("td", { text: a["file:size"] === undefined ? "" : String(a["file:size"]) }),
          el("td", { class: "checksum", text: a["file:checksum"] || "" })))))),
    el("h2", { text: t("item.links") }),
    el("ul", { class: "links" }, ...links.map((l) => {
      const page = itemPage(l.href, location.origin);
      return el("li", {}, `${l.rel}: `, el("a", { href: page || l.href, text: l.title || l.href }));
    })),
    el("h2", { id: "props-title", text: t("item.properties") }),
    el("dl", { class: "props" }, ...props.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: value(v) })]))));
}
