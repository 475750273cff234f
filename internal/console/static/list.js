// The list form: addresses pasted or read from a CSV file (with the column
// chosen), checked against the server's limits, then sent as one bulk job.

import { ApiError, describe } from './api.js';
import { $, el, fmtInt } from './dom.js';
import { columnValues, guessColumn, parseCSV, splitPasted } from './csv.js';

// A file larger than this is not read into the page at all. A CSV file may
// be much larger than the list it holds (other columns), so the server's
// own limit is checked on the list itself, before it is sent.
const MAX_FILE_BYTES = 128 << 20;

export function setupList(api, ui, onJob) {
  const form = $('list-form');
  const text = $('list-text');
  const file = $('list-file');
  const columns = $('list-columns');
  const column = $('list-column');
  const header = $('list-header');
  const count = $('list-count');
  const submit = $('list-submit');
  const maxAddresses = Number(document.body.dataset.maxAddresses) || Infinity;
  const maxBytes = Number(document.body.dataset.maxBulkBytes) || Infinity;

  // The source is whichever was used last: the text box or the file.
  let source = 'text';
  let rows = [];
  let fileName = '';
  let names = []; // the columns' names, for the count line

  const addresses = () => {
    if (source === 'file') return columnValues(rows, Number(column.value), header.checked);
    return splitPasted(text.value);
  };

  const update = () => {
    const list = addresses();
    let msg;
    if (source === 'file') {
      const c = Number(column.value);
      const name = header.checked && names[c] ? `column “${names[c]}”` : `column ${c + 1}`;
      msg = `${fmtInt(list.length)} addresses in ${name} of ${fileName}.`;
    } else {
      msg = list.length ? `${fmtInt(list.length)} addresses pasted.` : 'No addresses yet.';
    }
    if (list.length > maxAddresses) msg += ` Too many: this server takes at most ${fmtInt(maxAddresses)} per list.`;
    count.textContent = msg;
    return list;
  };

  const fillColumns = () => {
    const guess = guessColumn(rows);
    header.checked = guess.hasHeader;
    names = rows[0] || [];
    const sample = rows[guess.hasHeader ? 1 : 0] || [];
    const opts = [];
    for (let c = 0; c < Math.max(guess.width, 1); c++) {
      const label = guess.hasHeader && names[c] ? `column “${names[c]}”` : `column ${c + 1}`;
      const hint = sample[c] ? ` (e.g. ${sample[c].slice(0, 40)})` : '';
      opts.push(el('option', { value: c }, label + hint));
    }
    column.replaceChildren(...opts);
    column.value = String(guess.column);
  };

  text.addEventListener('input', () => {
    if (text.value.trim() || source !== 'file') {
      source = 'text';
      file.value = '';
      columns.hidden = true;
    }
    update();
  });

  file.addEventListener('change', async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > MAX_FILE_BYTES) {
      ui.showAlert(`${f.name} is ${fmtInt(f.size)} bytes: too large to read here. Split it into files of at most ${fmtInt(maxAddresses)} addresses.`);
      file.value = '';
      return;
    }
    try {
      rows = parseCSV(await f.text());
    } catch (err) {
      ui.showAlert(`${f.name} could not be read: ${err.message}`);
      return;
    }
    source = 'file';
    fileName = f.name;
    text.value = '';
    fillColumns();
    columns.hidden = false;
    update();
  });
  column.addEventListener('change', update);
  header.addEventListener('change', update);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ui.clearAlert();
    const list = update();
    if (!list.length) {
      count.textContent = 'Paste some addresses or pick a CSV file first.';
      (source === 'file' ? file : text).focus();
      return;
    }
    if (list.length > maxAddresses) {
      ui.showAlert(`This list has ${fmtInt(list.length)} addresses; this server takes at most ${fmtInt(maxAddresses)} per list. Split it.`);
      return;
    }
    const body = JSON.stringify({ input: list });
    if (new TextEncoder().encode(body).length > maxBytes) {
      ui.showAlert(`This list is larger than this server takes in one request (${fmtInt(maxBytes)} bytes). Split it.`);
      return;
    }
    if (api.needsSecret()) {
      ui.askSecret('Enter the secret first: this server needs it to start a job.');
      return;
    }
    submit.disabled = true;
    count.textContent = `Sending ${fmtInt(list.length)} addresses…`;
    try {
      const { data } = await api.request('POST', '/v1/bulk', body);
      count.textContent = `Job ${data.job_id} created with ${fmtInt(list.length)} addresses.`;
      onJob(String(data.job_id));
    } catch (err) {
      update();
      if (!(err instanceof ApiError && err.status === 401)) ui.showAlert(describe(err));
    } finally {
      submit.disabled = false;
    }
  });
}
