// The operators' desk: the server's state (/admin/status, refreshed every 10 s),
// the production rules (/rules: what each does, its counts and backfill's
// progress, refreshed with the state; pause, resume, delete), the registry's
// submissions to approve or reject with a reason, and every version's curation
// (deprecate with a successor, yank, quarantine, and back).
// Operators only: the server refuses the others, and the page says so.

import { getJson, postJson, send } from "../api.js";
import { t } from "../i18n.js";
import { actionsFor, jobRows, latencyText, needsSuccessor, reviewRequest } from "../lib/curation.js";
import { el, showErrors } from "../lib/dom.js";
import { backfillOf, ruleActions, triggerParts } from "../lib/rules.js";

const REFRESH_MS = 10000;

function when(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : t("value.none");
}

function reviewPath(v) {
  const [ns, name] = v.repository.split("/");
  return `/registry/packages/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/versions/${encodeURIComponent(v.version)}/review`;
}

function table(caption, head, rows, captionClass = null) {
  return el("table", { class: "desk-table" },
    el("caption", { class: captionClass, text: caption }),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, el("th", { scope: "row", text: r[0] }), ...r.slice(1).map((c) => el("td", {}, c))))));
}

function statusView(status) {
  const req = status.requests;
  const ready = status.ready
    ? el("p", { class: "ready ok", text: t("desk.ready") })
    : el("p", { class: "ready error", text: t("desk.not_ready", { faults: status.faults.join("; ") }) });
  const props = el("dl", { class: "props" },
    el("dt", { text: t("desk.version") }), el("dd", { text: status.version }),
    el("dt", { text: t("desk.started") }), el("dd", { text: status.started.replace("T", " ").replace("Z", " UTC") }),
    el("dt", { text: t("desk.queue") }), el("dd", { "data-figure": "queue", text: t("desk.queue_value", { depth: status.jobs.queue_depth, max: status.jobs.max_waiting }) }),
    el("dt", { text: t("desk.requests") }), el("dd", { "data-figure": "requests", text: t("desk.requests_value", { n: req.count, rate: req.per_second, s: req.window_seconds }) }),
    el("dt", { text: t("desk.errors") }), el("dd", { "data-figure": "errors", text: t("desk.errors_value", { server: req.server_errors, client: req.client_errors, ratio: (req.server_error_ratio * 100).toFixed(2) }) }),
    el("dt", { text: t("desk.latency") }), el("dd", { "data-figure": "latency", text: ["p50", "p95", "p99"].map((q) => `${q} ${latencyText(req.latency_ms_at_most[q], req.count)}`).join(" · ") }));
  const jobs = table(t("desk.jobs"), [t("jobs.col.status"), t("desk.count")],
    jobRows(status).map(([s, n]) => [t(`jobs.state.${s}`), String(n)]));
  const causes = Object.entries(status.failures.by_cause);
  const failures = causes.length
    ? table(t("desk.causes"), [t("desk.cause"), t("desk.count")], causes.map(([c, n]) => [c, String(n)]))
    : el("p", { class: "meta", text: t("desk.no_failures") });
  const recent = status.failures.recent.length
    ? el("ul", { class: "recent-failures" }, ...status.failures.recent.map((j) => el("li", {},
      el("a", { href: `/portal/jobs/${encodeURIComponent(j.id)}`, text: j.id }), ` ${j.process} · ${j.finished || ""} · `,
      el("span", { class: "meta", text: j.message }))))
    : el("p", { class: "meta", text: t("desk.no_recent") });
  return el("div", { class: "desk-status" }, ready, props,
    el("div", { class: "desk-tables" }, jobs, failures),
    el("h3", { text: t("desk.recent") }), recent);
}

