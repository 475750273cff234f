// Watching a bulk job: progress (done / total, rate, time left), the
// verdict chart, the results table with its verdict filter, and the
// downloads through short-lived export URLs. The URL's #job=N names the
// job, so reloading or sharing the page resumes watching.

import { ApiError, describe, sleep } from './api.js';
import { badge } from './check.js';
import { countsOf, drawChart } from './chart.js';
import { $, el, fmtDuration, fmtInt } from './dom.js';
import { headline, verdictOf } from './verdict.js';

const POLL_MS = 1000;
const TABLE_REFRESH_MS = 1500; // at most this often while the job runs
const PAGE = 1000; // the API's largest page
const TABLE_MAX = 5000; // rows the table holds; the downloads have them all
const RATE_WINDOW_MS = 30000;

export class JobView {
  constructor(api, ui) {
    this.api = api;
    this.ui = ui;
    this.id = '';
    this.gen = 0;
    this.total = 0;
    this.section = $('job');
    this.title = $('job-title');
    this.state = $('job-state');
    this.progress = $('job-progress');
    this.progressText = $('job-progress-text');
    this.chart = $('job-chart');
    this.filter = $('result-filter');
    this.count = $('result-count');
    this.tbody = $('results').tBodies[0];
    this.dlStatus = $('download-status');
    this.filter.addEventListener('change', () => this.applyFilter());
    for (const b of [$('download-csv'), $('download-json')]) {
      b.addEventListener('click', () => this.download(b));
    }
  }

  // watch shows job id and follows it until it completes. A later call
  // (another job, or the same after a new secret) replaces this one.
  watch(id) {
    const gen = ++this.gen;
    if (id !== this.id) this.reset(id);
    this.section.hidden = false;
    this.loop(gen, id);
  }

  reset(id) {
    this.id = id;
    this.title.textContent = `Job ${id}`;
    this.state.textContent = 'Loading…';
    this.progress.max = 1;
    this.progress.value = 0;
    this.progressText.textContent = '';
    this.tbody.replaceChildren();
    this.count.textContent = '';
    this.dlStatus.textContent = '';
    drawChart(this.chart, countsOf(null));
  }

  async loop(gen, id) {
    const samples = [];
    let tableAt = -Infinity;
    let tableOf = -1; // total_processed when the table was loaded
    let failures = 0;
    while (gen === this.gen) {
      try {
        const { data } = await this.api.request('GET', `/v1/bulk/${encodeURIComponent(id)}`);
        if (gen !== this.gen) return;
        const done = data.job_status === 'Completed';
        this.render(data, samples);
        const now = performance.now();
        if (done || (data.total_processed !== tableOf && now - tableAt >= TABLE_REFRESH_MS)) {
          tableAt = now;
          tableOf = data.total_processed;
          await this.loadTable(gen, id, data.total_processed, done);
        }
        failures = 0;
        if (done) return;
      } catch (err) {
        if (gen !== this.gen) return;
        if (err instanceof ApiError && err.status === 401) return; // resumed once a secret is entered
        if (err instanceof ApiError && err.status === 404) {
          this.state.textContent = `Job ${id} was not found on this server.`;
          return;
        }
        failures++;
        this.state.textContent = `${describe(err)} Trying again…`;
      }
      await sleep(failures ? Math.min(POLL_MS * 2 ** failures, 15000) : POLL_MS);
    }
  }

  render(s, samples) {
    const total = s.total_records || 0;
    const done = s.total_processed || 0;
    this.total = total;
    const finished = s.job_status === 'Completed';
    this.progress.max = Math.max(total, 1);
    this.progress.value = total ? done : finished ? 1 : 0;
    const pct = total ? Math.floor((done * 100) / total) : finished ? 100 : 0;
    const parts = [`${fmtInt(done)} of ${fmtInt(total)} checked (${pct} %)`];
    const started = Date.parse(s.created_at);
    if (finished) {
      const secs = (Date.parse(s.finished_at) - started) / 1000;
      if (secs > 0) parts.push(`finished in ${fmtDuration(secs)} (${rateText(done / secs)})`);
    } else {
      const rate = this.rate(samples, done, started);
      if (rate > 0) {
        parts.push(rateText(rate));
        parts.push(`about ${fmtDuration((total - done) / rate)} left`);
      }
    }
    this.progressText.textContent = parts.join(' · ');
    this.state.textContent = finished
      ? `Completed. Started ${new Date(started).toLocaleString()}.`
      : `Running since ${new Date(started).toLocaleString()}.`;
    this.section.dataset.status = s.job_status;
    drawChart(this.chart, countsOf(s.summary));
  }

