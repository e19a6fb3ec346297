// The player's drawing: the chart (candles, volume, fill markers, the strategy's plots, equity,
// drawdown; chart.js) with a legend of the plots' values, the strategy's log messages up to the
// position, the run's statistics and trades, the seek slider and time, the speed buttons, the
// status line, and the controls' DOM events. It shows what it is given and reports what the user
// does; it neither fetches nor streams.

import { PlayerChart } from './chart.js';
import { $, ago, dimFutureTrades, el, kMaxTradeRows, num, renderStats, renderTrades, simTime } from './ui.js';

export const kMaxLogRows = 500;  // the newest messages listed; older ones leave the list

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
    this.onPickTime = null;
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

  // The trades table; onPick(index) when a trade is clicked.
  showTrades(trades, onPick) {
    this.trades = trades;
    renderTrades($('#trades tbody'), trades, onPick);
    $('#trades-count').textContent = trades.length > kMaxTradeRows
      ? `(first ${kMaxTradeRows} of ${trades.length})` : `(${trades.length})`;
  }

  // The trade gone to (its row marked and scrolled into view, "trade 3 of 12 winners"), or none
  // (null). filter: 'all' | 'winners' | 'losers'; rank, count: its place among them.
  showPickedTrade(index, rank, count, filter) {
    const tbody = $('#trades tbody');
    for (const row of tbody.querySelectorAll('tr.picked')) row.classList.remove('picked');
    const what = filter === 'all' ? 'trades' : filter;
    if (index === null) {
      $('#trade-label').textContent = count ? `${count.toLocaleString('en-US')} ${what}` : `no ${what}`;
      return;
    }
    $('#trade-label').textContent = `trade ${rank} of ${count.toLocaleString('en-US')} ${what}`;
    const row = tbody.querySelector(`tr[data-index="${index}"]`);
    if (row) {
      row.classList.add('picked');
      row.scrollIntoView({ block: 'nearest' });
    }
  }

  showSymbols(symbols) {
    $('#symbol').replaceChildren(...symbols.map((s) => new Option(s, s)));
    $('#symbol-pick').hidden = symbols.length < 2;
  }

  // Creates the chart (the chart library must be loaded: loadChartLibrary in chart.js). plots:
  // the run's [{name, pane}]; onPickTime(ms) when a log message is clicked.
  openChart(equity, symbol, plots = [], onPickTime = null) {
    this.drawdownAt = drawdownFrom(equity);
    this.onPickTime = onPickTime;
    this.chart = new PlayerChart($('#chart'), plots);
    this.chart.reset([], symbol, this.drawdownAt);
    this.renderLegend();
  }

  // Draws the chart and the log list again from `history` (oldest first).
  redraw(history, symbol) {
    this.chart.reset(history, symbol, this.drawdownAt);
    $('#logs').replaceChildren();
    $('#logs-count').textContent = '(0)';
    this.addLogs(history);
    this.renderLegend();
  }

  // Appends frames to the chart and their messages to the log list.
  draw(frames) {
    for (const frame of frames) this.chart.push(frame, this.drawdownAt);
    this.addLogs(frames);
    this.renderLegend();
  }

  // The plots' newest values drawn, one entry per series in its line's colour. Hidden when the
  // run plots nothing.
  renderLegend() {
    const legend = $('#plot-legend');
    const plots = this.chart ? [...this.chart.plots] : [];
    legend.hidden = plots.length === 0;
    for (const [name, plot] of plots) {
      let item = legend.querySelector(`[data-plot="${CSS.escape(name)}"]`);
      if (!item) {
        item = el('span', { class: 'plot', 'data-plot': name, 'data-pane': plot.pane },
          el('i', { class: 'swatch', style: `background:${plot.color}`, 'aria-hidden': 'true' }),
          el('span', { class: 'name' }, name), ' ', el('output', { class: 'value' }, '—'));
        legend.append(item);
      }
      const value = this.chart.latestPlot(name);
      item.querySelector('.value').textContent = value === null ? '—'
        : num(value, Math.abs(value) >= 1000 ? 2 : 4);
      item.dataset.points = String(plot.data.length);
    }
  }

  // Lists the frames' log messages at their bar, following playback: the newest at the bottom,
  // in view. Clicking one goes to its bar.
  addLogs(frames) {
    const list = $('#logs');
    let added = 0;
    for (const frame of frames) {
      for (const log of frame.logs || []) {
        const ms = Date.parse(log.ts);
        list.append(el('li', { 'data-ts': log.ts, title: 'Go to this bar', tabindex: '0',
          onclick: () => this.onPickTime?.(ms),
          onkeydown: (ev) => { if (ev.key === 'Enter') this.onPickTime?.(ms); },
        }, el('time', { datetime: log.ts }, simTime(ms)), ' ', el('span', { class: 'msg' }, log.msg)));
        added += 1;
      }
    }
    if (!added) return;
    while (list.children.length > kMaxLogRows) list.firstElementChild.remove();
    $('#logs-panel').hidden = false;  // from the first message on, also after a seek back
    $('#logs-count').textContent = `(${list.children.length})`;
    list.scrollTop = list.scrollHeight;
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
  // symbol(name), step(direction), trade(direction), tradeFilter(filter)}. Undone by close().
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
      } else if (ev.key === ']' || ev.key === '[') {
        ev.preventDefault();
        on.trade(ev.key === ']' ? 1 : -1);
      }
    };
    const onTradeNext = () => on.trade(1);
    const onTradePrev = () => on.trade(-1);
    const onTradeFilter = () => on.tradeFilter($('#trade-filter').value);
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
    $('#trade-next').addEventListener('click', onTradeNext);
    $('#trade-prev').addEventListener('click', onTradePrev);
    $('#trade-filter').addEventListener('change', onTradeFilter);
    this.unbind = () => {
      $('#trade-next').removeEventListener('click', onTradeNext);
      $('#trade-prev').removeEventListener('click', onTradePrev);
      $('#trade-filter').removeEventListener('change', onTradeFilter);
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
    $('#trade-label').textContent = '';
    $('#trade-filter').value = 'all';
    $('#logs').replaceChildren();
    $('#logs-panel').hidden = true;
    $('#plot-legend').replaceChildren();
    $('#plot-legend').hidden = true;
    $('#chart').style.height = '';
    $('#waiting').hidden = true;
  }
}
