// Two runs in lockstep (/compare?a=RUN&b=RUN): one set of controls plays both, one chart shows
// the candles once with both runs' fills told apart, both equity curves, and both runs'
// statistics side by side.
//
// How the lockstep holds (docs/architecture.md, "Comparing two runs"): each run has its own
// stream (transport.js: WebSocket with SSE fallback, reconnects, resume), tape and timeline, as in
// the player; every control goes to both. The runs cover the same bars, so at one speed their
// windows are the same and the server sends both the same frame times. The page draws only up to
// a frame time both runs have received (sharedTime), so both always show the same time. A run
// whose stream lags (a slow socket, a reconnect) holds the other back; the other's frames wait in
// its tape, none lost. A seek fetches both histories (/frames) and redraws both at the same window
// before either stream goes on.

import { api, describeError } from './api.js';
import { CompareChart, loadChartLibrary } from './chart.js';
import { TapeBuffer } from './tape.js';
import { Timeline } from './timeline.js';
import { Transport } from './transport.js';
import { $, el, kStats, runErrorText, signClass, simTime, strategyLabel } from './ui.js';
import { loadPlaybackInfo } from './watch.js';

const kBatch = 12;             // frames drawn per animation frame and run, about
const kMaxWaiting = 100000;    // frames a run may hold while the other catches up

// Why two runs cannot play in lockstep, in words; null when they can. `a`, `b`: the runs (GET
// /backtests/{id}); `ea`, `eb`: their equity curves ({times, values}).
export function differentData(a, b, ea, eb) {
  const data = (run) => (run.datasets || [run.dataset]).join(' + ');
  const span = (e) => (e.times.length ? `${simTime(e.times[0])} to ${simTime(e.times[e.times.length - 1])}, ${e.times.length.toLocaleString('en-US')} bars`
    : 'no bars');
  const same = data(a) === data(b) && ea.times.length === eb.times.length &&
    ea.times.length > 0 && ea.times[0] === eb.times[0] && ea.times[ea.times.length - 1] === eb.times[eb.times.length - 1];
  if (same) return null;
  return `These runs are on different data, so they cannot play in step: A runs on ${data(a)} (${span(ea)}), ` +
    `B on ${data(b)} (${span(eb)}). Compare runs over the same dataset and period.`;
}

// The sim time (ms) to draw two runs' waiting frames up to (oldest first, each `{ts}`): the latest
// frame time both hold among the first `batch` of each, else the first time both hold; null when
// they hold none in common yet.
export function sharedTime(a, b, batch) {
  const inB = new Map(b.map((f, k) => [Date.parse(f.ts), k]));
  let target = null;
  for (let k = 0; k < a.length; ++k) {
    const ms = Date.parse(a[k].ts);
    const kb = inB.get(ms);
    if (kb === undefined) continue;
    if (k < batch && kb < batch) {
      target = ms;
    } else {
      if (target === null) target = ms;
      break;
    }
  }
  return target;
}

class Side {
  constructor(id, letter, onChange) {
    this.id = id;
    this.letter = letter;
    this.run = null;
    this.equity = null;
    this.timeline = null;
    this.tape = new TapeBuffer(kMaxWaiting);
    this.transport = new Transport(id, { paused: false, onChange });
  }
}

export class Comparison {
  // options: a, b (run ids), at (ISO time to open paused at), speed, transport ('auto' | 'sse'),
  // onError(text), onTitle(text).
  constructor(options) {
    this.options = options;
    this.sides = [new Side(options.a, 'A', () => this.renderStatus()), new Side(options.b, 'B', () => this.renderStatus())];
    this.info = null;
    this.speed = null;
    this.chart = null;
    this.closed = false;
    this.raf = 0;
    this.statusTimer = 0;
    this.pollTimer = 0;
    this.dragging = false;
    this.unbind = null;
    this.paused = !!options.at;
    for (const side of this.sides) side.transport.paused = this.paused;
  }

  get a() {
    return this.sides[0];
  }

