// The REST API, as the dashboard uses it. Every call goes to the same server that served the page.

/** An error answer of the API: {"error": {"status", "field", "message"}}. */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

async function request(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `the server did not answer (${e.message})`, null);
  }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!resp.ok) {
    const err = json && json.error;
    throw new ApiError(resp.status, err ? err.message : `${resp.status} ${resp.statusText}`, err ? err.field : null);
  }
  return json;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});

/** Whether an optional API (what-if, traceability) exists on this server: anything but the router's
 * "no such endpoint" 404 means it does. */
export async function available(path) {
  try {
    const resp = await fetch(path, { headers: { accept: 'application/json' } });
    if (resp.status !== 404) return true;
    const body = await resp.json().catch(() => null);
    // The router's fallback names no field; a 404 naming a field comes from an existing endpoint.
    return Boolean(body && body.error && body.error.field);
  } catch {
    return false;
  }
}

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Timestamps in query parameters are epoch milliseconds. */
export const ms = (ns) => Math.round(ns / 1e6);

/** Roles and what they may do. The server has no authentication yet: the role is the user's own claim and
 * only decides which buttons the dashboard offers (docs/web.md). */
export const ROLES = {
  operator: { label: 'Operator', approve: false },
  technician: { label: 'Maintenance technician', approve: false },
  engineer: { label: 'Maintenance engineer', approve: true },
  manager: { label: 'Plant manager', approve: true },
};
