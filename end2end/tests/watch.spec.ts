import { expect, test } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, collectPageErrors, openLive } from './helpers';

// The development loop as a newcomer meets it after scripts/dev's setup (which scripts/test has
// done too): `cargo leptos watch` builds the debug site and server, serves a page whose assets all
// load and which goes live, and reloads it when a watched file changes. Its own ports and site
// folder keep it off the release build the other specs use.
const PORT = 3110;
const RELOAD_PORT = 3111;
const ORIGIN = `http://127.0.0.1:${PORT}`;
// A file of public/ (cargo-leptos skips what git ignores), saved as an editor saves it: the page
// reloads. Saved with the same bytes, so the working tree stays as it was whatever happens.
const SAVED = path.join(ROOT, 'public/favicon.svg');

let watch: ChildProcess;
let output = '';

test.beforeAll(async () => {
  // The first debug build of both sides takes minutes on 2 cores.
  test.setTimeout(25 * 60_000);
  watch = spawn('cargo', ['leptos', 'watch'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${PORT}`,
      LEPTOS_RELOAD_PORT: String(RELOAD_PORT),
      LEPTOS_SITE_ROOT: 'target/watch-site',
      VITALS_NO_PERSIST: 'true',
      VITALS_NVML_LIBRARY: '/nonexistent/libnvidia-ml.so.1',
      VITALS_EMIT_TOKEN: 'e2e-emit-token-0123456789',
    },
  });
  watch.stdout!.on('data', (chunk) => (output += chunk));
  watch.stderr!.on('data', (chunk) => (output += chunk));
  for (const deadline = Date.now() + 20 * 60_000; ;) {
    if (watch.exitCode !== null) throw new Error(`cargo leptos watch stopped: ${output.slice(-4000)}`);
    try {
      if ((await fetch(`${ORIGIN}/api/system/metrics`)).ok) break;
    } catch {
      // Still building.
    }
    if (Date.now() > deadline) throw new Error(`cargo leptos watch did not serve: ${output.slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
});

test.afterAll(async () => {
  // cargo-leptos and the server it runs, as a group.
  if (watch?.pid) try { process.kill(-watch.pid, 'SIGTERM'); } catch { /* gone already */ }
});

test('cargo leptos watch serves a page whose assets load and which goes live, and reloads it on a change', async ({ page }) => {
  test.setTimeout(10 * 60_000);
  const errors = collectPageErrors(page);
  const answers = new Map<string, number>();
  page.on('response', (response) => answers.set(new URL(response.url()).pathname, response.status()));
  await openLive(page, ORIGIN);
  for (const asset of ['/pkg/vitals.js', '/pkg/vitals.wasm', '/pkg/vitals.css', '/vendor/echarts.min.js']) {
    expect(answers.get(asset), asset).toBe(200);
  }
  expect([...answers].filter(([, status]) => status >= 400)).toEqual([]);

  // The live-reload socket is let through (the page's policy names its port) and connects.
  const policy = (await page.request.get(ORIGIN + '/')).headers()['content-security-policy'];
  expect(policy).toContain(`ws://*:${RELOAD_PORT}`);

  // A watched file changes: the page reloads by itself.
  await page.evaluate(() => ((window as any).beforeReload = true));
  const reloaded = page.waitForEvent('load', { timeout: 5 * 60_000 });
  fs.writeFileSync(SAVED, fs.readFileSync(SAVED));
  await reloaded;
  expect(await page.evaluate(() => (window as any).beforeReload)).toBeUndefined();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  expect(errors).toEqual([]);
});
