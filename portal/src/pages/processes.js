// The processes: their list, and a form generated from each one's description
// (a field per input with its type, default and required mark; file inputs take
// a catalogue file's link, offered from the catalogue, a file the user uploads,
// or a URL), the request as
// JSON beside it, synchronous or asynchronous execution. Executing needs a
// user's token (signing in: the header's button).

import { getJson, postJson, token, upload } from "../api.js";
import { t } from "../i18n.js";
import { el, showErrors } from "../lib/dom.js";
import { CATALOGUE_FILE, executeRequest, fields } from "../lib/form.js";

export async function processListPage(main) {
  main.innerHTML = "";
  document.title = `${t("processes.title")} · Hysope`;
  const list = (await getJson("/processes")).processes;
  main.append(el("section", { class: "processes-page" },
    el("h1", { text: t("processes.title") }),
    el("ul", { class: "process-list" }, ...list.map((p) => el("li", {},
      el("a", { href: `/portal/processes/${encodeURIComponent(p.id)}`, text: p.title || p.id }),
      el("p", { class: "meta", text: p.description || "" }))))));
}

/// The catalogue's files, offered to the file fields (their download links).
async function catalogueFiles() {
  const page = await postJson("/stac/search", { limit: 200 });
  const options = [];
  for (const item of page.features) {
    for (const asset of Object.values(item.assets || {})) {
      const path = new URL(asset.href, location.origin).pathname;
      if (CATALOGUE_FILE.test(path)) options.push({ value: path, label: asset.title || item.id });
    }
  }
  return options;
}

function control(f) {
  const common = { id: `i-${f.id}`, name: f.id, "aria-describedby": `d-${f.id} e-${f.id}`, "data-kind": f.kind };
  switch (f.kind) {
    case "boolean":
      return el("input", { ...common, type: "checkbox", checked: f.default === true });
    case "enum":
      return el("select", common, el("option", { value: "", text: "" }), ...f.options.map((o) => el("option", { value: String(o), text: String(o) })));
    case "files":
      return el("textarea", { ...common, rows: 3, cols: 60, placeholder: t("processes.files.hint") });
    case "json":
      return el("textarea", { ...common, rows: 2, cols: 60, placeholder: "JSON" });
    case "file":
      return el("input", { ...common, type: "text", size: 60, list: "catalogue-files", placeholder: t("processes.file.hint") });
    default:
      return el("input", { ...common, type: "text", inputmode: f.kind === "string" ? "text" : "decimal",
        placeholder: f.default === undefined ? "" : String(f.default) });
  }
}

