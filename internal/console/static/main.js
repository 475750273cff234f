// The console's entry point: reads what the server rendered into <body>
// (whether it needs a secret, its limits), wires the secret prompt, the
// single check, the list form and the job view, and resumes the job named
// in the URL (#job=N).

import { Api, describe } from './api.js';
import { setupCheck } from './check.js';
import { $ } from './dom.js';
import { JobView } from './job.js';
import { setupList } from './list.js';

const JOB_HASH = /^#job=([A-Za-z0-9_-]{1,64})$/;

function main() {
  const api = new Api(document.body.dataset.auth === 'open');
  const ui = makeUI(api);
  api.onUnauthorized = (err) => {
    api.forgetSecret();
    ui.askSecret(describe(err));
  };

  const jobs = new JobView(api, ui);
  const fromHash = () => {
    const m = JOB_HASH.exec(location.hash);
    if (m && !api.needsSecret()) jobs.watch(m[1]);
  };
  ui.onSecret = fromHash;
  window.addEventListener('hashchange', fromHash);

  setupCheck(api, ui);
  setupList(api, ui, (id) => {
    // Replace, not push: the hash names what the page shows, and a
    // hashchange would start a second watcher.
    history.replaceState(null, '', `#job=${id}`);
    jobs.watch(id);
    $('job-title').focus();
  });

  // The skip link moves the focus without touching the URL, whose hash
  // may name a job.
  $('skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    $('list').focus();
  });

  ui.refresh();
  if (api.needsSecret()) ui.askSecret('');
  fromHash();
}

// makeUI holds the parts of the page shared by every feature: the alert
// line and the secret prompt.
function makeUI(api) {
  const alert = $('alert');
  const section = $('secret');
  const form = $('secret-form');
  const input = $('secret-input');
  const error = $('secret-error');
  const state = $('auth-state');
  const forget = $('secret-forget');

  const ui = {
    onSecret: null,
    showAlert(msg) {
      alert.textContent = msg;
      alert.hidden = false;
    },
    clearAlert() {
      alert.textContent = '';
      alert.hidden = true;
    },
    // askSecret shows the prompt, with why when there is a reason.
    askSecret(why) {
      error.textContent = why || '';
      error.hidden = !why;
      section.hidden = false;
      ui.refresh();
      input.focus();
    },
    refresh() {
      const has = Boolean(api.secret);
      forget.hidden = !has;
      if (has) state.textContent = 'Secret set for this tab.';
      else if (api.open) state.textContent = 'Open server: no secret needed.';
      else state.textContent = 'This server needs its secret.';
    },
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!input.value) {
      input.focus();
      return;
    }
    api.setSecret(input.value);
    input.value = '';
    error.hidden = true;
    section.hidden = true;
    ui.clearAlert();
    ui.refresh();
    if (ui.onSecret) ui.onSecret();
  });
  forget.addEventListener('click', () => {
    api.forgetSecret();
    ui.refresh();
    if (!api.open) ui.askSecret('');
  });
  return ui;
}

main();
