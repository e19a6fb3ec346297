// The page: the new-run form, the runs list, and the routes `/`, `/runs/{id}[?at=ISO&speed=S]`
// that open a run's player (watch.js), `/compare?a=RUN&b=RUN` (two runs in lockstep,
// compare.js), `/sweeps` and `/sweeps/{id}` (sweeps.js) and `/editor[/{name}]`, the strategy
// editor (editor.js).

import { api, auth, describeError } from './api.js';
import { loadChartLibrary } from './chart.js';
import { Comparison } from './compare.js';
import { StrategyEditor } from './editor.js';
import { SweepsPage, SweepView } from './sweeps.js';
import {
  $, addDatasetRow, datasetSpec, el, fillDatasetRows, markField, readParams, renderParams, renderRuns, runErrorAtLine, runErrorText,
  strategyLabel,
} from './ui.js';
import { Watcher } from './watch.js';

const page = {
  strategies: [],
  datasets: [],
  runs: [],
  watcher: null,
  comparison: null,
  sweepsPage: null,  // the form and list, made once
  sweepView: null,   // the sweep shown
  watchingId: null,
  submittedId: null,  // the run the form started, shown under the button until it is done
  runsTimer: 0,
  editor: null,
};

// --- errors -------------------------------------------------------------------------------------

// `run`: a failed run; when a script failed at a line, the message links to that line in the editor.
function showError(text, run = null) {
  $('#error-text').textContent = text;
  const line = run && run.strategy_version && run.error && run.error.line;
  if (line) {
    const q = new URLSearchParams({ version: run.strategy_version, line, msg: runErrorAtLine(run.error) });
    const path = `/editor/${encodeURIComponent(run.strategy)}?${q}`;
    $('#error-text').append(' ', el('a', { href: path, id: 'error-edit', onclick: (ev) => {
      ev.preventDefault();
      navigate(path);
    } }, `Show line ${line} in the editor`));
  }
  $('#error').hidden = false;
}

function clearError() {
  $('#error').hidden = true;
  $('#error-text').textContent = '';
}

// A problem with the server's installation (the chart library missing): shown apart from the
// errors of what the user does, and not dismissed by them.
function showSetupError(text) {
  $('#setup-error').textContent = text;
  $('#setup-error').hidden = false;
}

// The menus the server could not fill say so, rather than staying empty.
function markMenusUnavailable() {
  for (const pick of [$('#dataset'), $('#strategy')]) {
    if (pick.options.length) continue;
    const none = new Option('could not be loaded (see the message above)', '');
    none.disabled = true;
    pick.replaceChildren(none);
  }
}

// --- datasets and strategies ---------------------------------------------------------------------

async function loadDatasets(select) {
  page.datasets = await api.datasets();
  const pick = $('#dataset');
  const keep = select || pick.value;
  pick.replaceChildren(...page.datasets.map((d) => new Option(`${d.name} (${d.symbol})`, d.name)));
  if (keep && page.datasets.some((d) => d.name === keep)) pick.value = keep;
  fillDatasetRows($('#more-datasets'), page.datasets);
  showDatasetInfo();
  page.editor?.fillDatasets();
}

function showDatasetInfo() {
  const d = page.datasets.find((x) => x.name === $('#dataset').value);
  $('#dataset-info').textContent = d
    ? `${d.bars.toLocaleString('en-US')} bars, ${d.from.slice(0, 10)} to ${d.to.slice(0, 10)}`
    : 'No datasets yet: upload a CSV.';
}

// The built-ins, then the saved scripts (their latest version) in a group of their own.
async function loadStrategies() {
  page.strategies = await api.strategies();
  const pick = $('#strategy');
  const keep = pick.value;
  const option = (s) => new Option(s.kind === 'script' ? `${s.name} (version ${s.version})` : s.name, s.name);
  const builtins = page.strategies.filter((s) => s.kind !== 'script');
  const scripts = page.strategies.filter((s) => s.kind === 'script');
  pick.replaceChildren(...builtins.map(option));
  if (scripts.length) pick.append(el('optgroup', { label: 'Scripts' }, scripts.map(option)));
  const preferred = page.strategies.find((s) => s.name === (keep || 'sma_cross'));
  if (preferred) pick.value = preferred.name;
  showStrategy();
}

