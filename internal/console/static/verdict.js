// What a result means, in words: the verdict badge, the headline that says
// why, and the facts behind it. A result is Reacher's CheckEmailOutput;
// each of its misc, mx and smtp steps is either its value or an error
// object {error: {type, message}, description?, cause?}.

export const VERDICTS = ['safe', 'risky', 'invalid', 'unknown'];

export const LABELS = { safe: 'Safe', risky: 'Risky', invalid: 'Invalid', unknown: 'Unknown' };

// Symbols that tell the verdicts apart without colour.
export const SYMBOLS = { safe: '✓', risky: '!', invalid: '✗', unknown: '?' };

export function verdictOf(r) {
  const v = r && r.is_reachable;
  return VERDICTS.includes(v) ? v : 'unknown';
}

function failed(step) {
  return step && typeof step === 'object' && step.error && typeof step.error === 'object';
}

function ok(step) {
  return step && typeof step === 'object' && !failed(step);
}

// errorText writes a failed step's error: type, message, and mailprobe's
// finer cause when there is one. Reacher writes a timeout's message as a
// {secs, nanos} duration.
export function errorText(step) {
  const e = step.error;
  let msg = '';
  if (typeof e.message === 'string') msg = e.message;
  else if (e.message && typeof e.message.secs === 'number') msg = `timed out after ${e.message.secs} s`;
  const parts = [e.type || 'Error'];
  if (msg) parts.push(msg);
  let text = parts.join(': ');
  const extra = [step.description, step.cause].filter((x) => typeof x === 'string' && x);
  if (extra.length) text += ` (${extra.join(', ')})`;
  return text;
}

function lastReply(r) {
  const m = r.debug && r.debug.mailprobe;
  return m && typeof m.last_reply === 'string' ? m.last_reply : '';
}

// headline says in one sentence why the verdict is what it is.
export function headline(r) {
  const v = verdictOf(r);
  const syntax = r.syntax || {};
  const { mx, smtp, misc } = r;
  if (syntax.is_valid_syntax === false) return 'Not a valid email address.';
  if (ok(mx) && !mx.accepts_mail) return 'The domain accepts no mail (no mail server).';
  if (failed(mx)) return `The mail servers could not be looked up: ${errorText(mx)}.`;
  if (ok(smtp)) {
    if (smtp.is_disabled) return 'The mailbox is disabled.';
    if (smtp.has_full_inbox) return 'The mailbox is full.';
    if (smtp.is_catch_all) return 'The domain accepts every address (catch-all): this mailbox cannot be confirmed.';
    if (!smtp.is_deliverable && smtp.can_connect_smtp) return 'The mail server said this mailbox does not exist.';
  }
  if (v === 'risky' && ok(misc)) {
    if (misc.is_disposable) return 'A disposable (throw-away) address.';
    if (misc.is_role_account) return 'A role address (shared by a team), not a person.';
  }
  if (failed(smtp)) {
    if (v === 'unknown') return `The check could not conclude: ${errorText(smtp)}.`;
    return `The mail server conversation failed: ${errorText(smtp)}.`;
  }
  switch (v) {
    case 'safe':
      return 'The mail server confirmed that this mailbox exists.';
    case 'risky':
      return 'The mailbox exists, but mail to it may not arrive.';
    case 'invalid':
      return 'This address cannot receive mail.';
    default:
      return 'The check could not conclude.';
  }
}

function yesNo(b) {
  return b ? 'yes' : 'no';
}

function trimDot(s) {
  return String(s).replace(/\.$/, '');
}

function durationText(r) {
  const d = r.debug && r.debug.duration;
  if (!d || typeof d.secs !== 'number') return '';
  const s = d.secs + (d.nanos || 0) / 1e9;
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

// facts lists [label, text] pairs: what each step found.
export function facts(r) {
  const out = [];
  const syntax = r.syntax || {};
  let syn = syntax.is_valid_syntax ? 'valid' : 'not valid';
  if (syntax.is_valid_syntax && syntax.normalized_email && syntax.normalized_email !== r.input) {
    syn += `, normalized to ${syntax.normalized_email}`;
  }
  if (syntax.suggestion) syn += `; did you mean ${syntax.suggestion}?`;
  out.push(['Syntax', syn]);

  const { mx, smtp, misc } = r;
  if (failed(mx)) out.push(['Mail servers (MX)', errorText(mx)]);
  else if (ok(mx)) {
    const recs = (mx.records || []).map(trimDot);
    out.push(['Mail servers (MX)', mx.accepts_mail ? recs.join(', ') || 'yes' : 'none: the domain accepts no mail']);
  }

  const reply = lastReply(r);
  if (failed(smtp)) out.push(['SMTP answer', errorText(smtp) + (reply ? `; last reply: ${reply}` : '')]);
  else if (ok(smtp)) {
    let s;
    if (!smtp.can_connect_smtp) s = 'not asked (no connection)';
    else if (smtp.is_deliverable) s = 'mailbox accepted';
    else s = 'mailbox refused';
    if (smtp.has_full_inbox) s += ', inbox full';
    if (smtp.is_disabled) s += ', mailbox disabled';
    if (reply) s += `; server said “${reply}”`;
    out.push(['SMTP answer', s]);
    out.push(['Catch-all domain', smtp.is_catch_all ? 'yes: the server accepts any address' : 'no']);
  }

  if (failed(misc)) out.push(['Other checks', errorText(misc)]);
  else if (ok(misc)) {
    out.push(['Disposable address', yesNo(misc.is_disposable)]);
    out.push(['Role account', yesNo(misc.is_role_account)]);
  }
  const dur = durationText(r);
  if (dur) out.push(['Time taken', dur]);
  return out;
}