/// A version's figures as a description list.
function versionProps(v) {
  return el("dl", { class: "props" },
    el("dt", { text: t("desk.publisher") }), el("dd", { text: v.publisher }),
    el("dt", { text: t("desk.signer") }), el("dd", { text: v.signer ? `${v.signer.user} · ${v.signer.fingerprint}` : t("value.none") }),
    el("dt", { text: t("desk.component") }), el("dd", { class: "digest", text: v.component }),
    el("dt", { text: t("desk.size") }), el("dd", { text: `${(v.size / 1024).toFixed(1)} KiB` }),
    el("dt", { text: t("desk.submitted") }), el("dd", { text: when(v.created_ms) }),
    el("dt", { text: t("desk.processes") }), el("dd", { text: (v.processes || []).join(", ") || t("value.none") }));
}

/// One submission: its figures, report and descriptor, and a reason with a
/// button per action its state takes.
function submissionView(v, done) {
  const id = `s-${v.repository.replace(/[^a-z0-9]/g, "-")}-${v.version.replace(/[^A-Za-z0-9]/g, "-")}`;
  const reason = el("textarea", { id: `${id}-reason`, name: "reason", rows: "2", maxlength: "2000" });
  const error = el("p", { id: `e-${id}`, class: "error", role: "alert" });
  const form = el("form", { class: "review-form", "data-reference": v.reference, novalidate: true },
    el("label", { for: `${id}-reason`, text: t("desk.reason") }), reason, error,
    el("p", { class: "actions" }, ...actionsFor(v.state).map((a) => el("button", {
      type: "submit", value: a, class: a === "approve" ? "primary" : null, text: t(`desk.action.${a}`),
    }))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const action = e.submitter?.value;
    const made = reviewRequest(action, reason.value);
    error.textContent = made.errors ? made.errors.map((x) => t(x.key)).join(" ") : "";
    if (made.errors) {
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
      return;
    }
    reason.removeAttribute("aria-invalid");
    try {
      const after = await postJson(reviewPath(v), made.body);
      done(t("desk.done", { reference: v.reference, state: t(`desk.state.${after.state}`) }));
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return el("article", { class: "submission", "aria-labelledby": `${id}-title` },
    el("h3", { id: `${id}-title`, text: v.reference }), versionProps(v),
    el("details", {}, el("summary", { text: t("desk.report") }), el("pre", { class: "preview", text: JSON.stringify(v.report, null, 2) })),
    el("details", {}, el("summary", { text: t("desk.cwl") }), el("pre", { class: "preview", text: v.cwl })),
    form);
}

/// Every version with its state, and one form to curate any of them.
function versionsView(packages, done) {
  const versions = packages.flatMap((p) => p.versions.map((v) => ({ ...v, repository: p.repository, reference: `${p.repository}@${v.version}` })));
  if (!versions.length) return el("p", { class: "meta", text: t("desk.no_versions") });
  const rows = versions.map((v) => [v.reference, t(`desk.state.${v.state}`), el("span", { class: "digest", text: v.component })]);
  const pick = el("select", { id: "curate-version", name: "version" }, ...versions.map((v, i) => el("option", { value: String(i), text: `${v.reference} (${t(`desk.state.${v.state}`)})` })));
  const action = el("select", { id: "curate-action", name: "action" });
  const reason = el("input", { id: "curate-reason", name: "reason", type: "text", maxlength: "2000" });
  const successor = el("input", { id: "curate-successor", name: "successor", type: "text", placeholder: "namespace/name@version" });
  const successorField = el("div", { class: "field", hidden: true },
    el("label", { for: "curate-successor", text: t("desk.successor") }), successor, el("span", { id: "e-successor", class: "error field-error" }));
  const alert = el("p", { class: "error", role: "alert" });
  const fill = () => {
    const v = versions[Number(pick.value)];
    action.innerHTML = "";
    const choices = actionsFor(v.state);
    for (const a of choices) action.append(el("option", { value: a, text: t(`desk.action.${a}`) }));
    action.disabled = choices.length === 0;
    successorField.hidden = !needsSuccessor(action.value);
  };
  pick.addEventListener("change", fill);
  action.addEventListener("change", () => { successorField.hidden = !needsSuccessor(action.value); });
  const form = el("form", { class: "curate-form search-form", novalidate: true },
    el("div", { class: "field" }, el("label", { for: "curate-version", text: t("desk.version_pick") }), pick),
    el("div", { class: "field" }, el("label", { for: "curate-action", text: t("desk.action") }), action),
    el("div", { class: "field" }, el("label", { for: "curate-reason", text: t("desk.reason") }), reason, el("span", { id: "e-reason", class: "error field-error" })),
    successorField,
    el("button", { type: "submit", class: "primary", text: t("desk.apply") }));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    alert.textContent = "";
    const v = versions[Number(pick.value)];
    if (!action.value) return;
    const made = reviewRequest(action.value, reason.value, successor.value);
    const errors = (made.errors || []).map((x) => ({ field: x.field, message: t(x.key) }));
    if (!showErrors(form, needsSuccessor(action.value) ? ["reason", "successor"] : ["reason"], errors)) return;
    try {
      const after = await postJson(reviewPath(v), made.body);
      done(t("desk.done", { reference: v.reference, state: t(`desk.state.${after.state}`) }));
    } catch (err) {
      alert.textContent = err.message;
    }
  });
  fill();
  return el("div", {},
    el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("desk.versions") },
      table(t("desk.versions"), [t("desk.reference"), t("desk.state"), t("desk.component")], rows, "visually-hidden")),
    form, alert);
}

