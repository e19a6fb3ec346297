// A run cut into windows at a speed, counted as the server counts them, and the run's history
// (GET /frames) found by window: what a seek redraws from. No drawing, no stream.
//
// Window k at speed S covers [t0 + k·D, t0 + (k+1)·D) with D = S × sim_seconds_per_second / fps
// sim seconds, both from GET /playback. The server's own count n (from any frame at that speed)
// wins over the count computed from the run's first and last bar times.

import { api } from './api.js';

export const kHistoryBars = 1500;
const kMaxHistoryFrames = 20000;  // the server's cap on one /frames request

export class Timeline {
  // info: the answer of GET /playback. t0, tLast: sim times (ms) of the run's first and last
  // bars; bars: how many bars the run has (a hint for how far to look back).
  constructor(runId, info, { t0, tLast, bars, speed }) {
    this.id = runId;
    this.info = info;
    this.t0 = t0;
    this.tLast = tLast;
    this.bars = bars;
    this.speed = speed;             // the speed windows are counted at
    this.windowCounts = new Map();  // speed -> n, as the server counts
  }

  // Sim time (ms) one window covers at `speed`.
  windowMs(speed) {
    return (speed * this.info.sim_seconds_per_second / this.info.fps) * 1000;
  }

  // Windows at the current speed: the server's count (from a frame at this speed) when known.
  n() {
    const known = this.windowCounts.get(this.speed);
    if (known) return known;
    return Math.floor((this.tLast - this.t0) / this.windowMs(this.speed)) + 1;
  }

  // Takes the server's count of windows at `speed` from a frame, unless one is known already.
  noteCount(speed, n) {
    if (!this.windowCounts.has(speed)) this.windowCounts.set(speed, n);
  }

  // Asks the server how many windows there are at `speed` (the first frame carries n).
  async learnWindowCount(speed) {
    if (this.windowCounts.has(speed)) return;
    const frames = await api.frames(this.id, speed, 0, 1).catch(() => []);
    if (frames.length) this.windowCounts.set(speed, frames[0].n);
  }

  windowOf(ms) {
    const k = Math.floor((ms - this.t0) / this.windowMs(this.speed));
    return Math.min(Math.max(k, 0), this.n() - 1);
  }

  windowStart(k) {
    return this.t0 + k * this.windowMs(this.speed);
  }

  // The window `frame` is in at the current speed. `frameSpeed`: the speed that counted its `i`
  // (frames in flight across a speed change still count the old way: use their time).
  windowOfFrame(frame, frameSpeed) {
    if (!frame) return 0;
    if (frameSpeed === this.speed) return frame.i;
    return this.windowOf(Date.parse(frame.ts));
  }

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
}
