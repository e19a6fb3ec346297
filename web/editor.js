// The strategy editor (/editor, /editor/{name}): a Lua script in a code editor (CodeMirror 5, from
// npm, served at /vendor/codemirror/), saved as immutable versions (POST /strategies), and run on a
// dataset (POST /backtests with "name@version") before the player opens on the run.
//
// Where the server says a script is wrong — a save's 400 VALIDATION (details.line, details.msg) or
// a failed run's error {msg, cause, line, bar_time} — the editor marks that line: a marker in the
// gutter, the line tinted, the message under it, and the message in words above the editor.
// Ctrl+S (⌘S on a Mac) saves from anywhere on the page while the editor is shown.

import { api, describeError } from './api.js';
import {
  $, addDatasetRow, datasetSpec, el, fillDatasetRows, markField, readParams, renderParams, runErrorAtLine, runErrorText,
} from './ui.js';

const kCss = '/vendor/codemirror/codemirror.css';
const kScript = '/vendor/codemirror/codemirror.js';
const kLuaMode = '/vendor/codemirror-lua/lua.js';
const kNamePattern = /^[A-Za-z0-9_-]{1,64}$/;
const kPollMs = 300;

// What "New script" starts from: the SMA crossover, plotting its two means and noting each cross.
export const kNewScript = `-- SMA crossover: long while the fast mean of closes is above the slow one, flat otherwise.
params = {
  fast = {default = 10, min = 1, max = 1000, int = true},
  slow = {default = 30, min = 2, max = 1000, int = true},
}

local fast, slow

function init()
  fast, slow = ta.sma(params.fast), ta.sma(params.slow)
end

function on_bar(bar)
  local f, s = fast(bar.close), slow(bar.close)
  plot("fast", f)
  plot("slow", s)
  if s == nil then return end
  if f > s and position() <= 0 then
    buy()
    log("fast crossed above slow at " .. bar.close)
  elseif f < s and position() > 0 then
    sell()
    log("fast crossed below slow at " .. bar.close)
  end
end
`;

// --- the library ----------------------------------------------------------------------------

let loading = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = el('script', { src });
    script.addEventListener('load', resolve);
    script.addEventListener('error', () => reject(new Error(`${src} did not load`)));
    document.head.append(script);
  });
}

// Resolves with CodeMirror once it and its Lua mode are loaded (classic scripts: CodeMirror 5 is
// one UMD file, which sets window.CodeMirror). Rejects with what is missing and how to get it.
export function loadEditorLibrary() {
  loading ??= (async () => {
    document.head.append(el('link', { rel: 'stylesheet', href: kCss }));
    await loadScript(kScript);
    await loadScript(kLuaMode);
    if (!window.CodeMirror || !window.CodeMirror.modes.lua) throw new Error('CodeMirror has no Lua mode');
    return window.CodeMirror;
  })().catch(async (e) => {
    loading = null;  // try again on the next visit
    let status = 0;
    try {
      status = (await fetch(kScript, { method: 'HEAD' })).status;
    } catch {
      // The server is away: the load error says so.
    }
    if (status === 404) {
      throw new Error(`The code editor (codemirror) is missing on the server: ${kScript} answered 404, ` +
        'so scripts cannot be edited here. Install it with `npm ci` in the server\'s source tree (or ' +
        'run scripts/bootstrap.sh), then reload this page.');
    }
    throw new Error(`The code editor did not load from ${kScript}${status ? ` (HTTP ${status})` : ''}: ${e.message}`);
  });
  return loading;
}

// --- the editor -----------------------------------------------------------------------------

export class StrategyEditor {
  // on: {navigate(path), replace(path) (the address, without a new history entry), openRun(id),
  // saved() (the list of strategies changed), datasets() (GET /datasets, as the page has it),
  // setupError(text)}.
  constructor(on) {
    this.on = on;
    this.cm = null;
    this.current = null;   // the version shown: GET /strategies/{name} (or a save's answer)
    this.dirty = false;    // the source differs from `current`
    this.settingDoc = false;
    this.marks = [];       // what markError added, removed by clearMarks
    this.gen = 0;          // bumped by each open/close: a late answer for an older one is dropped
    this.busy = false;
    this.bound = false;
  }