function showStrategy() {
  const s = page.strategies.find((x) => x.name === $('#strategy').value);
  if (!s) return;
  const desc = $('#strategy-desc');
  if (s.kind === 'script') {
    desc.replaceChildren(`A script, version ${s.version}. `,
      el('a', { href: `/editor/${encodeURIComponent(s.name)}`, onclick: (ev) => {
        ev.preventDefault();
        navigate(`/editor/${encodeURIComponent(s.name)}`);
      } }, 'Edit it'));
    desc.title = '';
  } else {
    // The first sentence is the rule; the rest (shared sizing rules) is in the title.
    const description = s.description || '';
    const first = description.split('. ')[0];
    desc.textContent = first.endsWith('.') || !first ? first : first + '.';
    desc.title = description;
  }
  renderParams($('#params'), s);
}

async function upload() {
  const file = $('#upload-file').files[0];
  const name = $('#upload-name').value.trim();
  const status = $('#upload-status');
  if (!file) {
    status.textContent = 'Choose a CSV file first.';
    return;
  }
  const datasetName = name || file.name.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]/g, '_');
  status.textContent = `Uploading ${file.name}…`;
  $('#upload-button').disabled = true;
  try {
    const d = await api.uploadDataset(datasetName, $('#upload-symbol').value.trim(), $('#upload-format').value, file);
    // Select the new dataset before saying it is imported, so "Imported" means ready to run.
    await loadDatasets(d.name);
    status.textContent = `Imported ${d.name}: ${d.bars.toLocaleString('en-US')} bars of ${d.symbol}.`;
    clearError();
  } catch (e) {
    status.textContent = '';
    showError(`Upload failed: ${describeError(e)}`);
  } finally {
    $('#upload-button').disabled = false;
  }
}

// --- the form ------------------------------------------------------------------------------------

function readSpec(form) {
  const spec = {
    ...datasetSpec(form.dataset.value, $('#more-datasets')),
    strategy: form.strategy.value,
    params: readParams($('#params')),
  };
  for (const key of ['cash', 'commission', 'slippage', 'fixed_fee']) {
    if (form[key].value !== '') spec[key] = Number(form[key].value);
  }
  for (const key of ['from', 'to']) {
    if (form[key].value) spec[key] = `${form[key].value}T00:00:00Z`;
  }
  return spec;
}

async function submitRun(ev) {
  ev.preventDefault();
  const form = ev.target;
  markField(form, null);
  clearError();
  const button = $('#run-button');
  button.disabled = true;
  try {
    const created = await api.createBacktest(readSpec(form));
    page.submittedId = created.id;
    showRunStatus({ id: created.id, status: created.status, progress: 0 });
    await refreshRuns();
    navigate(`/runs/${encodeURIComponent(created.id)}`);
  } catch (e) {
    showError(`Could not start the run: ${describeError(e)}`);
    markField(form, e.details && e.details.field);
  } finally {
    button.disabled = false;
  }
}

function showRunStatus(run) {
  const box = $('#run-status');
  if (!run) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $('#run-progress').value = run.status === 'done' ? 1 : run.progress || 0;
  $('#run-status-text').textContent = run.status === 'running'
    ? `running ${Math.round((run.progress || 0) * 100)}%`
    : run.status === 'failed' ? `failed: ${runErrorText(run.error)}` : run.status;
  box.dataset.status = run.status;
}

// --- runs list ------------------------------------------------------------------------------------

async function refreshRuns() {
  clearTimeout(page.runsTimer);
  try {
    page.runs = await api.backtests();
  } catch (e) {
    showError(`Could not list the runs: ${describeError(e)}`);
  }
  renderRuns($('#runs tbody'), page.runs, {
    currentId: page.watchingId,
    onOpen: (id) => navigate(`/runs/${encodeURIComponent(id)}`),
    onDelete: deleteRun,
  });
  $('#runs-empty').hidden = page.runs.length > 0;
  showCompareChoices();
  if (page.submittedId) {
    const run = page.runs.find((r) => r.id === page.submittedId);
    if (run) showRunStatus(run);
  }
  // Poll while something is on its way; otherwise now and then, for runs started elsewhere.
  const busy = page.runs.some((r) => r.status === 'queued' || r.status === 'running');
  page.runsTimer = setTimeout(refreshRuns, busy ? 700 : 15000);
}

