// Plant overview: what needs attention now, plant totals, KPI tiles per line, and the plant hierarchy
// (site → area → line → asset) coloured by health. Everything updates from `overview` events.

import { card, h, replace, schedule, setText, throttle } from '../dom.js';
import {
  HEALTH, clock, duration, healthBadge, healthColor, healthLegend, hours, num, pct, signalName, stateLabel, stateText, typeName, withUnit,
} from '../format.js';

/** How urgent an asset is, for sorting: health first, then failure probability. */
function urgency(a) {
  const healthScore = { down: 5, alarm: 4, warning: 2, stale: 1 }[a.health] || 0;
  const p = a.prediction?.failure_probability_pct;
  const probScore = p == null ? 0 : p >= 50 ? 4.5 : p >= 20 ? 2.5 : p / 20;
  return Math.max(healthScore, probScore) + (p || 0) / 1000;
}

/** Why an asset is on the attention list, in words. `defs` maps signal names to their definitions (unit, state
 * labels) once loaded. */
function reasons(a, alerts, defs) {
  const out = [];
  const mine = alerts.filter((x) => x.asset === a.id).sort((x, y) => (x.level === 'alarm' ? -1 : 1) - (y.level === 'alarm' ? -1 : 1));
  for (const al of mine.slice(0, 2)) {
    const d = defs && defs.get(al.signal);
    const v = al.last_value ?? al.value;
    const level = al.level === 'alarm' ? 'Alarm' : 'Warning';
    if (d && d.kind === 'state') out.push(`${level}: ${signalName(al.signal)}: ${stateText(al.signal, d.states, v)}`);
    else out.push(`${level}: ${signalName(al.signal)} ${d ? withUnit(v, d.unit) : num(v)} — crossed ${al.limit}`);
  }
  if (mine.length > 2) out.push(`${mine.length - 2} more alerts`);
  if (!mine.length && (a.health === 'warning' || a.health === 'alarm')) out.push(HEALTH[a.health].meaning.replace(/^a/, 'A'));
  if (a.health === 'down') out.push('Stopped while it should run');
  if (a.health === 'stale') out.push('No recent data');
  const p = a.prediction;
  if (p && p.failure_probability_pct != null && p.failure_probability_pct >= 20) {
    out.push(`Failure probability ${num(p.failure_probability_pct, 2)} % within ${hours(p.horizon_h)} of running`);
  }
  if (p && p.rul_h != null && p.failure_probability_pct >= 20) {
    out.push(`Remaining useful life ${hours(p.rul_h)} (90 % interval ${hours(p.rul_lower_h)} – ${hours(p.rul_upper_h)})`);
  }
  return out;
}

function kpiTile(name, value, sub, opts = {}) {
  return h('div', { class: `kpi ${opts.class || ''}`, dataset: { kpi: opts.kpi }, title: opts.tip },
    h('div', { class: 'kpi-name' }, name),
    h('div', { class: 'kpi-value' }, value),
    sub ? h('div', { class: 'kpi-sub' }, sub) : null);
}

function lineCard(line, navigate) {
  const k = line.kpis || {};
  const e = line.energy;
  const oeeTip = 'Overall equipment effectiveness (ISO 22400) = availability × performance × quality of the line’s output machine, since the server started';
  const oee = line.output
    ? kpiTile(h('span', null, h('abbr', { title: oeeTip }, 'OEE'), ' (overall equipment effectiveness)'), pct(k.oee),
      h('span', null, `Availability ${pct(k.availability)} × Performance ${pct(k.performance)} × Quality ${pct(k.quality)}`),
      { kpi: 'oee', class: 'kpi-main', tip: oeeTip })
    : kpiTile('Overall equipment effectiveness', 'not measured', 'this line has no output counter', { kpi: 'oee', class: 'kpi-main' });
  const energy = e
    ? kpiTile('Energy per unit', e.kwh_per_unit == null ? '—' : `${num(e.kwh_per_unit)} kWh`,
      e.kwh_per_unit == null
        ? (e.units == null ? `${num(e.energy_kwh)} kWh used; the line counts no output` : `${num(e.energy_kwh)} kWh used, no units produced`)
        : `${num(e.energy_kwh)} kWh for ${num(e.units)} units in the last ${duration((e.end - e.start) / 1e9)} of data`,
      { kpi: 'energy', tip: `Energy counted by ${e.meters.join(', ')} divided by the units the line's output counted over the same span` })
    : kpiTile('Energy per unit', '—', 'no energy meter on this line', { kpi: 'energy' });
  const ctx = line.context || {};
  return h('article', { class: 'line-card', dataset: { line: line.id, health: line.worst_health } },
    h('header', null,
      h('h3', null, h('span', { class: 'dot', style: { background: healthColor(line.worst_health) } }), line.name),
      healthBadge(line.worst_health)),
    h('div', { class: 'kpis' },
      oee,
      kpiTile('Unplanned downtime', duration(k.unplanned_downtime_s), 'summed over the line’s machines since the server started', { kpi: 'downtime' }),
      energy,
      h('a', { class: 'kpi kpi-link', href: `#/alerts?line=${encodeURIComponent(line.id)}`, dataset: { kpi: 'alerts' }, title: 'Open the alert list of this line' },
        h('div', { class: 'kpi-name' }, 'Open alerts'),
        h('div', { class: 'kpi-value' }, String(k.open_alerts ?? 0)),
        h('div', { class: 'kpi-sub' }, 'signals outside their normal range'))),
    h('p', { class: 'context' },
      ctx.product ? ['Product ', h('b', null, ctx.product)] : 'No product set',
      ctx.batch ? [' · batch ', h('b', null, ctx.batch)] : null,
      ctx.work_order ? [' · production order ', h('b', null, ctx.work_order)] : null,
      ctx.mode ? [' · mode ', h('b', null, ctx.mode.replace(/_/g, ' '))] : null),
    h('button', { class: 'link', type: 'button', onclick: () => navigate(`#/plant3d?line=${encodeURIComponent(line.id)}`) }, 'Show in 3D'));
}