/// One production rule: what it runs on what, its state and counts, its backfill's
/// progress, its recent jobs by state (a link to them), and its actions (a
/// deletion asks once more).
function ruleView(rule, done) {
  const id = `rule-${rule.id}`;
  const trigger = triggerParts(rule.trigger);
  const what = trigger.kind === "schedule"
    ? t("desk.rule.schedule", { every: trigger.every, collections: trigger.collections.join(", ") })
    : t("desk.rule.item", { collections: trigger.collections.join(", ") });
  const backfill = backfillOf(rule);
  const counts = rule.counts || {};
  const recent = Object.entries(rule.recent_states || {}).map(([s, n]) => `${t(`jobs.state.${s}`)} ${n}`).join(" · ");
  const props = el("dl", { class: "props" },
    el("dt", { text: t("desk.rule.process") }), el("dd", {}, el("a", { href: `/portal/processes/${encodeURIComponent(rule.process)}`, text: rule.process })),
    el("dt", { text: t("desk.rule.trigger") }), el("dd", { text: what }),
    ...(trigger.filter ? [el("dt", { text: t("desk.rule.filter") }), el("dd", {}, el("code", { text: trigger.filter }))] : []),
    el("dt", { text: t("desk.rule.state") }), el("dd", { "data-figure": "rule-state", text: t(`desk.rule.state.${rule.state}`) }),
    el("dt", { text: t("desk.rule.counts") }), el("dd", { "data-figure": "rule-counts", text: t("desk.rule.counts_value", {
      triggered: counts.triggered || 0, skipped: counts.skipped || 0, cycles: counts.cycles || 0, repeated: counts.repeated || 0 }) }),
    el("dt", { text: t("desk.rule.owner") }), el("dd", { text: rule.owner }),
    el("dt", { text: t("desk.rule.jobs") }), el("dd", {},
      el("a", { href: `/portal/jobs?rule=${encodeURIComponent(rule.id)}`, text: recent || t("value.none") })));
  if (rule.last_skip) props.append(el("dt", { text: t("desk.rule.last_skip") }), el("dd", { class: "meta", text: rule.last_skip }));
  const parts = [el("h3", { id: `${id}-title`, text: rule.title ? `${rule.id} · ${rule.title}` : rule.id }), props];
  if (backfill) {
    const label = t("desk.rule.backfill", { done: backfill.done, total: backfill.total, percent: backfill.percent });
    parts.push(el("p", { class: "backfill" },
      el("label", { for: `${id}-backfill`, text: label }), " ",
      el("progress", { id: `${id}-backfill`, max: String(Math.max(backfill.total, 1)), value: String(backfill.total ? backfill.done : 1), "data-finished": String(backfill.finished) })));
  }
  const error = el("p", { class: "error", role: "alert" });
  const buttons = el("p", { class: "actions" });
  const act = async (action) => {
    error.textContent = "";
    try {
      const path = `/rules/${encodeURIComponent(rule.id)}`;
      if (action === "delete") await send(path, { method: "DELETE" });
      else await send(`${path}/${action}`, { method: "POST" });
      done(t(`desk.rule.done.${action}`, { id: rule.id }));
    } catch (err) {
      error.textContent = err.message;
    }
  };
  for (const action of ruleActions(rule.state)) {
    const button = el("button", { type: "button", value: action, class: action === "delete" ? "danger" : null, text: t(`desk.rule.action.${action}`) });
    button.addEventListener("click", () => {
      if (action !== "delete") return act(action);
      // A deletion asks once more, in the page (no dialog).
      const confirm = el("button", { type: "button", value: "confirm-delete", class: "danger", text: t("desk.rule.action.confirm") });
      confirm.addEventListener("click", () => act("delete"));
      button.replaceWith(el("span", { class: "confirm" }, `${t("desk.rule.confirm", { id: rule.id })} `, confirm));
      confirm.focus();
    });
    buttons.append(button);
  }
  parts.push(buttons, error);
  return el("article", { class: "rule", "data-rule": rule.id, "aria-labelledby": `${id}-title` }, ...parts);
}

