// The page a portal path names: /portal/ (or /portal/map) the map,
// /portal/{reaches|nodes|lakes}/ID a feature's page.

const KINDS = { reaches: "reach", nodes: "node", lakes: "lake" };
const COLLECTIONS = { reach: "reaches", node: "nodes", lake: "lakes" };

export function route(pathname) {
  const rest = pathname.replace(/^\/portal\/?/, "").replace(/\/$/, "");
  const parts = rest.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 2 && KINDS[parts[0]]) return { page: "feature", kind: KINDS[parts[0]], id: parts[1] };
  if (parts.length === 1 && parts[0] === "catalogue") return { page: "catalogue" };
  if (parts.length === 1 && parts[0] === "processes") return { page: "processes" };
  if (parts.length === 1 && parts[0] === "jobs") return { page: "jobs" };
  if (parts.length === 1 && parts[0] === "desk") return { page: "desk" };
  if (parts.length === 1 && parts[0] === "signed-in") return { page: "signed-in" };
  if (parts.length === 2 && parts[0] === "jobs") return { page: "job", id: parts[1] };
  if (parts.length === 2 && parts[0] === "processes") return { page: "process", id: parts[1] };
  if (parts.length === 3 && parts[0] === "items") return { page: "item", collection: parts[1], id: parts[2] };
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "map")) return { page: "map" };
  return { page: "missing" };
}

/// The collection of a kind (`reach` -> `reaches`).
export function collectionOf(kind) {
  return COLLECTIONS[kind];
}

/// The portal path of a feature's page.
export function featurePath(kind, id) {
  return `/portal/${COLLECTIONS[kind]}/${encodeURIComponent(id)}`;
}

/// The API path of a feature's series in format `f` (all fields and flags,
/// fills as null).
export function seriesPath(kind, id, f) {
  return `/timeseries/${COLLECTIONS[kind]}?ids=${encodeURIComponent(id)}&f=${f}`;
}

/// The API path of a feature.
export function featureApiPath(kind, id) {
  return `/features/collections/${COLLECTIONS[kind]}/items/${encodeURIComponent(id)}`;
}
