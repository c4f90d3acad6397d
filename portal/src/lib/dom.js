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

/// Shows each `{ field, message }` of `errors` beside its input (the element
/// `e-NAME`, the input marked invalid), clears the others of `names`, and puts
/// the focus on the first wrong input. True when there was none.
export function showErrors(form, names, errors) {
  for (const name of names) {
    document.getElementById(`e-${name}`).textContent = "";
    form.elements[name].removeAttribute("aria-invalid");
  }
  for (const { field, message } of errors) {
    document.getElementById(`e-${field}`).textContent = message;
    form.elements[field].setAttribute("aria-invalid", "true");
  }
  if (errors.length) form.elements[errors[0].field].focus();
  return errors.length === 0;
}
