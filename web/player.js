// The playback protocol client: one run's stream over WebSocket, falling back to Server-Sent Events
// (the contract: ../shared/spec/playback-protocol.md; how we read it: DESIGN.md).
//
// It moves messages and keeps a connection alive; it does not draw. Events (EventTarget):
//   'frame' detail: the frame object as received ({t:"frame",ts,i,n,ohlc,orders,equity,dropped})
//   'hb'    a heartbeat arrived
//   'end'   the run has no more windows
//   'err'   detail: {code,msg,details}; fatal codes end the connection and stop reconnects
//   'state' detail: {kind:'ws'|'sse', connected, reconnecting, fatal, note}
//
// Controls: play(), pause(), seek(window), setSpeed(s). Over WebSocket they are control messages.
// SSE has no client-to-server path, so there they become reconnects: pause closes the stream, play
// opens one from the next window, seek opens one at the window (closing it again after that one
// frame when paused), a speed change reopens at the current sim time.
//
// Resuming. The client remembers the last frame's window and sim time. After a dropped WebSocket it
// reconnects with ?from= the next window (the same window when paused, so nothing is skipped), with
// a backoff; when the WebSocket cannot connect at all, or breaks `maxWsBreaks` times within a
// minute, it switches to SSE for good. An EventSource reconnects by itself and sends
// Last-Event-ID, so the server resumes after the last window it delivered.
//
// Access control. When the server wants credentials, a browser cannot send them on a WebSocket or
// an EventSource: `options.ticket()` fetches a short-lived ticket for this run (over REST, with the
// page's token), added as ?ticket= to each new connection. A connection outlives its ticket, but
// an EventSource's own reconnect reuses the old address: refused once the ticket has expired, it is
// reopened with a fresh ticket.

export const FATAL_CODES = new Set([
  'RUN_NOT_FOUND', 'NOT_FOUND', 'RUN_FAILED', 'UNAUTHORIZED', 'FORBIDDEN', 'UNAVAILABLE', 'IO',
  'INTERNAL',
]);

const BREAK_WINDOW_MS = 60_000;

export class PlaybackClient extends EventTarget {
  // options: speed (default 60), from (window index or ISO time; default the start), paused
  // (connect and hold still), transport 'auto' | 'sse', maxWsBreaks (default 3), ticket (async
  // () => {ticket} or null when none is needed; an ApiError-like rejection is reported as 'err').
  constructor(runId, options = {}) {
    super();
    this.runId = runId;
    this.speed = options.speed ?? 60;
    this.initialFrom = options.from ?? 0;
    this.paused = !!options.paused;
    this.kind = options.transport === 'sse' ? 'sse' : 'ws';
    this.maxWsBreaks = options.maxWsBreaks ?? 3;
    this.getTicket = options.ticket || null;
    this.ticketRetried = false;  // SSE: one fresh ticket after a refused reconnect
    this.wsGen = 0;   // bumped by each open and drop: a connection still
    this.sseGen = 0;  // waiting for its ticket is abandoned when it changes
    this.connected = false;
    this.reconnecting = false;
    this.ended = false;
    this.fatal = false;
    this.closed = false;
    this.note = '';
    this.last = null;  // {i, n, ts, speed} of the last frame received
    this.lastHeartbeat = null;  // Date.now() of the last {"t":"hb"}
    this.ws = null;
    this.es = null;
    this.wsBreaks = [];
    this.retryTimer = null;
    this.oneShot = false;  // SSE: close after the next frame (a seek while paused)
    this.speedChange = null;  // WS: {fromN, oldSpeed} until the first frame at the new speed
  }

  start() {
    if (this.kind === 'ws') {
      this.openWs(this.initialFrom);
    } else {
      this.oneShot = this.paused;  // paused: just the ?from= window's frame
      this.openSse(this.initialFrom);
    }
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.dropWs();
    this.dropSse();
    this.connected = false;
    this.emitState();
  }

  play() {
    this.paused = false;
    if (this.kind === 'ws') {
      this.send({ t: 'ctrl', cmd: 'play' });
    } else if (!this.es) {
      this.oneShot = false;
      this.openSse(this.resumeFrom(false));
    } else {
      this.oneShot = false;
    }
    this.emitState();
  }

  pause() {
    this.paused = true;
    if (this.kind === 'ws') {
      this.send({ t: 'ctrl', cmd: 'pause' });
    } else {
      this.dropSse();
      this.connected = false;
    }
    this.emitState();
  }

  // Moves to window `pos` (an index at the current speed, or an ISO time). The server answers with
  // that window's frame (snapped to the nearest window with bars), also when paused.
  seek(pos) {
    this.ended = false;
    if (this.kind === 'ws') {
      this.send({ t: 'ctrl', cmd: 'seek', pos });
    } else {
      this.dropSse();
      this.oneShot = this.paused;
      this.openSse(pos);
    }
  }

