// The caller's jobs (filtered by state and process), and a job's live page: its
// progress bar (the plugin's own `progress` calls, as the job's status reports
// them), its message, the lines its plugins logged, its results (on a map, as a
// chart, as downloads, with their provenance: jobresults.js), its results once successful (files by their links, values
// as they are), and a button to dismiss it while it runs.

import { getJson, send, token } from "../api.js";
import { t } from "../i18n.js";
import { el } from "../lib/dom.js";
import { showResults } from "./jobresults.js";

const FINAL = ["successful", "failed", "dismissed"];
const STATES = ["accepted", "running", ...FINAL];

function when(text) {
  return text ? text.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC") : t("value.none");
}

export async function jobListPage(main) {
  main.innerHTML = "";
  document.title = `${t("jobs.title")} · Hysope`;
  const params = new URLSearchParams(location.search);
  const status = el("select", { id: "job-status" }, el("option", { value: "", text: t("jobs.any") }),
    ...STATES.map((s) => el("option", { value: s, text: t(`jobs.state.${s}`) })));
  status.value = params.get("status") || "";
  const processes = (await getJson("/processes")).processes;
  const process = el("select", { id: "job-process" }, el("option", { value: "", text: t("jobs.any") }),
    ...processes.map((p) => el("option", { value: p.id, text: p.title || p.id })));
  process.value = params.get("processID") || "";
  // A production rule's jobs (the operators' desk links here): kept in the query.
  const rule = params.get("rule") || "";
  const body = el("tbody");
  const note = el("p", { class: "meta", role: "status" });
  main.append(el("section", { class: "jobs-page" },
    el("h1", { text: t("jobs.title") }),
    el("div", { class: "toolbar-inline" },
      el("label", {}, `${t("jobs.filter.status")} `, status), el("label", {}, `${t("jobs.filter.process")} `, process)),
    rule ? el("p", { class: "meta", "data-rule": rule, text: t("jobs.of_rule", { rule }) }) : "",
    note,
    el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("jobs.title") },
      el("table", { class: "jobs" },
        el("thead", {}, el("tr", {}, ...["id", "process", "status", "progress", "created"].map((c) => el("th", { scope: "col", text: t(`jobs.col.${c}`) })))),
        body))));
  async function load() {
    const q = new URLSearchParams({ limit: "100" });
    if (status.value) q.set("status", status.value);
    if (process.value) q.set("processID", process.value);
    if (rule) q.set("rule", rule);
    history.replaceState(null, "", `${location.pathname}?${q}`);
    body.innerHTML = "";
    if (!token()) {
      note.textContent = t("jobs.signin");
      return;
    }
    const jobs = (await getJson(`/jobs?${q}`)).jobs;
    note.textContent = t("jobs.count", { n: jobs.length });
    for (const j of jobs) {
      body.append(el("tr", { "data-job": j.jobID },
        el("td", {}, el("a", { href: `/portal/jobs/${encodeURIComponent(j.jobID)}`, text: j.jobID })),
        el("td", { text: j.processID }),
        el("td", { text: t(`jobs.state.${j.status}`) }),
        el("td", { text: `${j.progress ?? 0} %` }),
        el("td", { text: when(j.created) })));
    }
  }
  status.addEventListener("change", load);
  process.addEventListener("change", load);
  await load();
}

export async function jobPage(main, id) {
  main.innerHTML = "";
  document.title = `${t("jobs.job")} ${id} · Hysope`;
  const bar = el("progress", { id: "job-progress", max: "100", value: "0" });
  const state = el("p", { class: "job-state", role: "status" });
  const message = el("p", { class: "meta job-message" });
  const times = el("dl", { class: "props" });
  const results = el("div", { class: "job-results" });
  const logList = el("ol", { class: "job-log" });
  const logSection = el("section", { class: "job-log-section", hidden: true }, el("h2", { text: t("jobs.log") }),
    el("div", { role: "log", "aria-label": t("jobs.log") }, logList));
  const alert = el("p", { class: "error", role: "alert" });
  const dismiss = el("button", { type: "button", hidden: true, text: t("jobs.dismiss") });
  main.append(el("article", { class: "job-page" },
    el("p", {}, el("a", { href: "/portal/jobs", text: `← ${t("jobs.all")}` })),
    el("h1", { text: `${t("jobs.job")} ${id}` }),
    el("label", { for: "job-progress", text: t("jobs.progress") }), bar, state, message, times, dismiss, alert, logSection, results));
  const seen = [];
  window.hysopeJob = { seen };
  let last = null;
  const show = (s) => {
    last = s;
    bar.value = s.progress ?? 0;
    bar.textContent = `${s.progress ?? 0} %`;
    bar.dataset.status = s.status;
    if (seen[seen.length - 1] !== s.progress) seen.push(s.progress);
    state.textContent = `${t(`jobs.state.${s.status}`)} · ${s.progress ?? 0} %`;
    message.textContent = s.message || "";
    times.innerHTML = "";
    for (const k of ["processID", "created", "started", "finished"]) {
      if (s[k]) times.append(el("dt", { text: t(`jobs.col.${k}`) }), el("dd", { text: k === "processID" ? s[k] : when(s[k]) }));
    }
    dismiss.hidden = FINAL.includes(s.status);
    const lines = s["hysope:log"] || [];
    logSection.hidden = lines.length === 0;
    if (logList.childElementCount !== lines.length || logList.lastElementChild?.dataset.time !== String(lines.at(-1)?.time)) {
      logList.replaceChildren(...lines.map((l) => el("li", { class: `log-${l.level}`, "data-time": String(l.time) },
        el("time", { datetime: new Date(l.time).toISOString(), text: new Date(l.time).toISOString().slice(11, 19) }), ` ${l.level} `, l.message)));
    }
  };
  dismiss.addEventListener("click", async () => {
    try {
      show(await send(`/jobs/${encodeURIComponent(id)}`, { method: "DELETE" }));
    } catch (e) {
      alert.textContent = e.message;
    }
  });
  for (;;) {
    try {
      show(await getJson(`/jobs/${encodeURIComponent(id)}`));
    } catch (e) {
      alert.textContent = e.status === 401 || e.status === 404 ? `${e.message} (${t("jobs.signin")})` : e.message;
      return;
    }
    if (FINAL.includes(last.status)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (last.status !== "successful") return;
  const outputs = await getJson(`/jobs/${encodeURIComponent(id)}/results`);
  await showResults(results, id, outputs, alert);
}
