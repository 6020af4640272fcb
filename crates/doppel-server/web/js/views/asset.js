// Asset view: what a technician at the machine needs. Live values and a trend of every signal with its
// operating envelope and zoomable history (downsampled by the store); for rotating machines the vibration
// diagnosis, the ISO 10816-3 zone, the spectrum and envelope spectrum of the latest capture with the bearing
// defect frequencies marked; the predictions (health index, anomaly score, remaining useful life with its
// interval, failure probability) over time; alerts, recommendations, work orders and maintenance; the context.

import { card, h, replace, schedule, setText, throttle } from '../dom.js';
import { isoZoneBar, multiChart, spectrumChart, timeChart } from '../charts.js';
import {
  actionName, axisLabel, faultName, localTimes, stateText, timeRange, healthBadge, hours, humanize, num, signalName, stateLabel, time, typeName, unitText,
  unitTip, withUnit,
} from '../format.js';

const RANGES = [
  { label: '15 min', ns: 15 * 60e9 }, { label: '1 hour', ns: 3600e9 }, { label: '6 hours', ns: 6 * 3600e9 }, { label: '24 hours', ns: 24 * 3600e9 },
];
const PREDICTION = ['health_index', 'anomaly_score', 'rul', 'rul_lower', 'rul_upper', 'failure_probability'];

const DEFECTS = [
  { key: 'bpfo_hz', label: 'BPFO', name: 'ball pass frequency, outer race', color: '#c0392b' },
  { key: 'bpfi_hz', label: 'BPFI', name: 'ball pass frequency, inner race', color: '#8e44ad' },
  { key: 'bsf_hz', label: 'BSF', name: 'ball spin frequency', color: '#d35400' },
  { key: 'ftf_hz', label: 'FTF', name: 'fundamental train (cage) frequency', color: '#16a085' },
];

function envelopeText(env, unit) {
  if (!env || !env.normal) return 'no envelope';
  const u = unitText(unit);
  const r = (x) => (x.low == null ? `≤ ${num(x.high)}` : x.high == null ? `≥ ${num(x.low)}` : `${num(x.low)} … ${num(x.high)}`);
  return `normal ${r(env.normal)}${env.warning ? `, warning ${r(env.warning)}` : ''} ${u}`.trim();
}

/** Fixed value ranges of the prediction signals, so their charts read the same on every asset. */
const Y_FIXED = { health_index: [0, 1], failure_probability: [0, 100], anomaly_score: [0, null] };

function statusBadge(status) {
  const map = { normal: ['ok', 'Normal'], warning: ['warning', 'Warning'], alarm: ['alarm', 'Alarm'] };
  const [cls, text] = map[status] || ['unknown', status || '—'];
  return h('span', { class: `badge health-${cls}` }, text);
}

