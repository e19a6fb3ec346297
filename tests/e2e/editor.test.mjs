// End-to-end test of the strategy editor and of plots and logs in the player: a real
// `tapedeck serve` driven by Debian's Chromium (see harness.mjs). A strategy is written in the
// editor by keyboard, refused at the line of its syntax error before anything runs, fixed, saved
// as versions, run, and watched: its plot series move as the run plays, survive a seek, and its log
// messages are listed at their bars. A script that fails while running is marked at its line.
// Run: node --test tests/e2e/

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launchBrowser, outDir, source, startServer, stopServer, until } from './harness.mjs';

let server;
let base;
let work;
let context;
let page;
const pageErrors = [];

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'tapedeck-e2e-editor-'));
  const started = await startServer(work);
  server = started.proc;
  base = started.url;
  context = await launchBrowser(path.join(work, 'profile'));
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
});

after(async () => {
  await context?.close();
  await stopServer(server);
  if (work) rmSync(work, { recursive: true, force: true });
});

const text = (sel) => page.locator(sel).innerText();
const getJson = async (p) => (await fetch(base + p)).json();
const plotValue = (name) => text(`#plot-legend [data-plot="${name}"] .value`);
const plotPoints = async (name) =>
  Number(await page.locator(`#plot-legend [data-plot="${name}"]`).getAttribute('data-points'));

// Line 7 lacks a comma: a syntax error at that line.
const kBroken = `-- written by the end-to-end test
params = { fast = {default=5, min=1, max=100, int=true}, slow = {default=20, min=2, max=200, int=true} }
local fast, slow
function init() fast, slow = ta.sma(params.fast), ta.sma(params.slow) end
function on_bar(bar)
  local f, s = fast(bar.close), slow(bar.close)
  plot("fast", f) plot("slow" s)
  plot("gap", f and s and f - s, {pane="own"})
  if s == nil then return end
  if f > s and position() <= 0 then buy() log("crossed up at " .. bar.close)
  elseif f < s and position() > 0 then sell() log("crossed down at " .. bar.close) end
end`;

// Replaces everything in the editor with `source`, as typed (one input, as a paste would be).
async function typeSource(source) {
  await page.locator('.CodeMirror').click();
  await page.keyboard.press('Control+a');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(source);
}

// Goes to line `n` (1-based) of the editor and puts the cursor at its end, by keyboard.
async function goToLineEnd(n) {
  await page.locator('.CodeMirror').click();
  await page.keyboard.press('Control+Home');
  for (let k = 1; k < n; ++k) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
}

test('the editor page loads CodeMirror with Lua highlighting and starts from the SMA crossover', async () => {
  const lib = await fetch(base + '/vendor/codemirror/codemirror.js');
  assert.equal(lib.status, 200);
  assert.match(lib.headers.get('content-type'), /javascript/);
  assert.equal((await fetch(base + '/vendor/codemirror-lua/lua.js')).status, 200);
  assert.equal((await fetch(base + '/vendor/codemirror/%2e%2e/package.json')).status, 404);
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]');
  await page.click('#nav-editor');
  await page.waitForURL(/\/editor$/);
  await page.waitForSelector('#editor .CodeMirror');
  assert.equal(await page.locator('#player').isHidden(), true);
  // A real code editor, highlighting Lua's keywords; a new script is the SMA crossover.
  assert.ok((await page.locator('#editor .CodeMirror .cm-keyword').count()) > 5, 'keywords highlighted');
  assert.match(await page.locator('#editor .CodeMirror-code').innerText(), /SMA crossover/);
  assert.equal(await page.locator('#script-pick').inputValue(), '');
  // A reload of the editor's address is the page too.
  assert.equal((await fetch(base + '/editor/anything')).status, 200);
});

test('a syntax error is shown at its line before anything runs', async () => {
  await page.fill('#script-name', 'e2e_sma');
  await typeSource(kBroken);
  await page.keyboard.press('Control+s');  // from inside the editor
  await page.waitForSelector('#editor[data-error-line]');
  assert.equal(await page.locator('#editor').getAttribute('data-error-line'), '7');
  assert.match(await text('#script-error'), /line 7/);
  // The gutter of line 7 carries the marker, and the message sits under that line.
  const line7 = page.locator('.CodeMirror-code > div').nth(6);
  assert.equal(await line7.locator('.error-marker').count(), 1);
  assert.match(await line7.innerText(), /plot\("slow" s\)/);
  const msg = await page.locator('.error-widget[data-line="7"]').innerText();
  assert.ok(msg.length > 0, 'the message is under the line');
  assert.equal(await page.locator('.error-marker').count(), 1);
  // Nothing was saved, and nothing ran.
  assert.equal((await fetch(base + '/strategies/e2e_sma')).status, 404);
  assert.deepEqual(await getJson('/backtests'), []);
});

