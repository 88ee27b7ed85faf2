import { expect, test, WebSocketRoute } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { chartPoints, openLive, PLAIN } from './helpers';

const root = path.resolve(__dirname, '../..');

test('when the socket is cut the page polls REST, and stops polling once the socket is back', async ({ page }) => {
  let cut = false;
  const pageSides: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (cut) {
      ws.close();
      return;
    }
    pageSides.push(ws);
    ws.connectToServer();
  });
  const polls: number[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/api/system/metrics')) polls.push(Date.now());
  });

  await openLive(page, PLAIN);
  expect(polls).toEqual([]);

  cut = true;
  for (const ws of pageSides) await ws.close();
  const connection = page.getByTestId('connection');
  // Sample interval is 1 s: polling must start within about 3 intervals.
  await expect(connection).toHaveAttribute('data-state', 'polling', { timeout: 4_000 });
  const lastUpdate = page.getByTestId('last-update');
  const before = await lastUpdate.textContent();
  await expect(lastUpdate).not.toHaveText(before!, { timeout: 5_000 });
  expect(polls.length).toBeGreaterThan(0);

  cut = false;
  await expect(connection).toHaveAttribute('data-state', 'live', { timeout: 40_000 });
  const pollsWhenLive = polls.length;
  await page.waitForTimeout(3_000);
  expect(polls.length, 'no polling requests once live').toBe(pollsWhenLive);
  await expect(lastUpdate).not.toHaveText(before!);
});

test('with the socket and polling both blocked the page says offline, and comes back live', async ({ page }) => {
  let blocked = false;
  const pageSides: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (blocked) {
      ws.close();
      return;
    }
    pageSides.push(ws);
    ws.connectToServer();
  });
  await page.route('**/api/system/metrics', (route) => (blocked ? route.abort('connectionrefused') : route.continue()));

  await openLive(page, PLAIN);
  blocked = true;
  for (const ws of pageSides) await ws.close();
  const connection = page.getByTestId('connection');
  // One interval to notice, one to reconnect and fail, one poll to fail: within a few intervals.
  await expect(connection).toHaveAttribute('data-state', 'offline', { timeout: 8_000 });
  await expect(connection).toHaveText(/offline/);
  // With the age of the last data, which keeps growing.
  await expect(page.getByTestId('update-age')).toHaveText(/^· [2-9]\d* s ago$|^· \d{2,} s ago$/, { timeout: 10_000 });

  blocked = false;
  await expect(connection).toHaveAttribute('data-state', 'live', { timeout: 40_000 });
  await expect(page.getByTestId('update-age')).toHaveText(/^· [01] s ago$/, { timeout: 5_000 });
});

test('a socket that goes silent is detected as dead and replaced', async ({ page }) => {
  let silent = false;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      if (!silent) ws.send(message);
    });
  });
  await openLive(page, PLAIN);
  silent = true;
  // The browser still thinks the socket is open; only the watchdog can notice.
  await expect(page.getByTestId('connection')).not.toHaveAttribute('data-state', 'live', { timeout: 6_000 });
  silent = false;
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live', { timeout: 40_000 });
});

function startServer(port: number): ChildProcess {
  return spawn(path.join(root, 'target/release/vitals'), [
    '--bind', `127.0.0.1:${port}`, '--interval', '1', '--nvml-library', '/nonexistent/libnvidia-ml.so.1',
    '--emit-token', 'e2e-emit-token-0123456789',
  ], { cwd: root, stdio: 'ignore' });
}

async function waitUntilServing(url: string) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

test('after a server restart the page recovers by itself', async ({ page }) => {
  const port = 3102;
  const origin = `http://127.0.0.1:${port}`;
  let server = startServer(port);
  try {
    await waitUntilServing(origin + '/api/system/metrics');
    await openLive(page, origin);
    await page.waitForTimeout(2_000);
    const pointsBefore = await chartPoints(page, 'chart-cpu');
    server.kill('SIGTERM');
    await expect(page.getByTestId('connection')).not.toHaveAttribute('data-state', 'live', { timeout: 5_000 });
    server = startServer(port);
    await waitUntilServing(origin + '/api/system/metrics');
    await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live', { timeout: 40_000 });
    const lastUpdate = page.getByTestId('last-update');
    const now = await lastUpdate.textContent();
    await expect(lastUpdate).not.toHaveText(now!, { timeout: 5_000 });
    // The new server numbers its messages from 1 again; the page keeps its history and adds to it
    // (drawn at the chart's next display bucket).
    await expect.poll(() => chartPoints(page, 'chart-cpu'), { timeout: 10_000 }).toBeGreaterThan(pointsBefore);
  } finally {
    server.kill('SIGKILL');
  }
});

test('after a reload the charts start with the server history', async ({ page }) => {
  await openLive(page, PLAIN);
  await page.waitForTimeout(3_000);
  const points = await chartPoints(page, 'chart-cpu');
  expect(points).toBeGreaterThan(3);
  // Block the socket and every API request: the history the page itself carries must draw the chart.
  await page.routeWebSocket(/\/ws$/, (ws) => ws.close());
  await page.route('**/api/**', (route) => route.abort());
  await page.reload();
  await expect.poll(() => chartPoints(page, 'chart-cpu'), { timeout: 3_000 }).toBeGreaterThanOrEqual(points);
});
