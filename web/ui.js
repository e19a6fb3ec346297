// DOM helpers and the page's tables and forms: formatting, the strategy parameter form, the runs
// list, the statistics panel and the trades table. No network, no state beyond the DOM.

export const $ = (selector, root = document) => root.querySelector(selector);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// --- formatting -------------------------------------------------------------------------------

export const pct = (x, digits = 1) => (typeof x === 'number' && isFinite(x) ? (x * 100).toFixed(digits) + '%' : '—');
export const num = (x, digits = 2) =>
  typeof x === 'number' && isFinite(x)
    ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '—';
export const int = (x) => (typeof x === 'number' && isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');

// "2008-10-15 14:30Z" (no seconds unless there are any), "2008-10-15" for midnight bars.
export function simTime(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return '—';
  const iso = new Date(ms).toISOString();
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
  if (iso.endsWith(':00.000Z')) return iso.slice(0, 10) + ' ' + iso.slice(11, 16) + 'Z';
  return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + 'Z';
}

export function duration(seconds) {
  if (typeof seconds !== 'number' || !isFinite(seconds)) return '—';
  const days = seconds / 86400;
  if (days >= 365) return (days / 365.25).toFixed(1) + ' y';
  if (days >= 1) return Math.round(days) + ' d';
  return Math.round(seconds / 3600) + ' h';
}

export function ago(ms) {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 1 ? 'now' : `${s} s ago`;
}

// A failed run's error in words: {msg, cause, line, bar_time} ("line 12, at bar 2020-01-02: msg"),
// or the plain string older servers sent.
export function runErrorText(error) {
  if (!error) return 'no reason given';
  if (typeof error === 'string') return error;
  const where = [];
  if (error.line) where.push(`line ${error.line}`);
  if (error.bar_time) where.push(`at bar ${simTime(Date.parse(error.bar_time))}`);
  return (where.length ? `${where.join(', ')}: ` : '') + (error.msg || error.cause || 'no reason given');
}

// What to write under the line a run failed at: "msg (at bar 2020-01-02)".
export function runErrorAtLine(error) {
  const msg = error.msg || error.cause || 'the run failed here';
  return error.bar_time ? `${msg} (at bar ${simTime(Date.parse(error.bar_time))})` : msg;
}

// "sma_cross", or "my_sma@3" for a script's version.
export const strategyLabel = (run) =>
  run.strategy_version ? `${run.strategy}@${run.strategy_version}` : run.strategy;

// --- strategy form ----------------------------------------------------------------------------

// Fills `fieldset` with one number input per parameter of `strategy` (from GET /strategies).
export function renderParams(fieldset, strategy) {
  for (const node of [...fieldset.querySelectorAll('label, p')]) node.remove();
  if (!strategy.params || !strategy.params.length) {
    fieldset.append(el('p', { class: 'hint' }, 'This strategy has no parameters.'));
    return;
  }
  for (const p of strategy.params) {
    const input = el('input', {
      type: 'number', name: `params.${p.name}`, value: p.default, min: p.min, max: p.max,
      step: p.type === 'int' ? 1 : 'any', 'data-type': p.type, title: p.description, required: true,
    });
    fieldset.append(el('label', { title: p.description }, p.name, input));
  }
}

// The params object of the form, typed per the schema.
export function readParams(fieldset) {
  const params = {};
  for (const input of fieldset.querySelectorAll('input[name^="params."]')) {
    if (input.value === '') continue;
    params[input.name.slice('params.'.length)] = Number(input.value);
  }
  return params;
}

// --- more datasets (symbols) in a run form ------------------------------------------------------
// A run form has its dataset menu (the first symbol) and a box of extra ones, each a <select
// name="datasets"> with a remove button, added by the box's "+ dataset" button. One dataset sends
// {dataset}, more send {datasets: [first, ...extras]} (a multi-symbol run).

const datasetLabel = (d) => `${d.name} (${d.symbol})`;

// Adds a row to `box` choosing among `datasets` the first that neither `first` (the form's own
// dataset menu's choice) nor another row has.
export function addDatasetRow(box, datasets, first) {
  const taken = new Set([first, ...chosenDatasets(box)]);
  const pick = el('select', { name: 'datasets', 'aria-label': 'Another dataset' },
    ...datasets.map((d) => new Option(datasetLabel(d), d.name)));
  const free = datasets.find((d) => !taken.has(d.name));
  if (free) pick.value = free.name;
  const row = el('div', { class: 'dataset-row' }, pick,
    el('button', { type: 'button', class: 'small ghost', title: 'Remove this dataset', 'aria-label': 'Remove this dataset',
      onclick: () => row.remove() }, '×'));
  box.append(row);
  return pick;
}

// Refills every row's menu with `datasets`, keeping its choice while that dataset exists.
export function fillDatasetRows(box, datasets) {
  for (const pick of box.querySelectorAll('select')) {
    const keep = pick.value;
    pick.replaceChildren(...datasets.map((d) => new Option(datasetLabel(d), d.name)));
    if (datasets.some((d) => d.name === keep)) pick.value = keep;
    else pick.closest('.dataset-row').remove();
  }
}

// The rows' choices, in order.
export function chosenDatasets(box) {
  return [...box.querySelectorAll('select')].map((s) => s.value).filter((v) => v);
}

// The request's dataset part: {dataset: first} alone, or {datasets: [first, ...rows]}.
export function datasetSpec(first, box) {
  const more = chosenDatasets(box);
  return more.length ? { datasets: [first, ...more] } : { dataset: first };
}

// Marks the input a VALIDATION error names (details.field, e.g. "cash" or "params.fast").
export function markField(form, field) {
  for (const node of form.querySelectorAll('.invalid')) node.classList.remove('invalid');
  if (!field) return;
  const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
  if (input) {
    input.classList.add('invalid');
    input.focus();
  }
}

// --- runs list --------------------------------------------------------------------------------

export function renderRuns(tbody, runs, { onOpen, onDelete, currentId }) {
  tbody.replaceChildren();
  for (const run of runs) {
    const s = run.stats || {};
    const status = run.status === 'running' ? `running ${Math.round((run.progress || 0) * 100)}%`
      : run.status === 'failed' ? `failed: ${runErrorText(run.error)}` : run.status;
    const params = Object.entries(run.params || {}).map(([k, v]) => `${k}=${v}`).join(' ');
    const link = el('a', {
      href: `/runs/${encodeURIComponent(run.id)}`, class: 'run-link',
      onclick: (ev) => {
        if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
        ev.preventDefault();
        onOpen(run.id);
      },
    }, el('b', {}, strategyLabel(run)), ' ', el('span', { class: 'hint' }, params), el('br'),
    el('span', { class: 'hint' }, `${(run.datasets || [run.dataset]).join(' + ')} · ${run.id}`));
    const del = el('button', {
      type: 'button', class: 'small ghost', title: 'Delete this run', 'aria-label': `Delete run ${run.id}`,
      onclick: () => onDelete(run.id),
    }, '×');
    const row = el('tr', { class: run.id === currentId ? 'current' : '', 'data-id': run.id, 'data-status': run.status },
      el('td', {}, link),
      el('td', { class: `status ${run.status}` }, status),
      el('td', { class: signClass(s.total_return), title: `Sharpe ${num(s.sharpe)}` }, pct(s.total_return)),
      el('td', {}, pct(s.max_drawdown)),
      el('td', {}, int(s.trades)),
      el('td', {}, del));
    tbody.append(row);
  }
}

export const signClass = (x) => (typeof x !== 'number' ? '' : x > 0 ? 'pos' : x < 0 ? 'neg' : '');

// --- statistics and trades --------------------------------------------------------------------

export const kStats = [
  ['total_return', 'Total return', pct],
  ['buy_and_hold_return', 'Buy and hold', pct],
  ['cagr', 'CAGR', (x) => pct(x, 2)],
  ['volatility', 'Volatility', pct],
  ['sharpe', 'Sharpe', num],
  ['sortino', 'Sortino', num],
  ['calmar', 'Calmar', num],
  ['max_drawdown', 'Max drawdown', pct],
  ['max_drawdown_duration_s', 'Longest drawdown', duration],
  ['win_rate', 'Win rate', pct],
  ['profit_factor', 'Profit factor', num],
  ['expectancy', 'Expectancy / trade', num],
  ['trades', 'Trades', int],
  ['fills', 'Fills', int],
  ['exposure', 'Exposure', pct],
  ['start_equity', 'Start equity', (x) => num(x, 0)],
  ['final_equity', 'Final equity', (x) => num(x, 0)],
  ['bars', 'Bars', int],
];

export function renderStats(dl, stats) {
  dl.replaceChildren();
  if (!stats) return;
  for (const [key, label, format] of kStats) {
    if (!(key in stats)) continue;
    const signed = key === 'total_return' || key === 'cagr' || key === 'expectancy';
    dl.append(el('div', { 'data-stat': key }, el('dt', {}, label),
      el('dd', { class: signed ? signClass(stats[key]) : '' }, format(stats[key]))));
  }
}

// Trades, oldest first. Rows after `nowMs` (not reached by the tape yet) are dimmed; clicking a
// row calls onPick(index in `trades`).
export const kMaxTradeRows = 2000;

export function renderTrades(tbody, trades, onPick) {
  tbody.replaceChildren();
  const rows = trades.slice(0, kMaxTradeRows);
  rows.forEach((t, index) => {
    const entry = Date.parse(t.entry_ts);
    tbody.append(el('tr', {
      'data-entry': entry, 'data-index': index, 'data-outcome': tradeOutcome(t),
      class: t.open ? 'open' : '', title: 'Go to this trade (paused at its entry)',
      onclick: () => onPick(index),
    },
    el('td', { class: t.side }, t.side), el('td', {}, simTime(entry)),
    el('td', {}, t.open ? 'open' : simTime(Date.parse(t.exit_ts))),
    el('td', {}, num(t.qty, 4)), el('td', {}, num(t.entry_px)), el('td', {}, num(t.exit_px)),
    el('td', { class: signClass(t.pnl) }, num(t.pnl)), el('td', { class: signClass(t.ret) }, pct(t.ret, 2))));
  });
}

// 'winner' (made money), 'loser' (lost money) or 'flat'; an open trade by its P&L so far.
export function tradeOutcome(trade) {
  return trade.pnl > 0 ? 'winner' : trade.pnl < 0 ? 'loser' : 'flat';
}

// Whether `trade` is among `filter`: 'all', 'winners' or 'losers'.
export function tradeMatches(trade, filter) {
  if (filter === 'winners') return tradeOutcome(trade) === 'winner';
  if (filter === 'losers') return tradeOutcome(trade) === 'loser';
  return true;
}

export function dimFutureTrades(tbody, nowMs) {
  for (const row of tbody.rows) row.classList.toggle('future', Number(row.dataset.entry) > nowMs);
}
