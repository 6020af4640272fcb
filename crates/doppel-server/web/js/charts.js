// Charts on uPlot (vendored, global `uPlot`): time trends with the operating envelope drawn as bands and a
// min–max band of downsampled history, and spectra with marked frequencies. Every axis carries its unit.

import { h, throttle } from './dom.js';
import { axisLabel, num, stateText, tzText, yAxisLabel } from './format.js';

/* global uPlot */

const COLORS = {
  line: '#1f5fbf', band: 'rgba(31, 95, 191, 0.15)',
  normal: 'rgba(46, 157, 87, 0.10)', warning: 'rgba(217, 154, 0, 0.16)', alarm: 'rgba(210, 60, 60, 0.13)',
  limit: 'rgba(120, 120, 120, 0.9)',
};

function widthOf(el) {
  return Math.max(260, Math.floor(el.clientWidth || el.parentElement?.clientWidth || 600));
}

/** Keeps a chart as wide as its container. */
function autosize(el, u, height) {
  const ro = new ResizeObserver(throttle(() => {
    const w = widthOf(el);
    if (Math.abs(w - u.width) > 2) u.setSize({ width: w, height });
  }, 150));
  ro.observe(el);
  return () => ro.disconnect();
}

/** Draws envelope bands (normal / warning / alarm zones) behind the series. `env` as the API gives it:
 * {normal: {low, high}, warning: {low, high}} with null for an open end. */
function envelopePlugin(getEnv) {
  return {
    hooks: {
      drawClear: [(u) => {
        const env = getEnv();
        if (!env || !env.normal) return;
        const { ctx, bbox } = u;
        const y = (v) => u.valToPos(v, 'y', true);
        const [smin, smax] = [u.scales.y.min, u.scales.y.max];
        if (smin == null || smax == null) return;
        const clamp = (v) => Math.min(smax, Math.max(smin, v));
        const fill = (lo, hi, color) => {
          if (lo >= hi) return;
          const top = y(clamp(hi)), bottom = y(clamp(lo));
          ctx.fillStyle = color;
          ctx.fillRect(bbox.left, top, bbox.width, bottom - top);
        };
        const nLo = env.normal.low ?? -Infinity, nHi = env.normal.high ?? Infinity;
        const wLo = env.warning?.low ?? nLo, wHi = env.warning?.high ?? nHi;
        ctx.save();
        fill(Math.max(nLo, smin), Math.min(nHi, smax), COLORS.normal);
        fill(Math.max(wLo, smin), Math.min(nLo, smax), COLORS.warning);
        fill(Math.max(nHi, smin), Math.min(wHi, smax), COLORS.warning);
        fill(smin, Math.min(wLo, smax), COLORS.alarm);
        fill(Math.max(wHi, smin), smax, COLORS.alarm);
        ctx.strokeStyle = COLORS.limit;
        ctx.setLineDash([4, 4]);
        ctx.lineWidth = 1;
        for (const v of [nLo, nHi, wLo, wHi]) {
          if (!Number.isFinite(v) || v < smin || v > smax) continue;
          const py = Math.round(y(v)) + 0.5;
          ctx.beginPath(); ctx.moveTo(bbox.left, py); ctx.lineTo(bbox.left + bbox.width, py); ctx.stroke();
        }
        ctx.restore();
      }],
    },
  };
}

/** The y range: the data, plus the nearest finite envelope limits so the margin to them is visible. */
function yRange(getEnv, fixed) {
  return (u, min, max) => {
    if (fixed) return [fixed[0] ?? Math.min(0, min ?? 0), fixed[1] ?? Math.max(max ?? 1, 1)];
    const env = getEnv();
    let lo = min, hi = max;
    if (env && env.normal) {
      for (const v of [env.normal.low, env.normal.high]) {
        if (Number.isFinite(v)) { lo = lo == null ? v : Math.min(lo, v); hi = hi == null ? v : Math.max(hi, v); }
      }
    }
    if (lo == null || hi == null) return [0, 1];
    if (lo === hi) { const d = Math.abs(lo) * 0.05 || 1; return [lo - d, hi + d]; }
    const pad = (hi - lo) * 0.08;
    return [lo - pad, hi + pad];
  };
}

/** The x range: a fixed range, or the last `span` seconds up to the newest data (starting at the oldest
 * point drawn when there is less history than that, so a young server's data fills the chart). */
