// The player's drawing: the chart (candles, volume, fill markers, equity, drawdown; chart.js),
// the run's statistics and trades, the seek slider and time, the speed buttons, the status line,
// and the controls' DOM events. It shows what it is given and reports what the user does; it
// neither fetches nor streams.

import { PlayerChart } from './chart.js';
import { $, ago, dimFutureTrades, kMaxTradeRows, renderStats, renderTrades, simTime } from './ui.js';

// drawdownAt(ms, equity) for a run's equity curve {times, values}: the drawdown (<= 0) from the
// peak equity up to that bar — only the past, never the future.
export function drawdownFrom(equity) {
  const times = equity.times;
  const peaks = new Float64Array(equity.values.length);
  let peak = -Infinity;
  equity.values.forEach((v, k) => { peak = Math.max(peak, v); peaks[k] = peak; });
  return (ms, value) => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] <= ms) lo = mid + 1;
      else hi = mid;
    }
    const top = Math.max(lo > 0 ? peaks[lo - 1] : value, value);
    return top > 0 ? value / top - 1 : 0;
  };
}

const windowLabel = (k, n) => `window ${k.toLocaleString('en-US')} of ${n.toLocaleString('en-US')}`;

export class PlayerView {
  constructor() {
    this.chart = null;
    this.drawdownAt = null;
    this.trades = null;
    this.dragging = false;  // the slider is being dragged: leave it and its labels alone
    this.lastTradesDim = 0;
    this.unbind = null;
  }

  show() {
    $('#player').hidden = false;
    $('#welcome').hidden = true;
  }

  // The speed limits of GET /playback on the free speed field and the "max" preset.
  showSpeedLimits(speed) {
    const free = $('#speed-free');
    free.min = String(speed.min);
    free.max = String(speed.max);
    free.title = `Any speed from ${speed.min} to ${speed.max}: 60 plays one year in a minute`;
    const max = $('#speed-max');
    max.dataset.speed = String(speed.max);
    max.title = `${speed.max}×`;
  }

  // A run not done yet: its progress.
  showWaiting(run) {
    $('#waiting').hidden = false;
    $('#wait-progress').value = run.progress || 0;
    $('#wait-text').textContent = run.status === 'queued' ? 'queued…'
      : `running… ${Math.round((run.progress || 0) * 100)}%`;
  }

  hideWaiting() {
    $('#waiting').hidden = true;
  }

  showStats(stats) {
    renderStats($('#stats'), stats);
  }

  // The trades table; onPick(ms) when a trade is clicked.
  showTrades(trades, onPick) {
    this.trades = trades;
    renderTrades($('#trades tbody'), trades, onPick);
    $('#trades-count').textContent = trades.length > kMaxTradeRows
      ? `(first ${kMaxTradeRows} of ${trades.length})` : `(${trades.length})`;
  }

  showSymbols(symbols) {
    $('#symbol').replaceChildren(...symbols.map((s) => new Option(s, s)));
    $('#symbol-pick').hidden = symbols.length < 2;
  }

  // Creates the chart (the chart library must be loaded: loadChartLibrary in chart.js).
  openChart(equity, symbol) {
    this.drawdownAt = drawdownFrom(equity);
    this.chart = new PlayerChart($('#chart'));
    this.chart.reset([], symbol, this.drawdownAt);
  }

  // Draws the chart again from `history` (oldest first).
  redraw(history, symbol) {
    this.chart.reset(history, symbol, this.drawdownAt);
  }

  // Appends frames to the chart.
  draw(frames) {
    for (const frame of frames) this.chart.push(frame, this.drawdownAt);
  }

  showSpeed(speed) {
    for (const b of document.querySelectorAll('#speeds button')) {
      b.classList.toggle('active', Number(b.dataset.speed) === speed);
    }
    const free = $('#speed-free');
    if (document.activeElement !== free) free.value = String(speed);
  }

