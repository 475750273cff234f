// The single check: a form, then the verdict badge, the reasons and the
// raw JSON folded away. A check the server could not finish inline is
// followed through its status URL until the final answer arrives.

import { ApiError, describe, sleep } from './api.js';
import { $, el } from './dom.js';
import { LABELS, SYMBOLS, facts, headline, verdictOf } from './verdict.js';

const POLL_MS = 2000;
const STATUS_PATH = /^\/v1\/check_email\/[A-Za-z0-9_-]+$/;

// badge is the verdict as a word and a symbol; the colour only repeats them.
export function badge(verdict) {
  return el('span', { class: `badge badge-${verdict}` },
    el('span', { 'aria-hidden': 'true' }, SYMBOLS[verdict]), ' ', LABELS[verdict]);
}

export function setupCheck(api, ui) {
  const form = $('check-form');
  const input = $('check-email');
  const submit = $('check-submit');
  const status = $('check-status');
  const out = $('check-result');
  let run = 0; // the newest check; older ones stop updating the page

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = input.value.trim();
    if (!email) {
      status.textContent = 'Enter an address first.';
      input.focus();
      return;
    }
    if (api.needsSecret()) {
      ui.askSecret('Enter the secret first: this server needs it for every check.');
      return;
    }
    const mine = ++run;
    ui.clearAlert();
    submit.disabled = true;
    out.hidden = true;
    status.textContent = `Checking ${email}…`;
    try {
      let { status: code, data, headers } = await api.request('POST', '/v1/check_email', { to_email: email });
      let follow = '';
      if (code === 202) follow = data && data.status_url;
      else if (verdictOf(data) === 'unknown') follow = headers.get('X-Mailprobe-Status-Url') || '';
      if (follow && code === 200) show(out, data);
      if (follow && STATUS_PATH.test(follow)) {
        status.textContent = code === 202
          ? `The mail server has not answered yet; the check goes on in the background. Waiting for the answer…`
          : 'The check could not conclude yet and goes on in the background. Waiting for the final answer…';
        submit.disabled = false;
        data = await waitFor(api, follow, () => mine === run);
        if (!data) return;
      }
      if (mine !== run) return;
      status.textContent = `Checked ${email}.`;
      show(out, data);
    } catch (err) {
      if (mine !== run) return;
      status.textContent = '';
      if (!(err instanceof ApiError && err.status === 401)) ui.showAlert(describe(err));
    } finally {
      if (mine === run) submit.disabled = false;
    }
  });
}

// waitFor polls a single-shot status URL until it answers 200, or until
// current() says a newer check replaced this one.
async function waitFor(api, url, current) {
  for (;;) {
    await sleep(POLL_MS);
    if (!current()) return null;
    const { status, data } = await api.request('GET', url);
    if (status === 200) return data;
  }
}

function show(out, r) {
  const v = verdictOf(r);
  const dl = el('dl', { class: 'facts' });
  for (const [k, val] of facts(r)) dl.append(el('dt', {}, k), el('dd', {}, val));
  out.replaceChildren(
    el('p', { class: 'verdict' }, badge(v), ' ', el('strong', { class: 'addr' }, r.input || '')),
    el('p', { class: 'headline', id: 'check-headline' }, headline(r)),
    dl,
    el('details', { class: 'raw' },
      el('summary', {}, 'Raw JSON'),
      el('pre', { tabindex: '0' }, JSON.stringify(r, null, 2))),
  );
  out.dataset.verdict = v;
  out.hidden = false;
}