function liveRange(getView) {
  return (u, dmin, dmax) => {
    const view = getView();
    if (!view.live) return [view.min, view.max];
    const end = Math.max(dmax ?? 0, view.end ?? 0) || Date.now() / 1000;
    const start = dmin != null && dmin > end - view.span ? dmin : end - view.span;
    return [start, Math.max(end, start + 60)];
  };
}

/**
 * A time trend of one signal.
 * opts: {name, unit, height, sync, envelope, states (labels of a state signal), onZoom(startNs, endNs), onReset()}
 * The chart either follows the newest data over a span (`setLive`) or shows a fixed range (`setRange`).
 * Dragging across it asks for a zoom (`onZoom`; the caller fetches finer history), a double click for the
 * live view again (`onReset`).
 */
export function timeChart(opts) {
  const height = opts.height || 180;
  let env = opts.envelope || null;
  const getEnv = () => env;
  const el = h('div', { class: 'chart', dataset: { signal: opts.name } });
  let xs = [], mean = [], mins = [], maxs = [];
  let view = { live: true, span: 3600, min: null, max: null }; // seconds
  const isState = Boolean(opts.states && opts.states.length);
  const stateFmt = isState
    ? (u, splits) => splits.map((v) => (Number.isInteger(v) && opts.states[v] !== undefined ? stateText(opts.name, opts.states, v) : ''))
    : null;
  const u = new uPlot({
    width: 600, height,
    scales: { x: { time: true, range: liveRange(() => view) }, y: { range: yRange(getEnv, opts.yFixed) } },
    series: [
      { label: 'Time' },
      { label: axisLabel(opts.name, opts.unit), stroke: COLORS.line, width: 1.5, points: { show: false },
        paths: isState ? uPlot.paths.stepped({ align: 1 }) : undefined,
        value: (u, v) => (v == null ? '—' : (isState ? stateText(opts.name, opts.states, v) : num(v))) },
      { label: 'minimum', stroke: 'rgba(31,95,191,0.25)', width: 0.5, points: { show: false }, value: (u, v) => num(v) },
      { label: 'maximum', stroke: 'rgba(31,95,191,0.25)', width: 0.5, points: { show: false }, value: (u, v) => num(v) },
    ],
    bands: [{ series: [3, 2], fill: COLORS.band }],
    axes: [
      { label: `Local time (${tzText()})`, labelSize: 18, size: 58, space: 90 },
      { label: yAxisLabel(opts.name, opts.unit), labelSize: 20, size: isState ? 110 : 60, values: stateFmt || ((u, splits) => splits.map((v) => num(v))),
        splits: isState ? () => opts.states.map((_, i) => i) : undefined },
    ],
    legend: { show: true, live: true },
    cursor: {
      sync: opts.sync ? { key: opts.sync } : undefined,
      drag: { x: true, y: false, setScale: false },
      bind: {
        dblclick: () => () => { if (opts.onReset) opts.onReset(); return null; },
      },
    },
    plugins: [envelopePlugin(getEnv)],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        if (opts.onZoom) opts.onZoom(a * 1e9, b * 1e9);
      }],
    },
  }, [xs, mean, mins, maxs], el);
  const unsize = autosize(el, u, height);
  requestAnimationFrame(() => u.setSize({ width: widthOf(el), height }));

  const redraw = throttle(() => u.setData([xs, mean, mins, maxs], true), 250);

  return {
    el,
    get uplot() { return u; },
    /** Downsampled buckets ({start, min, max, mean, last, count}) or raw [ts, value] pairs. */
    setHistory(rows) {
      xs = []; mean = []; mins = []; maxs = [];
      for (const r of rows) {
        if (Array.isArray(r)) { xs.push(r[0] / 1e9); mean.push(r[1]); mins.push(r[1]); maxs.push(r[1]); }
        else { xs.push(r.start / 1e9); mean.push(r.mean); mins.push(r.min); maxs.push(r.max); }
      }
      redraw();
    },
    /** A live value; ignored unless the chart follows the newest data. */
    append(tsNs, value) {
      if (!view.live) return;
      const t = tsNs / 1e9;
      const n = xs.length;
      if (n && t <= xs[n - 1]) {
        if (t !== xs[n - 1]) return; // older than what is drawn
        mean[n - 1] = value; mins[n - 1] = Math.min(mins[n - 1], value); maxs[n - 1] = Math.max(maxs[n - 1], value);
      } else { xs.push(t); mean.push(value); mins.push(value); maxs.push(value); }
      // Drop what scrolled out of the span (keep one point before it so the line enters from the edge).
      let k = 0;
      while (k + 1 < xs.length && xs[k + 1] < t - view.span) k++;
      if (k > 0) { xs.splice(0, k); mean.splice(0, k); mins.splice(0, k); maxs.splice(0, k); }
      redraw();
    },
    /** Follow the newest data over `spanNs`, ending at least at `endNs` (data time may run ahead of the clock). */
    setLive(spanNs, endNs) { view = { live: true, span: spanNs / 1e9, end: endNs ? endNs / 1e9 : null }; redraw(); },
    setRange(startNs, endNs) { view = { live: false, min: startNs / 1e9, max: endNs / 1e9 }; redraw(); },
    setEnvelope(e) { env = e; u.redraw(false); },
    points() { return xs.length; },
    destroy() { unsize(); u.destroy(); },
  };
}

