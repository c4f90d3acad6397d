// The portal's entry: picks the language, translates the shell, and shows the
// page the path names (/portal/ the map, /portal/{reaches|nodes|lakes}/ID a
// feature). Pages are modules loaded when needed.

import { LANGUAGES, pickLanguage, setLanguage, t } from "./i18n.js";
import { getJson, setToken, token } from "./api.js";
import { el } from "./lib/dom.js";
import { route } from "./lib/route.js";

const LANG_KEY = "hysope.lang";

function storedLanguage() {
  try {
    return localStorage.getItem(LANG_KEY);
  } catch {
    return null;
  }
}

/// Fills every `data-i18n` element's text and `data-i18n-label` element's label.
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  }
}

/// The header's sign-in: a personal token (made by an operator, or with
/// `hysope admin token create`) kept for this tab, checked with /me.
async function signIn() {
  const slot = document.getElementById("who");
  const dialog = el("dialog", { class: "signin", "aria-labelledby": "signin-title" });
  const input = el("input", { id: "signin-token", type: "password", autocomplete: "off", size: 40 });
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { method: "dialog" },
    el("h2", { id: "signin-title", text: t("signin.title") }),
    el("label", { for: "signin-token", text: t("signin.token") }), input, error,
    el("p", {}, el("button", { type: "submit", class: "primary", value: "ok", text: t("signin.ok") }), " ",
      el("button", { type: "button", onclick: () => dialog.close(), text: t("signin.cancel") })));
  dialog.append(form);
  document.body.append(dialog);
  const show = async () => {
    slot.innerHTML = "";
    const me = token() ? await getJson("/me").catch(() => null) : null;
    document.querySelector("nav li.desk").hidden = !me?.may?.includes("review");
    if (me && me.role !== "anonymous") {
      slot.append(el("span", { class: "me", text: `${me.subject} (${me.role})` }), " ",
        el("button", { type: "button", class: "signout", onclick: () => { setToken(null); show(); }, text: t("signin.out") }));
    } else {
      if (token()) setToken(null);
      slot.append(el("button", { type: "button", class: "signin-open", onclick: () => { error.textContent = ""; dialog.showModal(); }, text: t("signin.open") }));
    }
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    const me = await getJson("/me").catch(() => null);
    if (!me || me.role === "anonymous") {
      setToken(null);
      error.textContent = t("signin.refused");
      return;
    }
    input.value = "";
    dialog.close();
    location.reload();
  });
  await show();
}

/// Each page: its module (loaded when needed) and how it is drawn.
const PAGES = {
  map: async (main) => (await import("./pages/map.js")).mapPage(main),
  feature: async (main, w) => (await import("./pages/feature.js")).featurePage(main, w.kind, w.id),
  catalogue: async (main) => (await import("./pages/catalogue.js")).cataloguePage(main),
  item: async (main, w) => (await import("./pages/item.js")).itemPageView(main, w.collection, w.id),
  processes: async (main) => (await import("./pages/processes.js")).processListPage(main),
  process: async (main, w) => (await import("./pages/processes.js")).processPage(main, w.id),
  jobs: async (main) => (await import("./pages/jobs.js")).jobListPage(main),
  job: async (main, w) => (await import("./pages/jobs.js")).jobPage(main, w.id),
  desk: async (main) => (await import("./pages/desk.js")).deskPage(main),
};

async function start() {
  const lang = pickLanguage(location.search, storedLanguage(), navigator.languages);
  setLanguage(lang);
  document.documentElement.lang = lang;
  const select = document.getElementById("lang");
  select.value = lang;
  select.addEventListener("change", () => {
    try {
      localStorage.setItem(LANG_KEY, select.value);
    } catch {
      // A browser that keeps nothing: the choice lasts this page.
    }
    const url = new URL(location.href);
    url.searchParams.set("lang", select.value);
    location.assign(url);
  });
  translate();
  signIn();
  const main = document.getElementById("content");
  const where = route(location.pathname);
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === where.page) link.setAttribute("aria-current", "page");
  }
  try {
    const show = PAGES[where.page];
    if (show) {
      await show(main, where);
    } else {
      main.innerHTML = "";
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = `404: ${location.pathname}`;
      main.append(p);
    }
  } catch (e) {
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = e instanceof TypeError && /import|module/i.test(e.message) ? t("error.libraries") : String(e.message || e);
    main.append(p);
    throw e;
  }
}

if (typeof document !== "undefined" && LANGUAGES.length) start();
