// What-if: change a line's parameters, run the line simulator, compare its KPIs with the baseline, each with
// its confidence interval. The simulator's API (GET/POST /api/whatif) is not part of this server yet; until
// it answers, the view says so and shows nothing else. The contract the view expects is in docs/web.md
// ("What-if"): adjust `renderForm` and `renderResult` here if the API lands with another shape.

import { card, h, replace } from '../dom.js';
import { num, unitText } from '../format.js';

export async function mount(el, ctx) {
  const { api } = ctx;
  replace(el, h('div', { class: 'page-head' }, h('h1', null, 'What-if simulation')), h('p', { class: 'loading' }, 'Asking the server…'));
  let spec;
  try {
    spec = await api.get('/api/whatif');
  } catch (e) {
    replace(el, h('div', { class: 'page-head' }, h('h1', null, 'What-if simulation')),
      h('div', { class: 'unavailable', role: 'status', dataset: { feature: 'whatif' } },
        h('p', null, h('b', null, 'What-if is not available on this server.')),
        h('p', { class: 'muted' }, e.status === 404
          ? 'The line simulator that runs what-if scenarios is not part of this version of doppel (GET /api/whatif answered 404). This view appears by itself once the server offers it.'
          : `The server could not describe its what-if scenarios: ${e.message}`)));
    return null;
  }
  const result = h('div', { class: 'whatif-result' });
  const form = renderForm(spec, async (body, submit) => {
    submit.disabled = true;
    replace(result, h('p', { class: 'loading' }, 'Simulating…'));
    try {
      renderResult(result, await api.post('/api/whatif', body), spec);
    } catch (e) {
      replace(result, h('p', { class: 'error-box' }, `The simulation failed: ${e.message}`));
    } finally { submit.disabled = false; }
  });
  replace(el, h('div', { class: 'page-head' }, h('h1', null, 'What-if simulation')),
    h('div', { class: 'grid-2' }, card('Scenario', form), card('Result against the baseline', result)));
  return null;
}

/** The form: one line at a time, one input per parameter the server describes. */
function renderForm(spec, onRun) {
  const lines = spec.lines || [];
  const fields = h('div', { class: 'fields' });
  const lineSel = h('select', { name: 'line', onchange: () => showParams() }, lines.map((l) => h('option', { value: l.id }, l.name || l.id)));
  const runs = h('input', { type: 'number', name: 'runs', min: 1, value: spec.default_runs || 20 });
  function showParams() {
    const l = lines.find((x) => x.id === lineSel.value);
    replace(fields, (l?.parameters || []).map((p) => h('label', { title: p.description || '' },
      `${p.label || p.name}${p.unit ? ` (${unitText(p.unit)})` : ''} `,
      h('input', { type: 'number', name: p.name, value: p.default, min: p.min, max: p.max, step: p.step || 'any', required: true }))));
  }
  showParams();
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Run the simulation');
  const form = h('form', { class: 'whatif-form' },
    h('label', null, 'Line ', lineSel), fields, h('label', null, 'Simulation runs ', runs), submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const parameters = {};
    for (const input of fields.querySelectorAll('input')) parameters[input.name] = Number(input.value);
    onRun({ line: lineSel.value, parameters, runs: Number(runs.value) }, submit);
  });
  return form;
}

/** KPIs of the scenario against the baseline, each as mean with its confidence interval. */
function renderResult(el, r, spec) {
  const kpis = spec.kpis || Object.keys(r.scenario || {}).map((name) => ({ name }));
  const ci = (x) => (x ? `${num(x.mean)} (${num(x.lower)} – ${num(x.upper)})` : '—');
  replace(el,
    h('table', null,
      h('caption', null, `Mean and ${num((r.confidence || 0.9) * 100)} % confidence interval over ${r.runs ?? '?'} runs`),
      h('thead', null, h('tr', null, h('th', null, 'Indicator'), h('th', null, 'Baseline'), h('th', null, 'Scenario'), h('th', null, 'Difference'))),
      h('tbody', null, kpis.map((k) => {
        const b = r.baseline?.[k.name], s = r.scenario?.[k.name], d = r.difference?.[k.name];
        return h('tr', null, h('th', { scope: 'row' }, `${k.label || k.name}${k.unit ? ` (${unitText(k.unit)})` : ''}`),
          h('td', { class: 'num' }, ci(b)), h('td', { class: 'num' }, ci(s)), h('td', { class: 'num' }, ci(d)));
      }))));
}
