/*
 * dom: building the page without innerHTML.  Everything shown comes from
 * feedback messages that anyone can send (addresses, diagnostic texts,
 * subjects), so text only ever goes in as text nodes; the strict
 * Content-Security-Policy of the server (no inline scripts or styles)
 * means no style attributes either: looks come from classes in app.css.
 */

const SVG_NS = "http://www.w3.org/2000/svg";

/* Set attributes and properties of el from attrs: "class", "on*"
 * (listeners), booleans (present or not), the rest as attributes. */
function applyAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === "dataset") {
      for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/* h("a", {href: "#/"}, "text", child, [more]): an HTML element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  return append(el, children);
}

/* The same for SVG elements. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  return append(el, children);
}

/* Replace the children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/* A labelled <select>: options [[value, text], ...]. */
export function select(id, label, options, value, onchange) {
  const sel = h("select", {id, onchange: (e) => onchange(e.target.value)},
    options.map(([v, t]) => h("option", {value: v, selected: v === value}, t)));
  return h("div", {class: "field"}, h("label", {for: id}, label), sel);
}