  async open() {
    $('#compare').hidden = false;
    $('#cmp-message').hidden = true;
    this.bindControls();
    this.statusTimer = setInterval(() => this.renderStatus(), 250);
    const library = loadChartLibrary();
    library.catch(() => {});
    try {
      this.info = await loadPlaybackInfo();
      this.speed = Math.min(this.info.speed.max, Math.max(this.info.speed.min, Number(this.options.speed) || this.info.speed.default));
      const runs = await Promise.all(this.sides.map((side) => this.waitUntilDone(side)));
      if (this.closed) return;
      runs.forEach((run, k) => { this.sides[k].run = run; });
      this.showRuns();
      const curves = await Promise.all(this.sides.map((side) => api.equity(side.id)));
      if (this.closed) return;
      curves.forEach((e, k) => { this.sides[k].equity = e; });
      const different = differentData(runs[0], runs[1], curves[0], curves[1]);
      if (different) {
        this.say(different);
        return;
      }
      for (const side of this.sides) {
        side.timeline = new Timeline(side.id, this.info, {
          t0: side.equity.times[0], tLast: side.equity.times[side.equity.times.length - 1],
          bars: side.run.stats?.bars || side.equity.times.length, speed: this.speed,
        });
      }
      await Promise.all(this.sides.map((side) => side.timeline.learnWindowCount(this.speed)));
      await library;
    } catch (e) {
      if (!this.closed) this.say(describeError(e));
      return;
    }
    if (this.closed) return;
    this.chart = new CompareChart($('#cmp-chart'), this.a.run.symbols[0]);
    this.chart.reset([[], []]);
    this.showSpeed();
    this.raf = requestAnimationFrame(this.tick);

    let from = 0;
    if (this.options.at) {
      const at = Date.parse(this.options.at);
      const found = isFinite(at) ? await this.locateBoth(this.a.timeline.windowOf(at), 'nearest').catch(() => null) : null;
      if (this.closed) return;
      if (found) {
        this.redraw(found);
        from = found[0].j;
        this.sides.forEach((side) => side.transport.awaitFrame(found[0].j, side.tape.cur.ts, false));
      }
    }
    for (const side of this.sides) {
      side.transport.connect({
        speed: this.speed, from, transport: this.options.transport, ticket: () => api.ticket(side.id),
      }, {
        frame: (frame) => this.accept(side, frame),
        end: () => this.renderStatus(),
        hb: () => this.renderStatus(),
        err: (detail) => this.options.onError?.(`run ${side.letter}: ${describeError(detail)}`),
        state: () => this.renderStatus(),
      });
    }
    this.renderStatus();
    document.body.dataset.compareReady = '1';
  }

  async waitUntilDone(side) {
    for (;;) {
      const run = await api.backtest(side.id);
      if (this.closed) return null;
      if (run.status === 'done') return run;
      if (run.status === 'failed') throw new Error(`run ${side.letter} (${side.id}) failed: ${runErrorText(run.error)}`);
      $('#cmp-state').textContent = `waiting for run ${side.letter} (${run.status})`;
      await new Promise((resolve) => { this.pollTimer = setTimeout(resolve, 300); });
    }
  }

  // A message instead of the comparison (different data, a failed run).
  say(text) {
    $('#cmp-message').textContent = text;
    $('#cmp-message').hidden = false;
    $('#cmp-state').textContent = 'cannot play';
    $('#cmp-state').dataset.state = 'cannot play';
  }

  close() {
    this.closed = true;
    for (const side of this.sides) side.transport.close();
    cancelAnimationFrame(this.raf);
    clearInterval(this.statusTimer);
    clearTimeout(this.pollTimer);
    this.unbind?.();
    this.chart?.remove();
    $('#cmp-chart').replaceChildren();
    $('#cmp-chart').dataset.candles = '0';
    $('#cmp-stats tbody').replaceChildren();
    for (const letter of ['a', 'b']) {
      $(`#cmp-time-${letter}`).textContent = '—';
      delete $(`#cmp-time-${letter}`).dataset.ms;
    }
    $('#compare').hidden = true;
    delete document.body.dataset.compareReady;
  }

  // --- what is shown ------------------------------------------------------------------------

  showRuns() {
    this.sides.forEach((side) => {
      const letter = side.letter.toLowerCase();
      const run = side.run;
      const params = Object.entries(run.params || {}).map(([k, v]) => `${k}=${v}`).join(' ');
      const link = $(`#cmp-link-${letter}`);
      link.href = `/runs/${encodeURIComponent(side.id)}`;
      link.textContent = `${strategyLabel(run)} ${params}`.trim();
      link.title = `Open run ${side.id} in the player`;
    });
    const title = `${$('#cmp-link-a').textContent} vs ${$('#cmp-link-b').textContent}`;
    $('#cmp-title').textContent = `Comparing ${title}`;
    this.options.onTitle?.(`Comparing ${title}`);
    this.renderStats();
  }