/**
 * A spectrum: frequency (Hz) against amplitude, with vertical markers.
 * opts: {yLabel, height, markers: [{hz, label, color, dash}], maxHz}
 */
export function spectrumChart(opts) {
  const height = opts.height || 220;
  let markers = opts.markers || [];
  const el = h('div', { class: 'chart spectrum' });
  const markerPlugin = {
    hooks: {
      draw: [(u) => {
        const { ctx, bbox } = u;
        ctx.save();
        ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
        ctx.textBaseline = 'top';
        let lastLabelX = -1e9, row = 0;
        for (const m of [...markers].sort((a, b) => a.hz - b.hz)) {
          if (m.hz < u.scales.x.min || m.hz > u.scales.x.max) continue;
          const x = Math.round(u.valToPos(m.hz, 'x', true)) + 0.5;
          ctx.strokeStyle = m.color;
          ctx.lineWidth = devicePixelRatio;
          ctx.setLineDash(m.dash ? [4 * devicePixelRatio, 3 * devicePixelRatio] : []);
          ctx.beginPath(); ctx.moveTo(x, bbox.top); ctx.lineTo(x, bbox.top + bbox.height); ctx.stroke();
          if (m.label) {
            row = x - lastLabelX < 60 * devicePixelRatio ? (row + 1) % 3 : 0;
            ctx.fillStyle = m.color;
            ctx.fillText(m.label, x + 3, bbox.top + 2 + row * 13 * devicePixelRatio);
            lastLabelX = x;
          }
        }
        ctx.restore();
      }],
    },
  };
  const u = new uPlot({
    width: 600, height,
    scales: { x: { time: false, range: (u, min, max) => [0, opts.maxHz || max] }, y: { range: (u, min, max) => [0, (max || 1) * 1.08] } },
    series: [
      { label: 'Frequency (Hz)', value: (u, v) => (v == null ? '—' : `${num(v)} Hz`) },
      { label: opts.yLabel, stroke: COLORS.line, width: 1, points: { show: false }, value: (u, v) => num(v) },
    ],
    axes: [
      { label: 'Frequency (Hz)', labelSize: 20, size: 40, values: (u, splits) => splits.map((v) => num(v)) },
      { label: opts.yLabel, labelSize: 20, size: 64, values: (u, splits) => splits.map((v) => num(v)) },
    ],
    legend: { show: true, live: true },
    cursor: { drag: { x: true, y: false, setScale: true } },
    plugins: [markerPlugin],
  }, [[], []], el);
  const unsize = autosize(el, u, height);
  requestAnimationFrame(() => u.setSize({ width: widthOf(el), height }));
  return {
    el,
    get uplot() { return u; },
    setData(freq, amp, newMarkers) {
      if (newMarkers) markers = newMarkers;
      u.setData([freq, amp]);
    },
    destroy() { unsize(); u.destroy(); },
  };
}

/**
 * Several series over time on one axis (e.g. the remaining useful life with its interval as a band).
 * opts: {yLabel, height, sync, series: [{label, color, dash}], band: [upperIdx, lowerIdx], onZoom, onReset}
 */
