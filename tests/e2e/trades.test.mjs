// End-to-end test of the player's trade navigation: a click on a trades-table row, the ◀ ▶ buttons
// and the [ ] keys go to a trade's entry bar (paused there), among all trades, the winners or the
// losers. Run: node --test tests/e2e/
//
// Environment: see harness.mjs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { runBacktest, until, withServerAndBrowser } from './harness.mjs';

let base;
let context;
const pageErrors = [];

withServerAndBrowser('tapedeck-e2e-trades-', (s) => {
  base = s.url;
  context = s.context;
});

const text = (page, sel) => page.locator(sel).innerText();

// The bar the player is paused on: the newest bar drawn, as sim time in ms.
const shownBar = async (page) => Date.parse(await page.locator('#chart').getAttribute('data-last-bar'));

// Waits until the player is paused on the bar at `ms` (a trade's entry).
async function landsOn(page, ms, what) {
  await until(async () => (await text(page, '#play-state')) === 'paused' && (await shownBar(page)) === ms, what);
  // The time shown is the entry's (daily bars: the date).
  assert.equal(await text(page, '#sim-time'), new Date(ms).toISOString().slice(0, 10));
}

test('trade navigation: a row click, the buttons and the keys go to the entry bar; winners and losers', async () => {
  const id = await runBacktest(base, { dataset: 'sp500', strategy: 'sma_cross', params: { fast: 10, slow: 30 } });
  const trades = await (await fetch(`${base}/backtests/${id}/trades`)).json();
  assert.ok(trades.length > 20, `${trades.length} trades`);
  const entry = (k) => Date.parse(trades[k].entry_ts);
  const winners = trades.map((t, k) => [t, k]).filter(([t]) => t.pnl > 0).map(([, k]) => k);
  const losers = trades.map((t, k) => [t, k]).filter(([t]) => t.pnl < 0).map(([, k]) => k);
  assert.ok(winners.length > 2 && losers.length > 2);

  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${base}/runs/${id}`);
  await until(async () => (await text(page, '#play-state')) === 'playing', 'playing');
  assert.match(await page.locator('#trade-next').getAttribute('title'), /\]/);
  assert.match(await page.locator('#trade-prev').getAttribute('title'), /\[/);

  // A row of the trades table: the player pauses at that trade's entry.
  await page.locator('#trades tbody tr[data-index="7"]').click();
  await landsOn(page, entry(7), 'trade 7');
  assert.equal(await page.locator('#trades tbody tr.picked').getAttribute('data-index'), '7');
  assert.match(await text(page, '#trade-label'), new RegExp(`trade 8 of ${trades.length} trades`));

  // ] and [ : the next and the previous trade.
  await page.locator('#chart').click();
  await page.keyboard.press(']');
  await landsOn(page, entry(8), 'trade 8 by ]');
  await page.keyboard.press(']');
  await landsOn(page, entry(9), 'trade 9 by ]');
  await page.keyboard.press('[');
  await landsOn(page, entry(8), 'trade 8 by [');
  // The buttons do the same.
  await page.click('#trade-next');
  await landsOn(page, entry(9), 'trade 9 by the button');
  await page.click('#trade-prev');
  await landsOn(page, entry(8), 'trade 8 by the button');

  // Winners only: the next winner after trade 8, then the one after it; back with [.
  await page.selectOption('#trade-filter', 'winners');
  const w1 = winners.find((k) => k > 8);
  const w2 = winners.find((k) => k > w1);
  await page.locator('#chart').click();
  await page.keyboard.press(']');
  await landsOn(page, entry(w1), `winner ${w1}`);
  assert.ok(trades[w1].pnl > 0);
  assert.match(await text(page, '#trade-label'), new RegExp(`of ${winners.length} winners`));
  await page.keyboard.press(']');
  await landsOn(page, entry(w2), `winner ${w2}`);
  await page.keyboard.press('[');
  await landsOn(page, entry(w1), `winner ${w1} again`);

  // Losers only, by the buttons: the previous loser before the position, then the next one.
  await page.selectOption('#trade-filter', 'losers');
  const l1 = losers.findLast((k) => k < w1);
  await page.click('#trade-prev');
  await landsOn(page, entry(l1), `loser ${l1}`);
  assert.ok(trades[l1].pnl < 0);
  const l2 = losers.find((k) => k > l1);
  await page.click('#trade-next');
  await landsOn(page, entry(l2), `loser ${l2}`);

  // From a position reached by the slider (not a trade), ] goes to the first trade after it.
  await page.selectOption('#trade-filter', 'all');
  await page.locator('#seek').evaluate((el) => {
    el.value = '100';
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await until(async () => (await text(page, '#play-state')) === 'paused', 'the seek');
  const at = await shownBar(page);
  const after = trades.findIndex((t) => Date.parse(t.entry_ts) > at);
  await page.locator('#chart').click();
  await page.keyboard.press(']');
  await landsOn(page, entry(after), `the first trade after ${new Date(at).toISOString()}`);
  await page.close();
  assert.deepEqual(pageErrors, []);
});
