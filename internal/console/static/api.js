// The API client of the console: same-origin fetch, JSON in and out, the
// secret from session storage in x-reacher-secret. The secret never goes
// into a URL, a cookie or local storage; closing the tab forgets it.

const SECRET_KEY = 'mailprobe.secret';

// ApiError is a refused or failed request, with the API's own message.
export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export class Api {
  // open: the server said (in the page) that it needs no secret.
  constructor(open) {
    this.open = open;
    this.onUnauthorized = null; // called with the ApiError of a 401
  }

  get secret() {
    try {
      return sessionStorage.getItem(SECRET_KEY) || '';
    } catch {
      return '';
    }
  }

  setSecret(value) {
    sessionStorage.setItem(SECRET_KEY, value);
  }

  forgetSecret() {
    sessionStorage.removeItem(SECRET_KEY);
  }

  // needsSecret: a request now would surely be refused.
  needsSecret() {
    return !this.open && !this.secret;
  }

  // request sends one API call. It resolves with {status, data, headers}
  // for 2xx answers and rejects with an ApiError otherwise.
  async request(method, path, body) {
    const headers = { Accept: 'application/json' };
    const secret = this.secret;
    if (secret) headers['x-reacher-secret'] = secret;
    const init = { method, headers, credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, `The server could not be reached (${e.message}).`);
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (resp.ok) return { status: resp.status, data, headers: resp.headers };
    let msg = data && typeof data.error === 'string' ? data.error : '';
    if (!msg) msg = data && typeof data.message === 'string' ? data.message : `HTTP ${resp.status}`;
    const err = new ApiError(resp.status, msg, resp.headers.get('Retry-After'));
    if (resp.status === 401 && this.onUnauthorized) this.onUnauthorized(err);
    throw err;
  }
}

// describe turns an error into one sentence for people.
export function describe(err) {
  if (!(err instanceof ApiError)) return `Something went wrong in the page: ${err.message}`;
  switch (err.status) {
    case 0:
      return err.message;
    case 401:
      return `The server refused the secret: ${err.message} Enter the right secret to go on.`;
    case 413:
      return `The list is too large for this server: ${err.message}`;
    case 429:
      return `Too many requests: ${err.message}`;
    default:
      if (err.status >= 500) return `The server failed (${err.status}): ${err.message} Try again in a moment.`;
      return `The server refused the request (${err.status}): ${err.message}`;
  }
}

// sleep resolves after ms milliseconds.
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
