// Sweeps: `/sweeps` (the form that starts one, and the list) and `/sweeps/{id}` (its progress,
// then its results: a heatmap of the objective over two parameters, the trials sorted by the
// server, how much of the best result is luck in words, and the walk-forward folds with their
// stitched out-of-sample equity). A heatmap cell or a trials row opens that trial in the player
// (it runs again as a normal backtest); two picked cells open a comparison.

import { api, describeError } from './api.js';
import { loadChartLibrary, StitchedChart } from './chart.js';
import { $, el, int, markField, num, pct, runErrorText, signClass, simTime } from './ui.js';

export const kObjectives = {
  sharpe: 'Sharpe', total_return: 'total return', cagr: 'CAGR', sortino: 'Sortino', calmar: 'Calmar',
  profit_factor: 'profit factor',
};

// How a statistic reads: percentages for returns and drawdowns, plain numbers otherwise.
const kPercent = new Set(['total_return', 'cagr', 'max_drawdown', 'volatility', 'win_rate', 'exposure', 'buy_and_hold_return']);
export function statText(key, value) {
  if (value === null || value === undefined) return '—';
  if (key === 'trades' || key === 'fills' || key === 'bars') return int(value);
  return kPercent.has(key) ? pct(value, 2) : num(value);
}

// The trial's statistics shown in the trials table, the hover and the folds.
const kTrialStats = ['total_return', 'sharpe', 'sortino', 'cagr', 'max_drawdown', 'profit_factor', 'win_rate', 'trades'];
const kStatLabels = {
  total_return: 'return', sharpe: 'Sharpe', sortino: 'Sortino', cagr: 'CAGR', max_drawdown: 'max DD',
  profit_factor: 'profit factor', win_rate: 'win rate', trades: 'trades', calmar: 'Calmar',
};

const paramsText = (params) => Object.entries(params || {}).map(([k, v]) => `${k}=${v}`).join(' ');

// --- the form: one row per parameter --------------------------------------------------------

// A parameter's row: its name, a mode (fixed, range, list) and the inputs of that mode, named
// `params.NAME` (fixed), `params.NAME.from|to|step` (range), `params.NAME.list` (list).
function paramRow(p) {
  const step = p.type === 'int' ? 1 : 'any';
  const input = (name, value, label) => el('label', {}, label,
    el('input', { type: 'number', name, value, step, min: p.min, max: p.max, 'data-type': p.type }));
  const mode = el('select', { name: `mode.${p.name}`, 'aria-label': `How to vary ${p.name}` },
    new Option('fixed', 'fixed'), new Option('range', 'range'), new Option('list', 'list'));
  const fixed = el('div', { class: 'mode-fixed' }, input(`params.${p.name}`, p.default, 'value'));
  const hi = p.max !== undefined ? Math.min(p.max, p.default * 2) : p.default * 2;
  const range = el('div', { class: 'mode-range', hidden: true },
    input(`params.${p.name}.from`, p.default, 'from'), input(`params.${p.name}.to`, hi, 'to'),
    input(`params.${p.name}.step`, p.type === 'int' ? Math.max(1, Math.round(p.default / 2)) : p.default / 2, 'step'));
  const list = el('div', { class: 'mode-list', hidden: true },
    el('label', {}, 'values', el('input', { type: 'text', name: `params.${p.name}.list`, value: String(p.default), placeholder: '10, 20, 50' })));
  const row = el('div', { class: 'param-row', 'data-param': p.name, 'data-type': p.type, title: p.description || '' },
    el('span', { class: 'param-name' }, p.name), mode, fixed, range, list);
  mode.addEventListener('change', () => {
    fixed.hidden = mode.value !== 'fixed';
    range.hidden = mode.value !== 'range';
    list.hidden = mode.value !== 'list';
    row.dispatchEvent(new Event('input', { bubbles: true }));
  });
  return row;
}

// The request's params: {name: value | {from, to, step} | [values]}.
function readSweepParams(fieldset) {
  const params = {};
  for (const row of fieldset.querySelectorAll('.param-row')) {
    const name = row.dataset.param;
    const value = (suffix) => row.querySelector(`[name="params.${name}${suffix}"]`).value;
    const mode = row.querySelector('select').value;
    if (mode === 'fixed') {
      if (value('') !== '') params[name] = Number(value(''));
    } else if (mode === 'range') {
      params[name] = { from: Number(value('.from')), to: Number(value('.to')), step: Number(value('.step')) };
    } else {
      params[name] = value('.list').split(/[,\s]+/).filter((v) => v !== '').map(Number);
    }
  }
  return params;
}

