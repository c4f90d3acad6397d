// A process description (OGC API - Processes) as form fields, and the form's
// values as an execute request. Every value is checked before anything is sent;
// an error names its field. An optional field left empty is left out of the
// request: the process's default applies.

const FILE = (s) => s && s.type === "string" && (s.format === "uri" || s.contentMediaType !== undefined);

/// The field of one input: { id, title, description, kind, required, default,
/// nullable, options }. Kinds: boolean, integer, number, string, enum, file,
/// files (an array of files), json (anything else, typed as JSON).
export function field(id, input) {
  const schema = input.schema || {};
  let kind = "json";
  if (Array.isArray(schema.enum)) kind = "enum";
  else if (FILE(schema)) kind = "file";
  else if (schema.type === "array" && FILE(schema.items)) kind = "files";
  else if (["boolean", "integer", "number", "string"].includes(schema.type)) kind = schema.type;
  return {
    id,
    title: input.title || id,
    description: input.description || schema.description || "",
    kind,
    required: (input.minOccurs ?? 1) > 0,
    default: schema.default,
    nullable: schema.nullable === true,
    options: Array.isArray(schema.enum) ? schema.enum : null,
  };
}

/// Every input of a description as a field, in the description's order.
export function fields(description) {
  return Object.entries(description.inputs || {}).map(([id, input]) => field(id, input));
}

/// The download route of a catalogue item's file, as the server serves it.
export const CATALOGUE_FILE = /^\/stac\/collections\/[^/]+\/items\/[^/]+\/assets\/[^/]+$/;

/// A file given by the user: a catalogue file's link (relative or on this
/// server), one of their uploads (`/uploads/ID`), or an http(s)/s3 URL. The
/// server checks it again (its egress policy, the upload's owner).
export function fileHref(text) {
  const t = text.trim();
  if (CATALOGUE_FILE.test(t)) return t;
  if (/^\/uploads\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(t)) return t;
  if (/^(https?|s3):\/\/\S+$/.test(t)) return t;
  return null;
}

/// The execute request of `values` (an object of strings by field id; booleans
/// as true/false): { body, errors }.
export function executeRequest(list, values) {
  const inputs = {};
  const errors = [];
  for (const f of list) {
    const raw = values[f.id];
    const text = typeof raw === "string" ? raw.trim() : raw;
    const empty = text === undefined || text === null || text === "";
    if (empty && f.kind !== "boolean") {
      if (f.required) errors.push({ field: f.id, message: `${f.title}: required` });
      continue;
    }
    switch (f.kind) {
      case "boolean":
        if (text === true || text === "true") inputs[f.id] = true;
        else if (text === false || text === "false" || empty) {
          if (f.default === true || f.required) inputs[f.id] = false;
        } else errors.push({ field: f.id, message: `${f.title}: true or false` });
        break;
      case "integer":
        if (/^-?\d+$/.test(text)) inputs[f.id] = Number(text);
        else errors.push({ field: f.id, message: `${f.title}: a whole number` });
        break;
      case "number":
        if (text !== "" && Number.isFinite(Number(text))) inputs[f.id] = Number(text);
        else errors.push({ field: f.id, message: `${f.title}: a number` });
        break;
      case "enum":
        if (f.options.map(String).includes(String(text))) inputs[f.id] = f.options.find((o) => String(o) === String(text));
        else errors.push({ field: f.id, message: `${f.title}: one of ${f.options.join(", ")}` });
        break;
      case "file": {
        const href = fileHref(text);
        if (href) inputs[f.id] = { href };
        else errors.push({ field: f.id, message: `${f.title}: a catalogue file's link, an upload or an http(s) or s3 URL` });
        break;
      }
      case "files": {
        const lines = text.split(/\n+/).map((l) => l.trim()).filter(Boolean);
        const hrefs = lines.map(fileHref);
        if (hrefs.every(Boolean)) inputs[f.id] = hrefs.map((href) => ({ href }));
        else errors.push({ field: f.id, message: `${f.title}: one link or URL a line (line ${hrefs.indexOf(null) + 1} is not)` });
        break;
      }
      case "json":
        try {
          inputs[f.id] = JSON.parse(text);
        } catch {
          errors.push({ field: f.id, message: `${f.title}: JSON` });
        }
        break;
      default:
        inputs[f.id] = text;
    }
  }
  return { body: { inputs }, errors };
}