  // rate is addresses per second over the last half minute of samples,
  // or since the job started while there are too few.
  rate(samples, done, started) {
    const now = performance.now();
    samples.push({ t: now, done });
    while (samples.length > 2 && now - samples[0].t > RATE_WINDOW_MS) samples.shift();
    const first = samples[0];
    if (now - first.t >= 3000 && done > first.done) return ((done - first.done) * 1000) / (now - first.t);
    const since = (Date.now() - started) / 1000;
    return since > 1 && done > 0 ? done / since : 0;
  }

  async loadTable(gen, id, processed, done) {
    const want = Math.min(processed, done ? TABLE_MAX : PAGE);
    const rows = [];
    for (let offset = 0; offset < want; offset += PAGE) {
      const limit = Math.min(PAGE, want - offset);
      const { data } = await this.api.request('GET',
        `/v1/bulk/${encodeURIComponent(id)}/results?format=json&limit=${limit}&offset=${offset}`);
      if (gen !== this.gen) return;
      const results = (data && data.results) || [];
      for (const r of results) rows.push(this.row(r));
      if (results.length < limit) break;
    }
    this.tbody.replaceChildren(...rows);
    this.applyFilter();
  }

  row(r) {
    const v = verdictOf(r);
    const tr = el('tr', { 'data-verdict': v },
      el('td', { class: 'addr' }, r.input || ''),
      el('td', {}, badge(v)),
      el('td', {}, headline(r)));
    return tr;
  }

  applyFilter() {
    const want = this.filter.value;
    let shown = 0;
    for (const tr of this.tbody.rows) {
      tr.hidden = Boolean(want) && tr.dataset.verdict !== want;
      if (!tr.hidden) shown++;
    }
    const loaded = this.tbody.rows.length;
    let msg = want ? `${fmtInt(shown)} ${want} of ${fmtInt(loaded)} results shown.` : `${fmtInt(loaded)} results shown.`;
    if (this.total > loaded && this.section.dataset.status === 'Completed') {
      msg += ` The table holds the first ${fmtInt(loaded)}; the downloads have all ${fmtInt(this.total)}.`;
    }
    this.count.textContent = msg;
  }

  // download asks the API for a short-lived export URL and opens it by
  // navigation: the file downloads (the export is sent as an attachment)
  // and this page stays. No fetch leaves the origin, so the CSP stays strict.
  async download(button) {
    const format = button.dataset.format;
    const id = this.id;
    button.disabled = true;
    this.dlStatus.textContent = `Preparing the ${format.toUpperCase()} export…`;
    try {
      const { data } = await this.api.request('POST', `/v1/bulk/${encodeURIComponent(id)}/export?format=${format}`);
      const url = new URL(data.url, location.href);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`unexpected export URL ${url.protocol}`);
      const a = el('a', { href: url.href, download: `mailprobe-job-${id}.${format}`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      const until = data.expires_at ? ` (the link works until ${new Date(data.expires_at).toLocaleTimeString()})` : '';
      this.dlStatus.textContent = `${format.toUpperCase()} download started${until}.`;
    } catch (err) {
      this.dlStatus.textContent = '';
      if (!(err instanceof ApiError && err.status === 401)) this.ui.showAlert(describe(err));
    } finally {
      button.disabled = false;
    }
  }
}

function rateText(perSec) {
  return perSec >= 10 ? `${Math.round(perSec)} addresses/s` : `${perSec.toFixed(1)} addresses/s`;
}
