/*
 * api: the only way the console talks to rebound, the JSON API of
 * http/API.md on the same origin (the CSP allows nothing else).  The
 * bearer token the user types is kept in sessionStorage (this tab only,
 * gone when it closes) and sent on every call; the static files
 * themselves are public.  Errors become ApiError with the server's
 * {"error": {code, message, parameter}}.
 */

const TOKEN_KEY = "rebound.token";

export class ApiError extends Error {
  constructor(status, code, message, parameter) {
    super(message);
    this.status = status;
    this.code = code;
    this.parameter = parameter;
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(t) {
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lasts until the page is left */
  }
}

/* Listeners told of every 401, so the page can ask for a token. */
const authListeners = new Set();
export function onUnauthorized(fn) {
  authListeners.add(fn);
}

/* "/v1/x" + {a: 1, b: undefined} -> "/v1/x?a=1". */
export function url(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/* One path segment: identities and addresses may hold anything. */
export function seg(v) {
  return encodeURIComponent(v);
}

async function call(path, {method = "GET", query, body, accept = "application/json"} = {}) {
  const headers = {Accept: accept};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (e) {
    throw new ApiError(0, "NetworkError", `rebound did not answer (${e.message})`);
  }
  if (res.ok) return res;
  let code = `HTTP${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  let parameter;
  try {
    const j = await res.json();
    if (j && j.error) {
      code = j.error.code || code;
      message = j.error.message || message;
      parameter = j.error.parameter;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  const err = new ApiError(res.status, code, message, parameter);
  if (res.status === 401) for (const fn of authListeners) fn(err);
  throw err;
}

/* GET (or another method) returning the parsed JSON. */
export async function json(path, opts) {
  const res = await call(path, opts);
  return res.json();
}

/* GET returning the body's bytes (raw messages: not always UTF-8). */
export async function bytes(path, opts) {
  const res = await call(path, {...opts, accept: "message/rfc822, */*"});
  return res.arrayBuffer();
}

/*
 * Every page of a list endpoint, up to maxItems items: returns
 * {items, truncated}.  key is the array's field ("identities").
 */
export async function all(path, query, key, maxItems) {
  const items = [];
  let token;
  for (;;) {
    const page = await json(path, {query: {...query, pageSize: 1000, nextToken: token}});
    items.push(...(page[key] || []));
    token = page.nextToken;
    if (!token) return {items, truncated: false};
    if (items.length >= maxItems) return {items: items.slice(0, maxItems), truncated: true};
  }
}