  // Shows the editor with script `name` (its latest version), or a new script when name is null.
  // at: {version, line, msg} (from a failed run's link): that version, with that line marked.
  async open(name, at = {}) {
    const gen = ++this.gen;
    $('#editor').hidden = false;
    this.bind();
    this.clearMarks();
    this.setStatus('');
    $('#script-run-status').textContent = '';
    this.fillDatasets();
    let CodeMirror;
    try {
      CodeMirror = await loadEditorLibrary();
    } catch (e) {
      if (gen !== this.gen) return;
      this.on.setupError(e.message);
      this.showMessage(e.message);
      $('#script-save').disabled = true;
      $('#script-run-button').disabled = true;
      return;
    }
    if (gen !== this.gen) return;
    $('#script-save').disabled = false;
    $('#script-run-button').disabled = false;
    if (!this.cm) this.createEditor(CodeMirror);
    this.listScripts(name);
    if (!name) {
      this.show(null, kNewScript);
      $('#script-name').focus();
      return;
    }
    try {
      const strategy = await api.strategy(name, at.version);
      if (gen !== this.gen) return;
      this.show(strategy, strategy.source);
      if (at.line) this.markError(at.line, at.msg || 'the run failed here', 'run');
    } catch (e) {
      if (gen !== this.gen) return;
      this.show(null, kNewScript);
      $('#script-name').value = name;
      this.showMessage(e.code === 'NOT_FOUND' || e.status === 404
        ? `There is no saved script named "${name}": this is a new one.`
        : `Could not open ${name}: ${describeError(e)}`);
    }
  }

  close() {
    ++this.gen;
    $('#editor').hidden = true;
  }

  // Picks up a dataset uploaded or the list loaded after the editor opened.
  fillDatasets() {
    const pick = $('#script-dataset');
    const keep = pick.value;
    const datasets = this.on.datasets();
    pick.replaceChildren(...datasets.map((d) => new Option(`${d.name} (${d.symbol})`, d.name)));
    if (keep && datasets.some((d) => d.name === keep)) pick.value = keep;
    fillDatasetRows($('#script-more-datasets'), datasets);
  }

  createEditor(CodeMirror) {
    this.cm = CodeMirror($('#code'), {
      value: '',
      mode: 'lua',
      lineNumbers: true,
      indentUnit: 2,
      tabSize: 2,
      gutters: ['CodeMirror-linenumbers', 'error-gutter'],
      screenReaderLabel: 'Strategy source (Lua)',
      // Tab leaves the editor as it leaves any field (keyboard users are not trapped); Ctrl+] and
      // Ctrl+[ indent, and Enter indents by itself.
      extraKeys: { Tab: false, 'Shift-Tab': false },
    });
    this.cm.on('change', () => {
      if (this.settingDoc) return;
      this.dirty = true;
      this.setStatus(this.current ? `unsaved changes to version ${this.current.version}` : 'not saved yet');
    });
  }

