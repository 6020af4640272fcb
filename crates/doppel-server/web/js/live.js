// The server's live stream (Server-Sent Events at /api/stream), one connection for the whole dashboard.
// Views subscribe by event type; `lagged` (the browser read too slowly and missed events) and a reconnect
// are passed on as `resync`, so views re-read the REST state they show.

const handlers = new Map();
let source = null;
let statusCb = () => {};

export function onStatus(cb) { statusCb = cb; }

/** Subscribes to events of `type`; returns the unsubscribe function. */
export function on(type, fn) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(fn);
  return () => handlers.get(type).delete(fn);
}

function emit(type, msg) {
  const set = handlers.get(type);
  if (!set) return;
  for (const fn of [...set]) {
    try { fn(msg); } catch (e) { console.error(`live ${type} handler`, e); }
  }
}

export function connect() {
  if (source) return;
  let opened = false;
  source = new EventSource('/api/stream');
  source.addEventListener('hello', () => {
    statusCb('live');
    if (opened) emit('resync', {});
    opened = true;
  });
  source.addEventListener('lagged', (e) => {
    console.warn('live stream lagged', e.data);
    emit('resync', {});
  });
  source.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    emit(msg.type, msg);
  };
  source.onerror = () => {
    // EventSource reconnects by itself; `hello` marks the new connection.
    statusCb(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  };
}
