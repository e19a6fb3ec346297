// Watching one run: joins the protocol client (player.js), the chart (chart.js) and the REST
// history (GET /frames) into the player — play/pause, seek without look-ahead, speed, the status
// line, and a render loop that never falls behind.
//
// Frames flow: client 'frame' -> accept() (drops what is already drawn, waits for a seek's answer)
// -> queue -> tick() on requestAnimationFrame draws a bounded batch. When the queue grows past
// kMaxQueue (the tab was hidden, the machine is busy) the oldest buffered frames are merged into
// their successor and counted as the page's dropped frames, so candles and fills are never lost.
//
// A seek, on either transport: pause, fetch the history up to the target window from /frames
// and redraw from it, ask the stream for that window, wait for its frame, then play again if it
// was playing. Frames arriving in between are from the old position and are ignored.

import { api, describeError } from './api.js';
import { PlayerChart } from './chart.js';
import { PlaybackClient } from './player.js';
import { $, ago, dimFutureTrades, renderStats, renderTrades, simTime } from './ui.js';

export const kMinSpeed = 0.01;
export const kMaxSpeed = 100000;
const kMaxQueue = 90;   // three seconds at 30 frames/s
const kBatch = 12;      // frames drawn per animation frame at most
const kHistoryBars = 1500;
const kMaxHistoryFrames = 20000;  // the server's cap on one /frames request
const kSeekTimeoutMs = 4000;

// Sim time per window: S * 8760 sim-seconds per wall second, 30 windows per wall second.
export const windowMs = (speed) => (speed * 8760 / 30) * 1000;

// Coalesces two consecutive frames the way the server does (DESIGN.md, Backpressure).
export function mergeFrames(older, newer) {
  const ohlc = { ...older.ohlc };
  for (const [sym, b] of Object.entries(newer.ohlc)) {
    const a = ohlc[sym];
    ohlc[sym] = a ? { o: a.o, h: Math.max(a.h, b.h), l: Math.min(a.l, b.l), c: b.c, v: a.v + b.v } : b;
  }
  return { ...newer, ohlc, orders: [...(older.orders || []), ...(newer.orders || [])] };
}

export class Watcher {
  // options: at (ISO time to open paused at), speed, transport ('auto' | 'sse'),
  // onError(text), onTitle(text), onLink(url) (the address of the current state).
  constructor(runId, options = {}) {
    this.id = runId;
    this.options = options;
    this.speed = clampSpeed(Number(options.speed) || 60);
    this.closed = false;
    this.client = null;
    this.chart = null;
    this.queue = [];
    this.cur = null;          // the last frame drawn
    this.lastTs = -Infinity;  // sim time (ms) of the last frame accepted
    this.seeking = null;      // {j, n, wasPlaying, timer} while a seek waits for its frame
    this.seekGen = 0;
    this.paused = !!options.at;
    this.ended = false;
    this.framesReceived = 0;
    this.pageDropped = 0;
    this.serverDropped = 0;
    this.arrivals = [];       // Date.now() of frames in the last second
    this.dragging = false;
    this.raf = 0;
    this.statusTimer = 0;
    this.pollTimer = 0;
    this.lastTradesDim = 0;
    this.windowCounts = new Map();  // speed -> n, as the server counts
  }

  // --- opening ------------------------------------------------------------------------------