  // Both runs' statistics, one row each, A and B side by side.
  renderStats() {
    const [a, b] = this.sides.map((side) => side.run.stats || {});
    const rows = kStats.filter(([key]) => key in a || key in b).map(([key, label, format]) => {
      const signed = key === 'total_return' || key === 'cagr' || key === 'expectancy';
      const cell = (stats) => el('td', { class: signed ? signClass(stats[key]) : '' }, format(stats[key]));
      return el('tr', { 'data-stat': key }, el('th', {}, label), cell(a), cell(b));
    });
    $('#cmp-stats tbody').replaceChildren(...rows);
  }

  showSpeed() {
    for (const b of document.querySelectorAll('#cmp-speeds button')) b.classList.toggle('active', Number(b.dataset.speed) === this.speed);
    const max = $('#cmp-speed-max');
    max.dataset.speed = String(this.info.speed.max);
  }

  // The common time and each run's: the time of its newest frame drawn.
  renderPosition() {
    const timeline = this.a.timeline;
    const n = timeline.n();
    const cur = this.a.tape.cur;
    const k = cur ? timeline.windowOfFrame(cur, this.a.tape.curSpeed) : 0;
    const seek = $('#cmp-seek');
    seek.max = String(Math.max(0, n - 1));
    if (!this.dragging) {
      seek.value = String(k);
      $('#cmp-window-label').textContent = `window ${k.toLocaleString('en-US')} of ${n.toLocaleString('en-US')}`;
    }
    const shown = this.sides.map((side) => (side.tape.cur ? Date.parse(side.tape.cur.ts) : null));
    this.sides.forEach((side, j) => {
      const out = $(`#cmp-time-${side.letter.toLowerCase()}`);
      out.textContent = simTime(shown[j]);
      out.dataset.ms = shown[j] === null ? '' : String(shown[j]);
    });
    if (!this.dragging) $('#cmp-sim-time').textContent = simTime(shown[0] === null ? timeline.t0 : Math.min(...shown.map((t) => t ?? Infinity)));
    $('#cmp-chart').dataset.candles = String(this.chart ? this.chart.count : 0);
  }

  // 'loading', 'seeking', 'ended', 'paused', 'playing': both runs' state when they agree; else the
  // one still on its way (a seek or a reconnect of one holds both).
  get state() {
    const states = this.sides.map((side) => side.transport.state);
    if (states[0] === states[1]) return states[0];
    for (const s of ['cannot play', 'loading', 'seeking']) if (states.includes(s)) return s;
    if (states.includes('ended')) return this.paused ? 'paused' : 'playing';
    return this.paused ? 'paused' : 'playing';
  }

  renderStatus() {
    if (!$('#cmp-message').hidden) return;
    const state = this.state;
    $('#cmp-state').textContent = state;
    $('#cmp-state').dataset.state = state;
    for (const side of this.sides) {
      const c = side.transport.client;
      $(`#cmp-conn-${side.letter.toLowerCase()}`).textContent = !c ? '' : `${c.kind === 'ws' ? 'WebSocket' : 'SSE'}${
        c.fatal ? ' (closed)' : c.reconnecting ? ' (reconnecting…)' : c.connected ? '' : ' (connecting…)'}`;
    }
    const showPause = !this.paused && state !== 'ended';
    const play = $('#cmp-play');
    play.textContent = showPause ? '❚❚' : '▶';
    play.setAttribute('aria-label', showPause ? 'Pause' : 'Play');
  }

  // --- frames -------------------------------------------------------------------------------

  accept(side, frame) {
    side.tape.received(frame);
    if (!side.transport.admit(frame)) return;
    if (side.tape.push(frame, side.transport.frameSpeed(this.speed))) side.transport.ended = false;
  }

  // Draws both runs up to the latest frame time both have received (at most about kBatch frames
  // each per animation frame): the run ahead waits. Both then show exactly that time. Frames of
  // the same windows share their times; around a speed change (or frames the server merged) one
  // run's frame may span several of the other's, and then both wait for a time they share.
  tick = () => {
    if (this.closed) return;
    const target = sharedTime(this.sides[0].tape.queue, this.sides[1].tape.queue, kBatch);
    if (target !== null) {
      this.sides.forEach((side, j) => {
        const batch = side.tape.takeUntil(target, Infinity);
        if (!batch.length) return;
        this.chart.push(j, batch);
        side.timeline.noteCount(side.tape.curSpeed, side.tape.cur.n);
      });
      this.renderPosition();
    }
    this.raf = requestAnimationFrame(this.tick);
  };

