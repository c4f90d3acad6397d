// The longitudinal profile of a reach for one pass: its nodes' WSE and width in
// SWORD's node order (the node number, digits 11-13 of the 14-digit node id,
// increases upstream: the shared data's WSE rises with it). A node's observation
// belongs to the pass when it is within `tolerance` of the reach's time (the
// node and reach products of one pass differ by seconds; passes by days).

export const TOLERANCE_MS = 30 * 60 * 1000;

/// The node number of a node id.
export function nodeNumber(id) {
  return Number(String(id).slice(10, 13));
}

/// The profile at `time` (ms): nodes in order with their values, and how many
/// nodes had no value (a fill) or no observation at that pass.
export function profile(nodeFeatures, time, tolerance = TOLERANCE_MS) {
  const points = [];
  let unobserved = 0;
  for (const f of nodeFeatures) {
    const p = f.properties;
    const times = (p.time || []).map(Date.parse);
    let best = -1;
    for (let i = 0; i < times.length; i++) {
      if (Math.abs(times[i] - time) <= tolerance && (best < 0 || Math.abs(times[i] - time) < Math.abs(times[best] - time))) best = i;
    }
    const wse = best < 0 ? null : p.wse?.[best] ?? null;
    if (wse === null || !Number.isFinite(wse)) {
      unobserved++;
      continue;
    }
    const width = p.width?.[best];
    const q = p.node_q?.[best];
    points.push({
      id: String(f.id),
      n: nodeNumber(f.id),
      wse,
      width: Number.isFinite(width) ? width : null,
      quality: Number.isFinite(q) ? q : null,
    });
  }
  points.sort((a, b) => a.n - b.n);
  return { points, unobserved };
}
