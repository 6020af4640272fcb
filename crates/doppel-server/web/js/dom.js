// Small DOM helpers: element creation without innerHTML (no markup injection from data), and a
// once-per-animation-frame scheduler so a busy live stream never renders more than the screen shows.

/** Creates an element: h('div', {class: 'x', onclick: fn}, 'text', child, [more children]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Sets text only when it changed (avoids layout work on every live update). */
export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

const pending = new Map();
let frame = 0;

/** Runs `fn` once in the next animation frame; later calls with the same key before then are merged. */
export function schedule(key, fn) {
  pending.set(key, fn);
  if (!frame) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      const fns = [...pending.values()];
      pending.clear();
      for (const f of fns) {
        try { f(); } catch (e) { console.error(e); }
      }
    });
  }
}

/** Calls `fn` at most once per `ms` (the last call wins; trailing call guaranteed). */
export function throttle(fn, ms) {
  let last = 0, timer = 0, args = null;
  return (...a) => {
    args = a;
    const now = performance.now();
    if (timer) return;
    const wait = Math.max(0, last + ms - now);
    timer = setTimeout(() => { timer = 0; last = performance.now(); fn(...args); }, wait);
  };
}

/** A card with a title and body. */
export function card(title, body, opts = {}) {
  return h('section', { class: 'card ' + (opts.class || ''), id: opts.id },
    title ? h('h2', { title: opts.tip }, title) : null,
    body);
}
