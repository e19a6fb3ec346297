// The player's chart: one lightweight-charts chart with panes sharing one time axis — candles with
// volume, fill and log markers and the strategy's price-pane plots; a pane for each plot of its
// own; equity; drawdown. Fed frame by frame; keeps a bounded number of bars so a long run stays
// smooth.

// The chart library is loaded on demand (loadChartLibrary), not imported: when it is missing (a
// checkout built without `npm ci`) the rest of the page still loads and says so in words.
const kLibraryUrl = '/vendor/lightweight-charts/lightweight-charts.standalone.production.mjs';
let L = null;         // the library's module, once loaded
let loading = null;   // its promise

// Resolves once the chart library is loaded; PlayerChart needs it. Rejects with an Error whose
// message says what is missing and how to get it. Loads once per page.
export function loadChartLibrary() {
  loading ??= import(kLibraryUrl).then((module) => {
    L = module;
    return module;
  }, async (e) => {
    throw new Error(await explainLibraryFailure(e));
  });
  return loading;
}

async function explainLibraryFailure(e) {
  let status = 0;
  try {
    status = (await fetch(kLibraryUrl, { method: 'HEAD' })).status;
  } catch {
    // The server is unreachable: the import's own message says so.
  }
  if (status === 404) {
    return `The chart library (lightweight-charts) is missing on the server: ${kLibraryUrl} answered ` +
      '404, so runs cannot be drawn. Install it with `npm ci` in the server\'s source tree (or run ' +
      'scripts/bootstrap.sh), then reload this page.';
  }
  return `The chart library did not load from ${kLibraryUrl}${status ? ` (HTTP ${status})` : ''}, so ` +
    `runs cannot be drawn: ${e.message}`;
}

// When the chart holds more than kMaxBars it keeps the newest kKeepBars: trimming in steps keeps
// the cost of a full setData rare.
export const kMaxBars = 2000;
const kKeepBars = 1500;
const kVisibleBars = 160;

const kUp = '#26a69a';
const kDown = '#ef5350';
// Plot lines, in declaration order; they wrap around after the last.
export const kPlotColors = ['#ff6d00', '#8e24aa', '#00897b', '#c2185b', '#1565c0', '#6d4c41', '#7cb342'];
const kOwnPaneHeight = 120;  // px added to the chart for each plot with a pane of its own
const kBaseHeight = 560;

const toSeconds = (iso) => Math.floor(Date.parse(iso) / 1000);

// A chart of the player's look: white, a price pane, time to the minute.
function createPriceChart(element) {
  return L.createChart(element, {
    autoSize: true,
    layout: {
      background: { type: L.ColorType.Solid, color: '#ffffff' },
      textColor: '#333',
      panes: { separatorColor: '#d0d4dc', enableResize: true },
    },
    grid: { vertLines: { color: '#f0f2f5' }, horzLines: { color: '#f0f2f5' } },
    timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 4 },
    rightPriceScale: { minimumWidth: 80 },
  });
}

// The candles, in the price pane.
function addCandles(chart) {
  return chart.addSeries(L.CandlestickSeries, {
    upColor: kUp, downColor: kDown, borderVisible: false, wickUpColor: kUp, wickDownColor: kDown,
  }, 0);
}

