// Alerts and recommendations: open alerts; what the twin recommends, each with the alternatives it weighed
// and their simulated consequences, to approve or reject (role permitting); work orders, the actions sent
// to the plant, and the audit trail of every decision.

import { card, h, replace, throttle } from '../dom.js';
import {
  ACTIONS, actionName, duration, healthBadge, hours, localTimes, money, num, signalName, stateText, time, timeRange, withUnit,
} from '../format.js';
import { ROLES } from '../api.js';

/** Hours as a readable duration ("2 s", "25 min", "3 h 10 min"). */
const dur = (hv) => (hv === null || hv === undefined ? '—' : hv === 0 ? '0' : duration(hv * 3600));

const REC_STATES = { open: 'Waiting for approval', approved: 'Approved', rejected: 'Rejected', executed: 'Carried out automatically', superseded: 'Superseded by a newer plan' };

function select(name, options, value, onchange) {
  const s = h('select', { name, onchange: (e) => onchange(e.target.value) },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
  return s;
}

export async function mount(el, ctx, params, query) {
  const { api, live, shared } = ctx;
  const lines = [];
  const lineOfAsset = new Map();
  const nameOf = new Map();
  for (const s of shared.plant.sites) for (const a of s.areas) for (const l of a.lines) {
    lines.push([l.id, l.name]);
    for (const x of l.assets) { lineOfAsset.set(x.id, l.id); nameOf.set(x.id, x.name); }
  }
  const filters = {
    line: query.get('line') || '', level: '', asset: '',
    recState: query.get('rec') ? '' : 'open', action: '', rec: query.get('rec') || '',
  };
  const alertsEl = h('div');
  const recsEl = h('div', { class: 'recs' });
  const woEl = h('div');
  const actionsEl = h('div');
  const auditEl = h('div');
  let alerts = [], recs = [], workOrders = [], actions = [];
  const audit = []; // newest last
  let auditSeq = 0;
  const notes = new Map(); // rec id → note text being typed (kept across re-renders)
  const busy = new Set();
  const messages = new Map(); // rec id → {ok, text}: the outcome of a decision taken here, which stays in view

  const assetFilter = h('input', { type: 'search', placeholder: 'Asset name or id', 'aria-label': 'Filter by asset', value: filters.asset,
    oninput: (e) => { filters.asset = e.target.value.trim().toLowerCase(); renderAll(); } });
  const filterBar = h('div', { class: 'filters', role: 'search' },
    h('label', null, 'Line ', select('line', [['', 'all lines'], ...lines], filters.line, (v) => { filters.line = v; renderAll(); })),
    h('label', null, 'Asset ', assetFilter),
    h('label', null, 'Alert level ', select('level', [['', 'all'], ['alarm', 'alarm'], ['warning', 'warning']], '', (v) => { filters.level = v; renderAlerts(); })),
    h('label', null, 'Recommendation ', select('state', [['', 'all states'], ...Object.entries(REC_STATES)], filters.recState, (v) => { filters.recState = v; filters.rec = ''; renderRecs(); })),
    h('label', null, 'Action ', select('action', [['', 'all actions'], ...Object.entries(ACTIONS).filter(([k]) => k !== 'run_on')], '', (v) => { filters.action = v; renderRecs(); })));

  const matchAsset = (assetId) => {
    if (filters.line && lineOfAsset.get(assetId) !== filters.line) return false;
    if (!filters.asset) return true;
    return assetId.toLowerCase().includes(filters.asset) || (nameOf.get(assetId) || '').toLowerCase().includes(filters.asset);
  };
  const assetLink = (assetId) => h('a', { href: `#/asset/${encodeURIComponent(assetId)}` }, nameOf.get(assetId) || assetId, h('span', { class: 'muted' }, ` ${assetId}`));

  const defs = new Map(); // asset id → Map(signal → definition), for units and state labels
  function renderAlerts() {
    const list = alerts.filter((a) => matchAsset(a.asset) && (!filters.level || a.level === filters.level))
      .sort((x, y) => (x.level === y.level ? y.since - x.since : x.level === 'alarm' ? -1 : 1));
    for (const a of list) {
      if (!defs.has(a.asset)) {
        defs.set(a.asset, null);
        ctx.signals(a.asset).then((m) => { defs.set(a.asset, m); renderAlerts(); }).catch(() => defs.delete(a.asset));
      }
    }
    const value = (a) => {
      const d = defs.get(a.asset)?.get(a.signal);
      if (d && d.kind === 'state') return stateText(a.signal, d.states, a.last_value);
      return d ? withUnit(a.last_value, d.unit) : num(a.last_value);
    };
    const limit = (a) => (defs.get(a.asset)?.get(a.signal)?.kind === 'state' ? 'not in its normal state' : a.limit);
    replace(alertsEl, list.length ? h('div', { class: 'table-wrap' }, h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'Level'), h('th', null, 'Asset'), h('th', null, 'Signal'), h('th', null, 'Value now'), h('th', null, 'Limit crossed'), h('th', null, 'Since'))),
      h('tbody', null, list.map((a) => h('tr', { dataset: { alert: a.id } },
        h('td', null, healthBadge(a.level)), h('td', null, assetLink(a.asset)), h('td', null, signalName(a.signal)),
        h('td', { class: 'num' }, value(a)), h('td', null, limit(a)), h('td', null, time(a.since)))))))
      : h('p', { class: 'ok-text' }, alerts.length ? 'No open alert matches the filters.' : 'No open alerts: every signal is within its normal range.'));
  }

  function decisionButtons(r) {
    const user = shared.user;
    const canApprove = ctx.canApprove();
    const wrap = h('div', { class: 'decide' });
    if (r.state !== 'open') {
      wrap.appendChild(h('p', { class: 'decided' }, `${REC_STATES[r.state] || r.state}`,
        r.decided_by ? ` by ${r.decided_by}` : '', ` (${time(r.updated_ns)})`, r.work_order ? ` — work order ${r.work_order}` : '',
        r.executed_action ? ` — action ${r.executed_action}` : ''));
      return wrap;
    }
    const note = h('input', { type: 'text', class: 'note', placeholder: 'Note for the audit log (optional)', 'aria-label': 'Note', value: notes.get(r.id) || '',
      oninput: (e) => notes.set(r.id, e.target.value) });
    const why = !user ? 'Sign in (your name goes into the audit log) to approve or reject'
      : !canApprove ? `Your role (${ROLES[user.role].label}) may not approve; maintenance engineers and plant managers may` : '';
    const act = async (verb) => {
      if (!shared.user) { await ctx.askUser(); renderRecs(); return; }
      if (!ctx.canApprove()) return;
      busy.add(r.id); renderRecs();
      try {
        const updated = await api.post(`/api/recommendations/${encodeURIComponent(r.id)}/${verb}`, { user: shared.user.name, note: notes.get(r.id) || '' });
        const i = recs.findIndex((x) => x.id === r.id);
        if (i >= 0) recs[i] = updated;
        messages.set(r.id, { ok: true, text: verb === 'approve' ? `Approved${updated.work_order ? `: work order ${updated.work_order} created` : ''}` : 'Rejected' });
        notes.delete(r.id);
        refreshSoon();
      } catch (e) {
        messages.set(r.id, { ok: false, text: `Not ${verb === 'approve' ? 'approved' : 'rejected'}: ${e.message}` });
      } finally { busy.delete(r.id); renderRecs(); }
    };
    const disabled = !user ? false : (!canApprove || busy.has(r.id));
    wrap.append(...[note,
      h('button', { type: 'button', class: 'primary approve', disabled, title: why || 'Approve: the twin carries it out (a repair becomes a work order)', onclick: () => act('approve') }, 'Approve'),
      h('button', { type: 'button', class: 'danger reject', disabled, title: why || 'Reject: nothing is done; the plan is re-optimised', onclick: () => act('reject') }, 'Reject'),
      why ? h('p', { class: 'muted small' }, why, !user ? [' — ', h('button', { type: 'button', class: 'link', onclick: async () => { await ctx.askUser(); renderRecs(); } }, 'sign in')] : null) : null]
      .filter(Boolean));
    return wrap;
  }

  function alternativesTable(r) {
    return h('div', { class: 'table-wrap' }, h('table', { class: 'alternatives' },
      h('caption', null, 'Options the planner simulated over the predicted remaining-life distribution (expected values)'),
      h('thead', null, h('tr', null,
        h('th', null, 'Option'), h('th', { title: 'Expected total cost of the option, in the business data’s currency units' }, 'Expected cost'),
        h('th', null, 'Downtime'), h('th', null, 'Failure probability'), h('th', { title: 'Production time short at the due dates of orders (late orders)' }, 'Late production'),
        h('th', { title: 'Output lost to running at reduced load, as hours of production' }, 'Derate loss'), h('th', { title: 'Remaining life thrown away by repairing early (running time)' }, 'Life thrown away'),
        h('th', null, 'Energy (kWh)'))),
      h('tbody', null, r.alternatives.map((a) => h('tr', { class: a.chosen ? 'chosen' : '' },
        h('td', null, a.chosen ? h('b', null, '★ ', localTimes(a.label), h('span', { class: 'muted' }, ' (recommended)')) : localTimes(a.label)),
        h('td', { class: 'num' }, money(a.expected_cost)),
        h('td', { class: 'num' }, dur(a.consequences.downtime_h)),
        h('td', { class: 'num' }, `${num(a.consequences.failure_probability * 100, 2)} %`),
        h('td', { class: 'num' }, dur(a.late_hours)),
        h('td', { class: 'num' }, dur(a.consequences.derate_loss_h)),
        h('td', { class: 'num' }, dur(a.consequences.wasted_life_h)),
        h('td', { class: 'num' }, num(a.consequences.energy_kwh)))))));
  }

  function recCard(r) {
    const msg = messages.get(r.id);
    return h('article', { class: `rec rec-state-${r.state}${filters.rec === r.id ? ' focus' : ''}`, id: `rec-${r.id}`, dataset: { rec: r.id, state: r.state, action: r.action } },
      h('header', null,
        h('span', { class: `badge rec-${r.state}` }, REC_STATES[r.state] || r.state),
        h('h3', null, actionName(r.action), ': ', assetLink(r.asset)),
        h('span', { class: 'muted' }, `${r.id} · line ${r.line} · plan version ${r.plan_version}`)),
      h('p', { class: 'summary' }, localTimes(r.summary)),
      h('p', { class: 'why muted' }, `Why: ${localTimes(r.decision)}. Prediction when recommended: median remaining life ${hours(r.prediction.rul_median_h)} of running, `,
        `risk of failure if it runs on ${num(r.prediction.risk_if_run_on * 100, 2)} %.`,
        r.start_ns ? ` Planned ${timeRange(r.start_ns, r.end_ns)}` : '', r.crew ? ` by crew ${r.crew}` : '', r.parts.length ? `; parts ${r.parts.join(', ')}` : '',
        r.derate ? `; load reduced by ${num(r.derate * 100)} %` : ''),
      alternativesTable(r),
      decisionButtons(r),
      msg ? h('p', { class: msg.ok ? 'ok-text result' : 'error-box result', role: 'status' }, msg.text) : null);
  }

  function renderRecs() {
    let list = recs.filter((r) => matchAsset(r.asset) && (!filters.action || r.action === filters.action));
    if (filters.rec) list = list.filter((r) => r.id === filters.rec);
    else if (filters.recState) list = list.filter((r) => r.state === filters.recState || messages.has(r.id));
    replace(recsEl,
      filters.rec ? h('p', null, `Showing ${filters.rec} only. `, h('button', { type: 'button', class: 'link', onclick: () => { filters.rec = ''; filters.recState = 'open'; renderRecs(); } }, 'Show all open recommendations')) : null,
      list.length ? list.slice(0, 40).map(recCard)
        : h('p', { class: 'muted' }, recs.length ? 'No recommendation matches the filters.' : 'No recommendations yet: plans follow once the predictive models score the assets.'),
      list.length > 40 ? h('p', { class: 'muted' }, `${list.length - 40} more; narrow the filters.`) : null);
    if (filters.rec) document.getElementById(`rec-${filters.rec}`)?.scrollIntoView({ block: 'nearest' });
  }

  const showClosed = h('input', { type: 'checkbox', onchange: () => renderWorkOrders() });
  function renderWorkOrders() {
    const list = workOrders.filter((w) => matchAsset(w.asset) && (showClosed.checked || !['cancelled', 'rejected'].includes(w.state))).slice().reverse();
    const may = shared.user && ctx.canApprove() || shared.user?.role === 'technician';
    const transition = async (w, t) => {
      try { await api.post(`/api/work-orders/${encodeURIComponent(w.id)}/${t}`, { user: shared.user.name }); refreshSoon(); } catch (e) { alert(`Work order ${w.id}: ${e.message}`); }
    };
    replace(woEl, list.length ? h('div', { class: 'table-wrap' }, h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'Work order'), h('th', null, 'Asset'), h('th', null, 'State'), h('th', null, 'Crew'), h('th', null, 'Planned window'), h('th', null, 'History'), h('th', null, ''))),
      h('tbody', null, list.slice(0, 60).map((w) => h('tr', { dataset: { wo: w.id } },
        h('td', null, w.id, h('span', { class: 'muted' }, ` (${w.kind})`)), h('td', null, assetLink(w.asset)),
        h('td', null, h('span', { class: `badge wo-${w.state}` }, w.state.replace('_', ' '))), h('td', null, w.crew || '—'),
        h('td', null, w.start_ns ? timeRange(w.start_ns, w.end_ns) : '—'),
        h('td', { class: 'small' }, w.history.map((x) => `${x.to.replace('_', ' ')} by ${x.actor}`).join(' → ')),
        h('td', null,
          may && w.state === 'scheduled' ? h('button', { type: 'button', onclick: () => transition(w, 'start'), title: 'Start now: the repair command goes to the machine' }, 'Start now') : null,
          may && w.state === 'in_progress' ? h('button', { type: 'button', onclick: () => transition(w, 'complete'), title: 'Mark done: records the maintenance' }, 'Complete') : null))))))
      : h('p', { class: 'muted' }, workOrders.length ? 'No open work order matches the filters.' : 'No work orders yet: approving a repair creates one.'));
  }

  function renderActions() {
    const list = actions.filter((a) => matchAsset(a.asset)).slice().reverse();
    replace(actionsEl, list.length ? h('div', { class: 'table-wrap' }, h('table', null,
      h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', null, 'Action'), h('th', null, 'Asset'), h('th', null, 'By'), h('th', null, 'Status'), h('th', null, ''))),
      h('tbody', null, list.slice(0, 60).map((a) => h('tr', null,
        h('td', null, time(a.ts_ns)),
        h('td', null, a.kind === 'derate' ? `Reduce load by ${num(a.derate * 100)} %` : a.kind === 'restore' ? 'Restore normal load' : a.kind === 'repair' ? `Repair (work order ${a.work_order})` : a.kind),
        h('td', null, assetLink(a.asset)), h('td', null, a.by), h('td', null, a.status.replace('_', ' ')),
        h('td', null, a.kind === 'derate' && a.status === 'applied' && ctx.canApprove()
          ? h('button', { type: 'button', title: 'Undo: the machine goes back to its normal load', onclick: async () => {
            try { await api.post(`/api/actions/${encodeURIComponent(a.id)}/rollback`, { user: shared.user.name }); refreshSoon(); } catch (e) { alert(`Rollback ${a.id}: ${e.message}`); }
          } }, 'Roll back') : null))))))
      : h('p', { class: 'muted' }, 'No actions sent to the plant yet.'));
  }

  function renderAudit() {
    const list = audit.slice(-100).reverse();
    replace(auditEl, list.length ? [
      h('p', { class: 'muted' }, 'Every decision and action, newest first. Each record carries the SHA-256 hash of the one before it; `doppel audit verify` checks the whole chain.'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'audit' },
        h('thead', null, h('tr', null, h('th', null, '#'), h('th', null, 'Time'), h('th', null, 'Who'), h('th', null, 'What'), h('th', null, 'Subject'), h('th', null, 'Detail'), h('th', null, 'Hash'))),
        h('tbody', null, list.map((r) => h('tr', null,
          h('td', { class: 'num' }, String(r.seq)), h('td', null, time(r.ts_ns)), h('td', null, r.actor), h('td', null, r.action), h('td', null, r.subject),
          h('td', { class: 'small detail' }, summarizeDetail(r.detail)),
          h('td', { class: 'mono small', title: `hash ${r.hash}\nprevious ${r.prev}` }, r.hash.slice(0, 10) + '…')))))),
    ] : h('p', { class: 'muted' }, 'The audit log is empty: nothing has been decided yet.'));
  }

  function renderAll() { renderAlerts(); renderRecs(); renderWorkOrders(); renderActions(); }

  async function refreshAlerts() {
    try { alerts = await api.get('/api/alerts'); renderAlerts(); } catch (e) { replace(alertsEl, h('p', { class: 'error-box' }, e.message)); }
  }
  async function refreshDecisions() {
    try {
      const [r, w, a] = await Promise.all([api.get('/api/recommendations'), api.get('/api/work-orders'), api.get('/api/actions')]);
      recs = r.recommendations; workOrders = w.work_orders; actions = a.actions;
      renderRecs(); renderWorkOrders(); renderActions();
    } catch (e) { replace(recsEl, h('p', { class: 'error-box' }, `Recommendations could not be loaded: ${e.message}`)); }
    try {
      for (;;) {
        const page = (await api.get(`/api/audit${api.qs({ since: auditSeq, limit: 500 })}`)).records;
        for (const rec of page) { audit.push(rec); auditSeq = rec.seq; }
        if (audit.length > 1000) audit.splice(0, audit.length - 1000);
        if (page.length < 500) break;
      }
      renderAudit();
    } catch (e) { replace(auditEl, h('p', { class: 'error-box' }, `The audit log could not be read: ${e.message}`)); }
  }
  const refreshSoon = throttle(refreshDecisions, 700);
  const refreshAlertsSoon = throttle(refreshAlerts, 1000);

  replace(el,
    h('div', { class: 'page-head' }, h('h1', null, 'Alerts and recommendations')),
    filterBar,
    card('Recommendations', recsEl, { id: 'recommendations', tip: 'What the twin’s planner proposes, cheapest expected cost first' }),
    card('Open alerts', alertsEl, { id: 'alerts' }),
    h('div', { class: 'grid-2' },
      card('Work orders', h('div', null, h('label', { class: 'small' }, showClosed, ' show cancelled and rejected ones'), woEl), { id: 'work-orders' }),
      card('Actions sent to the plant', actionsEl, { id: 'actions' })),
    card('Audit trail', auditEl, { id: 'audit' }));
  const offs = [
    live.on('plan', refreshSoon), live.on('recommendation', refreshSoon), live.on('maintenance', refreshSoon),
    live.on('alert_raised', refreshAlertsSoon), live.on('alert_cleared', refreshAlertsSoon), live.on('alert_downgraded', refreshAlertsSoon),
    live.on('resync', () => { refreshAlerts(); refreshSoon(); }),
  ];
  const onUser = () => renderAll();
  window.addEventListener('doppel-user', onUser);
  await Promise.all([refreshAlerts(), refreshDecisions()]);
  return () => { offs.forEach((f) => f()); window.removeEventListener('doppel-user', onUser); };
}

function summarizeDetail(d) {
  if (!d || typeof d !== 'object') return String(d ?? '');
  const parts = [];
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined || v === '') continue;
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    parts.push(`${k}: ${s.length > 60 ? `${s.slice(0, 57)}…` : s}`);
    if (parts.length >= 5) break;
  }
  return parts.join('; ');
}

