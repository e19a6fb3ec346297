// REST client for tapedeck's API (docs/api/rest.md). Every failure becomes an ApiError carrying the
// server's {"code","msg","details"}, so the page can show it in words.

export class ApiError extends Error {
  constructor(status, code, msg, details = {}) {
    super(msg);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

// "no dataset named 'nope' (VALIDATION, field dataset)": the server's message first, then what
// names the culprit. Works for ApiError, stream {"t":"err"} messages and plain Errors.
export function describeError(e) {
  if (!e) return 'unknown error';
  const msg = e.msg || e.message || String(e);
  const code = e.code;
  const details = e.details || {};
  const extra = [];
  if (details.field) extra.push(`field ${details.field}`);
  if (details.line) extra.push(`line ${details.line}${details.column ? `, column ${details.column}` : ''}`);
  if (!code) return msg;
  return `${msg} (${code}${extra.length ? ', ' + extra.join(', ') : ''})`;
}

// --- access token ---------------------------------------------------------------------------
// A server started with --auth-token wants `Authorization: Bearer <token>` on every API call. The
// page keeps the token for this tab only (sessionStorage): it is gone when the tab closes.

const kTokenKey = 'tapedeck.token';
let onUnauthorized = () => {};

export const auth = {
  token: () => sessionStorage.getItem(kTokenKey) || '',
  setToken: (token) => {
    if (token) sessionStorage.setItem(kTokenKey, token);
    else sessionStorage.removeItem(kTokenKey);
  },
  // fn(error) runs when the server answers 401: the page asks for a (new) token.
  onUnauthorized: (fn) => { onUnauthorized = fn; },
};

async function request(method, path, { json, body, headers = {}, accept = 'json' } = {}) {
  const init = { method, headers: { ...headers } };
  const token = auth.token();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'UNAVAILABLE', `cannot reach the server: ${e.message}`);
  }
  if (!response.ok) {
    let err = null;
    try {
      err = await response.json();
    } catch {
      // Not our JSON error (a proxy's page, say): fall back to the status line.
    }
    if (err && err.code) {
      const e = new ApiError(response.status, err.code, err.msg, err.details);
      if (response.status === 401) onUnauthorized(e);
      throw e;
    }
    throw new ApiError(response.status, 'HTTP_' + response.status,
                       `${method} ${path} answered ${response.status} ${response.statusText}`);
  }
  if (response.status === 204) return null;
  return accept === 'text' ? response.text() : response.json();
}

const enc = encodeURIComponent;

export const api = {
  datasets: () => request('GET', '/datasets'),
  // `format`: auto (or empty), yahoo, binance, mt5, generic. `file`: a File or Blob of CSV text.
  uploadDataset: (name, symbol, format, file) => {
    let q = `?name=${enc(name)}`;
    if (symbol) q += `&symbol=${enc(symbol)}`;
    if (format && format !== 'auto') q += `&format=${enc(format)}`;
    return request('POST', '/datasets' + q, { body: file, headers: { 'Content-Type': 'text/csv' } });
  },
  // Built-ins and saved scripts, each with its `kind` ("builtin" | "script").
  strategies: () => request('GET', '/strategies'),
  // A strategy with its source and versions; `version` (a number) picks one, else the latest.
  strategy: (name, version) =>
    request('GET', `/strategies/${enc(name)}${version ? `?version=${enc(version)}` : ''}`),
  // Saves a script as the next version of `name` (the latest one again when the source is the
  // same): {name, kind, version, sha256, params, created}. A script that does not compile or has a
  // bad params table is a VALIDATION error with details.line and details.msg.
  saveStrategy: (name, source) => request('POST', '/strategies', { json: { name, source } }),
  // The playback channels' constants: {fps, sim_seconds_per_second, speed: {min, max, default},
  // heartbeat_ms, ping_ms, idle_timeout_ms, max_control_bytes}.
  playback: () => request('GET', '/playback'),
  createBacktest: (spec) => request('POST', '/backtests', { json: spec }),
  backtests: () => request('GET', '/backtests'),
  backtest: (id) => request('GET', `/backtests/${enc(id)}`),
  deleteBacktest: (id) => request('DELETE', `/backtests/${enc(id)}`),
  trades: (id) => request('GET', `/backtests/${enc(id)}/trades`),
  // The equity curve as CSV (smaller than JSON on long runs): {times: ms[], values: number[]}.
  equity: async (id) => {
    const text = await request('GET', `/backtests/${enc(id)}/equity?format=csv`, { accept: 'text' });
    const lines = text.split('\n');
    const times = [];
    const values = [];
    for (let k = 1; k < lines.length; ++k) {
      const line = lines[k];
      const comma = line.indexOf(',');
      if (comma < 0) continue;
      times.push(Date.parse(line.slice(0, comma)));
      values.push(Number(line.slice(comma + 1)));
    }
    return { times, values };
  },
  // Sweeps: a strategy over many parameter values (POST /sweeps takes the backtest's fields, with
  // params as ranges {from,to,step}, lists or fixed values, and method, trials, seed, objective,
  // walk_forward {folds, anchored}, pbo_blocks) -> {id, status, trials}.
  createSweep: (spec) => request('POST', '/sweeps', { json: spec }),
  sweeps: (limit = 100, offset = 0) => request('GET', `/sweeps?limit=${limit}&offset=${offset}`),
  sweep: (id) => request('GET', `/sweeps/${enc(id)}`),
  deleteSweep: (id) => request('DELETE', `/sweeps/${enc(id)}`),
  // {total, trials: [{index, params, objective, stats, error?}]}, sorted by `sort` ("index",
  // "objective" or a statistic), failed trials last.
  sweepTrials: (id, { sort = 'index', order, limit = 100, offset = 0 } = {}) =>
    request('GET', `/sweeps/${enc(id)}/trials?sort=${enc(sort)}${order ? `&order=${enc(order)}` : ''}&limit=${limit}&offset=${offset}`),
  // Runs trial k as a normal backtest: {id, status} of the new run.
  runSweepTrial: (id, k) => request('POST', `/sweeps/${enc(id)}/trials/${enc(k)}/run`),
  // A ticket for the run's WebSocket or SSE address ({ticket, expires_in}) when the page holds a
  // token; null otherwise (a server without access control needs none).
  ticket: (id) => (auth.token() ? request('POST', `/backtests/${enc(id)}/ticket`) : Promise.resolve(null)),
  // Frames of windows from <= k < to at `speed`, exactly as the stream sends them (dropped 0).
  frames: (id, speed, from, to) =>
    request('GET', `/backtests/${enc(id)}/frames?speed=${speed}&from=${from}&to=${to}`),
};