  // Brings the stream back to `frame` (one the page has drawn; {i, n, ts, speed}): later frames
  // already received are to be sent again. Over WebSocket a seek; over SSE the next stream opens
  // after it.
  rewind(frame) {
    this.last = { i: frame.i, n: frame.n, ts: frame.ts, speed: frame.speed ?? this.speed };
    if (this.kind === 'ws') this.send({ t: 'ctrl', cmd: 'seek', pos: this.resumeFrom(true) });
  }

  setSpeed(speed) {
    const old = this.speed;
    this.speed = speed;
    if (this.kind === 'ws') {
      this.speedChange = { fromN: this.last ? this.last.n : null, oldSpeed: old };
      this.send({ t: 'ctrl', cmd: 'speed', val: speed });
    } else if (!this.paused) {
      this.dropSse();
      this.openSse(this.resumeFrom(false));
    }
    this.emitState();
  }

  // --- shared -------------------------------------------------------------------------------

  // Where a new connection should start: the window after the last one received (the same one
  // when paused: the server sends the ?from= window at once, paused or not), as an index when the
  // last frame was at the current speed, else as its sim time.
  resumeFrom(paused) {
    if (!this.last) return this.initialFrom;
    if (this.last.speed !== this.speed) return this.last.ts;
    if (paused || this.last.i + 1 >= this.last.n) return this.last.i;
    return this.last.i + 1;
  }

  handle(msg) {
    switch (msg.t) {
      case 'frame': {
        let speed = this.speed;
        if (this.speedChange) {
          // Frames already on their way when the speed changed still count windows the old way.
          if (msg.n === this.speedChange.fromN) speed = this.speedChange.oldSpeed;
          else this.speedChange = null;
        }
        this.last = { i: msg.i, n: msg.n, ts: msg.ts, speed };
        this.ended = false;
        this.dispatchEvent(new CustomEvent('frame', { detail: msg }));
        break;
      }
      case 'hb':
        this.lastHeartbeat = Date.now();
        this.dispatchEvent(new CustomEvent('hb'));
        break;
      case 'end':
        this.ended = true;
        this.dispatchEvent(new CustomEvent('end'));
        break;
      case 'err':
        if (FATAL_CODES.has(msg.code)) this.fatal = true;
        this.dispatchEvent(new CustomEvent('err', { detail: msg }));
        if (this.fatal) this.emitState();
        break;
      default:
        break;  // unknown message kinds are additive protocol changes: ignore them
    }
  }

  emitState() {
    this.dispatchEvent(new CustomEvent('state', {
      detail: {
        kind: this.kind, connected: this.connected, reconnecting: this.reconnecting,
        fatal: this.fatal, paused: this.paused, note: this.note,
      },
    }));
  }

  // --- WebSocket ------------------------------------------------------------------------------

  query(from) {
    return `speed=${encodeURIComponent(this.speed)}&from=${encodeURIComponent(from)}`;
  }

  // The '&ticket=…' to add to a new connection's address ('' when the server needs none), fetched
  // for each connection: tickets are short-lived and die with the server process. Null when the
  // connection is no longer wanted once the ticket is in (`wanted()` is false), or when there is no
  // ticket: a server that is away is asked again later (`retry`), like a dropped stream, and a
  // refusal (a wrong token: UNAUTHORIZED) is reported as this stream's error.
  async ticketFor(wanted, retry) {
    let t;
    try {
      t = this.getTicket ? await this.getTicket() : null;
    } catch (e) {
      if (!wanted()) return null;
      if (e.status === 0) {
        this.reconnecting = true;
        this.note = 'cannot reach the server; retrying';
        this.retryTimer = setTimeout(retry, 3000);
      } else {
        this.handle({ t: 'err', code: e.code, msg: e.message, details: e.details || {} });
      }
      this.emitState();
      return null;
    }
    if (!wanted()) return null;
    return t && t.ticket ? `&ticket=${encodeURIComponent(t.ticket)}` : '';
  }