  async open() {
    $('#player').hidden = false;
    $('#welcome').hidden = true;
    this.bindControls();
    this.statusTimer = setInterval(() => this.renderStatus(), 250);
    let run;
    try {
      run = await this.waitUntilDone();
    } catch (e) {
      if (!this.closed) this.fail(e);
      return;
    }
    if (this.closed || !run) return;
    this.run = run;
    renderStats($('#stats'), run.stats);
    const [equity, trades] = await Promise.all([api.equity(this.id), api.trades(this.id)]).catch((e) => {
      this.fail(e);
      return [null, null];
    });
    if (this.closed || !equity) return;
    if (!equity.times.length) {
      this.fail(new Error('this run has no bars to play'));
      return;
    }
    this.t0 = equity.times[0];
    this.tLast = equity.times[equity.times.length - 1];
    this.equityTimes = equity.times;
    this.peaks = new Float64Array(equity.values.length);
    let peak = -Infinity;
    equity.values.forEach((v, k) => { peak = Math.max(peak, v); this.peaks[k] = peak; });
    this.bars = run.stats && run.stats.bars ? run.stats.bars : equity.times.length;
    this.trades = trades;
    renderTrades($('#trades tbody'), trades, (ms) => this.seekToTime(ms));
    $('#trades-count').textContent = trades.length > 2000 ? `(first 2000 of ${trades.length})` : `(${trades.length})`;

    this.symbol = run.symbols[0];
    const pick = $('#symbol');
    pick.replaceChildren(...run.symbols.map((s) => new Option(s, s)));
    $('#symbol-pick').hidden = run.symbols.length < 2;

    await this.learnWindowCount(this.speed);
    if (this.closed) return;
    this.chart = new PlayerChart($('#chart'));
    this.chart.reset([], this.symbol, this.drawdownAt);
    this.showSpeed();
    this.raf = requestAnimationFrame(this.tick);

    let from = 0;
    if (this.options.at) {
      const at = Date.parse(this.options.at);
      if (!isFinite(at)) {
        this.options.onError?.(`"${this.options.at}" is not a time; opening at the start`);
      } else {
        const found = await this.locate(this.windowOf(at), 'nearest').catch((e) => { this.fail(e); return null; });
        if (this.closed) return;
        if (found) {
          this.redraw(found.history);
          from = found.j;
          this.seeking = {
            j: found.j, ts: this.cur.ts, wasPlaying: false,
            timer: setTimeout(() => this.finishSeek(), kSeekTimeoutMs),
          };
        }
      }
    }
    this.client = new PlaybackClient(this.id, {
      speed: this.speed, from, paused: this.paused, transport: this.options.transport,
      ticket: () => api.ticket(this.id),
    });
    this.client.addEventListener('frame', (ev) => this.accept(ev.detail));
    this.client.addEventListener('end', () => { this.ended = true; this.renderStatus(); });
    this.client.addEventListener('hb', () => this.renderStatus());
    this.client.addEventListener('err', (ev) => this.options.onError?.(describeError(ev.detail)));
    this.client.addEventListener('state', () => this.renderStatus());
    this.client.start();
    this.renderStatus();
  }

  // Polls the run until it is done; shows its progress meanwhile. Throws for a failed run.
  async waitUntilDone() {
    const box = $('#waiting');
    for (;;) {
      const run = await api.backtest(this.id);
      if (this.closed) return null;
      this.options.onTitle?.(`${run.strategy} on ${run.dataset}`, run);
      if (run.status === 'done') {
        box.hidden = true;
        return run;
      }
      if (run.status === 'failed') {
        box.hidden = true;
        throw new Error(`run ${this.id} failed: ${run.error || 'no reason given'}`);
      }
      box.hidden = false;
      $('#wait-progress').value = run.progress || 0;
      $('#wait-text').textContent = run.status === 'queued' ? 'queued…'
        : `running… ${Math.round((run.progress || 0) * 100)}%`;
      await new Promise((resolve) => { this.pollTimer = setTimeout(resolve, 300); });
    }
  }

  fail(e) {
    this.options.onError?.(describeError(e));
    $('#play-state').textContent = 'cannot play';
  }

  close() {
    this.closed = true;
    this.client?.close();
    cancelAnimationFrame(this.raf);
    clearInterval(this.statusTimer);
    clearTimeout(this.pollTimer);
    if (this.seeking) clearTimeout(this.seeking.timer);
    this.unbindControls?.();
    this.chart?.chart.remove();
    $('#chart').replaceChildren();
    $('#chart').dataset.candles = '0';
    $('#stats').replaceChildren();
    $('#trades tbody').replaceChildren();
    $('#waiting').hidden = true;
  }