export function multiChart(opts) {
  const height = opts.height || 200;
  const el = h('div', { class: 'chart multi' });
  let data = [[], ...opts.series.map(() => [])];
  let view = { live: true, span: 3600, end: null };
  const u = new uPlot({
    width: 600, height,
    scales: { x: { time: true, range: liveRange(() => view) }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), (max ?? 1) * 1.1 || 1] } },
    series: [{ label: 'Time' }, ...opts.series.map((s) => ({
      label: s.label, stroke: s.color, width: s.width || 1.5, dash: s.dash, points: { show: false }, value: (u, v) => num(v),
    }))],
    bands: opts.band ? [{ series: opts.band, fill: 'rgba(31, 95, 191, 0.13)' }] : [],
    axes: [
      { label: `Local time (${tzText()})`, labelSize: 18, size: 58, space: 90 },
      { label: opts.yLabel, labelSize: 20, size: 60, values: (u, splits) => splits.map((v) => num(v)) },
    ],
    cursor: {
      sync: opts.sync ? { key: opts.sync } : undefined,
      drag: { x: true, y: false, setScale: false },
      bind: { dblclick: () => () => { if (opts.onReset) opts.onReset(); return null; } },
    },
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 5) return;
        const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        if (opts.onZoom) opts.onZoom(a * 1e9, b * 1e9);
      }],
    },
    legend: { show: true, live: true },
  }, data, el);
  const unsize = autosize(el, u, height);
  requestAnimationFrame(() => u.setSize({ width: widthOf(el), height }));
  const redraw = throttle(() => u.setData(data, true), 250);
  return {
    el,
    get uplot() { return u; },
    /** data: [xs (s), ...one array per series]. */
    setData(d) { data = d; redraw(); },
    /** Adds (or completes) the point at `tsNs`: `k` is the series index (1-based), as values arrive one by one. */
    put(tsNs, k, value) {
      if (!view.live) return;
      const t = tsNs / 1e9;
      const xs = data[0];
      let i = xs.length - 1;
      if (i < 0 || t > xs[i]) {
        xs.push(t);
        for (let j = 1; j < data.length; j++) data[j].push(null);
        i = xs.length - 1;
      } else if (t !== xs[i]) return;
      data[k][i] = value;
      let drop = 0;
      while (drop + 1 < xs.length && xs[drop + 1] < t - view.span) drop++;
      if (drop > 0) for (const a of data) a.splice(0, drop);
      redraw();
    },
    setLive(spanNs, endNs) { view = { live: true, span: spanNs / 1e9, end: endNs ? endNs / 1e9 : null }; redraw(); },
    setRange(startNs, endNs) { view = { live: false, min: startNs / 1e9, max: endNs / 1e9 }; redraw(); },
    destroy() { unsize(); u.destroy(); },
  };
}

/** A horizontal ISO 10816-3 zone bar: boundaries [A/B, B/C, C/D] in mm/s, the current value marked. */
export function isoZoneBar(boundaries, value, zone) {
  const [ab, bc, cd] = boundaries;
  const max = Math.max(cd * 1.5, (value || 0) * 1.1);
  const seg = (from, to, name, cls, meaning) => h('div', {
    class: `zone zone-${cls}${zone === name ? ' current' : ''}`,
    style: { width: `${((to - from) / max) * 100}%` },
    title: `Zone ${name}: ${meaning} (${num(from)}–${to === max ? '…' : num(to)} mm/s)`,
  }, `Zone ${name}`);
  const marker = value == null ? null : h('div', { class: 'zone-marker', style: { left: `${Math.min(100, (value / max) * 100)}%` }, title: `${num(value)} mm/s now` },
    h('span', null, `${num(value)} mm/s`));
  return h('div', { class: 'iso-bar', role: 'img', 'aria-label': `ISO 10816-3 zone ${zone}, ${num(value)} mm/s` },
    h('div', { class: 'zones' },
      seg(0, ab, 'A', 'a', 'newly commissioned machines'),
      seg(ab, bc, 'B', 'b', 'acceptable for unrestricted long-term operation'),
      seg(bc, cd, 'C', 'c', 'unsatisfactory for long-term operation: plan maintenance'),
      seg(cd, max, 'D', 'd', 'severe enough to cause damage')),
    marker,
    h('div', { class: 'zone-scale' }, h('span', null, '0'), h('span', null, `${num(max)} mm/s vibration velocity (RMS, 10–1000 Hz)`)));
}