// How many values a parameter's request takes (a range counts as the server does: from, from +
// step, ... up to to, inclusive, within a rounding), or null when it cannot say.
function valueCount(spec) {
  if (Array.isArray(spec)) return spec.length;
  if (typeof spec === 'object' && spec) {
    if (!(spec.step > 0) || !(spec.to >= spec.from)) return null;
    return Math.floor((spec.to - spec.from) / spec.step + 1e-9) + 1;
  }
  return 1;
}

export class SweepsPage {
  // env: {navigate(path), datasets(), strategies(), onError(text), clearError()}.
  constructor(env) {
    this.env = env;
    this.timer = 0;
    this.closed = true;
    $('#sweep-form').addEventListener('submit', (ev) => this.submit(ev));
    $('#sweep-strategy').addEventListener('change', () => this.showParams());
    $('#sweep-method').addEventListener('change', () => this.showMethod());
    $('#sweep-form').addEventListener('input', () => this.showCount());
    $('#sweeps-refresh').addEventListener('click', () => this.refresh());
  }

  open() {
    this.closed = false;
    $('#sweeps').hidden = false;
    this.fillMenus();
    this.showMethod();
    this.refresh();
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    $('#sweeps').hidden = true;
  }

  // The dataset and strategy menus, from what the page loaded (also when it loads later).
  fillMenus() {
    const datasets = this.env.datasets();
    const pick = $('#sweep-dataset');
    const keep = pick.value;
    pick.replaceChildren(...datasets.map((d) => new Option(`${d.name} (${d.symbol})`, d.name)));
    if (datasets.some((d) => d.name === keep)) pick.value = keep;
    const strategies = this.env.strategies();
    const strategy = $('#sweep-strategy');
    const keepStrategy = strategy.value;
    const option = (s) => new Option(s.kind === 'script' ? `${s.name} (version ${s.version})` : s.name, s.name);
    const builtins = strategies.filter((s) => s.kind !== 'script');
    const scripts = strategies.filter((s) => s.kind === 'script');
    strategy.replaceChildren(...builtins.map(option));
    if (scripts.length) strategy.append(el('optgroup', { label: 'Scripts' }, scripts.map(option)));
    const preferred = strategies.find((s) => s.name === (keepStrategy || 'sma_cross'));
    if (preferred) strategy.value = preferred.name;
    if (strategy.value !== keepStrategy || !$('#sweep-params .param-row')) this.showParams();
  }

  showParams() {
    const s = this.env.strategies().find((x) => x.name === $('#sweep-strategy').value);
    const fieldset = $('#sweep-params');
    for (const node of [...fieldset.querySelectorAll('.param-row, p')]) node.remove();
    if (!s) return;
    if (!s.params || !s.params.length) {
      fieldset.append(el('p', { class: 'hint' }, 'This strategy has no parameters: there is nothing to sweep.'));
    }
    for (const p of s.params || []) fieldset.append(paramRow(p));
    this.showCount();
  }

  showMethod() {
    const random = $('#sweep-method').value === 'random';
    for (const node of document.querySelectorAll('#sweep-form .random-only')) node.hidden = !random;
    this.showCount();
  }

  showCount() {
    const form = $('#sweep-form');
    if (form.method.value === 'random') {
      $('#sweep-count').textContent = `${int(Number(form.trials.value))} trials drawn at random.`;
      return;
    }
    let n = 1;
    for (const spec of Object.values(readSweepParams($('#sweep-params')))) {
      const count = valueCount(spec);
      if (count === null) {
        $('#sweep-count').textContent = '';
        return;
      }
      n *= count;
    }
    $('#sweep-count').textContent = `${int(n)} trial${n === 1 ? '' : 's'}: every combination of the values above.`;
  }