export class PlayerChart {
  // plots: the run's [{name, pane: "price" | "own"}] in declaration order (GET /backtests/{id}).
  // REQUIRES: loadChartLibrary() has resolved.
  constructor(element, plots = []) {
    this.element = element;
    const own = plots.filter((p) => p.pane === 'own').length;
    element.style.height = `${kBaseHeight + own * kOwnPaneHeight}px`;
    this.chart = createPriceChart(element);
    this.candles = addCandles(this.chart);
    this.volume = this.chart.addSeries(L.HistogramSeries, {
      priceScaleId: 'volume', priceFormat: { type: 'volume' }, lastValueVisible: false,
      priceLineVisible: false,
    }, 0);
    this.volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.22 } });
    // The plots: price-pane lines over the candles, then a pane for each of its own right below
    // them, then equity and drawdown.
    this.plots = new Map();  // name -> {series, pane, color, data: [{time, value}]}
    this.ownPanes = 0;
    for (const p of plots) this.addPlot(p.name, p.pane);
    this.equityPane = 1 + this.ownPanes;
    this.equity = this.chart.addSeries(L.LineSeries, {
      color: '#2962ff', lineWidth: 2, priceFormat: { type: 'price', precision: 0, minMove: 1 },
      title: 'equity',
    }, this.equityPane);
    this.drawdown = this.chart.addSeries(L.AreaSeries, {
      lineColor: kDown, topColor: 'rgba(239,83,80,0.05)', bottomColor: 'rgba(239,83,80,0.35)',
      lineWidth: 1, invertFilledArea: true, title: 'drawdown',
      priceFormat: { type: 'custom', formatter: (v) => (v * 100).toFixed(1) + '%', minMove: 0.0001 },
    }, this.equityPane + 1);
    this.markersApi = L.createSeriesMarkers(this.candles, []);
    this.layoutPanes();
    this.clear();
  }

  // A plot series: on the candles' pane ("price") or on a new pane of its own ("own"). A name
  // first seen in a frame (not declared in the run) goes on the price pane.
  addPlot(name, pane) {
    if (this.plots.has(name)) return this.plots.get(name);
    const color = kPlotColors[this.plots.size % kPlotColors.length];
    const own = pane === 'own' && !this.equity;  // own panes sit above equity: declared ones only
    const index = own ? 1 + this.ownPanes++ : 0;
    const series = this.chart.addSeries(L.LineSeries, {
      color, lineWidth: 2, title: name, priceLineVisible: false, crosshairMarkerVisible: false,
      lastValueVisible: true,
    }, index);
    const plot = { series, pane: own ? 'own' : 'price', color, data: [] };
    this.plots.set(name, plot);
    return plot;
  }

  // The newest value drawn of plot `name`, or null.
  latestPlot(name) {
    const data = this.plots.get(name)?.data;
    return data && data.length ? data[data.length - 1].value : null;
  }

  // Candles get most of the height, each own plot, equity and drawdown a strip each. Panes size
  // themselves only once the chart has laid out, hence the next animation frame.
  layoutPanes() {
    requestAnimationFrame(() => {
      const panes = this.chart.panes();
      if (panes.length !== 3 + this.ownPanes) return;
      const total = (this.element.clientHeight || kBaseHeight) - this.ownPanes * kOwnPaneHeight;
      panes[0].setHeight(Math.round(total * 0.6));
      for (let k = 1; k <= this.ownPanes; ++k) panes[k].setHeight(kOwnPaneHeight);
      panes[this.equityPane].setHeight(Math.round(total * 0.22));
      panes[this.equityPane + 1].setHeight(Math.round(total * 0.18));
    });
  }

  clear() {
    this.bars = [];      // {time, open, high, low, close}
    this.volumes = [];   // {time, value, color}
    this.equities = [];  // {time, value}
    this.drawdowns = []; // {time, value}
    this.markers = [];
    for (const plot of this.plots.values()) plot.data = [];
    this.seenOrders = new Set();  // "id:status": an order event drawn once, even when resent
    this.symbol = null;
  }

  // Number of bars on the chart.
  get count() {
    return this.bars.length;
  }

  // Sim time (ms) of the newest bar drawn, or null.
  get lastTime() {
    const last = this.bars[this.bars.length - 1];
    return last ? last.time * 1000 : null;
  }

  // Redraws the chart from `frames` (oldest first), for `symbol`. `drawdownAt(ms, equity)` gives
  // the drawdown (<= 0) at a frame.
  reset(frames, symbol, drawdownAt) {
    this.clear();
    this.symbol = symbol;
    for (const frame of frames) this.addFrame(frame, drawdownAt, false);
    this.trim(true);
    this.redraw();
    this.showLatest();
    this.layoutPanes();
  }

  // Appends one frame and draws it.
  push(frame, drawdownAt) {
    const changed = this.addFrame(frame, drawdownAt, true);
    if (this.trim(false)) {
      this.redraw();
    } else if (changed.markers) {
      this.markersApi.setMarkers(this.markers);
    }
  }

  showLatest() {
    const n = this.bars.length;
    if (n > 0) {
      this.chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, n - kVisibleBars), to: n + 3 });
    }
  }

  // Adds a frame to the data; with `live`, updates the series too. Returns {markers: changed}.
  addFrame(frame, drawdownAt, live) {
    let time = toSeconds(frame.ts);
    const last = this.bars[this.bars.length - 1];
    const bar = frame.ohlc[this.symbol];
    let markersChanged = false;
    // Times must increase; bars closer than a second (or a frame repeating its time) are merged
    // into the bar already drawn.
    const merge = last && time <= last.time;
    if (merge) time = last.time;
    if (bar) {
      let candle = { time, open: bar.o, high: bar.h, low: bar.l, close: bar.c };
      let volume = bar.v;
      if (merge) {
        candle = {
          time, open: last.open, high: Math.max(last.high, bar.h), low: Math.min(last.low, bar.l),
          close: bar.c,
        };
        volume += this.volumes[this.volumes.length - 1].value;
        this.bars[this.bars.length - 1] = candle;
      } else {
        this.bars.push(candle);
      }
      const vol = { time, value: volume, color: candle.close >= candle.open ? 'rgba(38,166,154,0.45)' : 'rgba(239,83,80,0.45)' };
      if (merge) this.volumes[this.volumes.length - 1] = vol;
      else this.volumes.push(vol);
      if (live) {
        this.candles.update(candle);
        this.volume.update(vol);
      }
    }
    if (!bar && !last) return { markers: false };  // nothing to hang equity on yet
    if (typeof frame.equity === 'number') {
      const eq = { time, value: frame.equity };
      const dd = { time, value: drawdownAt(Date.parse(frame.ts), frame.equity) };
      const lastEq = this.equities[this.equities.length - 1];
      if (lastEq && lastEq.time === time) {
        this.equities[this.equities.length - 1] = eq;
        this.drawdowns[this.drawdowns.length - 1] = dd;
      } else {
        this.equities.push(eq);
        this.drawdowns.push(dd);
      }
      if (live) {
        this.equity.update(eq);
        this.drawdown.update(dd);
      }
    }
    for (const [name, value] of Object.entries(frame.plots || {})) {
      if (typeof value !== 'number' || !isFinite(value)) continue;
      const plot = this.addPlot(name, 'price');
      const point = { time, value };
      const lastPoint = plot.data[plot.data.length - 1];
      if (lastPoint && lastPoint.time === time) plot.data[plot.data.length - 1] = point;
      else plot.data.push(point);
      if (live) plot.series.update(point);
    }
    if (frame.logs && frame.logs.length) {
      // A dot over the candle the frame's messages were written in (the log list has the words).
      this.markers.push({ time, position: 'aboveBar', shape: 'circle', color: '#6e7781', size: 0.6 });
      markersChanged = true;
    }
    for (const order of frame.orders || []) {
      if (order.status !== 'filled' || order.sym !== this.symbol || typeof order.px !== 'number') continue;
      const key = `${order.id}:${order.status}`;
      if (this.seenOrders.has(key)) continue;
      this.seenOrders.add(key);
      const buy = order.side === 'buy';
      this.markers.push({
        time, position: 'atPriceMiddle', price: order.px, shape: buy ? 'arrowUp' : 'arrowDown',
        color: buy ? '#1b5e20' : '#b71c1c', text: buy ? 'B' : 'S', size: 1.2,
      });
      markersChanged = true;
    }
    return { markers: markersChanged };
  }

  // Keeps the newest bars when there are too many. True when it dropped some.
  trim(always) {
    const limit = always ? kKeepBars : kMaxBars;
    if (this.bars.length <= limit) return false;
    const first = this.bars[this.bars.length - kKeepBars].time;
    const keep = (p) => p.time >= first;
    this.bars = this.bars.filter(keep);
    this.volumes = this.volumes.filter(keep);
    this.equities = this.equities.filter(keep);
    this.drawdowns = this.drawdowns.filter(keep);
    this.markers = this.markers.filter(keep);
    for (const plot of this.plots.values()) plot.data = plot.data.filter(keep);
    return true;
  }

  redraw() {
    // Trimming moves every bar's logical index; keep the view on the newest bars when it was there.
    this.candles.setData(this.bars);
    this.volume.setData(this.volumes);
    this.equity.setData(this.equities);
    this.drawdown.setData(this.drawdowns);
    for (const plot of this.plots.values()) plot.series.setData(plot.data);
    this.markersApi.setMarkers(this.markers);
  }
}