export async function mount(el, ctx) {
  const { shared, api, live } = ctx;
  let alerts = [];
  let openRecs = null;
  const defs = new Map(); // asset id → Map(signal → definition), for the assets on the attention list
  async function loadDefs(assetId) {
    if (defs.has(assetId)) return;
    try {
      defs.set(assetId, await ctx.signals(assetId));
      if (shared.overview) schedule('overview', () => render(shared.overview));
    } catch (e) { console.warn(e); }
  }
  const attention = h('div', { class: 'attention-list' });
  const totals = h('div', { class: 'kpis totals' });
  const lines = h('div', { class: 'line-grid' });
  const updated = h('span', { class: 'updated muted', dataset: { testid: 'overview-updated' } });
  const treeEls = new Map(); // asset id → row
  const lineEls = new Map(); // line id → tree node label

  const tree = h('ul', { class: 'tree', role: 'tree' });
  for (const site of shared.plant.sites) {
    const areas = h('ul', { role: 'group' });
    for (const area of site.areas) {
      const ls = h('ul', { role: 'group' });
      for (const line of area.lines) {
        const assets = h('ul', { role: 'group' });
        for (const a of line.assets) {
          const row = h('li', { role: 'treeitem' },
            h('a', { class: 'asset-row', href: `#/asset/${encodeURIComponent(a.id)}`, dataset: { assetId: a.id } },
              h('span', { class: 'dot' }),
              h('span', { class: 'name' }, a.name),
              h('span', { class: 'muted id' }, a.id),
              h('span', { class: 'type muted' }, typeName(a.type)),
              h('span', { class: 'state' }),
              h('span', { class: 'pred muted' })));
          treeEls.set(a.id, row.firstChild);
          assets.appendChild(row);
        }
        const label = h('span', { class: 'node-label' }, h('span', { class: 'dot' }), h('b', null, line.name), h('span', { class: 'muted' }, ` ${line.id}`));
        lineEls.set(line.id, label);
        ls.appendChild(h('li', { role: 'treeitem' }, h('details', { open: true }, h('summary', null, label), assets)));
      }
      areas.appendChild(h('li', { role: 'treeitem' }, h('details', { open: true }, h('summary', null, h('span', { class: 'node-label' }, 'Area: ', h('b', null, area.name))), ls)));
    }
    tree.appendChild(h('li', { role: 'treeitem' }, h('details', { open: true }, h('summary', null, h('span', { class: 'node-label' }, 'Site: ', h('b', null, site.name), h('span', { class: 'muted' }, ` (${site.timezone})`))), areas)));
  }

  replace(el,
    h('div', { class: 'page-head' }, h('h1', null, 'Plant overview'), updated),
    h('div', { class: 'grid-2' },
      card('Needs attention', attention, { class: 'attention', tip: 'Assets in alarm, down or with a high predicted failure probability, most urgent first' }),
      card('Plant', totals)),
    card('Lines', lines, { tip: 'Key performance indicators per line (ISO 22400); they start from zero when the server starts' }),
    card('Plant hierarchy', h('div', null, healthLegend(), tree), { id: 'hierarchy' }));

  const names = new Map();
  for (const site of shared.plant.sites) for (const area of site.areas) for (const line of area.lines) for (const a of line.assets) names.set(a.id, { name: a.name, line: line.name, type: a.type });

  function renderAttention(o) {
    const list = o.assets.map((a) => ({ a, u: urgency(a) })).filter((x) => x.u >= 1).sort((x, y) => y.u - x.u);
    for (const { a } of list.slice(0, 8)) loadDefs(a.id);
    if (!list.length) {
      replace(attention, h('p', { class: 'ok-text' }, 'Nothing needs attention: every asset is within its normal range and no failure is expected soon.'));
      return;
    }
    replace(attention,
      openRecs ? h('a', { class: 'rec-callout', href: '#/alerts' }, `${openRecs} recommendation${openRecs === 1 ? '' : 's'} waiting for approval →`) : null,
      h('ol', null, list.slice(0, 8).map(({ a }) => {
        const n = names.get(a.id) || { name: a.id, line: a.line };
        return h('li', null, h('a', { href: `#/asset/${encodeURIComponent(a.id)}`, class: 'attention-item', dataset: { assetId: a.id } },
          h('span', { class: 'dot', style: { background: healthColor(a.health) } }),
          h('span', { class: 'what' }, h('b', null, n.name), h('span', { class: 'muted' }, ` ${a.id} · ${n.line}`)),
          healthBadge(a.health),
          h('ul', { class: 'why' }, reasons(a, alerts, defs.get(a.id)).map((r) => h('li', null, r)))));
      })),
      list.length > 8 ? h('p', { class: 'muted' }, `and ${list.length - 8} more in the hierarchy below`) : null);
  }

  function renderTotals(o) {
    const byH = o.plant.assets_by_health || {};
    replace(totals,
      kpiTile('Open alerts', String(o.plant.open_alerts), 'signals outside their normal range', { kpi: 'plant-alerts' }),
      kpiTile('Unplanned downtime', duration(o.plant.unplanned_downtime_s), 'all lines, since the server started', { kpi: 'plant-downtime' }),
      h('a', { class: 'kpi kpi-link', href: '#/alerts', dataset: { kpi: 'recommendations' } },
        h('div', { class: 'kpi-name' }, 'Recommendations waiting'),
        h('div', { class: 'kpi-value' }, openRecs == null ? '…' : String(openRecs)),
        h('div', { class: 'kpi-sub' }, 'maintenance actions for a person to approve')),
      h('div', { class: 'kpi', dataset: { kpi: 'health' } },
        h('div', { class: 'kpi-name' }, 'Assets by health'),
        h('div', { class: 'health-counts' }, ['alarm', 'down', 'warning', 'stale', 'ok', 'unknown'].filter((k) => byH[k]).map((k) => healthBadge(k, `${byH[k]}`)))));
  }

  // Sections are rebuilt only when what they show changed, so a tap is not lost to a redraw every 2 s.
  const shown = new Map();
  const changed = (key, value) => {
    const k = JSON.stringify(value);
    if (shown.get(key) === k) return false;
    shown.set(key, k);
    return true;
  };
  function render(o) {
    setText(updated, `Updated ${clock(o.ts)}`);
    updated.dataset.ts = String(o.ts);
    if (changed('totals', [o.plant, openRecs])) renderTotals(o);
    if (changed('attention', [o.assets.map((a) => [a.health, a.prediction?.failure_probability_pct?.toFixed(1), a.prediction?.rul_h?.toFixed(2)]), alerts, openRecs, [...defs.keys()]])) renderAttention(o);
    if (changed('lines', o.lines)) replace(lines, o.lines.map((l) => lineCard(l, ctx.navigate)));
    for (const a of o.assets) {
      const row = treeEls.get(a.id);
      if (!row) continue;
      row.dataset.health = a.health || 'unknown';
      row.querySelector('.dot').style.background = healthColor(a.health);
      row.title = `${stateLabel(a.state)}; health: ${a.health}`;
      setText(row.querySelector('.state'), stateLabel(a.state));
      const p = a.prediction;
      setText(row.querySelector('.pred'), p && p.failure_probability_pct != null
        ? `failure probability ${num(p.failure_probability_pct, 2)} %, remaining life ${hours(p.rul_h)}` : '');
    }
    for (const l of o.lines) {
      const lab = lineEls.get(l.id);
      if (lab) { lab.querySelector('.dot').style.background = healthColor(l.worst_health); lab.dataset.health = l.worst_health; }
    }
  }

  const refreshAlerts = throttle(async () => {
    try { alerts = await api.get('/api/alerts'); } catch (e) { console.warn(e); }
    if (shared.overview) schedule('overview', () => render(shared.overview));
  }, 1000);
  const refreshRecs = throttle(async () => {
    try { openRecs = (await api.get('/api/recommendations?state=open')).recommendations.length; } catch (e) { console.warn(e); }
    if (shared.overview) schedule('overview', () => render(shared.overview));
  }, 1000);

  const offs = [
    ctx.onOverview((o) => schedule('overview', () => render(o))),
    live.on('alert_raised', refreshAlerts), live.on('alert_cleared', refreshAlerts), live.on('alert_downgraded', refreshAlerts),
    live.on('plan', refreshRecs), live.on('recommendation', refreshRecs),
    live.on('resync', () => { refreshAlerts(); refreshRecs(); }),
  ];
  refreshAlerts();
  refreshRecs();
  if (shared.overview) render(shared.overview);
  return () => offs.forEach((f) => f());
}

