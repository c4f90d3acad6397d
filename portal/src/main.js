// The portal's entry: picks the language, translates the shell, and shows the
// page the path names (/portal/ the map, /portal/{reaches|nodes|lakes}/ID a
// feature). Pages are modules loaded when needed.

import { LANGUAGES, pickLanguage, setLanguage, t } from "./i18n.js";
import { getJson, setToken, token } from "./api.js";
import { el } from "./lib/dom.js";
import { authorizeUrl, callback, challengeOf, endpoints, randomToken, tokenRequest } from "./lib/oidc.js";
import { featureApiPath, route, seriesPath } from "./lib/route.js";

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

const OIDC_KEY = "hysope.oidc";

/// Sends the browser to the provider's sign-in (authorization code with PKCE);
/// the verifier and state wait in this tab's storage for the answer.
async function providerSignIn(config) {
  const discovery = await fetch(`${config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`).then((r) => {
    if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
    return r.json();
  });
  const { authorization_endpoint: authorize, token_endpoint: tokenEndpoint } = endpoints(discovery, config.issuer);
  const verifier = randomToken(32);
  const state = randomToken(16);
  const redirectUri = `${location.origin}${config.redirect_path}`;
  sessionStorage.setItem(OIDC_KEY, JSON.stringify({
    verifier, state, redirectUri, tokenEndpoint, clientId: config.client_id,
    returnTo: location.pathname + location.search,
  }));
  location.assign(authorizeUrl(authorize, {
    clientId: config.client_id, redirectUri, scope: config.scope, state, nonce: randomToken(16),
    challenge: await challengeOf(verifier),
  }));
}

/// The provider's answer at /portal/signed-in: the code exchanged for an access
/// token (kept for this tab like a personal token), then back to the page the
/// sign-in started from.
async function signedInPage(main) {
  main.innerHTML = "";
  document.title = `${t("signin.title")} · Hysope`;
  const status = el("p", { role: "status", text: t("signin.finishing") });
  main.append(el("section", { class: "jobs-page" }, el("h1", { text: t("signin.title") }), status));
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(OIDC_KEY) || "null");
  } catch {
    pending = null;
  }
  sessionStorage.removeItem(OIDC_KEY);
  const answer = callback(location.search, pending?.state);
  const fail = (why) => {
    status.className = "error";
    status.setAttribute("role", "alert");
    status.textContent = t("signin.failed", { why });
  };
  if (answer.error) return fail(answer.error);
  const response = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: tokenRequest({ code: answer.code, redirectUri: pending.redirectUri, clientId: pending.clientId, verifier: pending.verifier }),
  }).catch((e) => ({ ok: false, statusText: e.message, json: async () => ({}) }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) return fail(body.error_description || body.error || response.statusText);
  setToken(body.access_token);
  const me = await getJson("/me").catch(() => null);
  if (!me || me.role === "anonymous") {
    setToken(null);
    return fail(t("signin.refused"));
  }
  const back = pending.returnTo && pending.returnTo.startsWith("/portal/") && !pending.returnTo.startsWith("/portal/signed-in")
    ? pending.returnTo : "/portal/";
  location.replace(back);
}

/// The header's sign-in: with the server's OIDC provider when it has one for the
/// portal, or a personal token (made by an operator, or with `hysope admin token
/// create`) kept for this tab; checked with /me.
async function signIn() {
  const slot = document.getElementById("who");
  const dialog = el("dialog", { class: "signin", "aria-labelledby": "signin-title" });
  const input = el("input", { id: "signin-token", type: "password", autocomplete: "off", size: 40 });
  const error = el("p", { class: "error", role: "alert" });
  const provider = el("div", { class: "provider", hidden: true });
  const form = el("form", { method: "dialog" },
    el("h2", { id: "signin-title", text: t("signin.title") }), provider,
    el("label", { for: "signin-token", text: t("signin.token") }), input, error,
    el("p", {}, el("button", { type: "submit", class: "primary", value: "ok", text: t("signin.ok") }), " ",
      el("button", { type: "button", onclick: () => dialog.close(), text: t("signin.cancel") })));
  dialog.append(form);
  document.body.append(dialog);
  const show = async () => {
    slot.innerHTML = "";
    const me = await getJson("/me").catch(() => null);
    if (me?.sign_in && provider.hidden) {
      provider.hidden = false;
      provider.append(el("button", { type: "button", class: "primary signin-provider", onclick: () => providerSignIn(me.sign_in).catch((e) => { error.textContent = t("signin.failed", { why: e.message }); }), text: t("signin.provider") }),
        el("p", { class: "meta", text: t("signin.or") }));
    }
    document.querySelector("nav li.desk").hidden = !me?.may?.includes("review");
    if (me && me.role !== "anonymous" && token()) {
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
  feature: async (main, w) => {
    // The data is asked for while the page's modules load.
    const early = [getJson(featureApiPath(w.kind, w.id)), getJson(seriesPath(w.kind, w.id, "geojson"))];
    early.forEach((p) => p.catch(() => {}));
    // Its modules fetched side by side, not each after the one importing it.
    const [page] = await Promise.all([import("./pages/feature.js"), import("../vendor/uplot/dist/uPlot.esm.js"),
      import("./lib/series.js"), import("./lib/gauge.js"), import("./lib/profile.js")]);
    return page.featurePage(main, w.kind, w.id, early);
  },
  catalogue: async (main) => (await import("./pages/catalogue.js")).cataloguePage(main),
  item: async (main, w) => (await import("./pages/item.js")).itemPageView(main, w.collection, w.id),
  processes: async (main) => (await import("./pages/processes.js")).processListPage(main),
  process: async (main, w) => (await import("./pages/processes.js")).processPage(main, w.id),
  jobs: async (main) => (await import("./pages/jobs.js")).jobListPage(main),
  job: async (main, w) => (await import("./pages/jobs.js")).jobPage(main, w.id),
  desk: async (main) => (await import("./pages/desk.js")).deskPage(main),
  "signed-in": signedInPage,
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
