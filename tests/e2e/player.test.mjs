// End-to-end test of the web player: a real `tapedeck serve` (its own temp store, short heartbeats)
// driven by Debian's Chromium through playwright-core. Run: node --test tests/e2e/
//
// Environment: see harness.mjs (the binary, the web root, Chromium; the screenshot goes to
// TAPEDECK_E2E_OUT, default <source>/build/e2e).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launchBrowser, outDir, startServer, stopServer, until } from './harness.mjs';

let server;
let base;
let work;
let context;
const pageErrors = [];

// A test hook, installed before any page script: the sockets the page opens, and a switch that
// makes `new WebSocket` throw, to break the WebSocket the way a hostile proxy would.
function wsBreaker() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__blockWebSocket = false;
  window.WebSocket = class extends Native {
    constructor(...args) {
      if (window.__blockWebSocket) throw new DOMException('blocked by the test', 'SecurityError');
      super(...args);
      window.__sockets.push(this);
    }
  };
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'tapedeck-e2e-'));
  const started = await startServer(work);
  server = started.proc;
  base = started.url;
  context = await launchBrowser(path.join(work, 'profile'));
  await context.addInitScript(wsBreaker);
});

after(async () => {
  await context?.close();
  await stopServer(server);
  if (work) rmSync(work, { recursive: true, force: true });
});

async function newPage() {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(msg.text());
  });
  if (process.env.E2E_DEBUG) {
    // The control messages and everything but frames, as the browser saw them.
    page.on('websocket', (ws) => {
      console.log('ws open', ws.url());
      ws.on('framesent', (f) => console.log('  ws sent', f.payload));
      ws.on('framereceived', (f) => {
        const s = String(f.payload);
        if (!s.includes('"t":"frame"')) console.log('  ws recv', s.slice(0, 200));
      });
      ws.on('close', () => console.log('ws closed'));
    });
    page.on('request', (r) => { if (!r.url().includes('/vendor/')) console.log('http', r.method(), r.url()); });
  }
  return page;
}

const text = (page, sel) => page.locator(sel).innerText();
const num = async (page, sel) => Number((await text(page, sel)).replace(/,/g, ''));
const candles = async (page) => Number(await page.locator('#chart').getAttribute('data-candles'));

async function setSlider(page, value) {
  await page.locator('#seek').evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

let runUrl;

test('serves the page and the charting library from node_modules', async () => {
  const index = await fetch(base + '/');
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /text\/html/);
  const lib = await fetch(base + '/vendor/lightweight-charts/lightweight-charts.standalone.production.mjs');
  assert.equal(lib.status, 200);
  assert.match(lib.headers.get('content-type'), /javascript/);
  const run = await fetch(base + '/runs/anything');
  assert.equal(run.status, 200);
  const escape = await fetch(base + '/vendor/lightweight-charts/..%2fpackage.json');
  assert.equal(escape.status, 404);
});

