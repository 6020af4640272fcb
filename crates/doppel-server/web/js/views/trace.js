// Traceability: everything about one produced unit (serial number) — the machines that processed it and when,
// the process conditions and machine health at that moment, the component lots it consumed and its quality
// results — and the other way round: every unit processed by a machine in a time range, made while a machine
// was in alarm, or made with a component lot. Reads the genealogy API (GET /api/trace, /api/trace/units…).

import { card, h, replace } from '../dom.js';
import { humanize, num, time } from '../format.js';

const SN = (s) => `SN-${s}`;
const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-GB') : '—');

export async function mount(el, ctx) {
  const { api, shared } = ctx;
  const head = h('div', { class: 'page-head' }, h('h1', null, 'Traceability'));
  replace(el, head, h('p', { class: 'loading' }, 'Asking the server…'));
  if (!(await api.available('/api/trace'))) {
    replace(el, head, h('div', { class: 'unavailable', role: 'status', dataset: { feature: 'trace' } },
      h('p', null, h('b', null, 'Traceability is not available on this server.')),
      h('p', { class: 'muted' }, 'Searching by serial number or by machine and time range needs the genealogy of produced units (GET /api/trace), which this server does not offer (it answered 404; the production twin may be switched off with --no-production).')));
    return null;
  }
  let summary = null;
  try { summary = await api.get('/api/trace'); } catch (e) { summary = { error: e.message }; }
  const out = h('div', { class: 'trace-result' });

  // --- the forms ---
  const serial = h('input', { type: 'search', name: 'serial', placeholder: 'e.g. SN-1000123 or 1000123', required: true, inputmode: 'numeric' });
  const bySerial = h('form', { class: 'trace-form', dataset: { query: 'serial' } },
    h('label', null, 'Serial number ', serial), h('button', { class: 'primary' }, 'Find the unit'));
  bySerial.addEventListener('submit', (e) => { e.preventDefault(); showUnit(serial.value.trim()); });

  const machines = [...shared.assets.values()];
  const assetSel = () => h('select', { name: 'asset' }, machines.map((a) => h('option', { value: a.id }, `${a.name} (${a.id})`)));
  const asset = assetSel();
  const local = (ns) => { const d = new Date(ns / 1e6 - new Date().getTimezoneOffset() * 60e3); return d.toISOString().slice(0, 16); };
  const lastTo = summary?.lines?.reduce((m, l) => Math.max(m, l.to_ns || 0), 0) || Date.now() * 1e6;
  const start = h('input', { type: 'datetime-local', name: 'start', required: true, value: local(lastTo - 3600e9) });
  const end = h('input', { type: 'datetime-local', name: 'end', required: true, value: local(lastTo + 60e9) });
  const byAsset = h('form', { class: 'trace-form', dataset: { query: 'asset' } },
    h('label', null, 'Machine ', asset), h('label', null, 'From ', start), h('label', null, 'To ', end),
    h('button', { class: 'primary' }, 'Units it processed'));
  byAsset.addEventListener('submit', (e) => {
    e.preventDefault();
    units({ asset: asset.value, start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString() },
      `Units processed by ${asset.value} between ${time(Date.parse(start.value) * 1e6)} and ${time(Date.parse(end.value) * 1e6)}`);
  });
  const alarmAsset = assetSel();
  const byAlarm = h('form', { class: 'trace-form', dataset: { query: 'alarm' } },
    h('label', null, 'Machine ', alarmAsset), h('button', { class: 'primary' }, 'Units made while it was in alarm'));
  byAlarm.addEventListener('submit', (e) => { e.preventDefault(); units({ alarm: alarmAsset.value }, `Units made while ${alarmAsset.value} was in alarm`); });
  const lot = h('input', { type: 'search', name: 'lot', placeholder: 'component lot, e.g. from a unit above', required: true });
  const byLot = h('form', { class: 'trace-form', dataset: { query: 'lot' } },
    h('label', null, 'Component lot ', lot), h('button', { class: 'primary' }, 'Units that consumed it'));
  byLot.addEventListener('submit', (e) => { e.preventDefault(); units({ lot: lot.value.trim() }, `Units that consumed lot ${lot.value.trim()}`); });

  // --- results ---
  const serialLink = (s) => h('a', { href: '#', class: 'serial', dataset: { serial: s }, onclick: (e) => { e.preventDefault(); serial.value = SN(s); showUnit(String(s)); } }, SN(s));
  const assetLink = (id) => h('a', { href: `#/asset/${encodeURIComponent(id)}` }, id);

  async function showUnit(text) {
    replace(out, h('p', { class: 'loading' }, 'Searching…'));
    let u;
    try { u = await api.get(`/api/trace/units/${encodeURIComponent(text)}`); } catch (e) { replace(out, h('p', { class: 'error-box' }, e.status === 404 ? `Nothing found: ${e.message}` : `The search failed: ${e.message}`)); return; }
    const state = { in_line: 'still in the line', scrapped: 'scrapped', finished: 'finished' }[u.state] || u.state;
    const around = (v) => () => {
      asset.value = v.asset; start.value = local(v.start_ns - 1800e9); end.value = local(v.end_ns + 1800e9);
      units({ asset: v.asset, start: new Date(v.start_ns / 1e6 - 1800e3).toISOString(), end: new Date(v.end_ns / 1e6 + 1800e3).toISOString() },
        `Units processed by ${v.asset} within 30 minutes of ${SN(u.serial)}`);
    };
    replace(out,
      h('div', { class: 'unit', dataset: { serial: u.serial } },
        h('h3', null, `${SN(u.serial)} · ${humanize(u.product || 'product')} · line ${u.line} · ${state}`),
        h('p', null, `Entered ${u.entered_ns ? time(u.entered_ns) : '—'}, left ${u.exit_ns ? time(u.exit_ns) : '—'}. `,
          'Component lots: ', u.lots.length ? u.lots.map((l, i) => [i ? ', ' : '', h('a', { href: '#', onclick: (e) => { e.preventDefault(); lot.value = l; units({ lot: l }, `Units that consumed lot ${l}`); } }, l)]) : 'none'),
        h('h4', null, 'Where it was processed'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'visits' },
          h('thead', null, h('tr', null, h('th', null, 'Station'), h('th', null, 'Machine'), h('th', null, 'From'), h('th', null, 'To'),
            h('th', { title: 'Health index of the machine at that moment (1 = as new, 0 = at its failure level)' }, 'Machine health'),
            h('th', null, 'Machine in alarm'), h('th', null, 'Process conditions'), h('th', null, ''))),
          h('tbody', null, u.visits.map((v) => h('tr', null,
            h('td', null, v.station), h('td', null, assetLink(v.asset)), h('td', null, time(v.start_ns)), h('td', null, time(v.end_ns)),
            h('td', { class: 'num' }, Number.isFinite(v.health_index) ? num(v.health_index, 2) : '—'),
            h('td', null, v.alarm ? h('span', { class: 'badge health-alarm' }, 'in alarm') : 'no'),
            h('td', { class: 'small' }, Object.entries(v.conditions || {}).map(([k, x]) => `${humanize(k)} ${num(x)}`).join(' · ') || '—'),
            h('td', null, h('button', { type: 'button', class: 'link', onclick: around(v), title: 'The other direction: every unit this machine processed around that time' }, 'other units here'))))))),
        h('h4', null, 'Quality results'),
        u.quality.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'quality' },
          h('thead', null, h('tr', null, h('th', null, 'Check'), h('th', null, 'Measured'), h('th', null, 'Value'), h('th', null, 'Result'))),
          h('tbody', null, u.quality.map((q) => h('tr', null, h('td', null, humanize(q.check)), h('td', null, time(q.at_ns)), h('td', { class: 'num' }, num(q.value)),
            h('td', null, q.pass ? 'pass' : h('span', { class: 'badge health-alarm' }, 'fail')))))))
          : h('p', { class: 'muted' }, 'No quality result recorded for this unit.')));
  }

  async function units(params, title) {
    replace(out, h('p', { class: 'loading' }, 'Searching…'));
    let r;
    try { r = await api.get(`/api/trace${api.qs({ ...params, limit: 200 })}`); } catch (e) { replace(out, h('p', { class: 'error-box' }, `The search failed: ${e.message}`)); return; }
    const items = r.items || [];
    const intervals = r.alarm_intervals ? h('p', { class: 'muted' }, `${r.alarm_intervals.length} alarm interval(s) of this machine are on record.`) : null;
    replace(out, h('div', { class: 'units', dataset: { total: r.total ?? items.length } },
      h('h3', null, title),
      h('p', null, `${r.total ?? items.length} unit(s) found${r.truncated || (r.total > items.length) ? `; the first ${items.length} are listed` : ''}.`), intervals,
      items.length ? h('div', { class: 'table-wrap' }, h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'Serial number'), h('th', null, 'Line'), h('th', null, 'Product'), h('th', null, 'Entered'), h('th', null, 'Left'), h('th', null, 'Scrapped'), h('th', null, 'Component lots'))),
        h('tbody', null, items.map((x) => h('tr', null, h('td', null, serialLink(x.serial)), h('td', null, x.line), h('td', null, humanize(x.product || '')),
          h('td', null, x.entered_ns ? time(x.entered_ns) : '—'), h('td', null, x.exit_ns ? time(x.exit_ns) : '—'), h('td', null, x.scrapped ? 'yes' : 'no'), h('td', { class: 'small' }, x.lots || '—'))))))
        : h('p', { class: 'muted' }, 'Nothing found.')));
  }

  const lines = summary?.lines || [];
  const overview = summary?.error ? h('p', { class: 'error-box' }, `The genealogy is not ready: ${summary.error}`)
    : h('p', { class: 'muted' }, `${int(summary?.units_indexed ?? 0)} units in the genealogy index. `,
      lines.map((l) => `Line ${l.line}: ${int(l.units_indexed)} units${l.first_serial != null ? `, ${SN(l.first_serial)} – ${SN(l.last_serial)}` : ''}${l.to_ns ? `, up to ${time(l.to_ns)}` : ''}. `));
  replace(el, head, overview,
    h('div', { class: 'grid-2' }, card('Everything about a unit', bySerial), card('Units processed by a machine', byAsset),
      card('Units made while a machine was in alarm', byAlarm), card('Units made with a component lot', byLot)),
    card('Result', out));
  return null;
}
