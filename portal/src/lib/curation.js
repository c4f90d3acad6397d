// What the operators' desk offers and shows, without the page: the review actions
// a version's state allows (as the registry's transitions take them), what each
// needs, and the figures of the server's status document as rows.

const ACTIONS = {
  submitted: ["approve", "reject", "quarantine"],
  approved: ["deprecate", "yank", "quarantine"],
  deprecated: ["undeprecate", "yank", "quarantine"],
  yanked: ["unyank", "quarantine"],
  rejected: ["quarantine"],
  quarantined: [],
};

/// The review actions a version in `state` can take (none for a state unknown
/// to this portal: the server decides).
export function actionsFor(state) {
  return ACTIONS[state] ? [...ACTIONS[state]] : [];
}

/// True when `action` needs a successor (`namespace/name@version`).
export function needsSuccessor(action) {
  return action === "deprecate";
}

const REFERENCE = /^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*@[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/// The body of a review request, or the errors of its fields (`reason`,
/// `successor`) as `{ field, message-key }`. A reason is always needed (the
/// audit log keeps it), 2,000 bytes at most.
export function reviewRequest(action, reason, successor) {
  const errors = [];
  const why = (reason || "").trim();
  if (!why) errors.push({ field: "reason", key: "desk.error.reason" });
  else if (new TextEncoder().encode(why).length > 2000) errors.push({ field: "reason", key: "desk.error.reason_long" });
  const body = { action, reason: why };
  if (needsSuccessor(action)) {
    const next = (successor || "").trim();
    if (!REFERENCE.test(next)) errors.push({ field: "successor", key: "desk.error.successor" });
    else body.successor = next;
  }
  return errors.length ? { errors } : { body };
}

/// The jobs of a status document as [state, count] in a job's life order.
export function jobRows(status) {
  const by = status?.jobs?.by_state || {};
  return ["accepted", "running", "successful", "failed", "dismissed"].map((s) => [s, by[s] ?? 0]);
}

/// A latency quantile for a person: "≤ 5 ms", "> 60 s" (null: above the last
/// bound, when there were requests), "–" when none.
export function latencyText(ms, requests) {
  if (!requests) return "–";
  if (ms === null || ms === undefined) return "> 60 s";
  return ms >= 1000 ? `≤ ${ms / 1000} s` : `≤ ${ms} ms`;
}
