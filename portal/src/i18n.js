// The portal's language: `?lang=` (kept for the next visit), then the last choice,
// then the browser's; English when none is French. `t(key, values)` fills
// `{name}` placeholders.

import { STRINGS } from "./strings.js";

export const LANGUAGES = Object.keys(STRINGS);

export function pickLanguage(search, stored, browser) {
  const asked = new URLSearchParams(search).get("lang");
  for (const candidate of [asked, stored, ...(browser || [])]) {
    const code = (candidate || "").slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(code)) return code;
  }
  return "en";
}

let current = "en";

export function setLanguage(code) {
  current = LANGUAGES.includes(code) ? code : "en";
}

export function language() {
  return current;
}

export function format(text, values = {}) {
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in values ? String(values[name]) : whole,
  );
}

export function t(key, values) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return format(text, values);
}
