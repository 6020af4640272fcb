// How things read on screen: health colours and their meaning, units, signal and asset-type names in
// full words, numbers, times and durations.

import { h } from './dom.js';

/** Health, from best to worst (as the twin ranks them), with colour and meaning. */
export const HEALTH = {
  ok: { label: 'OK', color: '#2e9d57', meaning: 'all signals within their normal range' },
  warning: { label: 'Warning', color: '#d99a00', meaning: 'a signal is outside its normal range' },
  alarm: { label: 'Alarm', color: '#d23c3c', meaning: 'a signal is outside its warning range' },
  down: { label: 'Down', color: '#7d3c98', meaning: 'stopped while it should run (unplanned downtime)' },
  stale: { label: 'No data', color: '#7f8791', meaning: 'no recent data: the values shown are old' },
  unknown: { label: 'Unknown', color: '#c3c8cf', meaning: 'no data since the server started' },
};

export function healthColor(h) { return (HEALTH[h] || HEALTH.unknown).color; }

/** A coloured health badge with a text label (colour is never the only cue). */
export function healthBadge(health, extra) {
  const k = HEALTH[health] ? health : 'unknown';
  return h('span', { class: `badge health-${k}`, title: HEALTH[k].meaning, dataset: { health: k } }, HEALTH[k].label, extra ? ` ${extra}` : '');
}

const STATE = {
  running: 'Running', idle: 'Idle (planned stop)', down: 'Down (unplanned)', stale: 'No recent data', unknown: 'Unknown',
};
export function stateLabel(s) { return STATE[s] || s || 'Unknown'; }

/** The health legend shown next to every coloured view. */
export function healthLegend() {
  return h('ul', { class: 'legend', 'aria-label': 'Health colours' },
    Object.entries(HEALTH).map(([k, v]) => h('li', { title: v.meaning },
      h('span', { class: 'dot', style: { background: v.color } }), h('b', null, v.label), h('span', { class: 'muted' }, ' — ' + v.meaning))));
}

const UNIT_TEXT = {
  degC: '°C', degF: '°F', K: 'K', 'm3/h': 'm³/h', m3: 'm³', 'm/s2': 'm/s²', '1': '', count: 'count', state: '',
};
const UNIT_TIP = {
  g: 'g = standard gravity, 9.81 m/s²', 'mm/s': 'millimetres per second (vibration velocity)', rpm: 'revolutions per minute',
  kW: 'kilowatt', kWh: 'kilowatt-hour', A: 'ampere', bar: 'bar (pressure)', 'm3/h': 'cubic metres per hour', h: 'hours',
  K: 'kelvin (a temperature difference)', Hz: 'hertz (cycles per second)',
};
/** Display text of a unit symbol ("degC" → "°C"). */
export function unitText(u) { return u in UNIT_TEXT ? UNIT_TEXT[u] : (u || ''); }
export function unitTip(u) { return UNIT_TIP[u] || ''; }

