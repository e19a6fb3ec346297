// What the end-to-end tests share: where the binary, the web root and Chromium are, a real
// `tapedeck serve` on a free port, a browser, and waiting for a condition. Not a test itself.
//
// Environment: TAPEDECK_BIN (default build/tapedeck), TAPEDECK_SOURCE_DIR (default: this repo),
// TAPEDECK_WEB_ROOT (default <source>/web), CHROMIUM (default /usr/bin/chromium),
// TAPEDECK_E2E_OUT (default <source>/build/e2e: screenshots go there).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const source = path.resolve(process.env.TAPEDECK_SOURCE_DIR || path.join(here, '..', '..'));
export const bin = path.resolve(process.env.TAPEDECK_BIN || path.join(source, 'build', 'tapedeck'));
export const webRoot = path.resolve(process.env.TAPEDECK_WEB_ROOT || path.join(source, 'web'));
export const outDir = path.resolve(process.env.TAPEDECK_E2E_OUT || path.join(source, 'build', 'e2e'));
export const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// Starts `tapedeck serve --port 0` with its store in `dir` and resolves with {proc, url} once it
// prints where it listens. `extra`: more arguments.
export function startServer(dir, extra = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, [
      'serve', '--port', '0', '--db', path.join(dir, 'tapedeck.db'), '--web-root', webRoot,
      '--heartbeat', '500ms', '--threads', '2', '--workers', '1', ...extra,
    ], {
      cwd: dir,
      env: { ...process.env, TAPEDECK_SAMPLE: path.join(source, 'node_modules/vega-datasets/data/sp500-2000.csv') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30000);
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1] });
      }
    });
    proc.stderr.on('data', (chunk) => { err += chunk; });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
}

// Stops a server startServer started, and waits for it to exit.
export async function stopServer(proc) {
  if (!proc || proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  await new Promise((resolve) => proc.once('exit', resolve));
}

// Debian's Chromium, headless, with a profile in `profileDir`.
export function launchBrowser(profileDir) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

// A server (its own store in a temp folder named from `prefix`) and a browser for the tests of
// one file: started in a `before` hook, which hands them to `use({url, context})` (awaited: it
// may set the browser up further), and stopped, with the folder removed, in an `after` hook.
export function withServerAndBrowser(prefix, use) {
  let work;
  let server;
  let context;
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), prefix));
    const started = await startServer(work);
    server = started.proc;
    context = await launchBrowser(path.join(work, 'profile'));
    await use({ url: started.url, context });
  });
  after(async () => {
    await context?.close();
    await stopServer(server);
    if (work) rmSync(work, { recursive: true, force: true });
  });
}

// Waits until fn() (evaluated in the test) is truthy, and resolves with its value.
export async function until(fn, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// Starts a run over REST (POST /backtests `spec`) on the server at `url` and waits until it is
// done; resolves with its id.
export async function runBacktest(url, spec) {
  const created = await (await fetch(`${url}/backtests`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(spec),
  })).json();
  if (!created.id) throw new Error(`the run was refused: ${JSON.stringify(created)}`);
  await until(async () => (await (await fetch(`${url}/backtests/${created.id}`)).json()).status === 'done',
    `run ${created.id}`, 60000);
  return created.id;
}