  async openWs(from) {
    const gen = ++this.wsGen;
    const ticket = await this.ticketFor(
      () => gen === this.wsGen && !this.closed && this.kind === 'ws',
      () => { if (!this.closed && this.kind === 'ws') this.openWs(this.resumeFrom(this.paused)); });
    if (ticket === null) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/backtests/${encodeURIComponent(this.runId)}/ws?${this.query(from)}${ticket}`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.fallBack(`WebSocket could not connect (${e.message})`);
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.connected = true;
      this.reconnecting = false;
      // A fresh session plays at once; hold it still if the page is paused.
      if (this.paused) this.send({ t: 'ctrl', cmd: 'pause' });
      this.emitState();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.handle(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;  // one we dropped on purpose
      this.ws = null;
      this.connected = false;
      if (this.closed || this.fatal) {
        this.emitState();
        return;
      }
      if (!opened) {
        this.fallBack('WebSocket could not connect');
        return;
      }
      const now = Date.now();
      this.wsBreaks = this.wsBreaks.filter((t) => now - t < BREAK_WINDOW_MS);
      this.wsBreaks.push(now);
      if (this.wsBreaks.length >= this.maxWsBreaks) {
        this.fallBack(`WebSocket broke ${this.wsBreaks.length} times in a minute`);
        return;
      }
      this.reconnecting = true;
      this.note = 'WebSocket dropped; reconnecting';
      this.emitState();
      const delay = 250 * 2 ** (this.wsBreaks.length - 1);
      this.retryTimer = setTimeout(() => {
        if (!this.closed && this.kind === 'ws') this.openWs(this.resumeFrom(this.paused));
      }, delay);
    };
    ws.onerror = () => {};  // a close event follows, handled above
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    // Not open: the state is kept (paused, speed) and applied on reconnect.
  }

  dropWs() {
    ++this.wsGen;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close();
      } catch {
        // already closing
      }
    }
  }

  fallBack(reason) {
    this.dropWs();
    this.kind = 'sse';
    this.note = `${reason}; using SSE`;
    this.reconnecting = false;
    this.emitState();
    if (this.paused) {
      // Nothing to stream while paused; play (or a seek) opens the stream.
      return;
    }
    this.openSse(this.resumeFrom(false));
  }

  // --- Server-Sent Events ---------------------------------------------------------------------

  async openSse(from) {
    this.dropSse();
    const gen = this.sseGen;
    const ticket = await this.ticketFor(
      () => gen === this.sseGen && !this.closed,
      () => { if (!this.closed && !this.paused && !this.es) this.openSse(this.resumeFrom(false)); });
    if (ticket === null) return;
    const url = `/backtests/${encodeURIComponent(this.runId)}/stream?${this.query(from)}${ticket}`;
    const es = new EventSource(url);
    this.es = es;
    const parse = (ev) => {
      try {
        return JSON.parse(ev.data);
      } catch {
        return null;
      }
    };
    es.onopen = () => {
      this.connected = true;
      this.reconnecting = false;
      this.ticketRetried = false;
      this.emitState();
    };
    es.addEventListener('frame', (ev) => {
      const msg = parse(ev);
      if (!msg) return;
      if (this.oneShot) {
        this.oneShot = false;
        this.dropSse();
        this.connected = false;
        this.emitState();
      }
      this.handle(msg);
    });
    es.addEventListener('hb', () => this.handle({ t: 'hb' }));
    es.addEventListener('end', () => {
      // The server closes the stream after end; don't let the EventSource come back for more.
      this.dropSse();
      this.connected = false;
      this.emitState();
      this.handle({ t: 'end' });
    });
    es.addEventListener('err', (ev) => {
      const msg = parse(ev);
      if (!msg) return;
      if (FATAL_CODES.has(msg.code)) this.dropSse();
      this.handle(msg);
    });
    es.onerror = () => {
      if (this.es !== es) return;
      this.connected = false;
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (404, 204, a VALIDATION or RANGE answer): ask it why.
        this.es = null;
        this.explainRefusal(url);
      } else {
        this.reconnecting = true;  // the EventSource retries by itself, with Last-Event-ID
        this.emitState();
      }
    };
  }

  dropSse() {
    ++this.sseGen;
    const es = this.es;
    this.es = null;
    if (es) es.close();
  }

  async explainRefusal(url) {
    const abort = new AbortController();
    let err = null;
    try {
      const response = await fetch(url, { signal: abort.signal });
      if (response.status === 204) {
        err = null;
        this.handle({ t: 'end' });
      } else if (!response.ok) {
        err = await response.json().catch(() => null);
        if (!err || !err.code) err = { code: 'HTTP_' + response.status, msg: `the stream answered ${response.status}` };
      }
    } catch (e) {
      err = { code: 'NETWORK', msg: `cannot reach the server: ${e.message}` };
    } finally {
      abort.abort();
    }
    if (err && err.code === 'UNAUTHORIZED' && this.getTicket && !this.ticketRetried && !this.closed) {
      // Most likely an EventSource's reconnect with a ticket that has expired meanwhile.
      this.ticketRetried = true;
      if (!this.paused && !this.es) this.openSse(this.resumeFrom(false));
      return;
    }
    if (err) {
      err.t = 'err';
      this.handle(err);
      if (err.code === 'NETWORK' && !this.closed) {
        // The server is away: try again in a while. Any other answer would be the same again.
        this.reconnecting = true;
        this.emitState();
        this.retryTimer = setTimeout(() => {
          if (!this.closed && !this.paused && !this.es) this.openSse(this.resumeFrom(false));
        }, 3000);
      }
    }
    this.emitState();
  }
}