// The player's "Compare with" menu: the other finished runs over the same datasets.
function showCompareChoices() {
  const pick = $('#compare-with');
  const current = page.runs.find((r) => r.id === page.watchingId);
  const data = (r) => (r.datasets || [r.dataset]).join(' + ');
  const others = current ? page.runs.filter((r) => r.id !== current.id && r.status === 'done' && data(r) === data(current)) : [];
  $('#compare-pick').hidden = others.length === 0;
  const key = `${page.watchingId}:${others.map((r) => r.id).join(',')}`;
  if (pick.dataset.key === key) return;  // unchanged: leave an open menu alone
  pick.dataset.key = key;
  const label = (r) => `${strategyLabel(r)} ${Object.entries(r.params || {}).map(([k, v]) => `${k}=${v}`).join(' ')} · ${r.id}`;
  pick.replaceChildren(new Option('another run…', ''), ...others.map((r) => new Option(label(r), r.id)));
}

async function deleteRun(id) {
  if (!confirm(`Delete run ${id}?`)) return;
  try {
    await api.deleteBacktest(id);
    if (page.watchingId === id) navigate('/');
    await refreshRuns();
  } catch (e) {
    showError(`Could not delete the run: ${describeError(e)}`);
  }
}

// --- routes ---------------------------------------------------------------------------------------

// What the sweep pages need from the page.
function sweepEnv() {
  return {
    navigate,
    datasets: () => page.datasets,
    strategies: () => page.strategies,
    onError: showError,
    clearError,
  };
}

function navigate(path) {
  if (location.pathname + location.search !== path) history.pushState({}, '', path);
  route();
}

function route() {
  const match = location.pathname.match(/^\/runs\/([^/]+)\/?$/);
  const editing = location.pathname.match(/^\/editor(?:\/([^/]*))?\/?$/);
  const params = new URLSearchParams(location.search);
  const id = match ? decodeURIComponent(match[1]) : null;
  const comparing = location.pathname.match(/^\/compare\/?$/);
  page.watcher?.close();
  page.watcher = null;
  page.comparison?.close();
  page.comparison = null;
  const sweeping = location.pathname.match(/^\/sweeps(?:\/([^/]+))?\/?$/);
  page.sweepsPage.close();
  page.sweepView?.close();
  page.sweepView = null;
  $('#nav-sweeps').toggleAttribute('aria-current', !!sweeping);
  page.watchingId = id;
  for (const row of document.querySelectorAll('#runs tbody tr')) row.classList.toggle('current', row.dataset.id === id);
  $('#nav-editor').toggleAttribute('aria-current', !!editing);
  if (editing) {
    const name = editing[1] ? decodeURIComponent(editing[1]) : null;
    $('#player').hidden = true;
    $('#welcome').hidden = true;
    document.title = `${name || 'New script'} — strategy editor — tapedeck`;
    clearError();
    page.editor.open(name, {
      version: Number(params.get('version')) || undefined,
      line: Number(params.get('line')) || undefined,
      msg: params.get('msg') || undefined,
    });
    return;
  }
  page.editor.close();
  if (sweeping) {
    $('#player').hidden = true;
    $('#welcome').hidden = true;
    clearError();
    if (sweeping[1]) {
      page.sweepView = new SweepView(decodeURIComponent(sweeping[1]), sweepEnv());
      page.sweepView.open();
    } else {
      document.title = 'Sweeps — tapedeck';
      page.sweepsPage.open();
    }
    return;
  }
  if (comparing) {
    $('#player').hidden = true;
    $('#welcome').hidden = true;
    clearError();
    const a = params.get('a');
    const b = params.get('b');
    if (!a || !b) {
      $('#welcome').hidden = false;
      showError('A comparison needs two runs: /compare?a=RUN&b=RUN');
      return;
    }
    document.title = 'Comparing two runs — tapedeck';
    page.comparison = new Comparison({
      a, b,
      at: params.get('at'),
      speed: params.get('speed'),
      transport: params.get('transport') === 'sse' ? 'sse' : 'auto',
      onError: showError,
      onTitle: (title) => { document.title = `${title} — tapedeck`; },
    });
    page.comparison.open();
    return;
  }
  if (!id) {
    $('#player').hidden = true;
    $('#welcome').hidden = false;
    document.title = 'tapedeck';
    return;
  }
  clearError();
  $('#run-title').textContent = `Run ${id}`;
  showCompareChoices();
  page.watcher = new Watcher(id, {
    at: params.get('at'),
    speed: params.get('speed'),
    transport: params.get('transport') === 'sse' ? 'sse' : 'auto',
    onError: showError,
    onTitle: (title) => {
      $('#run-title').textContent = title;
      document.title = `${title} — tapedeck`;
    },
    onLink: (path) => {
      if (location.pathname + location.search !== path) history.replaceState({}, '', path);
    },
  });
  page.watcher.open();
}

