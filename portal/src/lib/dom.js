// Building elements: `el("a", { href, text, onclick }, ...children)`. `text`
// sets the text (never HTML), `on…` adds a listener, null/false leave an
// attribute out, true sets it empty.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children);
  return node;
}
