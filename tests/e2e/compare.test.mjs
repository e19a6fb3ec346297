// End-to-end test of /compare?a=&b=: two runs played in lockstep from one set of controls. The
// two displayed sim times are sampled many times through play, pause, a seek, speed changes and a
// dropped WebSocket, and must always be equal within one window. Run: node --test tests/e2e/
//
// Environment: see harness.mjs.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { runBacktest, until, withServerAndBrowser } from './harness.mjs';

let base;
let context;
const pageErrors = [];

// The sockets the page opens, so the test can drop one.
function socketTracker() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
    }
  };
}

withServerAndBrowser('tapedeck-e2e-compare-', async (s) => {
  base = s.url;
  context = s.context;
  await context.addInitScript(socketTracker);
});

const text = (page, sel) => page.locator(sel).innerText();

// Both runs' displayed times (ms) and the window length at the speed shown.
async function times(page) {
  return page.evaluate(() => ({
    a: Number(document.querySelector('#cmp-time-a').dataset.ms),
    b: Number(document.querySelector('#cmp-time-b').dataset.ms),
    speed: Number(document.querySelector('#cmp-speeds button.active')?.dataset.speed ?? 60),
  }));
}

// Samples the two displayed times every ~30 ms for `ms` and asserts they never differ by more
// than one window (at the speed shown: speed × 8760 / 30 sim seconds). Returns the samples.
async function sampleLockstep(page, ms, what) {
  const samples = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = await times(page);
    if (t.a && t.b) {
      const window = t.speed * 8760 / 30 * 1000;
      assert.ok(Math.abs(t.a - t.b) <= window,
        `${what}: A at ${new Date(t.a).toISOString()}, B at ${new Date(t.b).toISOString()} (window ${window / 3600000} h)`);
      samples.push(t);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  return samples;
}

test('two runs play in lockstep through play, pause, seek, speed changes and a dropped connection', async () => {
  const a = await runBacktest(base, { dataset: 'sp500', strategy: 'sma_cross', params: { fast: 10, slow: 30 } });
  const b = await runBacktest(base, { dataset: 'sp500', strategy: 'sma_cross', params: { fast: 20, slow: 100 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}/compare?a=${a}&b=${b}`);
  await page.waitForSelector('body[data-compare-ready="1"]');
  // Both runs are named in the legend, with their statistics side by side.
  assert.match(await text(page, '#cmp-legend'), /A sma_cross fast=10 slow=30/);
  assert.match(await text(page, '#cmp-legend'), /B sma_cross fast=20 slow=100/);
  const ret = await page.locator('#cmp-stats tr[data-stat="total_return"] td').allInnerTexts();
  assert.equal(ret.length, 2);
  assert.notEqual(ret[0], ret[1]);

  // Play.
  await until(async () => (await text(page, '#cmp-state')) === 'playing', 'playing');
  const played = await sampleLockstep(page, 2500, 'playing');
  assert.ok(played.length > 30, `${played.length} samples`);
  assert.ok(played[played.length - 1].a > played[0].a, 'time moved on');
  assert.ok(Number(await page.locator('#cmp-chart').getAttribute('data-candles')) > 5);

  // Pause: both hold still, at the same time.
  await page.click('#cmp-play');
  await until(async () => (await text(page, '#cmp-state')) === 'paused', 'paused');
  await page.waitForTimeout(400);
  const held = await sampleLockstep(page, 800, 'paused');
  assert.ok(held.every((t) => t.a === held[0].a && t.b === held[0].b), 'still while paused');
  assert.equal(held[0].a, held[0].b);

  // Seek (paused): both land on the same bar.
  const max = Number(await page.locator('#cmp-seek').getAttribute('max'));
  await page.locator('#cmp-seek').evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, Math.floor(max * 0.6));
  await until(async () => {
    const t = await times(page);
    return (await text(page, '#cmp-state')) === 'paused' && t.a === t.b && new Date(t.a).getUTCFullYear() >= 2011 && t;
  }, 'the seek');
  // Play on from there, then a seek while playing.
  await page.click('#cmp-play');
  await sampleLockstep(page, 1500, 'playing after the seek');
  await page.locator('#cmp-seek').evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, Math.floor(max * 0.2));
  const afterSeek = await sampleLockstep(page, 2000, 'a seek while playing');
  assert.ok(afterSeek.some((t) => new Date(t.a).getUTCFullYear() <= 2005), 'went back');

  // Speed changes while playing.
  await page.click('#cmp-speeds button[data-speed="600"]');
  const fast = await sampleLockstep(page, 2000, 'at 600×');
  await page.click('#cmp-speeds button[data-speed="10"]');
  await sampleLockstep(page, 1000, 'at 10×');
  await page.click('#cmp-speeds button[data-speed="60"]');
  assert.ok(fast[fast.length - 1].a > fast[0].a);

  // One run's WebSocket drops: it reconnects from where it was; the other waits for it.
  const before = (await times(page)).a;
  await page.evaluate(() => window.__sockets.filter((s) => s.readyState === WebSocket.OPEN)[0].close());
  const dropped = await sampleLockstep(page, 3000, 'one socket dropped');
  assert.ok(dropped[dropped.length - 1].a > before, 'plays on after the reconnect');
  assert.equal(await text(page, '#cmp-state'), 'playing');
  await page.close();
  assert.deepEqual(pageErrors, []);
});

test('the player offers the other runs over the same data to compare with', async () => {
  const a = await runBacktest(base, { dataset: 'sp500', strategy: 'sma_cross', params: { fast: 5, slow: 50 } });
  const b = await runBacktest(base, { dataset: 'sp500', strategy: 'buy_and_hold' });
  const page = await context.newPage();
  await page.goto(`${base}/runs/${a}`);
  await page.waitForSelector('#compare-pick:not([hidden])');
  await page.selectOption('#compare-with', b);
  await page.waitForURL(new RegExp(`/compare\\?a=${a}&b=${b}$`));
  await page.waitForSelector('body[data-compare-ready="1"]');
  assert.match(await text(page, '#cmp-legend'), /B buy_and_hold/);
  await page.close();
});

test('runs on different data are refused in words', async () => {
  const a = await runBacktest(base, { dataset: 'sp500', strategy: 'sma_cross', params: { fast: 10, slow: 30 } });
  const b = await runBacktest(base, {
    dataset: 'sp500', strategy: 'sma_cross', params: { fast: 10, slow: 30 }, from: '2005-01-01T00:00:00Z',
  });
  const page = await context.newPage();
  await page.goto(`${base}/compare?a=${a}&b=${b}`);
  await page.waitForSelector('#cmp-message:not([hidden])');
  assert.match(await text(page, '#cmp-message'), /different data/);
  assert.equal(await text(page, '#cmp-state'), 'cannot play');
  await page.close();
});
