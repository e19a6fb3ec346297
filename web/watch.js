// Watching one run: the player. It joins four parts, each in its own module:
//  - transport.js: the stream (player.js's PlaybackClient: WebSocket with SSE fallback,
//    reconnects) and the play state — playing, paused, ended, a seek waiting for its answer;
//  - tape.js: the frames received, buffered until drawn, merged when drawing lags, and counted;
//  - timeline.js: the run's windows at a speed and its history from GET /frames;
//  - view.js: the drawing — chart, markers, slider, status line — and the controls' events.
// The playback constants (speed bounds, frames per second, window length) come from GET /playback.
//
// Frames flow: stream 'frame' -> accept() (counted; refused while a seek waits or while paused;
// dropped when already drawn) -> tape -> tick() on requestAnimationFrame draws a bounded batch.
//
// A seek, on either transport: pause, fetch the history up to the target window from /frames and
// redraw from it, ask the stream for that window, wait for its frame, then play again if it was
// playing. Frames arriving in between are from the old position and are ignored.

import { api, describeError } from './api.js';
import { loadChartLibrary } from './chart.js';
import { TapeBuffer } from './tape.js';
import { Timeline } from './timeline.js';
import { Transport } from './transport.js';
import { runErrorText, strategyLabel, tradeMatches } from './ui.js';
import { PlayerView } from './view.js';

const kBatch = 12;  // frames drawn per animation frame at most

// GET /playback, asked once per page.
let playbackInfo = null;
export function loadPlaybackInfo() {
  playbackInfo ??= api.playback().catch((e) => {
    playbackInfo = null;  // ask again next time
    throw e;
  });
  return playbackInfo;
}

export class Watcher {
  // options: at (ISO time to open paused at), speed, transport ('auto' | 'sse'),
  // onError(text[, failedRun]), onTitle(text), onLink(url) (the address of the current state).
  constructor(runId, options = {}) {
    this.id = runId;
    this.options = options;
    this.info = null;      // GET /playback
    this.speed = null;     // set once info is in
    this.symbol = null;
    this.closed = false;
    this.timeline = null;  // once the run is done and its equity curve is in
    this.tape = new TapeBuffer();
    this.transport = new Transport(runId, { paused: !!options.at, onChange: () => this.renderStatus() });
    this.view = new PlayerView();
    this.raf = 0;
    this.statusTimer = 0;
    this.pollTimer = 0;
    this.trades = [];
    this.tradeFilter = 'all';
    this.pickedTrade = null;  // {index, ts}: the trade gone to, and the frame time it landed on
  }

  // --- opening ------------------------------------------------------------------------------

  async open() {
    this.view.show();
    this.bindControls();
    this.statusTimer = setInterval(() => this.renderStatus(), 250);
    const library = loadChartLibrary();
    library.catch(() => {});  // reported when the chart is made
    let run;
    try {
      this.info = await loadPlaybackInfo();
      if (this.closed) return;
      this.view.showSpeedLimits(this.info.speed);
      this.speed = this.clampSpeed(Number(this.options.speed) || this.info.speed.default);
      run = await this.waitUntilDone();
    } catch (e) {
      if (!this.closed) this.fail(e);
      return;
    }
    if (this.closed || !run) return;
    this.run = run;
    this.view.showStats(run.stats);
    const [equity, trades] = await Promise.all([api.equity(this.id), api.trades(this.id)]).catch((e) => {
      this.fail(e);
      return [null, null];
    });
    if (this.closed || !equity) return;
    if (!equity.times.length) {
      this.fail(new Error('this run has no bars to play'));
      return;
    }
    this.timeline = new Timeline(this.id, this.info, {
      t0: equity.times[0],
      tLast: equity.times[equity.times.length - 1],
      bars: run.stats && run.stats.bars ? run.stats.bars : equity.times.length,
      speed: this.speed,
    });
    this.trades = trades;
    this.view.showTrades(trades, (index) => this.goToTrade(index));
    this.showPickedTrade();
    this.symbol = run.symbols[0];
    this.view.showSymbols(run.symbols);

    await this.timeline.learnWindowCount(this.speed);
    if (this.closed) return;
    try {
      await library;
    } catch (e) {
      this.fail(e);
      return;
    }
    if (this.closed) return;
    this.view.openChart(equity, this.symbol, run.plots || [], (ms) => this.seekToTime(ms));
    this.view.showSpeed(this.speed);
    this.raf = requestAnimationFrame(this.tick);

    let from = 0;
    if (this.options.at) {
      const at = Date.parse(this.options.at);
      if (!isFinite(at)) {
        this.options.onError?.(`"${this.options.at}" is not a time; opening at the start`);
      } else {
        const found = await this.timeline.locate(this.timeline.windowOf(at), 'nearest').catch((e) => {
          this.fail(e);
          return null;
        });
        if (this.closed) return;
        if (found) {
          this.redraw(found.history);
          from = found.j;
          this.transport.awaitFrame(found.j, this.tape.cur.ts, false);
        }
      }
    }
    this.transport.connect({
      speed: this.speed, from, transport: this.options.transport, ticket: () => api.ticket(this.id),
    }, {
      frame: (frame) => this.accept(frame),
      end: () => this.renderStatus(),
      hb: () => this.renderStatus(),
      err: (detail) => this.options.onError?.(describeError(detail)),
      state: () => this.renderStatus(),
    });
    this.renderStatus();
  }

