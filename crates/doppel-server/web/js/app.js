// The dashboard shell: navigation by URL hash (deep links such as #/asset/l1-hyd-motor), the signed-in user
// and role, the shared plant model and overview (kept current by the live stream), and the view in place.

import * as api from './api.js';
import { ROLES } from './api.js';
import * as live from './live.js';
import { h, replace } from './dom.js';

import * as overview from './views/overview.js';
import * as asset from './views/asset.js';
import * as decisions from './views/decisions.js';
import * as plant3d from './views/plant3d.js';
import * as whatif from './views/whatif.js';
import * as trace from './views/trace.js';

const signalDefs = new Map(); // asset id → Promise<Map(signal → definition)>

const shared = {
  plant: null, // GET /api/plant (hierarchy)
  assets: new Map(), // id → GET /api/assets entry (position, type, line)
  overview: null, // GET /api/overview, then `overview` events
  features: { whatif: false, trace: false },
  user: loadUser(),
  listeners: new Set(),
};

function loadUser() {
  try {
    const u = JSON.parse(localStorage.getItem('doppel.user') || 'null');
    if (u && u.name && ROLES[u.role]) return u;
  } catch { /* ignore */ }
  return null;
}

/** What views get: the API, the live stream, shared state and helpers. */
export const ctx = {
  api, live, shared,
  canApprove() { return Boolean(shared.user && ROLES[shared.user.role]?.approve); },
  /** Called with the new overview whenever one arrives. */
  onOverview(fn) { shared.listeners.add(fn); return () => shared.listeners.delete(fn); },
  askUser: () => openUserDialog(),
  /** The signal definitions of an asset (unit, kind, state labels, description), fetched once. */
  signals(assetId) {
    if (!signalDefs.has(assetId)) {
      signalDefs.set(assetId, api.get(`/api/assets/${encodeURIComponent(assetId)}`)
        .then((d) => new Map(d.asset.signals.map((x) => [x.name, x])))
        .catch((e) => { signalDefs.delete(assetId); throw e; }));
    }
    return signalDefs.get(assetId);
  },
  navigate(hash) { location.hash = hash; },
};

const ROUTES = [
  { re: /^#?\/?$/, view: overview, nav: 'overview', title: 'Overview' },
  { re: /^#\/asset\/([^/?]+)/, view: asset, nav: 'overview', title: 'Asset' },
  { re: /^#\/alerts/, view: decisions, nav: 'alerts', title: 'Alerts and recommendations' },
  { re: /^#\/plant3d/, view: plant3d, nav: 'plant3d', title: '3D plant' },
  { re: /^#\/whatif/, view: whatif, nav: 'whatif', title: 'What-if' },
  { re: /^#\/trace/, view: trace, nav: 'trace', title: 'Traceability' },
];

let unmount = null;
let mountSeq = 0;

async function route() {
  const hash = location.hash || '#/';
  const r = ROUTES.find((x) => x.re.test(hash)) || ROUTES[0];
  const params = hash.match(r.re).slice(1).map(decodeURIComponent);
  const query = new URLSearchParams(hash.split('?')[1] || '');
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.nav === r.nav);
  if (unmount) { try { unmount(); } catch (e) { console.error(e); } unmount = null; }
  const el = document.getElementById('view');
  replace(el);
  el.dataset.view = r.nav === 'overview' && params.length ? 'asset' : r.nav;
  document.title = `${r.title} — doppel`;
  const seq = ++mountSeq;
  try {
    const u = await r.view.mount(el, ctx, params, query);
    if (seq === mountSeq) unmount = u || null; else if (u) u();
  } catch (e) {
    console.error(e);
    replace(el, h('div', { class: 'error-box' }, `This view could not be shown: ${e.message}`));
  }
  window.scrollTo(0, 0);
}

function setConn(status) {
  const el = document.getElementById('conn');
  el.dataset.status = status;
  el.textContent = { live: 'Live', reconnecting: 'Reconnecting…', closed: 'Disconnected' }[status] || status;
  el.title = status === 'live' ? 'Receiving live updates from the server' : 'The live stream is interrupted; values may be old';
}

function renderUser() {
  const btn = document.getElementById('user-btn');
  const u = shared.user;
  btn.textContent = u ? `${u.name} · ${ROLES[u.role].label}` : 'Sign in';
  btn.title = u ? 'Change user or role' : 'Name yourself to approve or reject recommendations';
}

function openUserDialog() {
  const dlg = document.getElementById('user-dialog');
  const form = dlg.querySelector('form');
  form.elements.name.value = shared.user?.name || '';
  form.elements.role.value = shared.user?.role || 'engineer';
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(shared.user), { once: true });
  });
}

function setupUserDialog() {
  const dlg = document.getElementById('user-dialog');
  const form = dlg.querySelector('form');
  const roleSel = form.elements.role;
  for (const [k, v] of Object.entries(ROLES)) {
    roleSel.appendChild(h('option', { value: k }, `${v.label}${v.approve ? ' — may approve' : ''}`));
  }
  form.addEventListener('submit', (e) => {
    if (e.submitter && e.submitter.value === 'cancel') return;
    const name = form.elements.name.value.trim();
    if (!name) { e.preventDefault(); form.elements.name.focus(); return; }
    shared.user = { name, role: roleSel.value };
    localStorage.setItem('doppel.user', JSON.stringify(shared.user));
    renderUser();
    window.dispatchEvent(new CustomEvent('doppel-user'));
  });
  document.getElementById('user-btn').addEventListener('click', () => openUserDialog());
  renderUser();
}

async function loadPlant() {
  const [plant, assets] = await Promise.all([api.get('/api/plant'), api.get('/api/assets')]);
  shared.plant = plant;
  for (const a of assets) shared.assets.set(a.id, a);
  document.getElementById('enterprise').textContent = plant.enterprise;
}

function publishOverview(o) {
  shared.overview = o;
  for (const fn of [...shared.listeners]) {
    try { fn(o); } catch (e) { console.error(e); }
  }
}

async function probeFeatures() {
  const [w, t] = await Promise.all([api.available('/api/whatif'), api.available('/api/trace')]);
  shared.features = { whatif: w, trace: t };
  document.querySelector('#nav a[data-nav=whatif]').hidden = !w;
  document.querySelector('#nav a[data-nav=trace]').hidden = !t;
}

async function start() {
  setupUserDialog();
  // Sticky bars sit just below the header, whose height depends on the width (the navigation wraps).
  const head = document.querySelector('header.top');
  new ResizeObserver(() => document.documentElement.style.setProperty('--head-h', `${head.offsetHeight}px`)).observe(head);
  live.onStatus(setConn);
  live.on('overview', publishOverview);
  live.on('resync', async () => {
    try { publishOverview(await api.get('/api/overview')); } catch (e) { console.warn(e); }
  });
  live.connect();
  try {
    await loadPlant();
    publishOverview(await api.get('/api/overview'));
  } catch (e) {
    replace(document.getElementById('view'), h('div', { class: 'error-box' }, `The server did not answer: ${e.message}. Reload the page to try again.`));
    return;
  }
  probeFeatures();
  window.addEventListener('hashchange', route);
  route();
}

start();