/** Words we write out in full in names built from ids. */
const WORDS = {
  temp: 'temperature', accel: 'acceleration', de: 'drive-end', nde: 'non-drive-end', rms: 'RMS',
  hyd: 'hydraulic', conv: 'conveyor', cnc: 'CNC', cw: 'cooling water', rul: 'remaining useful life',
  pct: 'percent', sk: 'spectral kurtosis', p2p: 'peak-to-peak', kurt: 'kurtosis', freq: 'frequency',
};
/** "winding_temp_residual" → "Winding temperature residual". */
export function humanize(id) {
  if (!id) return '';
  const s = String(id).split(/[_\s]+/).map((w) => WORDS[w.toLowerCase()] || w).join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const SIGNAL_NAMES = {
  health_index: 'Health index', anomaly_score: 'Anomaly score', rul: 'Remaining useful life',
  rul_lower: 'Remaining useful life, lower bound (90 % interval)', rul_upper: 'Remaining useful life, upper bound (90 % interval)',
  failure_probability: 'Failure probability within the horizon', vibration: 'Vibration velocity (RMS)',
};
/** Features computed from each frame of a waveform signal (`{waveform}_{feature}`, docs/waveforms.md). */
const FEATURE_NAMES = {
  rms: 'acceleration RMS', peak: 'acceleration peak', crest: 'crest factor (peak / RMS)', kurtosis: 'kurtosis',
  skewness: 'skewness', velocity: 'velocity RMS, 10–1000 Hz', envelope: 'envelope mean', fault: 'diagnosed fault',
};
export function signalName(name) {
  if (SIGNAL_NAMES[name]) return SIGNAL_NAMES[name];
  const m = /^(accel\w*)_(rms|peak|crest|kurtosis|skewness|velocity|envelope|fault)$/.exec(name || '');
  if (m) {
    const sensor = m[1] === 'accel' ? '' : ` (${humanize(m[1].replace(/^accel_?/, '')).toLowerCase()} accelerometer)`;
    const f = FEATURE_NAMES[m[2]];
    return f.charAt(0).toUpperCase() + f.slice(1) + sensor;
  }
  return humanize(name);
}

/** Axis label: "Winding temperature (°C)". Dimensionless signals say what the number is. */
export function axisLabel(name, unit) {
  if (name === 'health_index') return 'Health index (1 = as new, 0 = failed)';
  if (name === 'anomaly_score') return 'Anomaly score (1 = alarm threshold)';
  const u = unitText(unit);
  if (unit === 'state') return signalName(name);
  if (unit === '1') return `${signalName(name)} (ratio)`;
  return u ? `${signalName(name)} (${u})` : signalName(name);
}

/** The short label on a chart's value axis (the chart's caption carries the full name). */
export function yAxisLabel(name, unit) {
  if (name === 'health_index') return '1 = as new';
  if (name === 'anomaly_score') return '× alarm threshold';
  if (name === 'failure_probability') return '% within horizon';
  if (unit === 'state') return '';
  if (unit === '1') return 'ratio';
  if (unit === 'count') return 'count';
  return unitText(unit);
}

/** A state signal's value as words: its label from the plant file ("inner_race" → "Inner-race bearing defect"). */
export function stateText(name, labels, v) {
  const label = labels && labels[v] !== undefined ? labels[v] : null;
  if (label == null) return num(v);
  return /_fault$/.test(name) ? faultName(label) : humanize(label);
}

const TYPE_NAMES = {
  induction_motor: 'Induction motor', centrifugal_pump: 'Centrifugal pump', belt_conveyor: 'Belt conveyor',
  cnc_spindle: 'CNC machining spindle', energy_meter: 'Energy meter', ambient_station: 'Climate sensor',
};
export function typeName(t) { return TYPE_NAMES[t] || humanize(t); }

/** A number with about 3 significant digits; '—' when absent. */
export function num(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  if (a >= 10 ** digits) return Math.round(v).toLocaleString('en-GB');
  return Number(v.toPrecision(digits)).toLocaleString('en-GB', { maximumFractionDigits: 6 });
}
export function pct(ratio, digits = 1) {
  if (ratio === null || ratio === undefined) return '—';
  return `${(ratio * 100).toFixed(digits)} %`;
}
/** A value with its unit: "76.5 °C". */
export function withUnit(v, unit) {
  const u = unitText(unit);
  return u ? `${num(v)} ${u}` : num(v);
}
export function money(v) {
  if (v === null || v === undefined) return '—';
  return Math.round(v).toLocaleString('en-GB');
}

/** Duration in seconds → "2 h 05 min", "45 s". */
export function duration(s) {
  if (s === null || s === undefined) return '—';
  s = Math.max(0, s);
  if (s < 10) return `${Number(s.toFixed(1))} s`;
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  if (s < 86400 * 2) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${(s / 86400).toFixed(1)} days`;
}
/** Hours (of running time) → readable. */
export function hours(hv) {
  if (hv === null || hv === undefined) return '—';
  if (hv < 1) return `${(hv * 60).toFixed(hv * 60 < 10 ? 1 : 0)} min`;
  if (hv < 48) return `${num(hv)} h`;
  return `${num(hv / 24)} days`;
}

const dtf = new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const tf = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
/** Nanoseconds since the epoch → local date and time. */
export function time(ns) {
  if (ns === null || ns === undefined) return '—';
  return dtf.format(new Date(ns / 1e6));
}
/** A time span: "04 Dec 2026, 02:17:00 – 02:17:05" (the date once when both ends are on the same day). */
export function timeRange(a, b) {
  if (a == null || b == null) return '—';
  const da = new Date(a / 1e6), db = new Date(b / 1e6);
  return da.toDateString() === db.toDateString() ? `${time(a)} – ${clock(b)}` : `${time(a)} – ${time(b)}`;
}
export function clock(ns) {
  if (ns === null || ns === undefined) return '—';
  return tf.format(new Date(ns / 1e6));
}
/** Replaces RFC 3339 instants in the server's texts by local date and time. */
export function localTimes(text) {
  return String(text).replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, (iso) => {
    const ms = Date.parse(iso);
    return Number.isNaN(ms) ? iso : time(ms * 1e6);
  });
}

/** Local offset text for axis labels, e.g. "local time, UTC+01:00". */
export function tzText() {
  const m = -new Date().getTimezoneOffset();
  const s = m >= 0 ? '+' : '-';
  const a = Math.abs(m);
  return `UTC${s}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

const FAULTS = {
  outer_race: 'Outer-race bearing defect', inner_race: 'Inner-race bearing defect', ball: 'Rolling-element (ball) defect',
  cage: 'Bearing cage defect', unbalance: 'Unbalance', misalignment: 'Misalignment', normal: 'No fault found',
};
export function faultName(f) { return f ? (FAULTS[f] || humanize(f)) : 'No fault found'; }

export const ACTIONS = {
  maintain: 'Repair', derate: 'Reduce load (derate)', order_parts: 'Order spare parts', reroute: 'Reroute production', run_on: 'Run on',
};
export function actionName(a) { return ACTIONS[a] || humanize(a); }