export async function mount(el, ctx, [id]) {
  const { api, live, shared } = ctx;
  replace(el, h('p', { class: 'loading' }, `Loading ${id}…`));
  let detail;
  try {
    detail = await api.get(`/api/assets/${encodeURIComponent(id)}`);
  } catch (e) {
    replace(el, h('div', { class: 'error-box' }, e.status === 404 ? `There is no asset '${id}'. ` : `The asset could not be loaded: ${e.message}. `,
      h('a', { href: '#/' }, 'Back to the overview')));
    return null;
  }
  const asset = detail.asset;
  const signalsByName = new Map(asset.signals.map((s) => [s.name, s]));
  const liveSig = new Map(detail.live.signals.map((s) => [s.name, s]));
  const cleanups = [];
  let latestTs = Math.max(0, ...detail.live.signals.map((s) => s.last_ts || 0));
  const dataEnd = () => Math.max(Date.now() * 1e6, latestTs);
  let view = { live: true, span: 3600e9 }; // or {live: false, start, end}

  // ---------- header ----------
  const healthEl = h('span', null, healthBadge(detail.live.health));
  const stateEl = h('span', { class: 'badge state' }, stateLabel(detail.live.state));
  const sinceEl = h('span', { class: 'muted' });
  const ctxEl = h('p', { class: 'context' });
  function renderContext(c) {
    const x = c || {};
    replace(ctxEl,
      h('span', { class: 'muted' }, 'Now on line ', h('b', null, asset.line), ': '),
      x.product ? ['product ', h('b', null, x.product)] : 'no product set',
      x.batch ? [' · batch ', h('b', null, x.batch)] : null,
      x.work_order ? [' · production order ', h('b', null, x.work_order)] : null,
      x.mode ? [' · mode ', h('b', null, x.mode.replace(/_/g, ' '))] : null);
  }
  renderContext(detail.context?.context);
  const setSince = () => setText(sinceEl, detail.live.state_since ? `since ${time(detail.live.state_since)}` : '');
  setSince();

  // ---------- range controls ----------
  const rangeBtns = RANGES.map((r) => h('button', { type: 'button', class: 'seg', dataset: { ns: String(r.ns) }, onclick: () => setView({ live: true, span: r.ns }) }, r.label));
  const rangeInfo = h('span', { class: 'muted range-info' });
  const backLive = h('button', { type: 'button', class: 'primary', hidden: true, onclick: () => setView({ live: true, span: view.span || 3600e9 }) }, 'Back to live');
  const zoomOut = h('button', { type: 'button', title: 'Show twice the time range', onclick: () => {
    const [s, e] = currentRange(); const mid = (s + e) / 2, half = e - s;
    setView({ live: false, start: mid - half, end: Math.min(dataEnd(), mid + half) });
  } }, 'Zoom out');
  const zoomIn = h('button', { type: 'button', title: 'Show half the time range', onclick: () => {
    const [s, e] = currentRange(); const q = (e - s) / 4;
    setView({ live: false, start: s + q, end: e - q });
  } }, 'Zoom in');
  const panBack = h('button', { type: 'button', title: 'Earlier', 'aria-label': 'Earlier', onclick: () => {
    const [s, e] = currentRange(); const d = (e - s) / 2; setView({ live: false, start: s - d, end: e - d });
  } }, '◀ Earlier');
  const panFwd = h('button', { type: 'button', title: 'Later', 'aria-label': 'Later', onclick: () => {
    const [s, e] = currentRange(); const d = (e - s) / 2;
    if (e + d >= dataEnd()) setView({ live: true, span: e - s }); else setView({ live: false, start: s + d, end: e + d });
  } }, 'Later ▶');
  const controls = h('div', { class: 'range-bar', role: 'toolbar', 'aria-label': 'Time range of the trends' },
    h('span', { class: 'seg-group' }, rangeBtns), zoomIn, zoomOut, panBack, panFwd, backLive, rangeInfo);

  function currentRange() {
    if (view.live) { const end = dataEnd(); return [end - view.span, end]; }
    return [view.start, view.end];
  }

  // ---------- live values table ----------
  const valueRows = new Map();
  const measured = asset.signals.filter((s) => s.kind !== 'waveform' && !PREDICTION.includes(s.name) && !(s.derived_from && signalsByName.get(s.derived_from)?.kind === 'waveform'));
  const features = asset.signals.filter((s) => s.derived_from && signalsByName.get(s.derived_from)?.kind === 'waveform');
  const predicted = asset.signals.filter((s) => PREDICTION.includes(s.name));
  const tableBody = h('tbody');
  for (const s of [...measured, ...features]) {
    const ls = liveSig.get(s.name) || {};
    const value = h('td', { class: 'num live-value', dataset: { signal: s.name, ts: String(ls.last_ts || '') } });
    const status = h('td');
    const when = h('td', { class: 'muted' });
    const envTd = h('td', { class: 'muted' }, envelopeText(ls.envelope, s.unit));
    const row = h('tr', { dataset: { signal: s.name } },
      h('th', { scope: 'row', title: s.description || '' }, signalName(s.name),
        s.derived_from === 'physics_residual' ? h('span', { class: 'muted' }, ' (measured − physics model)') : null),
      value, status, envTd, when);
    valueRows.set(s.name, { value, status, when, envTd, row });
    tableBody.appendChild(row);
  }
  function renderValue(name) {
    const r = valueRows.get(name);
    const ls = liveSig.get(name);
    const s = signalsByName.get(name);
    if (!r || !ls || !s) return;
    const v = ls.last_value;
    setText(r.value, v == null ? '—' : (s.kind === 'state' ? stateText(s.name, s.states, v) : withUnit(v, s.unit)));
    r.value.title = unitTip(s.unit);
    r.value.dataset.ts = String(ls.last_ts || '');
    replace(r.status, statusBadge(ls.status));
    setText(r.when, ls.last_ts ? time(ls.last_ts) : 'no data yet');
  }
  for (const name of valueRows.keys()) renderValue(name);

  // ---------- trend charts ----------
  const charts = new Map(); // signal → chart
  const sync = `asset-${id}`;
  const onZoom = (a, b) => setView({ live: false, start: a, end: b });
  const onReset = () => setView({ live: true, span: view.span || 3600e9 });
  function makeChart(s) {
    const ls = liveSig.get(s.name) || {};
    const isState = s.kind === 'state' && s.states.length > 0;
    const c = timeChart({ name: s.name, unit: s.unit, sync, envelope: ls.envelope, states: isState ? s.states : null, onZoom, onReset, height: 170,
      yFixed: isState ? [-0.5, s.states.length - 0.5] : Y_FIXED[s.name] });
    charts.set(s.name, c);
    cleanups.push(() => c.destroy());
    return h('figure', { class: 'trend', dataset: { signal: s.name } },
      h('figcaption', { title: s.description || '' }, h('b', null, axisLabel(s.name, s.unit)),
        s.description ? h('span', { class: 'muted' }, ` — ${s.description}`) : null),
      c.el);
  }
  const trendEls = measured.map(makeChart);
  const featureEls = features.map(makeChart);

  // ---------- predictions ----------
  let predictCard = null;
  const predNumbers = h('div', { class: 'kpis' });
  let rulChart = null;
  function renderPrediction(p, model) {
    if (!asset.predict) return;
    if (!p) {
      replace(predNumbers, h('p', { class: 'muted' }, model
        ? 'No prediction yet: the asset has not yet run one full step of the model.'
        : 'No prediction yet: no predictive model is in use (the demo trains one in the background at its first start; this takes a minute or two).'));
      return;
    }
    const tile = (name, value, sub, kpi, tip) => h('div', { class: 'kpi', dataset: { kpi }, title: tip }, h('div', { class: 'kpi-name' }, name), h('div', { class: 'kpi-value' }, value), sub ? h('div', { class: 'kpi-sub' }, sub) : null);
    replace(predNumbers,
      tile('Remaining useful life', hours(p.rul_h), `90 % interval ${hours(p.rul_lower_h)} – ${hours(p.rul_upper_h)} of running time`, 'rul',
        'Predicted running time until failure, with the interval that holds the true value 9 times out of 10'),
      tile('Failure probability', p.failure_probability_pct == null ? '—' : `${num(p.failure_probability_pct, 2)} %`, `within the next ${hours(p.horizon_h)} of running`, 'failure-probability'),
      tile('Health index', num(p.health_index, 2), '1 = as new, 0 = failed', 'health-index'),
      tile('Anomaly score', num(p.anomaly_score, 2), p.anomaly_alarm ? 'above the alarm threshold (1): unusual combination of signals' : 'below the alarm threshold (1)', 'anomaly-score',
        'How unusual the combination of the model inputs is, relative to the alarm threshold'));
  }
  if (asset.predict) {
    rulChart = multiChart({
      yLabel: 'h of running time', sync, onZoom, onReset, band: [1, 2], height: 190,
      series: [
        { label: 'upper bound (90 %)', color: 'rgba(31,95,191,0.45)', width: 1 },
        { label: 'lower bound (90 %)', color: 'rgba(31,95,191,0.45)', width: 1 },
        { label: 'median', color: '#1f5fbf', width: 2 },
      ],
    });
    cleanups.push(() => rulChart.destroy());
    const fp = signalsByName.get('failure_probability');
    const predCharts = ['failure_probability', 'health_index', 'anomaly_score'].filter((n) => signalsByName.has(n)).map((n) => makeChart(signalsByName.get(n)));
    predictCard = card('Prediction', h('div', null,
      predNumbers,
      h('p', { class: 'muted' }, `Model inputs: ${asset.predict.inputs.map(signalName).join(', ')}; operating regime from ${asset.predict.settings.map(signalName).join(', ')}.`),
      h('div', { class: 'trend-grid' },
        h('figure', { class: 'trend', dataset: { signal: 'rul' } }, h('figcaption', null, h('b', null, 'Remaining useful life with its 90 % interval (h of running time)')), rulChart.el),
        predCharts)), { id: 'prediction', tip: fp ? fp.description : '' });
    renderPrediction(detail.prediction?.latest, detail.prediction?.model);
  }

  // ---------- vibration ----------
  const waveSignals = asset.signals.filter((s) => s.kind === 'waveform');
  const vib = new Map(); // wave signal → {diag, iso, caps, select, vel, env, info}
  let vibCard = null;
  if (waveSignals.length) {
    const body = h('div');
    for (const w of waveSignals) {
      const diag = h('div', { class: 'diagnosis' });
      const iso = h('div', { class: 'iso' });
      const select = h('select', { 'aria-label': 'Capture to analyse' });
      const info = h('p', { class: 'muted capture-info' });
      const vel = spectrumChart({ yLabel: 'mm/s RMS', maxHz: 1000, height: 210 });
      const env = spectrumChart({ yLabel: unitText(w.unit) || w.unit, height: 210 });
      cleanups.push(() => { vel.destroy(); env.destroy(); });
      select.addEventListener('change', () => loadCapture(w.name, select.value));
      vib.set(w.name, { diag, iso, select, info, vel, env, lastCapture: null });
      body.appendChild(h('div', { class: 'vib-channel', dataset: { wave: w.name } },
        h('h3', null, w.description || signalName(w.name), h('span', { class: 'muted' }, ` (signal ${w.name})`)),
        h('div', { class: 'grid-2' }, diag, iso),
        h('div', { class: 'capture-pick' }, h('label', null, 'Raw capture: ', select), info),
        h('p', { class: 'muted small' }, 'Raw captures are kept periodically and around alarms, so the newest may be older than the diagnosis above, which uses every frame.'),
        h('div', { class: 'trend-grid' },
          h('figure', { class: 'trend spectrum-fig', dataset: { spectrum: 'velocity' } }, h('figcaption', null, h('b', null, 'Velocity spectrum'), h('span', { class: 'muted' }, ' — lines at 1×, 2×, 3× the shaft speed')), vel.el),
          h('figure', { class: 'trend spectrum-fig', dataset: { spectrum: 'envelope' } }, h('figcaption', null, h('b', null, 'Envelope spectrum'), h('span', { class: 'muted' }, ' — bearing defects show as lines at their defect frequencies')), env.el)),
        h('p', { class: 'muted defect-legend' }, DEFECTS.map((d) => h('span', null, h('b', { style: { color: d.color } }, d.label), ` = ${d.name}; `)), 'dashed lines: harmonics (2×, 3×) of the diagnosed defect; grey: shaft speed (1×, 2×, 3×).')));
    }
    vibCard = card('Vibration', body, { id: 'vibration' });
  }

  function renderDiagnosis(ch) {
    const v = vib.get(ch.signal);
    if (!v) return;
    const fault = ch.fault && ch.fault !== 'normal';
    replace(v.diag,
      h('p', { class: `diag-fault ${fault ? 'bad' : 'good'}` }, h('b', null, faultName(ch.fault)),
        fault && ch.fault_since_ns ? h('span', { class: 'muted' }, ` — confirmed since ${time(ch.fault_since_ns)}`) : null),
      ch.explanation ? h('p', null, ch.explanation) : null,
      ch.evidence && ch.evidence.lines && ch.evidence.lines.length ? h('table', { class: 'small' },
        h('thead', null, h('tr', null, h('th', null, 'Line'), h('th', null, 'Expected (Hz)'), h('th', null, 'Found (Hz)'), h('th', null, 'Above noise floor (dB)'))),
        h('tbody', null, ch.evidence.lines.map((l) => h('tr', null, h('td', null, l.label), h('td', { class: 'num' }, num(l.expected_hz)), h('td', { class: 'num' }, num(l.found_hz)), h('td', { class: 'num' }, num(l.prominence_db)))))) : null,
      h('p', { class: 'muted' }, `Shaft speed ${num(ch.shaft_rpm)} rpm (${ch.speed_source}); ${ch.frames} frames analysed; last frame ${time(ch.ts_ns)}.`));
    const z = ch.iso10816;
    const velRms = ch.features?.velocity_rms_mm_s;
    replace(v.iso, z ? [
      h('p', null, h('b', null, `ISO 10816-3 zone ${z.zone}`), `: ${z.meaning}`),
      isoZoneBar(z.boundaries_mm_s, velRms, z.zone),
      h('p', { class: 'muted' }, `Machine group ${z.machine_group}, ${z.foundation} foundation; zone limits ${z.boundaries_mm_s.map((b) => num(b)).join(' / ')} mm/s.`),
    ] : h('p', { class: 'muted' }, 'No ISO zone yet.'));
  }

  async function loadCaptures(wave, pickLatest) {
    const v = vib.get(wave);
    let caps;
    try { caps = (await api.get(`/api/assets/${encodeURIComponent(id)}/signals/${wave}/captures?limit=10000`)).captures; } catch (e) { setText(v.info, `Captures could not be listed: ${e.message}`); return; }
    const recent = caps.slice(-50).reverse();
    const keep = v.select.value;
    // `time` (RFC 3339 with nanoseconds) names the capture exactly; t0_ns does not survive JSON numbers (> 2^53).
    replace(v.select, recent.map((c) => h('option', { value: c.time }, `${time(c.t0_ns)} — ${c.reason}`)));
    if (!recent.length) {
      setText(v.info, 'No raw capture yet (captures are kept periodically and around alarms).');
      return;
    }
    const want = pickLatest || !keep ? recent[0].time : keep;
    v.select.value = want;
    if (want !== v.lastCapture) await loadCapture(wave, want);
  }

  async function loadCapture(wave, t0) {
    const v = vib.get(wave);
    v.lastCapture = t0;
    let c;
    try { c = await api.get(`/api/assets/${encodeURIComponent(id)}/signals/${wave}/captures/${encodeURIComponent(t0)}`); } catch (e) { setText(v.info, `Capture could not be analysed: ${e.message}`); return; }
    const f = c.defect_frequencies;
    const shaft = f ? f.shaft_hz : (c.shaft_rpm ? c.shaft_rpm / 60 : null);
    const shaftMarks = shaft ? [1, 2, 3].map((k) => ({ hz: k * shaft, label: `${k}×`, color: '#7f8791', dash: k > 1 })) : [];
    v.vel.setData(c.velocity_spectrum.frequency_hz, c.velocity_spectrum.amplitude, shaftMarks);
    // Every defect frequency at 1×; the harmonics only for the family the diagnosis points to.
    const family = { outer_race: 'bpfo_hz', inner_race: 'bpfi_hz', ball: 'bsf_hz', cage: 'ftf_hz' }[c.diagnosis?.fault];
    const defectMarks = f ? DEFECTS.flatMap((d) => (d.key === family ? [1, 2, 3] : [1]).map((k) => ({ hz: k * f[d.key], label: k === 1 ? d.label : `${k}×${d.label}`, color: d.color, dash: k > 1 }))) : [];
    if (c.envelope_spectrum) {
      v.env.setData(c.envelope_spectrum.spectrum.frequency_hz, c.envelope_spectrum.spectrum.amplitude, [...defectMarks, ...(shaft ? [{ hz: shaft, label: '1×', color: '#7f8791' }] : [])]);
    }
    const d = c.diagnosis;
    setText(v.info, `${c.capture.samples} samples at ${num(c.capture.sample_rate_hz)} Hz, shaft ${num(c.shaft_rpm)} rpm, velocity ${num(c.velocity_rms_mm_s)} mm/s RMS` +
      (c.envelope_spectrum ? `; envelope band ${num(c.envelope_spectrum.band_hz[0])}–${num(c.envelope_spectrum.band_hz[1])} Hz` : '') +
      (d ? `; this capture: ${faultName(d.fault)}` : ''));
  }

  const refreshDiagnosis = throttle(async () => {
    let dg;
    try { dg = await api.get(`/api/assets/${encodeURIComponent(id)}/diagnosis`); } catch (e) { console.warn(e); return; }
    for (const ch of dg.channels) {
      renderDiagnosis(ch);
      const v = vib.get(ch.signal);
      if (v && ch.last_capture_ns && String(ch.last_capture_ns) !== v.lastSeenCapture) {
        const follow = !v.lastSeenCapture || v.select.value === v.lastCapture && v.select.selectedIndex === 0;
        v.lastSeenCapture = String(ch.last_capture_ns);
        loadCaptures(ch.signal, follow);
      }
    }
  }, 5000);

  // ---------- alerts, recommendations, work orders, maintenance ----------
  const openAlertsEl = h('div');
  const historyEl = h('div');
  const recsEl = h('div');
  const recBanner = h('div');
  const woEl = h('div');
  const fmt = (name, v) => {
    const s = signalsByName.get(name);
    return s && s.kind === 'state' ? stateText(name, s.states, v) : withUnit(v, s?.unit);
  };
  const limitText = (name, limit) => (signalsByName.get(name)?.kind === 'state' ? 'not in its normal state' : limit);
  const refreshAlerts = throttle(async () => {
    try {
      const [open, evs] = await Promise.all([
        api.get('/api/alerts'),
        api.get(`/api/events${api.qs({ kind: 'alert_raised,alert_downgraded,alert_cleared', subject: id, limit: 40 })}`),
      ]);
      const mine = open.filter((a) => a.asset === id);
      replace(openAlertsEl, mine.length ? h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'Level'), h('th', null, 'Signal'), h('th', null, 'Value now'), h('th', null, 'Limit crossed'), h('th', null, 'Since'))),
        h('tbody', null, mine.map((a) => h('tr', null, h('td', null, statusBadge(a.level)), h('td', null, signalName(a.signal)),
          h('td', { class: 'num' }, fmt(a.signal, a.last_value)), h('td', null, limitText(a.signal, a.limit)), h('td', null, time(a.since))))))
        : h('p', { class: 'ok-text' }, 'No open alerts.'));
      const what = { alert_raised: 'raised', alert_downgraded: 'eased to warning', alert_cleared: 'cleared' };
      replace(historyEl, evs.length ? h('ul', { class: 'timeline' }, evs.map((e) => h('li', null,
        h('span', { class: 'muted' }, time(e.ts)), ' ', e.payload.level ? statusBadge(e.payload.level) : statusBadge('normal'), ' ',
        `${signalName(e.payload.signal)} ${what[e.kind] || e.kind}`, e.payload.limit ? ` (${limitText(e.payload.signal, e.payload.limit)})` : '', ` at ${fmt(e.payload.signal, e.payload.value)}`)))
        : h('p', { class: 'muted' }, 'No alert history in the store.'));
    } catch (e) { replace(openAlertsEl, h('p', { class: 'error-box' }, `Alerts could not be loaded: ${e.message}`)); }
  }, 1500);
  const refreshDecisions = throttle(async () => {
    try {
      const [recs, wos, maint] = await Promise.all([
        api.get(`/api/recommendations${api.qs({ asset: id })}`),
        api.get('/api/work-orders'),
        api.get(`/api/events${api.qs({ kind: 'maintenance', subject: id, limit: 20 })}`),
      ]);
      const list = recs.recommendations.filter((r) => r.state !== 'superseded').slice(0, 10);
      const open = list.filter((r) => r.state === 'open');
      replace(recBanner, open.length ? h('div', { class: 'rec-banner', role: 'status' },
        h('b', null, 'The twin recommends: '),
        open.map((r, i) => [i ? '; ' : '', `${actionName(r.action)} — ${localTimes(r.summary)}`]),
        ' ', h('a', { href: `#/alerts?rec=${encodeURIComponent(open[0].id)}` }, open.length > 1 ? 'Review and approve them →' : 'Review and approve →')) : null);
      replace(recsEl, list.length ? h('ul', { class: 'rec-mini' }, list.map((r) => h('li', null,
        h('span', { class: `badge rec-${r.state}` }, r.state), ' ', h('b', null, actionName(r.action)), ': ', localTimes(r.summary), ' ',
        h('a', { href: `#/alerts?rec=${encodeURIComponent(r.id)}` }, r.state === 'open' ? 'Review and approve →' : 'Details →'))))
        : h('p', { class: 'muted' }, 'The twin recommends nothing for this asset now.'));
      const mine = wos.work_orders.filter((w) => w.asset === id && w.state !== 'cancelled').slice(-10).reverse();
      const records = maint.map((e) => h('li', null, h('span', { class: 'muted' }, time(e.ts)), ` ${humanize(e.payload.kind)}`,
        e.payload.work_order ? ` (work order ${e.payload.work_order})` : '', e.payload.note ? ` — ${e.payload.note}` : ''));
      replace(woEl,
        mine.length ? h('table', null,
          h('thead', null, h('tr', null, h('th', null, 'Work order'), h('th', null, 'State'), h('th', null, 'Crew'), h('th', null, 'Planned'), h('th', null, 'History'))),
          h('tbody', null, mine.map((w) => h('tr', null, h('td', null, w.id), h('td', null, h('span', { class: `badge wo-${w.state}` }, w.state.replace('_', ' '))),
            h('td', null, w.crew || '—'), h('td', null, w.start_ns ? timeRange(w.start_ns, w.end_ns) : '—'),
            h('td', { class: 'small' }, w.history.map((x) => `${x.to} by ${x.actor}`).join(' → '))))))
          : h('p', { class: 'muted' }, 'No work orders for this asset.'),
        h('h3', null, 'Maintenance records'),
        records.length ? h('ul', { class: 'timeline' }, records) : h('p', { class: 'muted' }, 'No maintenance recorded.'));
    } catch (e) { replace(recsEl, h('p', { class: 'error-box' }, `Recommendations could not be loaded: ${e.message}`)); }
  }, 1500);

  // ---------- page ----------
  const typeInfo = `${typeName(asset.type)} · ${asset.id}`;
  replace(el,
    h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' › ', `line ${asset.line}`, ' › ', asset.name),
    h('div', { class: 'page-head asset-head' },
      h('div', null, h('h1', null, asset.name), h('p', { class: 'muted' }, typeInfo)),
      h('div', { class: 'badges' }, healthEl, stateEl, sinceEl)),
    ctxEl,
    recBanner,
    h('div', { class: 'sticky-bar' }, controls),
    predictCard,
    vibCard,
    card('Live values', h('div', { class: 'table-wrap' }, h('table', { class: 'values' },
      h('thead', null, h('tr', null, h('th', null, 'Signal'), h('th', null, 'Value'), h('th', null, 'Status'), h('th', null, 'Operating envelope'), h('th', null, 'Measured at'))),
      tableBody)), { id: 'values' }),
    card('Trends', h('div', null,
      h('p', { class: 'muted' }, 'Shaded: green = normal range, amber = warning range, red = alarm; the light blue band is the minimum–maximum of each time bucket. Drag across a chart to zoom in; double-click to go back to live.'),
      h('div', { class: 'trend-grid' }, trendEls)), { id: 'trends' }),
    featureEls.length ? card('Vibration features (from each accelerometer frame)', h('div', { class: 'trend-grid' }, featureEls), { id: 'features' }) : null,
    h('div', { class: 'grid-2' },
      card('Open alerts', openAlertsEl, { id: 'alerts' }),
      card('Recommendations', recsEl, { id: 'recommendations' })),
    h('div', { class: 'grid-2' },
      card('Alert history', historyEl),
      card('Work orders', woEl, { id: 'work-orders' })));

  // ---------- history loading ----------
  let loadSeq = 0;
  async function loadHistory() {
    const seq = ++loadSeq;
    const [start, end] = currentRange();
    const rangeText = view.live ? `Live: the last ${RANGES.find((r) => r.ns === view.span)?.label || `${num(view.span / 60e9)} min`}` : `${time(start)} – ${time(end)}`;
    setText(rangeInfo, rangeText);
    backLive.hidden = view.live;
    for (const b of rangeBtns) b.classList.toggle('active', view.live && Number(b.dataset.ns) === view.span);
    const buckets = Math.max(60, Math.min(800, Math.floor((el.clientWidth || 800) / 2)));
    const q = api.qs({ start: api.ms(start), end: api.ms(end) + 1, buckets });
    const fetchOne = (name) => api.get(`/api/assets/${encodeURIComponent(id)}/signals/${name}/history${q}`).then((r) => r.buckets).catch((e) => { console.warn(name, e); return []; });
    const names = [...charts.keys()];
    const results = await Promise.all(names.map(fetchOne));
    if (seq !== loadSeq) return;
    names.forEach((n, i) => {
      const c = charts.get(n);
      if (view.live) c.setLive(view.span, end); else c.setRange(start, end);
      c.setHistory(results[i]);
    });
    if (rulChart) {
      const [m, lo, hi] = await Promise.all(['rul', 'rul_lower', 'rul_upper'].map(fetchOne));
      if (seq !== loadSeq) return;
      const byT = new Map();
      const put = (rows, k) => { for (const r of rows) { const e = byT.get(r.start) || [null, null, null]; e[k] = r.mean; byT.set(r.start, e); } };
      put(hi, 0); put(lo, 1); put(m, 2);
      const ts = [...byT.keys()].sort((a, b) => a - b);
      if (view.live) rulChart.setLive(view.span, end); else rulChart.setRange(start, end);
      rulChart.setData([ts.map((t) => t / 1e9), ts.map((t) => byT.get(t)[0]), ts.map((t) => byT.get(t)[1]), ts.map((t) => byT.get(t)[2])]);
    }
  }
  function setView(v) {
    view = v;
    loadHistory();
  }

  // ---------- live updates ----------
  const pendingValues = [];
  function flushValues() {
    const touched = new Set();
    for (const v of pendingValues) {
      const ls = liveSig.get(v.signal);
      if (ls && (!ls.last_ts || v.ts >= ls.last_ts)) { ls.last_ts = v.ts; ls.last_value = v.value; touched.add(v.signal); }
      if (v.ts > latestTs) latestTs = v.ts;
      const c = charts.get(v.signal);
      if (c) c.append(v.ts, v.value);
      if (rulChart) {
        const k = { rul_upper: 1, rul_lower: 2, rul: 3 }[v.signal];
        if (k) rulChart.put(v.ts, k, v.value);
      }
    }
    pendingValues.length = 0;
    for (const n of touched) renderValue(n);
    if (waveSignals.length && [...touched].some((n) => features.some((f) => f.name === n))) refreshDiagnosis();
  }
  cleanups.push(live.on('values', (m) => {
    let any = false;
    for (const v of m.values) if (v.asset === id) { pendingValues.push(v); any = true; }
    if (any) schedule(`asset-values-${id}`, flushValues);
  }));
  const onAlert = (m) => {
    if (m.asset !== id) return;
    const ls = liveSig.get(m.signal);
    if (ls) { ls.status = m.type === 'alert_cleared' ? 'normal' : m.level; renderValue(m.signal); }
    refreshAlerts();
  };
  for (const t of ['alert_raised', 'alert_downgraded', 'alert_cleared']) cleanups.push(live.on(t, onAlert));
  cleanups.push(live.on('state_changed', (m) => {
    if (m.asset !== id) return;
    detail.live.state = m.to; detail.live.state_since = m.ts;
    setText(stateEl, stateLabel(m.to)); setSince();
  }));
  cleanups.push(live.on('context', (m) => { if (m.line === asset.line) renderContext(m.context); }));
  for (const t of ['plan', 'recommendation', 'maintenance']) cleanups.push(live.on(t, refreshDecisions));
  cleanups.push(live.on('resync', () => { refreshAlerts(); refreshDecisions(); loadHistory(); }));
  cleanups.push(ctx.onOverview((o) => {
    const a = o.assets.find((x) => x.id === id);
    if (!a) return;
    replace(healthEl, healthBadge(a.health));
    if (asset.predict) renderPrediction(a.prediction, shared.overview ? true : null);
  }));
  // Envelopes follow the line context (mode, product): re-read them when it changes.
  cleanups.push(live.on('context', throttle(async (m) => {
    if (m.line !== asset.line) return;
    try {
      const d = await api.get(`/api/assets/${encodeURIComponent(id)}`);
      for (const s of d.live.signals) {
        const ls = liveSig.get(s.name);
        if (ls) ls.envelope = s.envelope;
        charts.get(s.name)?.setEnvelope(s.envelope);
        const r = valueRows.get(s.name);
        if (r) setText(r.envTd, envelopeText(s.envelope, signalsByName.get(s.name)?.unit));
      }
    } catch (e) { console.warn(e); }
  }, 2000)));

  loadHistory();
  refreshAlerts();
  refreshDecisions();
  for (const ch of detail.condition || []) renderDiagnosis(ch);
  for (const w of waveSignals) {
    const v = vib.get(w.name);
    const ch = (detail.condition || []).find((c) => c.signal === w.name);
    v.lastSeenCapture = ch && ch.last_capture_ns ? String(ch.last_capture_ns) : null;
    loadCaptures(w.name, true);
  }
  return () => cleanups.forEach((f) => { try { f(); } catch (e) { console.error(e); } });
}