  // Polls the run until it is done; shows its progress meanwhile. Throws for a failed run.
  async waitUntilDone() {
    for (;;) {
      const run = await api.backtest(this.id);
      if (this.closed) return null;
      this.options.onTitle?.(`${strategyLabel(run)} on ${(run.datasets || [run.dataset]).join(' + ')}`, run);
      if (run.status === 'done') {
        this.view.hideWaiting();
        return run;
      }
      if (run.status === 'failed') {
        this.view.hideWaiting();
        const failed = new Error(`run ${this.id} failed: ${runErrorText(run.error)}`);
        failed.run = run;  // a script's failure links to its line in the editor
        throw failed;
      }
      this.view.showWaiting(run);
      await new Promise((resolve) => { this.pollTimer = setTimeout(resolve, 300); });
    }
  }

  // Shows why the run cannot be played; before the stream is open, the state stays
  // "cannot play" (the status line would otherwise go back to "loading").
  fail(e) {
    this.options.onError?.(describeError(e), e.run);
    if (!this.transport.client) this.transport.failed = true;
    this.view.showCannotPlay();
  }

  close() {
    this.closed = true;
    this.transport.close();
    cancelAnimationFrame(this.raf);
    clearInterval(this.statusTimer);
    clearTimeout(this.pollTimer);
    this.view.close();
  }

  clampSpeed(s) {
    return Math.min(this.info.speed.max, Math.max(this.info.speed.min, s));
  }

  // The current window at the current speed.
  position() {
    if (!this.tape.cur) return 0;
    return this.timeline.windowOfFrame(this.tape.cur, this.tape.curSpeed);
  }

  redraw(history) {
    this.tape.restart(history, this.speed);
    this.view.redraw(history, this.symbol);
    this.renderPosition(true);
  }

  // --- controls -----------------------------------------------------------------------------

  play() {
    if (!this.transport.client) return;
    if (this.transport.ended) {
      // At the end: play again from the start.
      this.transport.paused = false;
      this.seekTo(0, 'nearest', true);
      return;
    }
    this.transport.play(this.tape.cur);
    this.updateAddress();
    this.renderStatus();
  }

  pause() {
    if (!this.transport.client) return;
    this.transport.pause();
    this.updateAddress();
    this.renderStatus();
  }

  toggle() {
    if (this.transport.paused || this.transport.ended) this.play();
    else this.pause();
  }

  // Steps one window with bars forward (+1) or back (-1), paused.
  step(direction) {
    if (!this.tape.cur) return;
    if (!this.transport.paused) this.pause();
    const k = this.position() + direction;
    if (k < 0 || k >= this.timeline.n()) return;
    this.seekTo(k, direction > 0 ? 'next' : 'prev', false);
  }

  seekToTime(ms) {
    if (!this.transport.client) return;
    this.seekTo(this.timeline.windowOf(ms), 'nearest', !this.transport.paused);
  }

  async seekTo(k, mode = 'nearest', play = !this.transport.paused) {
    if (!this.transport.client) return;
    const gen = this.transport.beginSeek(play);
    this.tape.clear();
    this.renderStatus();
    let found;
    try {
      found = await this.timeline.locate(k, mode);
    } catch (e) {
      if (!this.transport.isCurrent(gen)) return;
      this.options.onError?.(describeError(e));
      this.transport.abandonSeek(play);
      return;
    }
    if (!this.transport.isCurrent(gen) || this.closed) return;  // a newer seek took over
    if (!found) {
      this.transport.abandonSeek(play);
      return;
    }
    this.redraw(found.history);
    this.transport.sendSeek(found.j, this.tape.cur.ts);
    this.updateAddress();
  }

  // --- trades -------------------------------------------------------------------------------

  // Goes to the next (+1) or previous (-1) trade among those the filter chooses, paused at its
  // entry. From a trade gone to (still on its bar), its neighbours in the list; from anywhere
  // else, the first trade entered after (the last before) the position.
  nextTrade(direction) {
    if (!this.tape.cur || !this.trades.length) return;
    const chosen = (k) => k >= 0 && k < this.trades.length && tradeMatches(this.trades[k], this.tradeFilter);
    const picked = this.pickedTrade && this.pickedTrade.ts === this.tape.cur.ts ? this.pickedTrade.index : null;
    let k;
    if (picked !== null) {
      k = picked + direction;
    } else {
      const now = Date.parse(this.tape.cur.ts);
      const entry = (t) => Date.parse(t.entry_ts);
      k = direction > 0 ? this.trades.findIndex((t) => entry(t) > now)
        : this.trades.findLastIndex((t) => entry(t) < now);
      if (k < 0) return;
    }
    while (k >= 0 && k < this.trades.length && !chosen(k)) k += direction;
    if (!chosen(k)) return;
    this.goToTrade(k);
  }