  readSpec() {
    const form = $('#sweep-form');
    const spec = {
      dataset: form.dataset.value,
      strategy: form.strategy.value,
      params: readSweepParams($('#sweep-params')),
      method: form.method.value,
      objective: form.objective.value,
    };
    if (spec.method === 'random') {
      spec.trials = Number(form.trials.value);
      if (form.seed.value !== '') spec.seed = Number(form.seed.value);
    }
    for (const key of ['cash', 'commission', 'slippage', 'fixed_fee']) {
      if (form[key].value !== '') spec[key] = Number(form[key].value);
    }
    for (const key of ['from', 'to']) if (form[key].value) spec[key] = `${form[key].value}T00:00:00Z`;
    const folds = Number(form['walk_forward.folds'].value);
    if (folds > 0) spec.walk_forward = { folds, anchored: form['walk_forward.anchored'].checked };
    if (form.pbo_blocks.value !== '') spec.pbo_blocks = Number(form.pbo_blocks.value);
    return spec;
  }

  async submit(ev) {
    ev.preventDefault();
    const form = $('#sweep-form');
    markField(form, null);
    this.env.clearError();
    $('#sweep-button').disabled = true;
    try {
      const created = await api.createSweep(this.readSpec());
      this.env.navigate(`/sweeps/${encodeURIComponent(created.id)}`);
    } catch (e) {
      this.env.onError(`Could not start the sweep: ${describeError(e)}`);
      // "params.fast" names a parameter's row: mark its inputs.
      const field = e.details && e.details.field;
      markField(form, field);
      const m = field && field.match(/^params\.([^.]+)/);
      if (m) for (const input of form.querySelectorAll(`[data-param="${CSS.escape(m[1])}"] input`)) input.classList.add('invalid');
    } finally {
      $('#sweep-button').disabled = false;
    }
  }

  async refresh() {
    clearTimeout(this.timer);
    let sweeps = [];
    try {
      sweeps = await api.sweeps();
    } catch (e) {
      this.env.onError(`Could not list the sweeps: ${describeError(e)}`);
    }
    if (this.closed) return;
    const rows = sweeps.map((s) => {
      const open = () => this.env.navigate(`/sweeps/${encodeURIComponent(s.id)}`);
      const progress = s.progress && s.progress.total ? s.progress.done / s.progress.total : 0;
      const status = s.status === 'running' ? `running ${Math.round(progress * 100)}%`
        : s.status === 'failed' ? `failed: ${runErrorText(s.error)}` : s.status;
      const best = s.best ? `${num(s.best.objective)} (${paramsText(s.best.params)})` : '—';
      return el('tr', { 'data-id': s.id, 'data-status': s.status, onclick: open },
        el('td', {}, el('a', {
          href: `/sweeps/${encodeURIComponent(s.id)}`,
          onclick: (ev) => {
            // A new tab or window is the browser's to open; a plain click is the row's.
            if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) ev.stopPropagation();
            else ev.preventDefault();
          },
        },
          el('b', {}, s.strategy), ' ', el('span', { class: 'hint' }, `${(s.datasets || [s.dataset]).join(' + ')} · ${kObjectives[s.objective] || s.objective} · ${s.id}`))),
        el('td', { class: `status ${s.status}` }, status),
        el('td', {}, int(s.trials)),
        el('td', {}, best),
        el('td', {}, s.pbo && s.pbo.value !== null && s.pbo.value !== undefined ? num(s.pbo.value) : '—'),
        el('td', {}, s.dsr && s.dsr.value !== null && s.dsr.value !== undefined ? num(s.dsr.value) : '—'),
        el('td', {}, el('button', {
          type: 'button', class: 'small ghost', title: 'Delete this sweep', 'aria-label': `Delete sweep ${s.id}`,
          onclick: (ev) => { ev.stopPropagation(); this.remove(s.id); },
        }, '×')));
    });
    $('#sweeps-list tbody').replaceChildren(...rows);
    $('#sweeps-empty').hidden = sweeps.length > 0;
    const busy = sweeps.some((s) => s.status === 'queued' || s.status === 'running');
    this.timer = setTimeout(() => this.refresh(), busy ? 1000 : 15000);
  }

  async remove(id) {
    if (!confirm(`Delete sweep ${id}?`)) return;
    try {
      await api.deleteSweep(id);
    } catch (e) {
      this.env.onError(`Could not delete the sweep: ${describeError(e)}`);
    }
    this.refresh();
  }
}