test('runs a backtest from the form and watches it: play, pause, seek, speed, keys, SSE fallback', async (t) => {
  const page = await newPage();
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]');

  await t.test('the form is built from the server', async () => {
    assert.deepEqual(await page.locator('#dataset option').allInnerTexts(), ['sp500 (SPX)']);
    assert.ok((await page.locator('#strategy option').count()) >= 3);
    await page.selectOption('#strategy', 'sma_cross');
    await page.fill('input[name="params.fast"]', '10');
    await page.fill('input[name="params.slow"]', '30');
    await page.fill('input[name="commission"]', '0.0005');
  });

  await t.test('a bad parameter is refused in words', async () => {
    await page.fill('input[name="params.slow"]', '-5');
    await page.click('#run-button');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await text(page, '#error-text'), /VALIDATION/);
    assert.match(await text(page, '#error-text'), /params\.slow/);
    await page.fill('input[name="params.slow"]', '30');
  });

  await t.test('run: the player opens and plays over WebSocket', async () => {
    await page.click('#run-button');
    await page.waitForURL(/\/runs\/[0-9a-f]+/);
    runUrl = page.url();
    await until(async () => (await text(page, '#conn-kind')) === 'WebSocket', 'WebSocket');
    await until(async () => (await num(page, '#frames-total')) > 10, 'frames');
    await until(async () => (await candles(page)) > 10, 'candles drawn');
    assert.equal(await text(page, '#play-state'), 'playing');
    assert.ok((await page.locator('#stats [data-stat="total_return"]').count()) === 1);
    assert.ok((await page.locator('#trades tbody tr').count()) > 5);
    // The run is in the list, with its statistics.
    await until(async () => (await page.locator('#runs tbody tr[data-status="done"]').count()) === 1, 'run listed');
  });

  await t.test('pause: frames stop, heartbeats keep coming', async () => {
    await page.click('#play');
    assert.equal(await text(page, '#play-state'), 'paused');
    await page.waitForTimeout(300);  // frames already on the wire
    const frames = await num(page, '#frames-total');
    const shown = await candles(page);
    const hb1 = await until(async () => { const v = await text(page, '#last-hb'); return v !== '—' && v; }, 'a heartbeat');
    await page.waitForTimeout(1600);
    assert.equal(await num(page, '#frames-total'), frames);
    assert.equal(await candles(page), shown);
    const hb2 = await text(page, '#last-hb');
    assert.notEqual(hb2.split(' ')[0], hb1.split(' ')[0], 'a newer heartbeat was shown');
    assert.equal(await num(page, '#fps'), 0);
    // Paused: the address is a link to this bar.
    assert.match(page.url(), /\?at=\d{4}-\d\d-\d\dT/);
  });

  let seekedTo;
  await t.test('seek: the chart is redrawn from /frames up to the position, no further', async () => {
    const max = Number(await page.locator('#seek').getAttribute('max'));
    await setSlider(page, Math.floor(max / 2));
    await until(async () => (await text(page, '#play-state')) === 'paused', 'seek done');
    seekedTo = await text(page, '#sim-time');
    assert.match(seekedTo, /^20(09|10|11)-/);
    assert.ok((await candles(page)) >= 1000, 'history drawn');
    // The newest bar on the chart is the one at the position: nothing after it.
    const lastBar = await page.locator('#chart').getAttribute('data-last-bar');
    assert.equal(lastBar.slice(0, 10), seekedTo);
    // Trades after the position are not reached yet.
    const future = await page.locator('#trades tbody tr.future').count();
    const all = await page.locator('#trades tbody tr').count();
    assert.ok(future > 0 && future < all, `${future} of ${all} trades in the future`);
    assert.ok(page.url().includes('at=' + seekedTo.slice(0, 10)));
  });

  await t.test('keys: arrows step a window with bars, space plays and pauses', async () => {
    await page.locator('#chart').click();  // focus away from the controls
    await page.keyboard.press('ArrowRight');
    await until(async () => (await text(page, '#sim-time')) > seekedTo, 'a step forward');
    const stepped = await text(page, '#sim-time');
    await page.keyboard.press('ArrowLeft');
    await until(async () => (await text(page, '#sim-time')) === seekedTo, 'a step back');
    await until(async () => (await text(page, '#play-state')) === 'paused', 'the step is done');
    assert.ok(stepped > seekedTo);
    await page.keyboard.press('Space');
    await until(async () => (await text(page, '#play-state')) === 'playing', 'playing');
    await until(async () => (await text(page, '#sim-time')) > stepped, 'plays on from the seek');
    await page.keyboard.press('Space');
    await until(async () => (await text(page, '#play-state')) === 'paused', 'paused');
  });

  await t.test('speed: presets and a free value', async () => {
    const label60 = await text(page, '#window-label');
    await page.click('#speeds button[data-speed="600"]');
    assert.equal(await page.locator('#speeds button.active').innerText(), '600×');
    await until(async () => (await text(page, '#window-label')) !== label60, 'fewer windows at 600×');
    const before = await num(page, '#frames-total');
    const t0 = Date.now();
    await page.click('#play');
    await until(async () => (await num(page, '#frames-total')) - before > 30, 'frames at 600×');
    const rate = ((await num(page, '#frames-total')) - before) / ((Date.now() - t0) / 1000);
    assert.ok(rate > 5, `frames/s at 600×: ${rate}`);  // ~20 nominal; lenient on a busy machine
    await page.fill('#speed-free', '250');
    await page.press('#speed-free', 'Enter');
    await until(async () => (await page.locator('#speeds button.active').count()) === 0, 'no preset active');
    const f = await num(page, '#frames-total');
    await until(async () => (await num(page, '#frames-total')) > f + 5, 'frames at 250×');
  });

  await t.test('the WebSocket breaks: SSE takes over and plays on, and its controls still work', async () => {
    const beforeFrames = await num(page, '#frames-total');
    const beforeTime = await text(page, '#sim-time');
    await page.evaluate(() => {
      window.__blockWebSocket = true;
      for (const s of window.__sockets) s.close();
    });
    await until(async () => (await text(page, '#conn-kind')) === 'SSE', 'SSE fallback');
    assert.match(await text(page, '#conn-note'), /SSE/);
    await until(async () => (await num(page, '#frames-total')) > beforeFrames + 20, 'frames over SSE');
    assert.ok((await text(page, '#sim-time')) > beforeTime, 'resumed where it was, going forward');
    assert.equal(await text(page, '#play-state'), 'playing');
    // Pause on SSE closes the stream; play reopens it from the next window.
    await page.click('#play');
    await page.waitForTimeout(400);
    const paused = await num(page, '#frames-total');
    await page.waitForTimeout(800);
    assert.equal(await num(page, '#frames-total'), paused);
    await page.click('#play');
    await until(async () => (await num(page, '#frames-total')) > paused + 5, 'frames after play on SSE');
    // A seek on SSE reconnects at the new position.
    await page.click('#speeds button[data-speed="60"]');
    await page.click('#play');
    await until(async () => (await text(page, '#play-state')) === 'paused', 'paused');
    await setSlider(page, 100);
    await until(async () => (await text(page, '#sim-time')).startsWith('2000-'), 'seek on SSE');
    assert.equal(await text(page, '#conn-kind'), 'SSE');
  });

  await t.test('screenshot of the player', async () => {
    await page.click('#speeds button[data-speed="600"]');
    const max = Number(await page.locator('#seek').getAttribute('max'));
    await setSlider(page, Math.floor(max * 0.45));
    await until(async () => (await text(page, '#play-state')) === 'paused', 'seek done');
    await page.waitForTimeout(500);
    // Trades before the position are reached, those after are not.
    const at = Date.parse(await text(page, '#sim-time'));
    const rows = await page.locator('#trades tbody tr').evaluateAll((trs) =>
      trs.map((r) => [Number(r.dataset.entry), r.classList.contains('future')]));
    for (const [entry, future] of rows) assert.equal(future, entry > at, `trade at ${new Date(entry).toISOString()}`);
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: path.join(outDir, 'player.png'), fullPage: true });
  });
  await page.close();
});