  // Pauses at trade `index`'s entry: the window of its entry bar.
  async goToTrade(index) {
    if (!this.transport.client || !this.timeline) return;
    const trade = this.trades[index];
    if (!this.transport.paused) this.pause();
    const ms = Date.parse(trade.entry_ts);
    this.pickedTrade = { index, ts: null };
    this.showPickedTrade();
    await this.seekTo(this.timeline.windowOf(ms), 'nearest', false);
    if (this.pickedTrade && this.pickedTrade.index === index && this.tape.cur) this.pickedTrade.ts = this.tape.cur.ts;
  }

  setTradeFilter(filter) {
    this.tradeFilter = filter;
    this.showPickedTrade();
  }

  showPickedTrade() {
    const chosen = this.trades.map((t, k) => [t, k]).filter(([t]) => tradeMatches(t, this.tradeFilter));
    const index = this.pickedTrade ? this.pickedTrade.index : null;
    const rank = index === null ? -1 : chosen.findIndex(([, k]) => k === index);
    if (rank < 0) this.view.showPickedTrade(null, 0, chosen.length, this.tradeFilter);
    else this.view.showPickedTrade(index, rank + 1, chosen.length, this.tradeFilter);
  }

  setSpeed(speed) {
    if (!this.transport.client) return;
    speed = this.clampSpeed(speed);
    if (!isFinite(speed)) return;
    if (speed === this.speed) return;
    this.speed = speed;
    this.timeline.speed = speed;
    this.transport.setSpeed(speed);
    this.view.showSpeed(speed);
    this.renderPosition();
    this.updateAddress();
    this.timeline.learnWindowCount(speed).then(() => this.renderPosition());
  }

  bindControls() {
    this.view.bindControls({
      drag: (k) => {
        if (this.timeline) this.view.showDragTarget(k, this.timeline.n(), this.timeline.windowStart(k));
      },
      seek: (k) => this.seekTo(k, 'nearest', !this.transport.paused),
      toggle: () => this.toggle(),
      speed: (s) => this.setSpeed(s),
      freeSpeed: (text) => {
        if (!this.info) return;
        const v = Number(text);
        const { min, max } = this.info.speed;
        if (!(v >= min && v <= max)) {
          this.options.onError?.(`speed must be between ${min} and ${max}, got ${text}`);
          this.view.resetFreeSpeed(this.speed);
          return;
        }
        this.setSpeed(v);
      },
      symbol: (name) => {
        this.symbol = name;
        this.seekTo(this.position(), 'prev', !this.transport.paused);
      },
      step: (direction) => this.step(direction),
      trade: (direction) => this.nextTrade(direction),
      tradeFilter: (filter) => this.setTradeFilter(filter),
    });
  }

  // --- frames -------------------------------------------------------------------------------

  accept(frame) {
    this.tape.received(frame);
    if (!this.transport.admit(frame)) return;
    if (this.tape.push(frame, this.transport.frameSpeed(this.speed))) this.transport.ended = false;
  }

  tick = () => {
    if (this.closed) return;
    if (this.tape.pending) {
      const batch = this.tape.take(kBatch);
      this.view.draw(batch);
      this.timeline.noteCount(this.tape.curSpeed, this.tape.cur.n);
      this.renderPosition(this.transport.paused && !this.tape.pending);
    }
    this.raf = requestAnimationFrame(this.tick);
  };

  // --- what is shown ------------------------------------------------------------------------

  // `force`: also re-mark the trades now (else at most twice a second, while playing).
  renderPosition(force = false) {
    const n = this.timeline.n();
    const k = this.position();
    const ms = this.tape.cur ? Date.parse(this.tape.cur.ts) : this.timeline.t0;
    this.view.showPosition(k, n, ms, force);
  }

  renderStatus() {
    this.view.showStatus(this.transport.client, this.tape, this.transport);
  }

  // The address of what is on screen: /runs/{id}, with ?at= (a link to this bar).
  link() {
    const url = new URL(`/runs/${encodeURIComponent(this.id)}`, location.origin);
    if (this.tape.cur) url.searchParams.set('at', this.tape.cur.ts);
    if (this.speed !== null && this.speed !== this.info.speed.default) url.searchParams.set('speed', String(this.speed));
    return url.toString();
  }

  // The address bar follows the player: ?at= when paused.
  updateAddress() {
    const url = new URL(`/runs/${encodeURIComponent(this.id)}`, location.origin);
    if (this.transport.paused && this.tape.cur) url.searchParams.set('at', this.tape.cur.ts);
    if (this.speed !== null && this.speed !== this.info.speed.default) url.searchParams.set('speed', String(this.speed));
    this.options.onLink?.(url.pathname + url.search);
  }
}