  redraw(found) {
    this.sides.forEach((side, j) => side.tape.restart(found[j].history, this.speed));
    this.chart.reset(found.map((f) => f.history));
    this.renderPosition();
  }

  // --- controls -----------------------------------------------------------------------------

  ready() {
    return this.sides.every((side) => side.transport.client);
  }

  play() {
    if (!this.ready()) return;
    if (this.sides.every((side) => side.transport.ended)) {
      this.paused = false;
      for (const side of this.sides) side.transport.paused = false;
      this.seekTo(0, 'nearest', true);
      return;
    }
    this.paused = false;
    for (const side of this.sides) side.transport.play(side.tape.cur);
    this.renderStatus();
  }

  pause() {
    if (!this.ready()) return;
    this.paused = true;
    for (const side of this.sides) side.transport.pause();
    this.renderStatus();
  }

  toggle() {
    if (this.paused || this.sides.every((side) => side.transport.ended)) this.play();
    else this.pause();
  }

  // Both runs' window with bars for a request at window k, and their histories up to it.
  async locateBoth(k, mode) {
    const a = await this.a.timeline.locate(k, mode);
    if (!a) return null;
    const b = await this.sides[1].timeline.locate(a.j, 'nearest');
    return b ? [a, b] : null;
  }

  async seekTo(k, mode = 'nearest', play = !this.paused) {
    if (!this.ready()) return;
    const gens = this.sides.map((side) => side.transport.beginSeek(play));
    for (const side of this.sides) side.tape.clear();
    this.renderStatus();
    let found;
    try {
      found = await this.locateBoth(k, mode);
    } catch (e) {
      if (!this.sides.every((side, j) => side.transport.isCurrent(gens[j]))) return;
      this.options.onError?.(describeError(e));
      for (const side of this.sides) side.transport.abandonSeek(play);
      return;
    }
    if (this.closed || !this.sides.every((side, j) => side.transport.isCurrent(gens[j]))) return;
    if (!found) {
      for (const side of this.sides) side.transport.abandonSeek(play);
      return;
    }
    this.redraw(found);
    this.sides.forEach((side, j) => side.transport.sendSeek(found[j].j, side.tape.cur.ts));
  }

  setSpeed(speed) {
    if (!this.ready()) return;
    speed = Math.min(this.info.speed.max, Math.max(this.info.speed.min, speed));
    if (!isFinite(speed) || speed === this.speed) return;
    this.speed = speed;
    for (const side of this.sides) {
      side.timeline.speed = speed;
      side.transport.setSpeed(speed);
      side.timeline.learnWindowCount(speed).then(() => this.renderPosition());
    }
    this.showSpeed();
    this.renderPosition();
  }

  bindControls() {
    const seek = $('#cmp-seek');
    const onInput = () => {
      this.dragging = true;
      if (!this.a.timeline) return;
      const k = Number(seek.value);
      $('#cmp-sim-time').textContent = simTime(this.a.timeline.windowStart(k));
      $('#cmp-window-label').textContent = `window ${k.toLocaleString('en-US')} of ${this.a.timeline.n().toLocaleString('en-US')}`;
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
    const onKey = (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey || $('#compare').hidden) return;
      const t = ev.target;
      if (t instanceof HTMLElement && (t.tagName === 'INPUT' && t.type !== 'range')) return;
      if (ev.key === ' ' || ev.code === 'Space') {
        ev.preventDefault();
        this.toggle();
      }
    };
    // A focused button would also "click" on the space key's release: the keydown handled it.
    const onKeyUp = (ev) => {
      if ((ev.key === ' ' || ev.code === 'Space') && ev.target instanceof HTMLButtonElement) ev.preventDefault();
    };
    seek.addEventListener('input', onInput);
    seek.addEventListener('change', onChange);
    $('#cmp-play').addEventListener('click', onPlay);
    $('#cmp-speeds').addEventListener('click', onSpeeds);
    document.addEventListener('keydown', onKey);
    document.addEventListener('keyup', onKeyUp);
    this.unbind = () => {
      document.removeEventListener('keyup', onKeyUp);
      seek.removeEventListener('input', onInput);
      seek.removeEventListener('change', onChange);
      $('#cmp-play').removeEventListener('click', onPlay);
      $('#cmp-speeds').removeEventListener('click', onSpeeds);
      document.removeEventListener('keydown', onKey);
    };
  }
}