async function copyLink() {
  if (!page.watcher) return;
  const url = page.watcher.link();
  history.replaceState({}, '', new URL(url).pathname + new URL(url).search);
  try {
    await navigator.clipboard.writeText(url);
    $('#copy-done').textContent = 'copied';
  } catch {
    $('#copy-done').textContent = 'in the address bar';
  }
  $('#copy-done').hidden = false;
  setTimeout(() => { $('#copy-done').hidden = true; }, 2000);
}

// --- access token ---------------------------------------------------------------------------------

// A link may carry the token as #token=…: keep it for this tab and take it out of the address, so
// it is not copied along with a link to a bar.
function takeTokenFromAddress() {
  const m = location.hash.match(/(?:^#|&)token=([^&]*)/);
  if (!m) return;
  auth.setToken(decodeURIComponent(m[1]));
  history.replaceState(history.state, '', location.pathname + location.search);
}

function askForToken() {
  $('#auth').hidden = false;
  $('#token').focus();
}

function useToken(ev) {
  ev.preventDefault();
  auth.setToken($('#token').value.trim());
  location.reload();
}

// --- start ----------------------------------------------------------------------------------------

async function start() {
  takeTokenFromAddress();
  auth.onUnauthorized(askForToken);
  $('#auth').addEventListener('submit', useToken);
  $('#error-close').addEventListener('click', clearError);
  $('#run-form').addEventListener('submit', submitRun);
  $('#strategy').addEventListener('change', showStrategy);
  $('#dataset').addEventListener('change', showDatasetInfo);
  $('#add-dataset').addEventListener('click', () => addDatasetRow($('#more-datasets'), page.datasets, $('#dataset').value));
  $('#upload-button').addEventListener('click', upload);
  $('#runs-refresh').addEventListener('click', refreshRuns);
  $('#copy-link').addEventListener('click', copyLink);
  $('#compare-with').addEventListener('change', () => {
    const other = $('#compare-with').value;
    if (other && page.watchingId) navigate(`/compare?a=${encodeURIComponent(page.watchingId)}&b=${encodeURIComponent(other)}`);
  });
  for (const [link, path] of [['#home', '/'], ['#nav-runs', '/'], ['#nav-sweeps', '/sweeps'], ['#nav-editor', '/editor'],
    ['#welcome-editor', '/editor'], ['#welcome-sweeps', '/sweeps']]) {
    $(link).addEventListener('click', (ev) => {
      if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
      ev.preventDefault();
      navigate(path);
    });
  }
  page.editor = new StrategyEditor({
    navigate,
    replace: (path) => {
      if (location.pathname + location.search !== path) history.replaceState({}, '', path);
    },
    openRun: (id) => {
      refreshRuns();
      navigate(`/runs/${encodeURIComponent(id)}`);
    },
    saved: () => loadStrategies().catch(() => {}),
    datasets: () => page.datasets,
    setupError: showSetupError,
  });
  page.sweepsPage = new SweepsPage(sweepEnv());
  window.addEventListener('popstate', route);
  route();
  // The chart library is not among the page's own modules (it comes from the server's
  // node_modules): when it is missing, the form still works and the page says what is wrong.
  loadChartLibrary().catch((e) => showSetupError(describeError(e)));
  try {
    await Promise.all([loadDatasets(), loadStrategies()]);
    if (!$('#sweeps').hidden) page.sweepsPage.fillMenus();
  } catch (e) {
    showError(`Could not load the datasets and strategies: ${describeError(e)}`);
    markMenusUnavailable();
  }
  await refreshRuns();
  document.body.dataset.ready = '1';
}

start();