  // --- windows ------------------------------------------------------------------------------

  // Windows at the current speed: the server's count (from a frame at this speed) when known.
  n() {
    const known = this.windowCounts.get(this.speed);
    if (known) return known;
    return Math.floor((this.tLast - this.t0) / windowMs(this.speed)) + 1;
  }

  // Asks the server how many windows there are at `speed` (the first frame carries n).
  async learnWindowCount(speed) {
    if (this.windowCounts.has(speed)) return;
    const frames = await api.frames(this.id, speed, 0, 1).catch(() => []);
    if (frames.length) this.windowCounts.set(speed, frames[0].n);
  }

  windowOf(ms) {
    const k = Math.floor((ms - this.t0) / windowMs(this.speed));
    return Math.min(Math.max(k, 0), this.n() - 1);
  }

  windowStart(k) {
    return this.t0 + k * windowMs(this.speed);
  }

  // The current window at the current speed (frames in flight across a speed change still count
  // the old way: use their time).
  position() {
    if (!this.cur) return 0;
    if (this.curSpeed === this.speed) return this.cur.i;
    return this.windowOf(Date.parse(this.cur.ts));
  }

  drawdownAt = (ms, equity) => {
    // Peak equity up to this bar, from the run's equity curve: only the past, never the future.
    const times = this.equityTimes;
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] <= ms) lo = mid + 1;
      else hi = mid;
    }
    const peak = Math.max(lo > 0 ? this.peaks[lo - 1] : equity, equity);
    return peak > 0 ? equity / peak - 1 : 0;
  };

  // --- history (GET /frames) ----------------------------------------------------------------

  // Windows per frame, roughly: how far to look to find `count` frames.
  span(count) {
    const ratio = Math.max(1, this.n() / Math.max(1, this.bars));
    return Math.ceil(count * ratio * 1.3) + 2;
  }

  async framesRange(from, to) {
    return api.frames(this.id, this.speed, Math.max(0, from), to);  // the server clamps `to`
  }

  // The last `count` frames of windows < `to` (fewer at the start of the run).
  async historyBefore(to, count = kHistoryBars) {
    let span = this.span(count);
    for (;;) {
      const from = Math.max(0, to - span);
      let frames;
      try {
        frames = await this.framesRange(from, to);
      } catch (e) {
        if (e.code === 'VALIDATION' && e.details?.field === 'to' && span > 2) {
          span = Math.floor(span / 2);  // over the server's per-request cap
          continue;
        }
        throw e;
      }
      if (frames.length >= count || from === 0 || span >= this.n()) return frames.slice(-count);
      span *= 4;
    }
  }

  // The first frame of a window >= k, or null after the last.
  async firstFrom(k) {
    let span = this.span(4);
    const n = this.n();
    while (k < n) {
      const frames = await this.framesRange(k, Math.min(n, k + span)).catch((e) => {
        if (e.code === 'VALIDATION') return null;
        throw e;
      });
      if (frames === null) {
        span = Math.max(1, Math.floor(span / 2));
        continue;
      }
      if (frames.length) return frames[0];
      k += span;
      span = Math.min(span * 4, kMaxHistoryFrames);
    }
    return null;
  }

  // The window with bars to go to for a request at window k, and the history up to it:
  // mode 'nearest' (as the server snaps: on a tie, the later), 'next' (the first >= k), 'prev'
  // (the last <= k). Null when there is none.
  async locate(k, mode) {
    const n = this.n();
    k = Math.min(Math.max(0, k), n - 1);
    if (mode === 'next') {
      const next = await this.firstFrom(k);
      if (!next) return null;
      const history = await this.historyBefore(next.i + 1);
      return { j: next.i, history };
    }
    const history = await this.historyBefore(k + 1);
    const prev = history[history.length - 1];
    if (mode === 'prev' || (prev && prev.i === k)) return prev ? { j: prev.i, history } : null;
    const next = await this.firstFrom(k + 1);
    if (next && (!prev || next.i - k <= k - prev.i)) return { j: next.i, history: [...history, next].slice(-kHistoryBars) };
    return prev ? { j: prev.i, history } : null;
  }

  redraw(history) {
    this.queue.length = 0;
    this.chart.reset(history, this.symbol, this.drawdownAt);
    const last = history[history.length - 1];
    if (last) {
      this.cur = { ...last, speed: this.speed };
      this.curSpeed = this.speed;
      this.lastTs = Date.parse(last.ts);
    } else {
      this.cur = null;
      this.lastTs = -Infinity;
    }
    this.renderPosition(true);
  }

  // --- controls -----------------------------------------------------------------------------

  play() {
    if (!this.client) return;
    if (this.ended) {
      // At the end: play again from the start.
      this.paused = false;
      this.seekTo(0, 'nearest', true);
      return;
    }
    this.paused = false;
    this.ended = false;
    if (this.seeking) {
      this.seeking.wasPlaying = true;  // plays once the seek's frame is in
    } else {
      if (this.resync && this.cur) this.client.rewind(this.cur);
      this.resync = false;
      this.client.play();
    }
    this.updateAddress();
    this.renderStatus();
  }

  pause() {
    if (!this.client) return;
    this.paused = true;
    if (this.seeking) this.seeking.wasPlaying = false;
    else this.client.pause();
    this.updateAddress();
    this.renderStatus();
  }

  toggle() {
    if (this.paused || this.ended) this.play();
    else this.pause();
  }

  // Steps one window with bars forward (+1) or back (-1), paused.
  step(direction) {
    if (!this.cur) return;
    if (!this.paused) this.pause();
    const k = this.position() + direction;
    if (k < 0 || k >= this.n()) return;
    this.seekTo(k, direction > 0 ? 'next' : 'prev', false);
  }

  seekToTime(ms) {
    if (!this.client) return;
    this.seekTo(this.windowOf(ms), 'nearest', !this.paused);
  }

  async seekTo(k, mode = 'nearest', play = !this.paused) {
    if (!this.client) return;
    const gen = ++this.seekGen;
    if (this.seeking) clearTimeout(this.seeking.timer);
    this.seeking = { j: -1, ts: null, wasPlaying: play, timer: 0 };
    this.queue.length = 0;
    this.client.pause();
    this.renderStatus();
    let found;
    try {
      found = await this.locate(k, mode);
    } catch (e) {
      if (gen !== this.seekGen) return;
      this.options.onError?.(describeError(e));
      this.seeking = null;
      if (play) this.client.play();
      return;
    }
    if (gen !== this.seekGen || this.closed) return;  // a newer seek took over
    if (!found) {
      this.seeking = null;
      if (play) this.client.play();
      return;
    }
    this.redraw(found.history);
    this.ended = false;
    this.resync = false;
    this.seeking.j = found.j;
    this.seeking.ts = this.cur.ts;
    this.seeking.timer = setTimeout(() => this.finishSeek(), kSeekTimeoutMs);
    this.client.seek(found.j);
    this.updateAddress();
  }

  finishSeek() {
    if (!this.seeking) return;
    clearTimeout(this.seeking.timer);
    const { wasPlaying } = this.seeking;
    this.seeking = null;
    if (wasPlaying) {
      this.paused = false;
      this.client.play();
    }
    this.renderStatus();
  }

  setSpeed(speed) {
    speed = clampSpeed(speed);
    if (!isFinite(speed) || !this.client) return;
    if (speed === this.speed) return;
    this.speed = speed;
    this.client.setSpeed(speed);
    this.showSpeed();
    this.renderPosition();
    this.updateAddress();
    this.learnWindowCount(speed).then(() => this.renderPosition());
  }

  showSpeed() {
    for (const b of document.querySelectorAll('#speeds button')) {
      b.classList.toggle('active', Number(b.dataset.speed) === this.speed);
    }
    const free = $('#speed-free');
    if (document.activeElement !== free) free.value = String(this.speed);
  }

  // --- frames -------------------------------------------------------------------------------

  accept(frame) {
    this.framesReceived += 1;
    this.arrivals.push(performance.now());
    if (typeof frame.dropped === 'number') this.serverDropped = frame.dropped;
    if (this.seeking) {
      if (frame.i === this.seeking.j && frame.ts === this.seeking.ts) this.finishSeek();
      return;  // the answer to the seek is drawn already; others are from before it
    }
    if (this.paused) {
      // Sent before the server took the pause in: keep the picture still, and bring the server
      // back to it before playing again.
      this.resync = true;
      return;
    }
    // Which speed counted this frame's window: the client knows across a speed change.
    frame.speed = this.client.last ? this.client.last.speed : this.speed;
    const t = Date.parse(frame.ts);
    if (!(t > this.lastTs)) return;  // drawn already (a resumed stream repeats its window)
    this.lastTs = t;
    this.ended = false;
    this.queue.push(frame);
    while (this.queue.length > kMaxQueue) {
      const [a, b] = this.queue.splice(0, 2);
      this.queue.unshift(mergeFrames(a, b));
      this.pageDropped += 1;
    }
  }

  tick = () => {
    if (this.closed) return;
    if (this.queue.length) {
      const batch = this.queue.splice(0, kBatch);
      for (const frame of batch) this.chart.push(frame, this.drawdownAt);
      this.cur = batch[batch.length - 1];
      this.curSpeed = this.cur.speed;
      if (!this.windowCounts.has(this.curSpeed)) this.windowCounts.set(this.curSpeed, this.cur.n);
      this.renderPosition(this.paused && !this.queue.length);
    }
    this.raf = requestAnimationFrame(this.tick);
  };

  // --- rendering ----------------------------------------------------------------------------

  // `force`: also re-mark the trades now (else at most twice a second, while playing).
  renderPosition(force = false) {
    const n = this.n();
    const seek = $('#seek');
    seek.max = String(Math.max(0, n - 1));
    const k = this.position();
    if (!this.dragging) seek.value = String(k);
    const ms = this.cur ? Date.parse(this.cur.ts) : this.t0;
    if (!this.dragging) {
      $('#sim-time').textContent = simTime(ms);
      $('#window-label').textContent = `window ${k.toLocaleString('en-US')} of ${n.toLocaleString('en-US')}`;
    }
    $('#chart').dataset.candles = String(this.chart ? this.chart.count : 0);
    const lastBar = this.chart && this.chart.lastTime;
    $('#chart').dataset.lastBar = lastBar === null || lastBar === undefined ? '' : new Date(lastBar).toISOString();
    const now = performance.now();
    if (this.trades && (force || now - this.lastTradesDim > 500)) {
      this.lastTradesDim = now;
      dimFutureTrades($('#trades tbody'), ms);
    }
  }

  renderStatus() {
    const c = this.client;
    const now = performance.now();
    while (this.arrivals.length && now - this.arrivals[0] > 1000) this.arrivals.shift();
    $('#conn-kind').textContent = c ? (c.kind === 'ws' ? 'WebSocket' : 'SSE') : '—';
    $('#conn-state').textContent = !c ? '' : c.fatal ? '(closed)' : c.reconnecting ? '(reconnecting…)'
      : c.connected ? '(connected)' : c.kind === 'sse' && this.paused ? '(closed while paused)' : '(connecting…)';
    $('#fps').textContent = String(this.arrivals.length);
    $('#frames-total').textContent = this.framesReceived.toLocaleString('en-US');
    $('#server-dropped').textContent = String(this.serverDropped);
    $('#page-dropped').textContent = String(this.pageDropped);
    const hb = c && c.lastHeartbeat;
    $('#last-hb').textContent = hb ? `${new Date(hb).toLocaleTimeString('en-GB')} (${ago(hb)})` : '—';
    const state = !c ? 'loading' : this.seeking ? 'seeking' : this.ended ? 'ended' : this.paused ? 'paused' : 'playing';
    $('#play-state').textContent = state;
    $('#play-state').dataset.state = state;
    const play = $('#play');
    const showPause = state === 'playing' || (state === 'seeking' && this.seeking?.wasPlaying);
    play.textContent = showPause ? '❚❚' : '▶';
    play.setAttribute('aria-label', showPause ? 'Pause' : 'Play');
    $('#conn-note').textContent = c ? c.note : '';
  }

  // The address of what is on screen: /runs/{id}, with ?at= when paused (a link to this bar).
  link() {
    const url = new URL(`/runs/${encodeURIComponent(this.id)}`, location.origin);
    if (this.cur) url.searchParams.set('at', this.cur.ts);
    if (this.speed !== 60) url.searchParams.set('speed', String(this.speed));
    return url.toString();
  }

  updateAddress() {
    const url = new URL(`/runs/${encodeURIComponent(this.id)}`, location.origin);
    if (this.paused && this.cur) url.searchParams.set('at', this.cur.ts);
    if (this.speed !== 60) url.searchParams.set('speed', String(this.speed));
    this.options.onLink?.(url.pathname + url.search);
  }

  bindControls() {
    const seek = $('#seek');
    const onInput = () => {
      this.dragging = true;
      const k = Number(seek.value);
      $('#sim-time').textContent = simTime(this.windowStart(k));
      $('#window-label').textContent = `window ${k.toLocaleString('en-US')} of ${this.n().toLocaleString('en-US')}`;
    };
    const onChange = () => {
      this.dragging = false;
      this.seekTo(Number(seek.value), 'nearest', !this.paused);
    };
    const onPlay = () => this.toggle();
    const onSpeeds = (ev) => {
      const b = ev.target.closest('button[data-speed]');
      if (b) this.setSpeed(Number(b.dataset.speed));
    };
    const free = $('#speed-free');
    const onFree = () => {
      const v = Number(free.value);
      if (!(v >= kMinSpeed && v <= kMaxSpeed)) {
        this.options.onError?.(`speed must be between ${kMinSpeed} and ${kMaxSpeed}, got ${free.value}`);
        free.value = String(this.speed);
        return;
      }
      this.setSpeed(v);
    };
    const onSymbol = () => {
      this.symbol = $('#symbol').value;
      this.seekTo(this.position(), 'prev', !this.paused);
    };
    const onKey = (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const t = ev.target;
      const typing = t instanceof HTMLElement && (t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' ||
        (t.tagName === 'INPUT' && t.type !== 'range' && t.type !== 'button') || t.isContentEditable);
      if (typing || $('#player').hidden) return;
      if (ev.key === ' ' || ev.code === 'Space') {
        ev.preventDefault();
        this.toggle();
      } else if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
        ev.preventDefault();
        this.step(ev.key === 'ArrowRight' ? 1 : -1);
      }
    };
    // A focused button would also "click" on the space key's release: the keydown handled it.
    const onKeyUp = (ev) => {
      if ((ev.key === ' ' || ev.code === 'Space') && ev.target instanceof HTMLButtonElement) ev.preventDefault();
    };
    seek.addEventListener('input', onInput);
    seek.addEventListener('change', onChange);
    $('#play').addEventListener('click', onPlay);
    $('#speeds').addEventListener('click', onSpeeds);
    free.addEventListener('change', onFree);
    $('#symbol').addEventListener('change', onSymbol);
    document.addEventListener('keydown', onKey);
    document.addEventListener('keyup', onKeyUp);
    this.unbindControls = () => {
      seek.removeEventListener('input', onInput);
      seek.removeEventListener('change', onChange);
      $('#play').removeEventListener('click', onPlay);
      $('#speeds').removeEventListener('click', onSpeeds);
      free.removeEventListener('change', onFree);
      $('#symbol').removeEventListener('change', onSymbol);
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('keyup', onKeyUp);
    };
  }
}

function clampSpeed(s) {
  return Math.min(kMaxSpeed, Math.max(kMinSpeed, s));
}
