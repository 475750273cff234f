// Small DOM helpers. The page runs under Trusted Types with no policy, so
// nothing here (or anywhere) parses HTML: elements are created one by one
// and text goes in as text nodes.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// el creates an HTML element: el('p', {class: 'x'}, 'text', child).
export function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

// svg creates an SVG element.
export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

// $ finds an element by id, and fails loudly when the page lacks it.
export function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`console: no element #${id}`);
  return node;
}

// fmtInt writes 12345 as "12,345" (the page is in English).
export function fmtInt(n) {
  return Number(n).toLocaleString('en-US');
}

// fmtDuration writes seconds as "45 s", "3 min 20 s" or "2 h 5 min".
export function fmtDuration(secs) {
  if (!Number.isFinite(secs) || secs < 0) return '';
  secs = Math.round(secs);
  if (secs < 60) return `${secs} s`;
  const m = Math.floor(secs / 60);
  if (m < 60) return `${m} min ${secs % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
