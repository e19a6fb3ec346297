// End-to-end test of the sweep pages: a 3 × 3 sma_cross sweep started from the /sweeps form on
// the bundled sample, its results page (heatmap, trials sorted by the server, robustness in
// words, walk-forward), a heatmap cell opened in the player, and two cells compared in lockstep
// across a seek and a speed change. Run: node --test tests/e2e/
//
// Environment: see harness.mjs.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { outDir, until, withServerAndBrowser } from './harness.mjs';

let base;
let context;
const pageErrors = [];

withServerAndBrowser('tapedeck-e2e-sweep-', (s) => {
  base = s.url;
  context = s.context;
});

const text = (page, sel) => page.locator(sel).innerText();
const getJson = async (p) => (await fetch(base + p)).json();

async function newPage() {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) pageErrors.push(msg.text());
  });
  return page;
}

// Samples the comparison's two displayed times for `ms`: never more than one window apart.
async function sampleLockstep(page, ms, what) {
  const samples = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = await page.evaluate(() => ({
      a: Number(document.querySelector('#cmp-time-a').dataset.ms),
      b: Number(document.querySelector('#cmp-time-b').dataset.ms),
      speed: Number(document.querySelector('#cmp-speeds button.active')?.dataset.speed ?? 60),
    }));
    if (t.a && t.b) {
      const window = t.speed * 8760 / 30 * 1000;
      assert.ok(Math.abs(t.a - t.b) <= window, `${what}: A at ${new Date(t.a).toISOString()}, B at ${new Date(t.b).toISOString()}`);
      samples.push(t);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  return samples;
}

let sweepId;
let sweepUrl;

test('the /sweeps page is the page for a browser and JSON for the API', async () => {
  const html = await fetch(base + '/sweeps', { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  assert.equal(html.status, 200);
  assert.match(html.headers.get('content-type'), /text\/html/);
  const json = await fetch(base + '/sweeps');
  assert.equal(json.status, 200);
  assert.match(json.headers.get('content-type'), /application\/json/);
  assert.ok(Array.isArray(await json.json()));
});

test('a 3 × 3 sweep from the form: progress, heatmap, trials, robustness, walk-forward', async (t) => {
  const page = await newPage();
  await page.goto(base + '/sweeps');
  await page.waitForSelector('body[data-ready="1"]');
  await until(async () => (await page.locator('#sweep-params .param-row').count()) > 0, 'the parameter rows');

  await t.test('the form is built from the strategy\'s parameters', async () => {
    await page.selectOption('#sweep-dataset', 'sp500');
    await page.selectOption('#sweep-strategy', 'sma_cross');
    const fast = page.locator('#sweep-params [data-param="fast"]');
    await fast.locator('select').selectOption('range');
    await fast.locator('input[name="params.fast.from"]').fill('5');
    await fast.locator('input[name="params.fast.to"]').fill('15');
    await fast.locator('input[name="params.fast.step"]').fill('5');
    const slow = page.locator('#sweep-params [data-param="slow"]');
    await slow.locator('select').selectOption('list');
    await slow.locator('input[name="params.slow.list"]').fill('20, 40, 60');
    await page.fill('#sweep-form input[name="walk_forward.folds"]', '2');
    await page.fill('#sweep-form input[name="pbo_blocks"]', '8');
    assert.match(await text(page, '#sweep-count'), /^9 trials/);
  });

  await t.test('a bad value is refused in words', async () => {
    await page.fill('#sweep-form input[name="pbo_blocks"]', '7');
    await page.click('#sweep-button');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await text(page, '#error-text'), /VALIDATION.*pbo_blocks/);
    await page.fill('#sweep-form input[name="pbo_blocks"]', '8');
    await page.click('#error-close');
  });

  await t.test('it runs: the page shows its progress, then its results', async () => {
    await page.click('#sweep-button');
    await page.waitForURL(/\/sweeps\/[^/]+$/);
    sweepUrl = page.url();
    sweepId = decodeURIComponent(new URL(sweepUrl).pathname.split('/')[2]);
    await until(async () => (await page.locator('#sweep').getAttribute('data-status')) === 'done', 'the sweep done', 180000);
    assert.equal(await page.locator('#sweep-progress').evaluate((p) => p.value), 1);
    assert.match(await text(page, '#sweep-status-text'), /done: 9 trials ran/);
    const sweep = await getJson(`/sweeps/${sweepId}`);
    assert.equal(sweep.trials, 9);
    assert.match(await text(page, '#sweep-best'), new RegExp(`trial ${sweep.best.index}\\)`));
  });

  await t.test('the heatmap: 3 × 3 cells coloured by the objective, hover shows the statistics', async () => {
    assert.equal(await page.locator('#heatmap td.cell').count(), 9);
    assert.equal(await page.locator('#heat-x').inputValue(), 'fast');
    assert.equal(await page.locator('#heat-y').inputValue(), 'slow');
    const trials = (await getJson(`/sweeps/${sweepId}/trials?limit=100`)).trials;
    const cell = page.locator('#heatmap td.cell[data-x="10"][data-y="40"]');
    const k = Number(await cell.getAttribute('data-index'));
    assert.deepEqual({ fast: trials[k].params.fast, slow: trials[k].params.slow }, { fast: 10, slow: 40 });
    await cell.hover();
    await page.waitForSelector('#heat-tip:not([hidden])');
    const tip = await text(page, '#heat-tip');
    assert.match(tip, new RegExp(`trial ${k}: .*fast=10.*slow=40`));
    assert.match(tip, /return/);
    assert.match(tip, /max DD/);
    // Swapping the axes transposes the map.
    await page.selectOption('#heat-x', 'slow');
    await page.selectOption('#heat-y', 'fast');
    assert.equal(await page.locator('#heatmap td.cell[data-x="40"][data-y="10"]').getAttribute('data-index'), String(k));
  });

  await t.test('the trials table is sorted by the server', async () => {
    assert.equal(await page.locator('#trials tbody tr').count(), 9);
    await page.click('#trials th[data-sort="objective"]');
    const sorted = (await getJson(`/sweeps/${sweepId}/trials?sort=objective&order=desc&limit=100`)).trials.map((x) => String(x.index));
    await until(async () => JSON.stringify(await page.locator('#trials tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.index))) ===
      JSON.stringify(sorted), 'sorted by the objective, best first');
    await page.click('#trials th[data-sort="objective"]');
    await until(async () => (await page.locator('#trials tbody tr').first().getAttribute('data-index')) === sorted[sorted.length - 1],
      'sorted by the objective, worst first');
  });

  await t.test('robustness in words, and the walk-forward', async () => {
    const sweep = await getJson(`/sweeps/${sweepId}`);
    const pbo = await text(page, '#pbo-text');
    if (sweep.pbo.value === null) {
      assert.match(pbo, /could not be computed/);
    } else {
      assert.match(pbo, new RegExp(`^PBO ${sweep.pbo.value.toFixed(2)}: in ${Math.round(sweep.pbo.value * 100)}% of the ${sweep.pbo.combinations} ways`));
      assert.match(pbo, /best in-sample trial was below the median out of sample/);
    }
    const dsr = await text(page, '#dsr-text');
    if (sweep.dsr.value === null) assert.match(dsr, /could not be computed/);
    else assert.match(dsr, new RegExp(`^DSR ${sweep.dsr.value.toFixed(2)}: after allowing for having tried`));
    assert.equal(await page.locator('#walk-forward').isHidden(), false);
    assert.equal(await page.locator('#folds tbody tr').count(), 2);
    assert.match(await text(page, '#stitched-text'), /Out of sample, stitched over [\d,]+ days/);
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: path.join(outDir, 'sweep.png'), fullPage: true });
  });

  await t.test('a heatmap cell opens that trial in the player, with the trial\'s statistics', async () => {
    const cell = page.locator('#heatmap td.cell').first();
    const k = Number(await cell.getAttribute('data-index'));
    await cell.click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    const runId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
    await until(async () => (await text(page, '#play-state')) === 'playing', 'the player plays', 60000);
    const run = await getJson(`/backtests/${runId}`);
    const trial = await getJson(`/sweeps/${sweepId}/trials/${k}`);
    assert.equal(run.stats.sharpe, trial.stats.sharpe);
    assert.equal(run.stats.total_return, trial.stats.total_return);
  });

  await t.test('two cells picked: they play side by side in lockstep across a seek and a speed change', async () => {
    await page.goto(sweepUrl);
    await until(async () => (await page.locator('#heatmap td.cell').count()) === 9, 'the heatmap');
    await page.check('#heat-pick-two');
    await page.locator('#heatmap td.cell').nth(0).click();
    assert.match(await text(page, '#heat-picked'), /pick one more/);
    await page.locator('#heatmap td.cell').nth(8).click();
    await page.waitForURL(/\/compare\?a=[^&]+&b=[^&]+$/, { timeout: 30000 });
    await page.waitForSelector('body[data-compare-ready="1"]', { timeout: 60000 });
    await until(async () => (await text(page, '#cmp-state')) === 'playing', 'playing');
    const played = await sampleLockstep(page, 2000, 'playing');
    assert.ok(played.length > 20);
    const max = Number(await page.locator('#cmp-seek').getAttribute('max'));
    await page.locator('#cmp-seek').evaluate((el, v) => {
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    }, Math.floor(max * 0.7));
    const sought = await sampleLockstep(page, 2000, 'after the seek');
    assert.ok(sought.some((s) => new Date(s.a).getUTCFullYear() >= 2013), 'went forward');
    await page.click('#cmp-speeds button[data-speed="600"]');
    const fast = await sampleLockstep(page, 2000, 'at 600×');
    assert.ok(fast[fast.length - 1].a > fast[0].a, 'plays on at 600×');
  });
  await page.close();
});

test('no script errors on the sweep pages', () => {
  assert.deepEqual(pageErrors, []);
});