// --- robustness in words -------------------------------------------------------------------

// What the deflated Sharpe ratio says about this sweep, in a sentence or two.
export function dsrWords(dsr, trials) {
  if (!dsr) return 'The deflated Sharpe ratio was not computed.';
  if (dsr.value === null || dsr.value === undefined) {
    return `The deflated Sharpe ratio could not be computed${dsr.reason ? `: ${dsr.reason}` : ''}.`;
  }
  const p = Math.round(dsr.value * 100);
  const verdict = dsr.value >= 0.95 ? 'That is strong evidence of a real edge.'
    : dsr.value >= 0.5 ? 'That is not enough to rule out luck (95% would be).'
      : 'The best result is most likely luck.';
  return `DSR ${num(dsr.value)}: after allowing for having tried ${int(dsr.trials ?? trials)} trials, the chance that the ` +
    `best trial's daily Sharpe (${num(dsr.sr, 4)} over ${int(dsr.days)} days) reflects a real edge rather than the luck ` +
    `of picking the best of many is ${p}%. The best of that many trials with no edge at all would be expected to ` +
    `reach a daily Sharpe of about ${num(dsr.sr0, 4)}. ${verdict}`;
}

// What the probability of backtest overfitting says about this sweep.
export function pboWords(pbo) {
  if (!pbo) return 'The probability of backtest overfitting was not computed.';
  if (pbo.value === null || pbo.value === undefined) {
    return `The probability of backtest overfitting could not be computed${pbo.reason ? `: ${pbo.reason}` : ''}.`;
  }
  const p = Math.round(pbo.value * 100);
  const verdict = pbo.value < 0.1 ? 'Choosing the best in-sample trial held up well out of sample.'
    : pbo.value < 0.5 ? 'Choosing the best in-sample trial often did not hold up out of sample.'
      : 'Choosing the best in-sample trial did worse than a median trial more often than not: the choice is overfit.';
  return `PBO ${num(pbo.value)}: in ${p}% of the ${int(pbo.combinations)} ways of splitting the history ` +
    `(${int(pbo.blocks)} blocks, half in sample, half out of sample), the best in-sample trial was below the ` +
    `median out of sample. ${verdict}`;
}

// --- one sweep ------------------------------------------------------------------------------

const kPageSize = 50;

// The colour of an objective value `v` within [lo, hi]: red (worst) through yellow to green (best).
function heatColor(v, lo, hi) {
  const f = hi > lo ? (v - lo) / (hi - lo) : 0.5;
  return `hsl(${Math.round(f * 120)}, 65%, ${Math.round(72 - f * 12)}%)`;
}

export class SweepView {
  // env: {navigate(path), onError(text), clearError()}.
  constructor(id, env) {
    this.id = id;
    this.env = env;
    this.sweep = null;
    this.trials = [];     // every trial (phase 0), by index, for the heatmap
    this.sort = { key: 'index', order: 'asc' };
    this.offset = 0;
    this.picked = [];     // trial indexes picked to compare
    this.timer = 0;
    this.closed = false;
    this.chart = null;
    this.unbind = [];
  }

  async open() {
    $('#sweep').hidden = false;
    $('#sweep-results').hidden = true;
    $('#walk-forward').hidden = true;
    $('#sweep-title').textContent = `Sweep ${this.id}`;
    this.listen($('#sweep-back'), 'click', (ev) => {
      if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
      ev.preventDefault();
      this.env.navigate('/sweeps');
    });
    for (const axis of ['#heat-x', '#heat-y']) this.listen($(axis), 'change', () => this.renderHeatmap(true));
    this.listen($('#heat-pick-two'), 'change', () => {
      this.picked = [];
      this.renderHeatmap();
    });
    this.listen($('#trials-prev'), 'click', () => this.loadTrialsPage(Math.max(0, this.offset - kPageSize)));
    this.listen($('#trials-next'), 'click', () => this.loadTrialsPage(this.offset + kPageSize));
    await this.poll();
  }

