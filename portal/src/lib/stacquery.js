// The catalogue page's form as a STAC API search body. Every field is checked
// before anything is sent; an error names its field. Empty fields are left out.

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/// `form`: { collections: [ids], west, south, east, north, start, end, filter }
/// as the inputs give them (strings). Returns { body, errors }.
export function searchBody(form, limit = 20) {
  const errors = [];
  const body = { limit };
  if (form.collections?.length) body.collections = [...form.collections];
  const sides = ["west", "south", "east", "north"];
  const given = sides.filter((s) => String(form[s] ?? "").trim() !== "");
  if (given.length > 0 && given.length < 4) {
    errors.push({ field: sides.find((s) => !given.includes(s)), message: "bbox: give the four sides or none" });
  } else if (given.length === 4) {
    const [w, s, e, n] = sides.map((side) => Number(String(form[side]).trim()));
    const bad = sides.find((side, i) => !Number.isFinite([w, s, e, n][i]));
    if (bad) errors.push({ field: bad, message: `bbox: ${bad} is not a number` });
    else if (Math.abs(w) > 180 || Math.abs(e) > 180) errors.push({ field: "west", message: "bbox: longitudes are within ±180" });
    else if (Math.abs(s) > 90 || Math.abs(n) > 90) errors.push({ field: "south", message: "bbox: latitudes are within ±90" });
    else if (s > n) errors.push({ field: "south", message: "bbox: south is above north" });
    else body.bbox = [w, s, e, n]; // west > east crosses the antimeridian
  }
  const start = String(form.start ?? "").trim();
  const end = String(form.end ?? "").trim();
  for (const [field, value] of [["start", start], ["end", end]]) {
    if (value && (!DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))) {
      errors.push({ field, message: `${field}: a date as YYYY-MM-DD` });
    }
  }
  if (start && end && DATE.test(start) && DATE.test(end) && start > end) {
    errors.push({ field: "end", message: "dates: the end is before the start" });
  }
  if ((start || end) && !errors.some((e) => e.field === "start" || e.field === "end")) {
    body.datetime = `${start ? `${start}T00:00:00Z` : ".."}/${end ? `${end}T23:59:59Z` : ".."}`;
  }
  const filter = String(form.filter ?? "").trim();
  if (filter) {
    body.filter = filter;
    body["filter-lang"] = "cql2-text";
  }
  return { body, errors };
}

/// A STAC item's link to another item of this catalogue, as the portal's item
/// page path (`/portal/items/C/I`), or null for any other link.
export function itemPage(href, origin) {
  let url;
  try {
    url = new URL(href, origin);
  } catch {
    return null;
  }
  if (url.origin !== origin) return null;
  const m = url.pathname.match(/^\/stac\/collections\/([^/]+)\/items\/([^/]+)$/);
  return m ? `/portal/items/${m[1]}/${m[2]}` : null;
}