test('a link to a bar opens the run paused there', async () => {
  const page = await newPage();
  const at = '2008-10-15T00:00:00Z';
  await page.goto(`${runUrl.split('?')[0]}?at=${at}`);
  await until(async () => (await text(page, '#sim-time')) === '2008-10-15', 'the linked bar');
  await until(async () => (await text(page, '#play-state')) === 'paused', 'paused');
  assert.ok((await candles(page)) > 100, 'history up to the bar');
  assert.equal((await page.locator('#chart').getAttribute('data-last-bar')).slice(0, 10), '2008-10-15');
  await page.waitForTimeout(700);
  assert.equal(await text(page, '#sim-time'), '2008-10-15', 'stays paused');
  assert.notEqual(await text(page, '#last-hb'), '—');
  await page.close();
});

test('a WebSocket that keeps breaking: the page falls back to SSE by itself and plays', async () => {
  const page = await newPage();
  let attempts = 0;
  // Every WebSocket opens, then breaks soon after, as through a proxy that cuts them.
  await page.routeWebSocket(/\/ws\?/, (ws) => {
    attempts += 1;
    setTimeout(() => ws.close({ code: 1011, reason: 'broken proxy' }), 150);
  });
  await page.goto(runUrl.split('?')[0] + '?speed=600');
  await until(async () => (await text(page, '#conn-kind')) === 'SSE', 'SSE fallback');
  assert.ok(attempts >= 3, `${attempts} WebSocket attempts`);
  assert.match(await text(page, '#conn-note'), /broke 3 times/);
  await until(async () => (await num(page, '#frames-total')) > 20, 'frames over SSE');
  await until(async () => (await candles(page)) > 20, 'candles over SSE');
  await page.close();
});

