// The player's transport: one run's stream (PlaybackClient in player.js: WebSocket with SSE
// fallback, reconnects, resume) and the play state as the stream sees it — playing or paused,
// ended, and a seek waiting for its answer.
//
// A seek, on either transport: the player pauses the stream (beginSeek), redraws from history,
// then asks the stream for the target window (sendSeek) and waits for that window's frame; frames
// arriving in between are from the old position and are refused by admit(). When the answer comes
// (or kSeekTimeoutMs passes) it plays again if it was playing. Frames that arrive while paused were
// sent before the server took the pause in: refused too, and the stream is brought back to the
// picture (rewind) before playing again.

import { PlaybackClient } from './player.js';

const kSeekTimeoutMs = 4000;

export class Transport {
  // paused: open holding still. onChange(): the state shown changed.
  constructor(runId, { paused = false, onChange = () => {} } = {}) {
    this.id = runId;
    this.onChange = onChange;
    this.client = null;     // null until connect()
    this.paused = paused;
    this.ended = false;
    this.seeking = null;    // {j, ts, wasPlaying, timer} while a seek waits for its frame
    this.seekGen = 0;
    this.resync = false;    // frames came while paused: rewind the stream before playing
    this.failed = false;    // the run cannot be played (set before connecting; see state)
  }

  // Opens the stream. options: speed, from, transport ('auto' | 'sse'), ticket (see
  // PlaybackClient); on: {frame(frame), end(), hb(), err(detail), state()}.
  connect(options, on) {
    this.client = new PlaybackClient(this.id, { ...options, paused: this.paused });
    this.client.addEventListener('frame', (ev) => on.frame(ev.detail));
    this.client.addEventListener('end', () => { this.ended = true; on.end(); });
    this.client.addEventListener('hb', () => on.hb());
    this.client.addEventListener('err', (ev) => on.err(ev.detail));
    this.client.addEventListener('state', () => on.state());
    this.client.start();
  }

  close() {
    this.client?.close();
    if (this.seeking) clearTimeout(this.seeking.timer);
  }

  // 'loading' | 'cannot play' (failed before connecting) | 'seeking' | 'ended' | 'paused' |
  // 'playing'.
  get state() {
    if (!this.client) return this.failed ? 'cannot play' : 'loading';
    return this.seeking ? 'seeking' : this.ended ? 'ended' : this.paused ? 'paused' : 'playing';
  }

  // Whether the play button shows pause: playing, or seeking to play on.
  get showsPause() {
    const state = this.state;
    return state === 'playing' || (state === 'seeking' && this.seeking?.wasPlaying);
  }

  // The speed that counted a frame just received (the client knows across a speed change).
  frameSpeed(fallback) {
    return this.client.last ? this.client.last.speed : fallback;
  }

  // Whether a frame from the stream is to be drawn: not while a seek waits (its answer, drawn
  // already from history, ends the seek), not while paused.
  admit(frame) {
    if (this.seeking) {
      if (frame.i === this.seeking.j && frame.ts === this.seeking.ts) this.finishSeek();
      return false;
    }
    if (this.paused) {
      this.resync = true;
      return false;
    }
    return true;
  }

  // Plays on; `cur` is the last frame drawn (where a rewind goes).
  play(cur) {
    this.paused = false;
    this.ended = false;
    if (this.seeking) {
      this.seeking.wasPlaying = true;  // plays once the seek's frame is in
    } else {
      if (this.resync && cur) this.client.rewind(cur);
      this.resync = false;
      this.client.play();
    }
  }

  pause() {
    this.paused = true;
    if (this.seeking) this.seeking.wasPlaying = false;
    else this.client.pause();
  }

  setSpeed(speed) {
    this.client.setSpeed(speed);
  }

  // A seek starts: the stream pauses until sendSeek's answer. Returns the seek's generation;
  // a later beginSeek makes it stale (isCurrent false).
  beginSeek(play) {
    const gen = ++this.seekGen;
    if (this.seeking) clearTimeout(this.seeking.timer);
    this.seeking = { j: -1, ts: null, wasPlaying: play, timer: 0 };
    this.client.pause();
    return gen;
  }

  isCurrent(gen) {
    return gen === this.seekGen;
  }

  // The seek found nowhere to go (or failed): back to what it was doing.
  abandonSeek(play) {
    this.seeking = null;
    if (play) this.client.play();
  }

  // Asks the stream for window j (its frame has time ts) and waits for that frame.
  sendSeek(j, ts) {
    this.ended = false;
    this.resync = false;
    this.awaitFrame(j, ts);
    this.client.seek(j);
  }

  // Waits for window j's frame (at ts) before drawing from the stream again: a seek sent, or a
  // stream about to open there. wasPlaying: play once it is in (a seek keeps its own).
  awaitFrame(j, ts, wasPlaying = this.seeking ? this.seeking.wasPlaying : false) {
    if (this.seeking) clearTimeout(this.seeking.timer);
    this.seeking = { j, ts, wasPlaying, timer: setTimeout(() => this.finishSeek(), kSeekTimeoutMs) };
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
    this.onChange();
  }
}
