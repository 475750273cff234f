// The verdict breakdown as an inline SVG bar chart. Every bar carries its
// name and its count in text, so the chart reads without colour and with a
// screen reader (the title sums it up).

import { svg } from './dom.js';
import { LABELS, SYMBOLS, VERDICTS } from './verdict.js';

const ROW = 36;
const BAR_X = 104;
const BAR_MAX = 250;

// countsOf reads the API's summary object.
export function countsOf(summary) {
  const s = summary || {};
  return {
    safe: s.total_safe || 0,
    risky: s.total_risky || 0,
    invalid: s.total_invalid || 0,
    unknown: s.total_unknown || 0,
  };
}

// drawChart redraws the chart inside the <svg> node from counts.
export function drawChart(node, counts) {
  const total = VERDICTS.reduce((n, v) => n + counts[v], 0);
  const title = svg('title', { id: 'job-chart-title' },
    `Verdicts so far: ${VERDICTS.map((v) => `${counts[v]} ${v}`).join(', ')}.`);
  const rows = VERDICTS.map((v, i) => {
    const n = counts[v];
    const share = total ? n / total : 0;
    const w = n ? Math.max(2, Math.round(share * BAR_MAX)) : 0;
    const y = 4 + i * ROW;
    const pct = total ? `${Math.round(share * 100)} %` : '0 %';
    return svg('g', { class: 'bar', 'data-verdict': v, 'data-count': n },
      svg('text', { class: 'bar-label', x: 0, y: y + 19 }, `${SYMBOLS[v]} ${LABELS[v]}`),
      svg('rect', { class: `bar-track`, x: BAR_X, y: y + 4, width: BAR_MAX, height: 22, rx: 3 }),
      svg('rect', { class: `bar-fill bar-${v}`, x: BAR_X, y: y + 4, width: w, height: 22, rx: 3 }),
      svg('text', { class: 'bar-count', x: BAR_X + BAR_MAX + 8, y: y + 19 }, `${n} (${pct})`));
  });
  node.replaceChildren(title, ...rows);
}