test('a CSV uploaded from the page becomes a dataset; a bad row is reported with its line', async () => {
  const page = await newPage();
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]');
  await page.click('#upload summary');
  let csv = 'time,open,high,low,close,volume\n';
  for (let k = 0, px = 100; k < 300; ++k) {
    const next = px + Math.sin(k / 7) * 2;
    const t = new Date(Date.UTC(2021, 0, 1) + k * 3600_000).toISOString().replace('.000Z', 'Z');
    csv += `${t},${px.toFixed(2)},${(Math.max(px, next) + 1).toFixed(2)},${(Math.min(px, next) - 1).toFixed(2)},${next.toFixed(2)},${1000 + k}\n`;
    px = next;
  }
  await page.fill('#upload-name', 'tiny_hourly');
  await page.fill('#upload-symbol', 'TNY');
  await page.setInputFiles('#upload-file', { name: 'tiny.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.click('#upload-button');
  await until(async () => /Imported tiny_hourly: 300 bars of TNY/.test(await text(page, '#upload-status')), 'the upload');
  assert.equal(await page.locator('#dataset').inputValue(), 'tiny_hourly');

  await page.fill('#upload-name', 'broken');
  await page.setInputFiles('#upload-file', {
    name: 'broken.csv', mimeType: 'text/csv',
    buffer: Buffer.from('time,open,high,low,close\n2021-01-01T00:00:00Z,1,2,abc,1\n'),
  });
  await page.click('#upload-button');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await text(page, '#error-text'), /expected a number for low, got 'abc'.*line 2, column 4/);
  await page.close();
});

test('the form runs over several datasets: the run reads both and the player offers both symbols', async () => {
  const page = await newPage();
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]');
  await page.selectOption('#dataset', 'sp500');
  await page.selectOption('#strategy', 'buy_and_hold');
  // "+ dataset" adds a menu set to a dataset not chosen yet (tiny_hourly, uploaded above).
  await page.click('#add-dataset');
  const more = page.locator('#more-datasets select');
  assert.equal(await more.count(), 1);
  assert.equal(await more.inputValue(), 'tiny_hourly');
  // The same dataset twice is refused before anything runs, and the extra menu is marked.
  await more.selectOption('sp500');
  await page.click('#run-button');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await text(page, '#error-text'), /sp500.*twice.*field datasets/);
  assert.equal(await page.locator('#more-datasets select.invalid').count(), 1);

  await more.selectOption('tiny_hourly');
  await page.click('#run-button');
  await page.waitForURL(/\/runs\/[0-9a-f]+/, { timeout: 30000 });
  const id = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
  const run = await (await fetch(`${base}/backtests/${id}`)).json();
  assert.deepEqual(run.datasets, ['sp500', 'tiny_hourly']);
  assert.deepEqual(run.symbols, ['SPX', 'TNY']);
  await until(async () => (await page.locator('#symbol option').count()) === 2, 'the symbol menu');
  assert.equal(await page.locator('#symbol-pick').getAttribute('hidden'), null);
  assert.deepEqual(await page.locator('#symbol option').allInnerTexts(), ['SPX', 'TNY']);
  await until(async () => /sp500 \+ tiny_hourly/.test(await page.locator(`#runs tr[data-id="${id}"]`).innerText()),
    'the runs list names both datasets');

  // Removing the extra menu goes back to one dataset.
  await page.click('#more-datasets button');
  assert.equal(await page.locator('#more-datasets select').count(), 0);
  await page.click('#run-button');
  await until(async () => new URL(page.url()).pathname !== `/runs/${id}`, 'the next run');
  const next = decodeURIComponent(new URL(page.url()).pathname.split('/')[2]);
  assert.deepEqual((await (await fetch(`${base}/backtests/${next}`)).json()).datasets, ['sp500']);
  await page.close();
});

test('an unknown run is reported in words', async () => {
  const page = await newPage();
  await page.goto(base + '/runs/doesnotexist');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await text(page, '#error-text'), /RUN_NOT_FOUND/);
  await page.close();
});