test('fixed, it saves as version 1; each further save is a new version, shown', async () => {
  await goToLineEnd(7);
  for (let k = 0; k < 2; ++k) await page.keyboard.press('ArrowLeft');
  await page.keyboard.type(',');
  await page.keyboard.press('Control+s');
  await until(async () => (await page.locator('#editor').getAttribute('data-version')) === '1', 'version 1');
  assert.equal(await page.locator('.error-marker').count(), 0, 'the mark is gone');
  assert.equal(await page.locator('#script-error').isHidden(), true);
  assert.match(await text('#script-status'), /saved as version 1/);
  assert.equal(new URL(page.url()).pathname, '/editor/e2e_sma');
  // The run form's parameters come from the script's params table.
  const fast = page.locator('#script-params input[name="params.fast"]');
  assert.equal(await fast.inputValue(), '5');
  assert.equal(await fast.getAttribute('min'), '1');
  assert.equal(await fast.getAttribute('max'), '100');
  assert.equal(await fast.getAttribute('step'), '1');
  assert.equal(await page.locator('#script-params input[name="params.slow"]').inputValue(), '20');

  // The same source again: still version 1. A change: version 2, and both are listed.
  await page.click('#script-save');
  await until(async () => /no changes: still version 1/.test(await text('#script-status')), 'unchanged');
  await page.locator('.CodeMirror').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.type('-- version two');
  assert.match(await text('#script-status'), /unsaved changes/);
  await page.keyboard.press('Control+s');
  await until(async () => (await page.locator('#editor').getAttribute('data-version')) === '2', 'version 2');
  assert.deepEqual(await page.locator('#script-version option').evaluateAll((o) => o.map((x) => x.value)), ['2', '1']);
  const saved = await getJson('/strategies/e2e_sma');
  assert.equal(saved.version, 2);
  assert.match(saved.source, /-- version two$/);
  // The new-run form offers the script too.
  assert.ok((await page.locator('#strategy option[value="e2e_sma"]').count()) === 1);
});

let runId;

test('run from the editor: the player opens and its plot series move as it plays', async () => {
  mkdirSync(outDir, { recursive: true });
  await page.fill('#script-params input[name="params.fast"]', '3');
  await page.selectOption('#script-dataset', 'sp500');
  await page.screenshot({ path: path.join(outDir, 'editor.png'), fullPage: true });
  await page.click('#script-run-button');
  await page.waitForURL(/\/runs\/[0-9a-f]+/, { timeout: 30000 });
  runId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
  const run = await getJson(`/backtests/${runId}`);
  assert.equal(run.strategy, 'e2e_sma');
  assert.equal(run.strategy_version, 2);
  assert.equal(run.params.fast, 3);
  assert.deepEqual(run.plots, [{ name: 'fast', pane: 'price' }, { name: 'slow', pane: 'price' },
    { name: 'gap', pane: 'own' }]);
  await until(async () => (await text('#play-state')) === 'playing', 'playing');
  assert.match(await text('#run-title'), /e2e_sma@2/);
  // Every series is in the legend, the own-pane one marked so.
  assert.equal(await page.locator('#plot-legend [data-plot]').count(), 3);
  assert.equal(await page.locator('#plot-legend [data-plot="gap"]').getAttribute('data-pane'), 'own');
  // The values move as it plays: several different values of `fast` one after the other.
  const seen = new Set();
  await until(async () => {
    const v = await plotValue('fast');
    if (v !== '—') seen.add(v);
    return seen.size >= 4;
  }, 'fast to take four values', 30000);
  await until(async () => (await plotValue('gap')) !== '—', 'gap plotted');
  await until(async () => (await plotPoints('slow')) > 5, 'slow drawn on the chart');
});

test('log messages are listed at their bars as it plays', async () => {
  await until(async () => (await page.locator('#logs li').count()) > 0, 'a log message', 30000);
  const first = page.locator('#logs li').first();
  assert.match(await first.locator('.msg').innerText(), /^crossed (up|down) at \d/);
  // Shown at its bar: not after the position.
  const ts = Date.parse(await first.getAttribute('data-ts'));
  assert.ok(ts <= Date.parse(await page.locator('#chart').getAttribute('data-last-bar')) + 1000);
});

test('a seek rebuilds the plots and the log from the history; a new speed goes on from there', async () => {
  await page.click('#play');
  await until(async () => (await text('#play-state')) === 'paused', 'paused');
  const max = Number(await page.locator('#seek').getAttribute('max'));
  await page.locator('#seek').evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, Math.floor(max * 0.6));
  await until(async () => (await page.locator('#chart').getAttribute('data-last-bar')).startsWith('201'),
    'the seek to be drawn');
  await until(async () => (await plotPoints('fast')) > 500, 'fast redrawn from the history');
  assert.ok((await plotPoints('gap')) > 500, 'gap redrawn from the history');
  const at = Date.parse(await page.locator('#chart').getAttribute('data-last-bar'));
  const times = await page.locator('#logs li').evaluateAll((li) => li.map((x) => Date.parse(x.dataset.ts)));
  assert.ok(times.length > 3, `${times.length} messages up to the position`);
  assert.ok(times.every((t) => t <= at + 1000), 'no message from after the position');
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'in order');
  await page.screenshot({ path: path.join(outDir, 'plots.png'), fullPage: true });

  // At another speed the series go on from there.
  const points = await plotPoints('fast');
  const value = await plotValue('fast');
  await page.click('#speeds button[data-speed="600"]');
  await page.click('#play');
  await until(async () => (await plotPoints('fast')) > points + 10 && (await plotValue('fast')) !== value,
    'fast to go on at 600×');
  await page.click('#play');
});

