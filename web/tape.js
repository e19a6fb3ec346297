// The tape buffer: frames as they arrive from the stream, waiting to be drawn. Frames are drawn
// on requestAnimationFrame, a bounded batch at a time (`take`); when the buffer grows past
// kMaxQueue (the tab was hidden, the machine is busy) the oldest buffered frames are merged into
// their successor, the way the server coalesces, and counted as the page's dropped frames, so
// candles, fills, plot values and log messages are never lost. It also keeps the counters the
// status line shows.

const kMaxQueue = 90;  // three seconds at 30 frames/s

// Coalesces two consecutive frames the way the server does (DESIGN.md, Backpressure).
export function mergeFrames(older, newer) {
  const ohlc = { ...older.ohlc };
  for (const [sym, b] of Object.entries(newer.ohlc)) {
    const a = ohlc[sym];
    ohlc[sym] = a ? { o: a.o, h: Math.max(a.h, b.h), l: Math.min(a.l, b.l), c: b.c, v: a.v + b.v } : b;
  }
  const merged = { ...newer, ohlc, orders: [...(older.orders || []), ...(newer.orders || [])] };
  // Each plot's newest value (a series absent from the newer window keeps the older one), and
  // every log message, in order.
  if (older.plots || newer.plots) merged.plots = { ...older.plots, ...newer.plots };
  if (older.logs || newer.logs) merged.logs = [...(older.logs || []), ...(newer.logs || [])];
  return merged;
}

export class TapeBuffer {
  // maxQueue: how many frames wait before the oldest are merged (the comparison holds a run's
  // frames until the other's catch up, so it keeps more).
  constructor(maxQueue = kMaxQueue) {
    this.maxQueue = maxQueue;
    this.queue = [];
    this.cur = null;          // the last frame handed out to be drawn
    this.curSpeed = undefined;  // the speed that counted cur's window
    this.lastTs = -Infinity;  // sim time (ms) of the last frame accepted
    this.framesReceived = 0;
    this.pageDropped = 0;     // buffered frames merged here
    this.serverDropped = 0;   // frames the server merged, as its last frame said
    this.arrivals = [];       // performance.now() of frames in the last second
  }

  // Counts a frame that arrived from the stream, whether or not it is drawn.
  received(frame) {
    this.framesReceived += 1;
    this.arrivals.push(performance.now());
    if (typeof frame.dropped === 'number') this.serverDropped = frame.dropped;
  }

  // Buffers a frame to draw; `speed` is the speed that counted its window. False when it is not
  // after the last one accepted (a resumed stream repeats its window): it was drawn already.
  push(frame, speed) {
    frame.speed = speed;
    const t = Date.parse(frame.ts);
    if (!(t > this.lastTs)) return false;
    this.lastTs = t;
    this.queue.push(frame);
    while (this.queue.length > this.maxQueue) {
      const [a, b] = this.queue.splice(0, 2);
      this.queue.unshift(mergeFrames(a, b));
      this.pageDropped += 1;
    }
    return true;
  }

  get pending() {
    return this.queue.length;
  }

  // Up to `max` of the oldest buffered frames, which become drawn (cur is the last of them).
  take(max) {
    const batch = this.queue.splice(0, max);
    if (batch.length) {
      this.cur = batch[batch.length - 1];
      this.curSpeed = this.cur.speed;
    }
    return batch;
  }

  // Like take, but only frames at or before sim time `ms`.
  takeUntil(ms, max) {
    let count = 0;
    while (count < max && count < this.queue.length && Date.parse(this.queue[count].ts) <= ms) ++count;
    return this.take(count);
  }

  // Forgets what is buffered (frames from before a seek).
  clear() {
    this.queue.length = 0;
  }

  // Starts again after `history` (oldest first, counted at `speed`), drawn by the caller.
  restart(history, speed) {
    this.queue.length = 0;
    const last = history[history.length - 1];
    if (last) {
      this.cur = { ...last, speed };
      this.curSpeed = speed;
      this.lastTs = Date.parse(last.ts);
    } else {
      this.cur = null;
      this.lastTs = -Infinity;
    }
  }

  // Frames received in the last second.
  framesPerSecond() {
    const now = performance.now();
    while (this.arrivals.length && now - this.arrivals[0] > 1000) this.arrivals.shift();
    return this.arrivals.length;
  }
}
