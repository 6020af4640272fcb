// Traceability: where a serial number went (machines, times, product, batch, the signals while it was there),
// or what passed through an asset in a time range. The traceability API (GET /api/trace) is not part of this
// server yet; until it answers, the view says so. The contract the view expects is in docs/web.md.

import { card, h, replace } from '../dom.js';
import { humanize, time } from '../format.js';

export async function mount(el, ctx) {
  const { api, shared } = ctx;
  const head = h('div', { class: 'page-head' }, h('h1', null, 'Traceability'));
  replace(el, head, h('p', { class: 'loading' }, 'Asking the server…'));
  if (!(await api.available('/api/trace'))) {
    replace(el, head, h('div', { class: 'unavailable', role: 'status', dataset: { feature: 'trace' } },
      h('p', null, h('b', null, 'Traceability is not available on this server.')),
      h('p', { class: 'muted' }, 'Searching by serial number or by asset and time range needs the traceability API (GET /api/trace), which this version of doppel does not have yet (it answered 404). This view appears by itself once the server offers it.')));
    return null;
  }
  const out = h('div');
  const serial = h('input', { type: 'search', name: 'serial', placeholder: 'e.g. SN-000123', required: true });
  const bySerial = h('form', { class: 'trace-form' }, h('label', null, 'Serial number ', serial), h('button', { class: 'primary' }, 'Find'));
  bySerial.addEventListener('submit', (e) => { e.preventDefault(); run({ serial: serial.value.trim() }); });
  const assetSel = h('select', { name: 'asset' }, [...shared.assets.values()].map((a) => h('option', { value: a.id }, `${a.name} (${a.id})`)));
  const start = h('input', { type: 'datetime-local', name: 'start', required: true });
  const end = h('input', { type: 'datetime-local', name: 'end', required: true });
  const byAsset = h('form', { class: 'trace-form' }, h('label', null, 'Asset ', assetSel), h('label', null, 'From ', start), h('label', null, 'To ', end), h('button', { class: 'primary' }, 'Find'));
  byAsset.addEventListener('submit', (e) => {
    e.preventDefault();
    run({ asset: assetSel.value, start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString() });
  });
  async function run(params) {
    replace(out, h('p', { class: 'loading' }, 'Searching…'));
    try {
      show(await api.get(`/api/trace${api.qs(params)}`));
    } catch (e) {
      replace(out, h('p', { class: 'error-box' }, e.status === 404 ? `Nothing found: ${e.message}` : `The search failed: ${e.message}`));
    }
  }
  function show(r) {
    const rows = Array.isArray(r) ? r : r.items || r.steps || [];
    if (!rows.length) { replace(out, h('p', { class: 'muted' }, 'Nothing found.')); return; }
    const cols = [...new Set(rows.flatMap((x) => Object.keys(x)))];
    const cell = (k, v) => (v == null ? '—' : /(^ts|_ns$|^start$|^end$)/.test(k) && typeof v === 'number' ? time(v) : typeof v === 'object' ? JSON.stringify(v) : String(v));
    replace(out, h('div', { class: 'table-wrap' }, h('table', null,
      h('thead', null, h('tr', null, cols.map((c) => h('th', null, humanize(c))))),
      h('tbody', null, rows.map((x) => h('tr', null, cols.map((c) => h('td', null, cell(c, x[c])))))))));
  }
  replace(el, head, h('div', { class: 'grid-2' }, card('By serial number', bySerial), card('By asset and time range', byAsset)), card('Result', out));
  return null;
}
