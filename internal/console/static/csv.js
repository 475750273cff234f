// Reading a list: pasted text, or a CSV file (RFC 4180: quoted fields with
// commas, doubled quotes and line breaks; CRLF or LF; a byte order mark).
// The delimiter is the one of comma, semicolon and tab that the first line
// uses most, as spreadsheets export all three.

// parseCSV returns the rows of text as arrays of fields.
export function parseCSV(text) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const delim = sniffDelimiter(text);
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
    } else if (c === delim) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      if (c === '\r' && text[i + 1] === '\n') i++;
    } else {
      field += c;
    }
    i++;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((f) => f.trim() !== ''));
}

function sniffDelimiter(text) {
  const nl = text.search(/\r|\n/);
  const first = nl < 0 ? text : text.slice(0, nl);
  let best = ',';
  let most = 0;
  for (const d of [',', ';', '\t']) {
    const count = first.split(d).length - 1;
    if (count > most) {
      best = d;
      most = count;
    }
  }
  return best;
}

const looksLikeAddress = (s) => /^[^@\s]+@[^@\s]+$/.test(s.trim());

// guessColumn picks the column that holds the addresses: the one whose
// name says e-mail, else the one with the most values that look like
// addresses. hasHeader is true when the first row names the columns
// (none of its cells looks like an address).
export function guessColumn(rows) {
  const width = Math.max(0, ...rows.slice(0, 50).map((r) => r.length));
  const first = rows[0] || [];
  const hasHeader = first.length > 0 && !first.some(looksLikeAddress);
  let column = -1;
  if (hasHeader) column = first.findIndex((h) => /^\s*e-?mail(\s*address)?\s*$/i.test(h));
  if (column < 0) {
    let most = -1;
    for (let c = 0; c < width; c++) {
      const hits = rows.slice(0, 200).filter((r) => looksLikeAddress(r[c] || '')).length;
      if (hits > most) {
        most = hits;
        column = c;
      }
    }
  }
  return { column: Math.max(column, 0), width, hasHeader };
}

// columnValues returns the non-blank, trimmed values of one column.
export function columnValues(rows, column, hasHeader) {
  const out = [];
  for (const r of rows.slice(hasHeader ? 1 : 0)) {
    const v = (r[column] || '').trim();
    if (v) out.push(v);
  }
  return out;
}

// splitPasted reads pasted addresses: one per line, or separated by
// commas, semicolons or blanks.
export function splitPasted(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}