  bind() {
    if (this.bound) return;
    this.bound = true;
    $('#script-save').addEventListener('click', () => this.save());
    $('#script-add-dataset').addEventListener('click', () => addDatasetRow($('#script-more-datasets'), this.on.datasets(), $('#script-dataset').value));
    $('#script-run').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.run();
    });
    $('#script-pick').addEventListener('change', () => {
      const name = $('#script-pick').value;
      if (this.dirty && !confirm('Leave this script? Its unsaved changes will be lost.')) {
        $('#script-pick').value = this.current ? this.current.name : '';
        return;
      }
      this.on.navigate(name ? `/editor/${encodeURIComponent(name)}` : '/editor');
    });
    $('#script-version').addEventListener('change', () => this.openVersion(Number($('#script-version').value)));
    document.addEventListener('keydown', (ev) => {
      if ($('#editor').hidden || !(ev.ctrlKey || ev.metaKey) || ev.altKey) return;
      if (ev.key.toLowerCase() !== 's') return;
      ev.preventDefault();  // not the browser's "save page"
      this.save();
    });
  }

  // The saved scripts in the picker, `selected` chosen ("New script" when null).
  async listScripts(selected) {
    let scripts = [];
    try {
      scripts = (await api.strategies()).filter((s) => s.kind === 'script');
    } catch (e) {
      this.showMessage(`Could not list the saved scripts: ${describeError(e)}`);
    }
    const pick = $('#script-pick');
    pick.replaceChildren(new Option('New script', ''),
      ...scripts.map((s) => new Option(`${s.name} (version ${s.version})`, s.name)));
    pick.value = selected && scripts.some((s) => s.name === selected) ? selected : '';
  }

  // Puts `source` in the editor as version `strategy` (null: a new, unsaved script).
  show(strategy, source) {
    this.current = strategy;
    this.settingDoc = true;
    this.cm.setValue(source);
    this.cm.clearHistory();
    this.settingDoc = false;
    this.dirty = !strategy;
    $('#script-name').value = strategy ? strategy.name : '';
    markField($('#editor'), null);
    this.showVersions(strategy);
    this.showParams(strategy);
    const when = strategy && strategy.created ? `, saved ${strategy.created.slice(0, 16).replace('T', ' ')} UTC` : '';
    this.setStatus(strategy ? `version ${strategy.version}${when}` : 'not saved yet');
    $('#editor').dataset.version = strategy ? String(strategy.version) : '';
    requestAnimationFrame(() => this.cm.refresh());  // it may have been laid out while hidden
  }

  showVersions(strategy) {
    const pick = $('#script-version');
    const versions = strategy && strategy.versions ? strategy.versions : [];
    pick.replaceChildren(...[...versions].sort((a, b) => b.version - a.version).map((v) =>
      new Option(`${v.version}${v.created ? ` — ${v.created.slice(0, 16).replace('T', ' ')}` : ''}`, String(v.version))));
    pick.disabled = versions.length === 0;
    if (strategy) pick.value = String(strategy.version);
  }

  // The run form's parameters from the version's schema, keeping values typed for the same names.
  showParams(strategy) {
    const fieldset = $('#script-params');
    if (!strategy) {
      for (const node of [...fieldset.querySelectorAll('label, p')]) node.remove();
      fieldset.append(el('p', { class: 'hint' }, 'Save the script to see its parameters.'));
      return;
    }
    const typed = readParams(fieldset);
    renderParams(fieldset, strategy);
    for (const input of fieldset.querySelectorAll('input[name^="params."]')) {
      const name = input.name.slice('params.'.length);
      if (name in typed) input.value = String(typed[name]);
    }
  }

  async openVersion(version) {
    if (!this.current || !version || version === this.current.version) return;
    if (this.dirty && !confirm(`Open version ${version}? Unsaved changes will be lost.`)) {
      $('#script-version').value = String(this.current.version);
      return;
    }
    try {
      const strategy = await api.strategy(this.current.name, version);
      this.clearMarks();
      this.show(strategy, strategy.source);
    } catch (e) {
      this.showMessage(`Could not open version ${version}: ${describeError(e)}`);
    }
  }

  // Saves the editor's source as the next version. Resolves with the saved strategy, or null when
  // the server refused it (the reason is shown and, when it has one, its line marked).
  async save() {
    if (this.busy || !this.cm) return null;
    const nameInput = $('#script-name');
    const name = nameInput.value.trim();
    markField($('#editor'), null);
    this.clearMarks();
    if (!kNamePattern.test(name)) {
      this.showMessage('Give the script a name: 1 to 64 letters, digits, _ or -.');
      markField($('#editor'), 'script-name');
      return null;
    }
    this.busy = true;
    this.setStatus('saving…');
    const gen = this.gen;
    try {
      const saved = await api.saveStrategy(name, this.cm.getValue());
      if (gen !== this.gen) return null;
      const unchanged = this.current && this.current.name === saved.name && this.current.version === saved.version;
      let full = saved;
      try {
        full = { ...saved, ...(await api.strategy(saved.name, saved.version)) };
      } catch {
        // The versions list stays as it was; the save itself went through.
      }
      this.current = full;
      this.dirty = false;
      this.showVersions(full);
      this.showParams(full);
      $('#editor').dataset.version = String(saved.version);
      this.setStatus(unchanged ? `no changes: still version ${saved.version}` : `saved as version ${saved.version}`);
      this.on.replace(`/editor/${encodeURIComponent(saved.name)}`);
      this.listScripts(saved.name);
      this.on.saved();
      return full;
    } catch (e) {
      if (gen !== this.gen) return null;
      this.setStatus('not saved');
      const details = e.details || {};
      if (e.code === 'VALIDATION' && details.line) {
        this.markError(details.line, details.msg || e.message);
      } else {
        this.showMessage(`Could not save: ${describeError(e)}`);
        if (details.field === 'name') markField($('#editor'), 'script-name');
      }
      return null;
    } finally {
      this.busy = false;
    }
  }

  // Saves what is in the editor when it changed, then runs that version on the chosen dataset,
  // shows its progress, and opens the player once it is done. A failed run is shown at its line.
  async run() {
    if (this.busy) return;
    const form = $('#script-run');
    markField(form, null);
    let strategy = this.current;
    if (!strategy || this.dirty || strategy.name !== $('#script-name').value.trim()) {
      strategy = await this.save();
      if (!strategy) return;
    }
    this.clearMarks();
    const status = $('#script-run-status');
    const button = $('#script-run-button');
    const gen = this.gen;
    button.disabled = true;
    try {
      const created = await api.createBacktest({
        ...datasetSpec($('#script-dataset').value, $('#script-more-datasets')),
        strategy: `${strategy.name}@${strategy.version}`,
        params: readParams($('#script-params')),
      });
      status.textContent = 'queued…';
      for (;;) {
        const run = await api.backtest(created.id);
        if (gen !== this.gen) return;
        if (run.status === 'done') {
          status.textContent = '';
          this.on.openRun(created.id);
          return;
        }
        if (run.status === 'failed') {
          status.textContent = 'the run failed';
          const error = run.error && typeof run.error === 'object' ? run.error : { msg: run.error };
          if (error.line) this.markError(error.line, runErrorAtLine(error), 'run');
          else this.showMessage(`The run failed: ${runErrorText(error)}`);
          return;
        }
        status.textContent = run.status === 'running' ? `running… ${Math.round((run.progress || 0) * 100)}%` : 'queued…';
        await new Promise((resolve) => setTimeout(resolve, kPollMs));
      }
    } catch (e) {
      if (gen !== this.gen) return;
      status.textContent = '';
      this.showMessage(`Could not run it: ${describeError(e)}`);
      const field = e.details && e.details.field;
      if (field) markField(form, field);  // dataset, datasets, params.x
    } finally {
      button.disabled = false;
    }
  }

  // --- messages and marks -------------------------------------------------------------------

  setStatus(text) {
    $('#script-status').textContent = text;
  }

  showMessage(text) {
    const box = $('#script-error');
    box.textContent = text;
    box.hidden = !text;
    delete box.dataset.line;
  }

  // Marks `line` (1-based) with `msg`: in the gutter, tinted, the message under the line, and in
  // words above the editor. `kind`: 'save' (the server refused the script) or 'run' (it failed).
  markError(line, msg, kind = 'save') {
    line = Number(line);  // a VALIDATION error's details are strings
    this.clearMarks();
    const cm = this.cm;
    const at = Math.min(Math.max(1, line), cm.lineCount()) - 1;
    const marker = el('span', {
      class: 'error-marker', 'data-line': line, title: msg, role: 'img', 'aria-label': `error on line ${line}`,
    }, '●');
    cm.setGutterMarker(at, 'error-gutter', marker);
    const handle = cm.addLineClass(at, 'background', 'error-line');
    const widget = cm.addLineWidget(at, el('div', { class: 'error-widget', 'data-line': line }, msg),
      { noHScroll: true });
    this.marks.push(() => {
      cm.setGutterMarker(handle, 'error-gutter', null);
      cm.removeLineClass(handle, 'background', 'error-line');
      widget.clear();
    });
    const box = $('#script-error');
    box.textContent = `${kind === 'run' ? 'The run failed at' : 'Not saved:'} line ${line}: ${msg}`;
    box.dataset.line = String(line);
    box.hidden = false;
    $('#editor').dataset.errorLine = String(line);
    cm.scrollIntoView({ line: at, ch: 0 }, 80);
  }

  clearMarks() {
    for (const undo of this.marks) undo();
    this.marks = [];
    delete $('#editor').dataset.errorLine;
    this.showMessage('');
  }
}
