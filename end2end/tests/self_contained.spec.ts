import { expect, test } from '@playwright/test';
import { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, chartPoints, collectPageErrors, openLive, startServer, stopServer } from './helpers';

// The release binary on its own: copied into an empty directory (no Leptos.toml, no target/site)
// and run from there, it serves the whole dashboard from what it carries.
const PORT = 3107;
const ORIGIN = `http://127.0.0.1:${PORT}`;

let server: ChildProcess;
let dir: string;

test.beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-alone-'));
  const binary = path.join(dir, 'vitals');
  fs.copyFileSync(path.join(ROOT, 'target/release/vitals'), binary);
  fs.chmodSync(binary, 0o755);
  server = await startServer(PORT, ['--interval', '1', '--no-persist',
    '--nvml-library', '/nonexistent/libnvidia-ml.so.1'], {}, { binary, cwd: dir });
});

test.afterAll(async () => {
  if (server) await stopServer(server);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a copy of the binary in an empty directory serves the dashboard, every asset and live charts', async ({ page }) => {
  expect(fs.readdirSync(dir)).toEqual(['vitals']);
  const errors = collectPageErrors(page);
  const answers = new Map<string, number>();
  page.on('response', (response) => answers.set(new URL(response.url()).pathname, response.status()));
  await openLive(page, ORIGIN);
  await expect.poll(() => chartPoints(page, 'chart-cpu'), { timeout: 10_000 }).toBeGreaterThan(0);

  for (const asset of ['/', '/pkg/vitals.js', '/pkg/vitals.wasm', '/pkg/vitals.css', '/vendor/echarts.min.js']) {
    expect(answers.get(asset), asset).toBe(200);
  }
  const failed = [...answers].filter(([, status]) => status >= 400);
  expect(failed).toEqual([]);
  expect(errors).toEqual([]);

  // Sent compressed, with an ETag that saves sending it again.
  const wasm = await fetch(`${ORIGIN}/pkg/vitals.wasm`, { headers: { 'accept-encoding': 'br' } });
  expect(wasm.headers.get('content-type')).toBe('application/wasm');
  const again = await fetch(`${ORIGIN}/pkg/vitals.wasm`, { headers: { 'if-none-match': wasm.headers.get('etag')! } });
  expect(again.status).toBe(304);
  // A proxy's weak tag saves it too; x-gzip (gzip's old name) gets the stored gzip copy, not one
  // compressed anew (that would have no length); other methods get 405.
  const weak = await fetch(`${ORIGIN}/pkg/vitals.wasm`, { headers: { 'if-none-match': `W/${wasm.headers.get('etag')}` } });
  expect(weak.status).toBe(304);
  const oldName = await fetch(`${ORIGIN}/pkg/vitals.wasm`, { headers: { 'accept-encoding': 'x-gzip' } });
  expect([oldName.headers.get('content-encoding'), oldName.headers.get('content-length') !== null]).toEqual(['gzip', true]);
  const deflateOnly = await fetch(`${ORIGIN}/pkg/vitals.css`, { headers: { 'accept-encoding': 'deflate' } });
  expect([deflateOnly.headers.get('content-encoding'), deflateOnly.status]).toEqual([null, 200]);
  for (const method of ['POST', 'DELETE', 'FOO']) {
    const other = await fetch(`${ORIGIN}/pkg/vitals.wasm`, { method });
    expect([method, other.status, other.headers.get('allow')]).toEqual([method, 405, 'GET, HEAD']);
  }
  const icon = await fetch(`${ORIGIN}/favicon.svg`);
  expect([icon.status, icon.headers.get('content-type')]).toEqual([200, 'image/svg+xml']);
});