export async function deskPage(main) {
  main.innerHTML = "";
  document.title = `${t("desk.title")} · Hysope`;
  const page = el("section", { class: "desk-page" }, el("h1", { text: t("desk.title") }));
  main.append(page);
  const me = await getJson("/me").catch(() => null);
  if (!me || !me.may?.includes("review")) {
    page.append(el("p", { class: "meta", text: t("desk.operators_only") }));
    return;
  }
  const note = el("p", { class: "desk-note", role: "status" });
  const stateSlot = el("div", { id: "desk-state" });
  const rulesSlot = el("div", { id: "desk-rules" });
  const submissionsSlot = el("div", { id: "desk-submissions" });
  const versionsSlot = el("div", { id: "desk-versions" });
  page.append(note,
    el("h2", { text: t("desk.state_title") }), stateSlot,
    el("h2", { text: t("desk.rules") }), rulesSlot,
    el("h2", { text: t("desk.submissions") }), submissionsSlot,
    el("h2", { text: t("desk.versions") }), versionsSlot);

  async function loadStatus() {
    try {
      const status = await getJson("/admin/status");
      stateSlot.replaceChildren(statusView(status));
      window.hysopeDesk = { status };
    } catch (err) {
      stateSlot.replaceChildren(el("p", { class: "error", text: t("error.load", { what: "/admin/status", why: err.message }) }));
    }
  }
  async function loadRules() {
    try {
      const { rules } = await getJson("/rules");
      const done = (text) => {
        note.textContent = text;
        loadRules();
      };
      rulesSlot.replaceChildren(...(rules.length
        ? rules.map((r) => ruleView(r, done))
        : [el("p", { class: "meta", text: t("desk.no_rules") })]));
    } catch (err) {
      rulesSlot.replaceChildren(el("p", { class: "error", text: t("error.load", { what: "/rules", why: err.message }) }));
    }
  }
  async function loadRegistry() {
    const [queue, packages] = await Promise.all([getJson("/registry/queue"), getJson("/registry/packages")]);
    const done = (text) => {
      note.textContent = text;
      loadRegistry();
      loadStatus();
    };
    submissionsSlot.replaceChildren(...(queue.submissions.length
      ? queue.submissions.map((v) => submissionView(v, done))
      : [el("p", { class: "meta", text: t("desk.no_submissions") })]));
    versionsSlot.replaceChildren(versionsView(packages.packages, done));
  }
  await Promise.all([loadStatus(), loadRules(), loadRegistry()]);
  const timer = setInterval(() => {
    loadStatus();
    loadRules();
  }, REFRESH_MS);
  addEventListener("pagehide", () => clearInterval(timer));
}