// Two runs over the same bars on one chart (the comparison page): the candles once, each run's
// fills as markers of its own (A: arrows in kRunColors[0], B: squares in kRunColors[1], lettered),
// and both equity curves on a pane below. Fed frame by frame, each run's frames apart; bounded
// like PlayerChart.
export const kRunColors = ['#1565c0', '#ef6c00'];

export class CompareChart {
  // REQUIRES: loadChartLibrary() has resolved.
  constructor(element, symbol) {
    this.symbol = symbol;
    element.style.height = `${kBaseHeight}px`;
    this.chart = createPriceChart(element);
    this.candles = addCandles(this.chart);
    this.equity = kRunColors.map((color, side) => this.chart.addSeries(L.LineSeries, {
      color, lineWidth: 2, title: `equity ${'AB'[side]}`,
      priceFormat: { type: 'price', precision: 0, minMove: 1 },
    }, 1));
    this.markersApi = L.createSeriesMarkers(this.candles, []);
    requestAnimationFrame(() => {
      const panes = this.chart.panes();
      if (panes.length === 2) panes[0].setHeight(Math.round(kBaseHeight * 0.65));
    });
    this.clear();
  }

  clear() {
    this.bars = [];
    this.equities = [[], []];
    this.markers = [[], []];
    this.seenOrders = [new Set(), new Set()];
  }

  get count() {
    return this.bars.length;
  }