  listen(node, type, fn) {
    node.addEventListener(type, fn);
    this.unbind.push(() => node.removeEventListener(type, fn));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    for (const fn of this.unbind) fn();
    this.chart?.remove();
    this.chart = null;
    $('#stitched-chart').replaceChildren();
    $('#heatmap').replaceChildren();
    $('#heat-tip').hidden = true;
    $('#heat-pick-two').checked = false;
    $('#sweep').hidden = true;
    delete $('#sweep').dataset.status;
  }

  async poll() {
    let sweep;
    try {
      sweep = await api.sweep(this.id);
    } catch (e) {
      if (!this.closed) this.env.onError(`Could not load sweep ${this.id}: ${describeError(e)}`);
      return;
    }
    if (this.closed) return;
    this.sweep = sweep;
    this.showHeader(sweep);
    if (sweep.status === 'queued' || sweep.status === 'running') {
      this.timer = setTimeout(() => this.poll(), 700);
      return;
    }
    if (sweep.status === 'done') await this.showResults(sweep);
    $('#sweep').dataset.status = sweep.status;
  }

  showHeader(s) {
    const params = Object.entries(s.params || {}).map(([k, v]) => {
      if (Array.isArray(v)) return `${k} in [${v.join(', ')}]`;
      if (v && typeof v === 'object') return `${k} from ${v.from} to ${v.to} step ${v.step}`;
      return `${k}=${v}`;
    }).join(', ');
    const strategy = s.strategy_version ? `${s.strategy}@${s.strategy_version}` : s.strategy;
    $('#sweep-title').textContent = `Sweep of ${strategy} on ${(s.datasets || [s.dataset]).join(' + ')}`;
    document.title = `${$('#sweep-title').textContent} — tapedeck`;
    const wf = s.walk_forward ? `, walk-forward over ${s.walk_forward.folds} fold${s.walk_forward.folds === 1 ? '' : 's'}${s.walk_forward.anchored ? ' (anchored)' : ''}` : '';
    $('#sweep-desc').textContent = `${int(s.trials)} trials (${s.method}${s.method === 'random' ? `, seed ${s.seed}` : ''}) ` +
      `of ${params}; objective ${kObjectives[s.objective] || s.objective}${wf}. Sweep ${s.id}.`;
    const p = s.progress || { done: 0, total: 0 };
    $('#sweep-progress').value = s.status === 'done' ? 1 : p.total ? p.done / p.total : 0;
    $('#sweep-status').dataset.status = s.status;
    $('#sweep-status-text').textContent = s.status === 'running' ? `running: ${int(p.done)} of ${int(p.total)} trial runs`
      : s.status === 'queued' ? 'queued…'
        : s.status === 'failed' ? `failed: ${runErrorText(s.error)}`
          : `done: ${int(s.valid_trials)} trials ran${s.failed_trials ? `, ${int(s.failed_trials)} failed or were refused` : ''}`;
  }

  async showResults(s) {
    $('#sweep-results').hidden = false;
    const best = s.best;
    $('#sweep-best').replaceChildren(...(best
      ? ['Best: ', el('b', {}, paramsText(best.params)), ` (trial ${best.index}), ${kObjectives[s.objective] || s.objective} `,
        el('b', {}, num(best.objective)), `, return ${statText('total_return', best.stats?.total_return)}, max drawdown ${statText('max_drawdown', best.stats?.max_drawdown)}. `,
        el('button', { type: 'button', class: 'small', id: 'open-best', onclick: () => this.openTrial(best.index) }, 'Open it in the player')]
      : ['No trial ran successfully, so there is no best.']));
    $('#dsr-text').textContent = dsrWords(s.dsr, s.valid_trials);
    $('#pbo-text').textContent = pboWords(s.pbo);
    this.renderHistogram(s.pbo);
    try {
      await this.loadAllTrials();
    } catch (e) {
      this.env.onError(`Could not load the trials: ${describeError(e)}`);
      return;
    }
    if (this.closed) return;
    this.setUpHeatmap();
    this.renderTrialsHead();
    await this.loadTrialsPage(0);
    await this.showWalkForward(s);
  }

