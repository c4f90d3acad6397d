// What the operators' desk shows of the production rules (/rules), without the
// page: a rule's trigger in words' parts, its schedule's period, the actions its
// state allows, and its backfill's progress.

/// A period in seconds as the largest unit that divides it: `6 h`, `1 d`,
/// `90 min`, `45 s`.
export function periodText(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s <= 0) return "";
  for (const [unit, n] of [["d", 86400], ["h", 3600], ["min", 60]]) {
    if (s % n === 0) return `${s / n} ${unit}`;
  }
  return `${s} s`;
}

/// The trigger of a rule: `{ kind, collections, filter, every }` (filter as
/// text: CQL2 text as given, CQL2 JSON serialised; `every` only for a schedule).
export function triggerParts(trigger) {
  const t = trigger || {};
  const filter = t.filter == null ? null : typeof t.filter === "string" ? t.filter : JSON.stringify(t.filter);
  return {
    kind: t.type === "schedule" ? "schedule" : "item",
    collections: Array.isArray(t.collections) ? [...t.collections] : [],
    filter,
    every: t.type === "schedule" ? periodText(t.every) : null,
  };
}

/// What an operator may do with a rule in `state`: pause an active one, resume a
/// paused one, delete either (none for a state unknown here: the server decides).
export function ruleActions(state) {
  if (state === "active") return ["pause", "delete"];
  if (state === "paused") return ["resume", "delete"];
  return [];
}

/// The backfill of a rule: `null` when it has none, else `{ done, total,
/// percent, finished }` (an empty catalogue is a finished backfill).
export function backfillOf(rule) {
  const b = rule?.backfill;
  if (!b) return null;
  const total = Number(b.total) || 0;
  const done = Math.min(Number(b.done) || 0, total);
  const percent = total === 0 ? 100 : Math.floor((done * 100) / total);
  return { done, total, percent, finished: done >= total };
}