  // The slider, the sim time and the window label at window k of n, whose time is `ms`.
  // `force`: also re-mark the trades now (else at most twice a second, while playing).
  showPosition(k, n, ms, force = false) {
    const seek = $('#seek');
    seek.max = String(Math.max(0, n - 1));
    if (!this.dragging) seek.value = String(k);
    if (!this.dragging) {
      $('#sim-time').textContent = simTime(ms);
      $('#window-label').textContent = windowLabel(k, n);
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

  // While the slider is dragged: where it would go.
  showDragTarget(k, n, ms) {
    $('#sim-time').textContent = simTime(ms);
    $('#window-label').textContent = windowLabel(k, n);
  }

  // The status line. client: the PlaybackClient or null; tape: the TapeBuffer; transport: the
  // Transport (its state).
  showStatus(client, tape, transport) {
    const c = client;
    const fps = tape.framesPerSecond();
    $('#conn-kind').textContent = c ? (c.kind === 'ws' ? 'WebSocket' : 'SSE') : '—';
    $('#conn-state').textContent = !c ? '' : c.fatal ? '(closed)' : c.reconnecting ? '(reconnecting…)'
      : c.connected ? '(connected)' : c.kind === 'sse' && transport.paused ? '(closed while paused)' : '(connecting…)';
    $('#fps').textContent = String(fps);
    $('#frames-total').textContent = tape.framesReceived.toLocaleString('en-US');
    $('#server-dropped').textContent = String(tape.serverDropped);
    $('#page-dropped').textContent = String(tape.pageDropped);
    const hb = c && c.lastHeartbeat;
    $('#last-hb').textContent = hb ? `${new Date(hb).toLocaleTimeString('en-GB')} (${ago(hb)})` : '—';
    const state = transport.state;
    $('#play-state').textContent = state;
    $('#play-state').dataset.state = state;
    const play = $('#play');
    const showPause = transport.showsPause;
    play.textContent = showPause ? '❚❚' : '▶';
    play.setAttribute('aria-label', showPause ? 'Pause' : 'Play');
    $('#conn-note').textContent = c ? c.note : '';
  }

  showCannotPlay() {
    $('#play-state').textContent = 'cannot play';
  }

  // Wires the controls to `on`: {drag(k), seek(k), toggle(), speed(s), freeSpeed(text),
  // symbol(name), step(direction)}. Undone by close().
  bindControls(on) {
    const seek = $('#seek');
    const onInput = () => {
      this.dragging = true;
      on.drag(Number(seek.value));
    };
    const onChange = () => {
      this.dragging = false;
      on.seek(Number(seek.value));
    };
    const onPlay = () => on.toggle();
    const onSpeeds = (ev) => {
      const b = ev.target.closest('button[data-speed]');
      if (b) on.speed(Number(b.dataset.speed));
    };
    const free = $('#speed-free');
    const onFree = () => on.freeSpeed(free.value);
    const onSymbol = () => on.symbol($('#symbol').value);
    const onKey = (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const t = ev.target;
      const typing = t instanceof HTMLElement && (t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' ||
        (t.tagName === 'INPUT' && t.type !== 'range' && t.type !== 'button') || t.isContentEditable);
      if (typing || $('#player').hidden) return;
      if (ev.key === ' ' || ev.code === 'Space') {
        ev.preventDefault();
        on.toggle();
      } else if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
        ev.preventDefault();
        on.step(ev.key === 'ArrowRight' ? 1 : -1);
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
    this.unbind = () => {
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

  // The free speed field's value goes back to `speed` (a refused entry).
  resetFreeSpeed(speed) {
    $('#speed-free').value = String(speed);
  }

  close() {
    this.unbind?.();
    this.chart?.chart.remove();
    $('#chart').replaceChildren();
    $('#chart').dataset.candles = '0';
    $('#stats').replaceChildren();
    $('#trades tbody').replaceChildren();
    $('#waiting').hidden = true;
  }
}