  // Redraws from each run's history (oldest first): histories[0] for run A (also the candles),
  // histories[1] for B.
  reset(histories) {
    this.clear();
    for (const side of [0, 1]) for (const frame of histories[side]) this.addFrame(side, frame, false);
    this.trim(true);
    this.redraw();
    const n = this.bars.length;
    if (n > 0) this.chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, n - kVisibleBars), to: n + 3 });
  }

  // Appends frames of run `side` (0: A, 1: B) and draws them.
  push(side, frames) {
    let markers = false;
    for (const frame of frames) markers = this.addFrame(side, frame, true) || markers;
    if (this.trim(false)) this.redraw();
    else if (markers) this.markersApi.setMarkers(this.allMarkers());
  }

  addFrame(side, frame, live) {
    const time = toSeconds(frame.ts);
    const bar = frame.ohlc[this.symbol];
    if (side === 0 && bar) {
      const last = this.bars[this.bars.length - 1];
      let candle = { time, open: bar.o, high: bar.h, low: bar.l, close: bar.c };
      if (last && time <= last.time) {
        candle = { time: last.time, open: last.open, high: Math.max(last.high, bar.h), low: Math.min(last.low, bar.l), close: bar.c };
        this.bars[this.bars.length - 1] = candle;
      } else {
        this.bars.push(candle);
      }
      if (live) this.candles.update(candle);
    }
    if (typeof frame.equity === 'number') {
      const list = this.equities[side];
      const last = list[list.length - 1];
      const point = { time: last && time <= last.time ? last.time : time, value: frame.equity };
      if (last && point.time === last.time) list[list.length - 1] = point;
      else list.push(point);
      if (live) this.equity[side].update(point);
    }
    let changed = false;
    for (const order of frame.orders || []) {
      if (order.status !== 'filled' || order.sym !== this.symbol || typeof order.px !== 'number') continue;
      const key = `${order.id}`;
      if (this.seenOrders[side].has(key)) continue;
      this.seenOrders[side].add(key);
      const buy = order.side === 'buy';
      const letter = 'AB'[side];
      this.markers[side].push(side === 0
        ? { time, position: 'atPriceMiddle', price: order.px, shape: buy ? 'arrowUp' : 'arrowDown', color: kRunColors[0], text: `${letter} ${buy ? 'buy' : 'sell'}`, size: 1.2 }
        : { time, position: buy ? 'belowBar' : 'aboveBar', shape: 'square', color: kRunColors[1], text: `${letter} ${buy ? 'buy' : 'sell'}`, size: 1 });
      changed = true;
    }
    return changed;
  }

  allMarkers() {
    return [...this.markers[0], ...this.markers[1]].sort((a, b) => a.time - b.time);
  }

  trim(always) {
    const limit = always ? kKeepBars : kMaxBars;
    if (this.bars.length <= limit) return false;
    const first = this.bars[this.bars.length - kKeepBars].time;
    const keep = (p) => p.time >= first;
    this.bars = this.bars.filter(keep);
    this.equities = this.equities.map((list) => list.filter(keep));
    this.markers = this.markers.map((list) => list.filter(keep));
    return true;
  }

  redraw() {
    this.candles.setData(this.bars);
    this.equity.forEach((series, side) => series.setData(this.equities[side]));
    this.markersApi.setMarkers(this.allMarkers());
  }

  remove() {
    this.chart.remove();
  }
}

// A sweep's walk-forward: the stitched out-of-sample equity, one point a day ([{day, equity}]),
// with a line where each fold's out-of-sample span starts (`starts`: ISO times).
export class StitchedChart {
  // REQUIRES: loadChartLibrary() has resolved.
  constructor(element, equity, starts = []) {
    this.chart = L.createChart(element, {
      autoSize: true,
      layout: { background: { type: L.ColorType.Solid, color: '#ffffff' }, textColor: '#333' },
      grid: { vertLines: { color: '#f0f2f5' }, horzLines: { color: '#f0f2f5' } },
      rightPriceScale: { minimumWidth: 80 },
    });
    const line = this.chart.addSeries(L.LineSeries, {
      color: '#2962ff', lineWidth: 2, title: 'out-of-sample equity',
      priceFormat: { type: 'price', precision: 0, minMove: 1 },
    });
    line.setData(equity.map((p) => ({ time: p.day, value: p.equity })));
    const days = new Set(equity.map((p) => p.day));
    const markers = starts.map((iso) => iso.slice(0, 10)).map((day) => {
      const first = equity.find((p) => p.day >= day);
      return first && days.has(first.day) ? { time: first.day, position: 'aboveBar', shape: 'arrowDown', color: '#6e7781', text: 'fold', size: 0.8 } : null;
    }).filter((m) => m);
    L.createSeriesMarkers(line, markers);
    this.chart.timeScale().fitContent();
  }

  remove() {
    this.chart.remove();
  }
}