test('with access control on, the page takes a token and plays over WebSocket and SSE', async () => {
  const token = 'e2e-' + randomBytes(16).toString('hex');
  const dir = mkdtempSync(path.join(tmpdir(), 'tapedeck-e2e-auth-'));
  const secured = await startServer(dir, ['--auth-token', token, '--ticket-ttl', '2s']);
  try {
    // Without a token the page asks for one.
    const bare = await newPage();
    await bare.goto(secured.url + '/');
    await bare.waitForSelector('#auth:not([hidden])');
    assert.match(await text(bare, '#error-text'), /UNAUTHORIZED/);
    await bare.close();

    // A link with #token=: kept for this tab, taken out of the address.
    const page = await newPage();
    await page.goto(`${secured.url}/#token=${token}`);
    await page.waitForSelector('body[data-ready="1"]');
    assert.ok(!page.url().includes(token), 'the token left the address');
    assert.equal(await page.locator('#auth').isHidden(), true);
    await page.click('#run-button');
    await page.waitForURL(/\/runs\/[0-9a-f]+/);
    await until(async () => (await text(page, '#conn-kind')) === 'WebSocket', 'WebSocket');
    await until(async () => (await num(page, '#frames-total')) > 10, 'frames over WebSocket');
    // SSE, with tickets fetched the same way; the token survives the navigation.
    await page.goto(page.url().split('?')[0] + '?transport=sse&speed=600');
    await until(async () => (await text(page, '#conn-kind')) === 'SSE', 'SSE');
    await until(async () => (await num(page, '#frames-total')) > 10, 'frames over SSE');
    assert.equal(await page.locator('#error').isHidden(), true);
    await page.close();
    // Both streams were opened with tickets the page asked for.
    const metrics = await (await fetch(secured.url + '/metrics', { headers: { Authorization: `Bearer ${token}` } })).text();
    const tickets = metrics.match(/tapedeck_http_requests_total\{route="\/backtests\/\{id\}\/ticket",status="200"\} (\d+)/);
    assert.ok(tickets && Number(tickets[1]) >= 2, `tickets issued: ${tickets && tickets[1]}`);
  } finally {
    await stopServer(secured.proc);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without its chart library the page says so in words, and the form still works', async () => {
  const page = await newPage();
  // As on a server built without `npm ci`: the library answers 404, as the server does then.
  await page.route('**/vendor/lightweight-charts/**', (route) => route.fulfill({
    status: 404, contentType: 'application/json',
    body: JSON.stringify({ code: 'NOT_FOUND', msg: 'no such file', details: {} }),
  }));
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]');
  await page.waitForSelector('#setup-error:not([hidden])');
  const said = await text(page, '#setup-error');
  assert.match(said, /chart library \(lightweight-charts\) is missing/);
  assert.match(said, /npm ci/);
  assert.match(said, /scripts\/bootstrap\.sh/);
  // The form is built from the server all the same (the upload test added a dataset).
  assert.ok((await page.locator('#dataset option').allInnerTexts()).includes('sp500 (SPX)'));
  assert.ok((await page.locator('#strategy option').count()) >= 3);
  // A run cannot play: the player says why instead of an empty chart.
  await page.goto(runUrl.split('?')[0]);
  await until(async () => (await text(page, '#play-state')) === 'cannot play', 'cannot play');
  assert.match(await text(page, '#error-text'), /chart library \(lightweight-charts\) is missing/);
  assert.equal(await candles(page), 0);
  await page.close();
});

test('when the API cannot be reached the menus say so instead of staying empty', async () => {
  const page = await newPage();
  const unavailable = (route) => route.fulfill({
    status: 503, contentType: 'application/json',
    body: JSON.stringify({ code: 'UNAVAILABLE', msg: 'the server is shutting down', details: {} }),
  });
  await page.route('**/datasets', unavailable);
  await page.route('**/strategies', unavailable);
  await page.goto(base + '/');
  await page.waitForSelector('body[data-ready="1"]');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await text(page, '#error-text'), /Could not load the datasets and strategies: .*UNAVAILABLE/);
  assert.match(await page.locator('#dataset option').innerText(), /could not be loaded/);
  assert.match(await page.locator('#strategy option').innerText(), /could not be loaded/);
  assert.equal(await page.locator('#setup-error').isHidden(), true, 'the chart library is there');
  await page.close();
});

test('the player takes its speed limits from GET /playback', async () => {
  const info = await (await fetch(base + '/playback')).json();
  assert.deepEqual(info.speed, { min: 0.01, max: 100000, default: 60 });
  assert.equal(info.fps, 30);
  assert.equal(info.sim_seconds_per_second, 8760);
  assert.equal(info.heartbeat_ms, 500);  // --heartbeat 500ms
  const page = await newPage();
  await page.goto(runUrl.split('?')[0]);
  await until(async () => (await page.locator('#speed-free').getAttribute('max')) === '100000', 'limits');
  assert.equal(await page.locator('#speed-free').getAttribute('min'), '0.01');
  assert.equal(await page.locator('#speed-max').getAttribute('data-speed'), '100000');
  await until(async () => (await num(page, '#frames-total')) > 3, 'frames');
  // A free speed outside them is refused in their words.
  await page.fill('#speed-free', '200000');
  await page.press('#speed-free', 'Enter');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await text(page, '#error-text'), /speed must be between 0\.01 and 100000, got 200000/);
  await page.close();
});

test('no script errors on the pages', () => {
  // Refused requests (the bad parameter's 400, the unknown run's 404) are part of the test.
  const real = pageErrors.filter((e) => !/^Failed to load resource: the server responded/.test(e));
  assert.deepEqual(real, []);
});