test('a script that fails while running is shown at its line, with the bar', async () => {
  await page.goto(base + '/editor');
  await page.waitForSelector('#editor .CodeMirror');
  await page.fill('#script-name', 'e2e_fails');
  await typeSource(`params = {}
function on_bar(bar)
  if bar.index == 50 then error("boom at fifty") end
end`);
  await page.click('#script-run-button');  // saves, then runs
  await page.waitForSelector('#editor[data-error-line="3"]', { timeout: 30000 });
  assert.match(await text('#script-error'), /The run failed at line 3/);
  assert.match(await text('#script-error'), /boom at fifty/);
  assert.match(await text('#script-error'), /at bar 2000-/);
  assert.equal(await page.locator('.CodeMirror-code > div').nth(2).locator('.error-marker').count(), 1);
  assert.match(new URL(page.url()).pathname, /^\/editor/, 'the player did not open');
  const failed = (await getJson('/backtests')).find((r) => r.strategy === 'e2e_fails');
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error.line, 3);

  // Opened in the player, the failed run says why and links to its line in the editor.
  await page.goto(`${base}/runs/${failed.id}`);
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await text('#error-text'), /failed: line 3, at bar 2000-.*boom at fifty/);
  await page.click('#error-edit');
  await page.waitForSelector('#editor[data-error-line="3"]');
  assert.equal(new URL(page.url()).pathname, '/editor/e2e_fails');
  assert.match(await page.locator('.error-widget[data-line="3"]').innerText(), /boom at fifty \(at bar 2000-/);
});

test('a built-in strategy plots its own indicators the same way', async () => {
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]');
  await page.selectOption('#strategy', 'sma_cross');
  await page.click('#run-button');
  await page.waitForURL(/\/runs\/[0-9a-f]+/);
  await until(async () => (await page.locator('#plot-legend [data-plot]').count()) === 2, 'two series');
  const seen = new Set();
  await until(async () => {
    const v = await plotValue('slow');
    if (v !== '—') seen.add(v);
    return seen.size >= 3;
  }, 'slow to move', 30000);
});

test('the editor runs a script over several datasets: rotation trades both symbols', async () => {
  // The sample upside down (1e6 / price), as dataset "inverse" of symbol INV: when one rises the
  // other falls, so a rotation between them switches again and again.
  const rows = readFileSync(path.join(source, 'node_modules/vega-datasets/data/sp500-2000.csv'), 'utf8')
    .trim().split('\n').slice(1).map((line) => line.split(','));
  const inv = (x) => (1e6 / Number(x)).toFixed(4);
  const csv = 'time,open,high,low,close,volume\n' +
    rows.map(([d, o, h, l, c]) => `${d}T00:00:00Z,${inv(o)},${inv(l)},${inv(h)},${inv(c)},1000`).join('\n') + '\n';
  const up = await fetch(`${base}/datasets?name=inverse&symbol=INV`, {
    method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv' },
  });
  assert.equal(up.status, 201, await up.text());

  await page.goto(base + '/editor');  // a fresh page knows the new dataset
  await page.waitForSelector('#editor .CodeMirror');
  await page.fill('#script-name', 'e2e_rotation');
  await typeSource(readFileSync(path.join(source, 'examples/strategies/rotation.lua'), 'utf8'));
  await page.selectOption('#script-dataset', 'sp500');
  await page.click('#script-add-dataset');
  assert.equal(await page.locator('#script-more-datasets select').inputValue(), 'inverse');
  await page.click('#script-run-button');  // saves, then runs
  await page.waitForURL(/\/runs\/[0-9a-f]+/, { timeout: 30000 });
  const id = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
  const run = await getJson(`/backtests/${id}`);
  assert.deepEqual([run.strategy, run.datasets, run.symbols], ['e2e_rotation', ['sp500', 'inverse'], ['SPX', 'INV']]);
  const syms = new Set((await getJson(`/backtests/${id}/trades`)).map((t) => t.sym));
  assert.deepEqual([...syms].sort(), ['INV', 'SPX']);
  await until(async () => (await page.locator('#symbol option').count()) === 2, 'the symbol menu');
  assert.equal(await page.locator('#symbol-pick').getAttribute('hidden'), null);
  assert.deepEqual(await page.locator('#symbol option').allInnerTexts(), ['SPX', 'INV']);
  assert.match(await text('#run-title'), /e2e_rotation@1 on sp500 \+ inverse/);
});

test('no script errors on the page', () => {
  // Refused requests (the syntax error's 400, the unsaved script's 404) are part of the test.
  const real = pageErrors.filter((e) => !/^Failed to load resource: the server responded/.test(e));
  assert.deepEqual(real, []);
});