  // The PBO's logits: how far above (right) or below (left, red) the median out of sample the best
  // in-sample trial landed, over all the splits.
  renderHistogram(pbo) {
    const box = $('#pbo-histogram');
    box.replaceChildren();
    const h = pbo && pbo.logit_histogram;
    if (!h || !h.counts || !h.counts.length) return;
    const most = Math.max(1, ...h.counts);
    h.counts.forEach((count, k) => {
      const from = h.from + k * h.width;
      box.append(el('i', {
        class: from + h.width <= 0 ? 'below' : '', style: `height:${Math.round((count / most) * 64)}px`,
        title: `${count} split${count === 1 ? '' : 's'} with logit in [${from}, ${from + h.width})`,
      }));
    });
  }

  async loadAllTrials() {
    const all = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await api.sweepTrials(this.id, { sort: 'index', order: 'asc', limit: 1000, offset });
      all.push(...page.trials);
      if (this.closed || !page.trials.length || all.length >= page.total) break;
    }
    this.trials = all;
  }

  // --- heatmap ------------------------------------------------------------------------------

  // The parameters that vary across trials, each with its values in order.
  varying() {
    const values = new Map();
    for (const t of this.trials) {
      for (const [k, v] of Object.entries(t.params || {})) {
        if (!values.has(k)) values.set(k, new Set());
        values.get(k).add(v);
      }
    }
    return [...values].filter(([, set]) => set.size > 1).map(([name, set]) => ({ name, values: [...set].sort((a, b) => a - b) }));
  }

  setUpHeatmap() {
    const axes = this.varying();
    this.axes = axes;
    const panel = $('#heatmap-panel');
    if (!axes.length) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    const fill = (pick, index) => {
      pick.replaceChildren(...axes.map((a) => new Option(a.name, a.name)));
      pick.value = axes[Math.min(index, axes.length - 1)].name;
    };
    fill($('#heat-x'), 0);
    fill($('#heat-y'), 1);
    $('#heat-y').closest('label').hidden = axes.length < 2;
    this.renderHeatmap(true);
  }

  renderHeatmap(rebuildOthers = false) {
    if (!this.axes || !this.axes.length) return;
    const xName = $('#heat-x').value;
    const yName = this.axes.length > 1 ? $('#heat-y').value : null;
    const x = this.axes.find((a) => a.name === xName);
    const y = yName && yName !== xName ? this.axes.find((a) => a.name === yName) : null;
    // The other varying parameters: their best value (per cell) or a fixed one.
    if (rebuildOthers) {
      const others = this.axes.filter((a) => a !== x && a !== y);
      $('#heat-others').replaceChildren(...others.map((a) => {
        const pick = el('select', { 'data-param': a.name, 'aria-label': `${a.name} in the heatmap` },
          new Option('its best', ''), ...a.values.map((v) => new Option(String(v), String(v))));
        pick.addEventListener('change', () => this.renderHeatmap());
        return el('label', { title: `The other parameter ${a.name}: per cell its best value, or a fixed one` }, a.name, pick);
      }));
    }
    const fixed = [...document.querySelectorAll('#heat-others select')].filter((s) => s.value !== '')
      .map((s) => [s.dataset.param, Number(s.value)]);
    const cells = new Map();  // "x|y" -> best trial (failed ones only when there is no other)
    const better = (a, b) => !b || (b.objective === null && a.objective !== null) ||
      (a.objective !== null && b.objective !== null && a.objective > b.objective);
    for (const t of this.trials) {
      const p = t.params || {};
      if (!fixed.every(([k, v]) => p[k] === v)) continue;
      const key = `${p[x.name]}|${y ? p[y.name] : ''}`;
      if (better(t, cells.get(key))) cells.set(key, t);
    }
    const shown = [...cells.values()].filter((t) => t.objective !== null && t.objective !== undefined && isFinite(t.objective));
    const lo = Math.min(...shown.map((t) => t.objective));
    const hi = Math.max(...shown.map((t) => t.objective));
    const rows = y ? y.values : [null];
    const table = el('table', { 'aria-label': `Objective by ${x.name}${y ? ` and ${y.name}` : ''}` },
      el('thead', {}, el('tr', {}, el('th', {}, y ? `${y.name} \\ ${x.name}` : x.name), ...x.values.map((v) => el('th', {}, String(v))))),
      el('tbody', {}, rows.map((yv) => el('tr', {}, el('th', {}, yv === null ? '' : String(yv)), x.values.map((xv) => {
        const t = cells.get(`${xv}|${yv === null ? '' : yv}`);
        if (!t) return el('td', { class: 'cell empty' });
        const failed = t.objective === null || t.objective === undefined || !isFinite(t.objective);
        const td = el('td', {
          class: `cell${failed ? ' failed' : ''}${this.picked.includes(t.index) ? ' picked' : ''}`,
          'data-index': t.index, 'data-x': xv, 'data-y': yv ?? '',
          style: failed ? '' : `background:${heatColor(t.objective, lo, hi)}`,
          tabindex: '0',
          'aria-label': `${paramsText(t.params)}: ${failed ? 'failed' : num(t.objective)}`,
          onclick: () => this.cellClicked(t),
          onkeydown: (ev) => { if (ev.key === 'Enter') this.cellClicked(t); },
          onmouseenter: (ev) => this.showTip(t, ev),
          onmousemove: (ev) => this.moveTip(ev),
          onmouseleave: () => { $('#heat-tip').hidden = true; },
        }, failed ? '×' : num(t.objective));
        return td;
      })))));
    $('#heatmap').replaceChildren(table);
    this.showPicked();
  }

  showTip(t, ev) {
    const tip = $('#heat-tip');
    const stats = t.stats || {};
    tip.replaceChildren(el('b', {}, `trial ${t.index}: ${paramsText(t.params)}`),
      t.error ? el('div', {}, `failed: ${typeof t.error === 'string' ? t.error : runErrorText(t.error)}`)
        : el('dl', {}, el('dt', {}, kObjectives[this.sweep.objective] || this.sweep.objective), el('dd', {}, num(t.objective)),
          ...kTrialStats.filter((k) => k in stats).flatMap((k) => [el('dt', {}, kStatLabels[k] || k), el('dd', {}, statText(k, stats[k]))])));
    tip.hidden = false;
    this.moveTip(ev);
  }

  moveTip(ev) {
    const tip = $('#heat-tip');
    tip.style.left = `${ev.clientX + 14}px`;
    tip.style.top = `${ev.clientY + 14}px`;
  }

  cellClicked(t) {
    if (!$('#heat-pick-two').checked) {
      this.openTrial(t.index);
      return;
    }
    if (this.picked.includes(t.index)) this.picked = this.picked.filter((k) => k !== t.index);
    else this.picked.push(t.index);
    this.renderHeatmap();
    if (this.picked.length === 2) this.compare(this.picked[0], this.picked[1]);
  }

  showPicked() {
    const names = this.picked.map((k) => paramsText(this.trials[k]?.params));
    $('#heat-picked').textContent = !$('#heat-pick-two').checked ? ''
      : this.picked.length ? `picked ${names.join(' and ')}${this.picked.length < 2 ? '; pick one more' : ''}` : 'pick two cells';
  }

  // Runs trial k as a normal backtest and opens it in the player.
  async openTrial(k) {
    this.env.clearError();
    try {
      const run = await api.runSweepTrial(this.id, k);
      this.env.navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (e) {
      this.env.onError(`Could not run trial ${k}: ${describeError(e)}`);
    }
  }

  // Runs two trials and opens them side by side in lockstep.
  async compare(a, b) {
    this.env.clearError();
    $('#heat-picked').textContent = `running trials ${a} and ${b}…`;
    try {
      const [ra, rb] = await Promise.all([api.runSweepTrial(this.id, a), api.runSweepTrial(this.id, b)]);
      this.env.navigate(`/compare?a=${encodeURIComponent(ra.id)}&b=${encodeURIComponent(rb.id)}`);
    } catch (e) {
      this.env.onError(`Could not run trials ${a} and ${b}: ${describeError(e)}`);
    }
  }

  // --- trials table (sorted and paged by the server) ------------------------------------------

  renderTrialsHead() {
    const params = this.varying().map((a) => a.name);
    const columns = [['index', '#'], ...params.map((p) => [null, p]), ['objective', kObjectives[this.sweep.objective] || 'objective'],
      ...kTrialStats.map((k) => [k, kStatLabels[k] || k])];
    $('#trials thead').replaceChildren(el('tr', {}, columns.map(([key, label]) => {
      if (!key) return el('th', {}, label);
      const th = el('th', { 'data-sort': key, title: `Sort by ${label}`, tabindex: '0' }, label);
      const sortBy = () => {
        const order = this.sort.key === key ? (this.sort.order === 'asc' ? 'desc' : 'asc') : key === 'index' ? 'asc' : 'desc';
        this.sort = { key, order };
        this.loadTrialsPage(0);
      };
      th.addEventListener('click', sortBy);
      th.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') sortBy(); });
      return th;
    })));
    this.trialParams = params;
  }

  async loadTrialsPage(offset) {
    let page;
    try {
      page = await api.sweepTrials(this.id, { sort: this.sort.key, order: this.sort.order, limit: kPageSize, offset });
    } catch (e) {
      this.env.onError(`Could not load the trials: ${describeError(e)}`);
      return;
    }
    if (this.closed) return;
    this.offset = offset;
    for (const th of document.querySelectorAll('#trials th[data-sort]')) {
      const on = th.dataset.sort === this.sort.key;
      th.classList.toggle('sorted', on);
      th.dataset.arrow = on ? (this.sort.order === 'asc' ? ' ▲' : ' ▼') : '';
      th.setAttribute('aria-sort', on ? (this.sort.order === 'asc' ? 'ascending' : 'descending') : 'none');
    }
    $('#trials tbody').replaceChildren(...page.trials.map((t) => {
      const stats = t.stats || {};
      return el('tr', {
        'data-index': t.index, title: t.error ? `failed: ${typeof t.error === 'string' ? t.error : runErrorText(t.error)}` : 'Open this trial in the player',
        class: t.error ? 'failed' : '', onclick: () => this.openTrial(t.index),
      },
      el('td', {}, String(t.index)),
      ...this.trialParams.map((p) => el('td', {}, String(t.params?.[p] ?? '—'))),
      el('td', { class: signClass(t.objective) }, t.error ? 'failed' : num(t.objective)),
      ...kTrialStats.map((k) => el('td', {}, statText(k, stats[k]))));
    }));
    const total = page.total;
    $('#trials-count').textContent = `(${int(total)})`;
    $('#trials-page').textContent = total ? `${int(offset + 1)}–${int(offset + page.trials.length)} of ${int(total)}` : '';
    $('#trials-prev').disabled = offset === 0;
    $('#trials-next').disabled = offset + kPageSize >= total;
  }

  // --- walk-forward -------------------------------------------------------------------------

  async showWalkForward(s) {
    if (!s.folds || !s.folds.length) return;
    $('#walk-forward').hidden = false;
    const span = (x) => `${simTime(Date.parse(x.from))} to ${simTime(Date.parse(x.to))}`;
    $('#folds tbody').replaceChildren(...s.folds.map((f) => el('tr', { 'data-fold': f.fold },
      el('td', {}, String(f.fold)),
      el('td', {}, span(f.in_sample)),
      el('td', {}, f.trial === null || f.trial === undefined ? 'none' : `${f.trial}: ${paramsText(f.params)}`),
      el('td', {}, num(f.in_sample_objective)),
      el('td', {}, span(f.out_of_sample)),
      el('td', { class: signClass(f.stats?.total_return) }, f.error ? `failed: ${typeof f.error === 'string' ? f.error : runErrorText(f.error)}` : statText('total_return', f.stats?.total_return)),
      el('td', {}, statText('sharpe', f.stats?.sharpe)),
      el('td', {}, statText('max_drawdown', f.stats?.max_drawdown)))));
    const st = s.stitched;
    if (!st) {
      $('#stitched-text').textContent = 'No out-of-sample results to stitch.';
      return;
    }
    $('#stitched-text').textContent = `Out of sample, stitched over ${int(st.days)} days: return ` +
      `${statText('total_return', st.total_return)}, daily Sharpe ${num(st.sharpe, 4)}, max drawdown ` +
      `${statText('max_drawdown', st.max_drawdown)}. This is what choosing by the ${kObjectives[s.objective] || s.objective} ` +
      'on the past and trading the choice on the next span would have made.';
    if (!st.equity || !st.equity.length) return;
    try {
      await loadChartLibrary();
    } catch (e) {
      this.env.onError(describeError(e));
      return;
    }
    if (this.closed) return;
    this.chart = new StitchedChart($('#stitched-chart'), st.equity, (s.folds || []).map((f) => f.out_of_sample.from));
  }
}