export async function processPage(main, id) {
  main.innerHTML = "";
  const description = await getJson(`/processes/${encodeURIComponent(id)}`);
  document.title = `${description.title || id} · Hysope`;
  const list = fields(description);
  const files = list.some((f) => f.kind === "file" || f.kind === "files") ? await catalogueFiles() : [];
  const form = el("form", { class: "process-form", novalidate: true });
  /// An "upload" picker for a file field: each file chosen is uploaded
  /// (POST /uploads) and its link put in the field.
  function uploader(f) {
    if (f.kind !== "file" && f.kind !== "files") return "";
    const picker = el("input", { type: "file", id: `u-${f.id}`, class: "upload", multiple: f.kind === "files" });
    const note = el("span", { class: "hint upload-note", "aria-live": "polite" });
    picker.addEventListener("change", async () => {
      const target = form.elements[f.id];
      for (const file of picker.files) {
        note.textContent = t("processes.uploading", { name: file.name });
        try {
          const done = await upload(file);
          const href = new URL(done.href, location.origin).pathname;
          target.value = f.kind === "file" ? href : [target.value.trim(), href].filter(Boolean).join("\n");
          note.textContent = t("processes.uploaded", { name: done.name, size: done.size });
        } catch (err) {
          note.textContent = "";
          document.getElementById(`e-${f.id}`).textContent = err.status === 401 ? t("processes.signin") : err.message;
          break;
        }
      }
      picker.value = "";
      refresh();
    });
    const fromMap = el("button", { type: "button", class: "pick-map", "data-field": f.id, text: t("picker.open") });
    fromMap.addEventListener("click", async () => {
      const { pickFiles } = await import("./picker.js");
      await pickFiles(f, (hrefs) => {
        const target = form.elements[f.id];
        if (f.kind === "file") target.value = hrefs[0];
        else target.value = [...new Set([...target.value.split("\n").map((l) => l.trim()).filter(Boolean), ...hrefs])].join("\n");
        refresh();
        target.focus();
      });
    });
    return el("div", { class: "uploader" }, fromMap, el("label", { for: `u-${f.id}`, text: t("processes.upload") }), picker, note);
  }
  for (const f of list) {
    form.append(el("div", { class: "field" },
      el("label", { for: `i-${f.id}` }, f.title, f.required ? el("span", { class: "required", "aria-hidden": "true", text: " *" }) : "",
        f.required ? el("span", { class: "visually-hidden", text: ` (${t("processes.required")})` }) : ""),
      control(f), uploader(f),
      el("span", { class: "hint", id: `d-${f.id}`, text: [f.description, f.default === undefined ? "" : `${t("processes.default")} ${JSON.stringify(f.default)}`].filter(Boolean).join(" · ") }),
      el("span", { class: "field-error error", id: `e-${f.id}`, "aria-live": "polite" })));
  }
  const mode = el("fieldset", { class: "mode" }, el("legend", { text: t("processes.mode") }),
    el("label", {}, el("input", { type: "radio", name: "mode", value: "async", checked: true }), t("processes.async")),
    el("label", {}, el("input", { type: "radio", name: "mode", value: "sync" }), t("processes.sync")));
  const preview = el("pre", { class: "preview", "aria-live": "off", tabindex: "0" });
  const alert = el("p", { class: "error", role: "alert" });
  const outcome = el("div", { class: "outcome", "aria-live": "polite" });
  form.append(mode, el("button", { type: "submit", class: "primary", text: t("processes.run") }));
  main.append(el("section", { class: "process-page" },
    el("p", {}, el("a", { href: "/portal/processes", text: `← ${t("processes.back")}` })),
    el("h1", { text: description.title || id }),
    el("p", { class: "meta", text: description.description || "" }),
    el("datalist", { id: "catalogue-files" }, ...files.map((o) => el("option", { value: o.value, label: o.label }))),
    el("div", { class: "form-wrap" }, form,
      el("div", {}, el("h2", { id: "preview-title", text: t("processes.preview") }), preview)),
    alert, outcome));
  if (!token()) alert.textContent = t("processes.signin");

  function values() {
    const out = {};
    for (const f of list) {
      const input = form.elements[f.id];
      out[f.id] = f.kind === "boolean" ? input.checked : input.value;
    }
    return out;
  }
  function refresh() {
    const { body } = executeRequest(list, values());
    preview.textContent = JSON.stringify(body, null, 2);
  }
  form.addEventListener("input", refresh);
  refresh();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { body, errors } = executeRequest(list, values());
    if (!showErrors(form, list.map((f) => f.id), errors)) return;
    alert.textContent = "";
    outcome.innerHTML = "";
    const sync = form.querySelector("input[name=mode]:checked").value === "sync";
    try {
      const reply = await postJson(`/processes/${encodeURIComponent(id)}/execution`, body,
        { headers: sync ? {} : { Prefer: "respond-async" } });
      if (reply.jobID) {
        outcome.append(el("p", {}, `${t("processes.accepted")} `,
          el("a", { href: `/portal/jobs/${encodeURIComponent(reply.jobID)}`, class: "job", "data-job": reply.jobID, text: reply.jobID })));
      } else {
        outcome.append(el("h2", { text: t("processes.results") }), el("pre", { class: "results", tabindex: "0", text: JSON.stringify(reply, null, 2) }));
      }
    } catch (err) {
      alert.textContent = err.status === 401 || err.status === 403 ? `${t("processes.signin")} (${err.message})` : err.message;
    }
  });
}
