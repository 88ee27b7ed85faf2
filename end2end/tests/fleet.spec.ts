import { expect, Page, test } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, startServer, stopServer } from './helpers';

// Three Vitals on loopback addresses of their own (one with two fake GPUs), scraped each second by
// Debian's Prometheus, and a fourth Vitals whose fleet page reads that Prometheus.
const READER = 'http://127.0.0.1:3120';
const HOSTS = [
  { ip: '127.0.0.2', port: 3121, rack: 'r2' },
  { ip: '127.0.0.3', port: 3122, rack: 'r3' },
  { ip: '127.0.0.4', port: 3123, rack: 'r4' },
];
const PROMETHEUS_PORT = 3124;

const servers: ChildProcess[] = [];
let prometheus: ChildProcess;
let scratch: string;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const fake = path.join(ROOT, 'target/fake-nvml/release/libfake_nvml.so');
  for (const [i, host] of HOSTS.entries()) {
    const gpus = i === 0 ? ['--nvml-library', fake] : ['--nvml-library', '/nonexistent/libnvidia-ml.so.1'];
    servers.push(await startServer(`${host.ip}:${host.port}`, ['--interval', '1', '--no-persist', ...gpus],
      { FAKE_NVML_SCRIPT: path.join(ROOT, 'end2end/fixtures/two-gpus.nvml') }));
  }
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-e2e-fleet-'));
  const targets = HOSTS.map((h) =>
    `      - targets: ['${h.ip}:${h.port}']\n        labels: { vitals_url: 'http://${h.ip}:${h.port}/', rack: ${h.rack} }\n`).join('');
  fs.writeFileSync(path.join(scratch, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vitals\n    static_configs:\n${targets}`);
  prometheus = spawn('prometheus', [`--config.file=${path.join(scratch, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(scratch, 'data')}`, `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`],
  { stdio: 'ignore' });
  servers.push(await startServer(3120, ['--interval', '1', '--no-persist',
    '--nvml-library', '/nonexistent/libnvidia-ml.so.1',
    '--fleet-prometheus', `http://127.0.0.1:${PROMETHEUS_PORT}`, '--fleet-refresh', '1', '--fleet-rate-window', '5']));
});

test.afterAll(async () => {
  for (const server of servers) await stopServer(server);
  prometheus?.kill();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

const hostNames = (page: Page) => page.locator('.fleet-row[data-host]').evaluateAll(
  (rows) => rows.map((row) => row.getAttribute('data-host')));

/** Opens the fleet page until Prometheus has scraped all three hosts twice (CPU needs a rate). */
async function openFleet(page: Page) {
  await expect(async () => {
    await page.goto(`${READER}/fleet`);
    await expect(page.locator('.fleet-row[data-host]')).toHaveCount(3, { timeout: 500 });
    for (const host of HOSTS) {
      await expect(page.locator(`[data-host="${host.ip}"] .num`).first()).toContainText('%', { timeout: 500 });
    }
    await expect(page.locator('[data-host="127.0.0.2"] .fleet-gpu')).toHaveCount(2, { timeout: 500 });
  }).toPass({ timeout: 60_000 });
}

test('the fleet page lists the three hosts with their GPUs, sorts, filters, and links to each dashboard', async ({ page }) => {
  await openFleet(page);
  await expect(page.getByTestId('fleet-count')).toHaveText('3 hosts');
  const gpus = page.locator('[data-host="127.0.0.2"] .fleet-gpu');
  // end2end/fixtures/two-gpus.nvml: what Prometheus scraped, drawn as the host's GPU lines.
  await expect(gpus.nth(0)).toHaveText('GPU 0 · 63 % · 32.0/80 GiB · 61 °C · 312/700 W');
  await expect(gpus.nth(0)).toHaveAttribute('title', 'Fake H100 80GB');
  await expect(gpus.nth(1)).toHaveText('GPU 1 · 0 % · 0.0/22 GiB · 33 °C · 16/72 W');
  await expect(page.locator('[data-host="127.0.0.3"] .fleet-gpu')).toHaveCount(0);
  for (const host of HOSTS) {
    await expect(page.locator(`[data-host="${host.ip}"]`)).toHaveAttribute('data-state', 'up');
    await expect(page.locator(`[data-host="${host.ip}"] svg.spark`).first()).toBeAttached();
  }

  // Sorting: by host, A→Z then Z→A; by GPU utilization, busiest first.
  await page.locator('a[data-sort="host"]').click();
  expect(await hostNames(page)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
  await expect(page.locator('[role=columnheader][aria-sort="ascending"]')).toContainText('Host');
  await page.locator('a[data-sort="host"]').click();
  expect(await hostNames(page)).toEqual(['127.0.0.4', '127.0.0.3', '127.0.0.2']);
  await expect(page.locator('[role=columnheader][aria-sort="descending"]')).toContainText('Host');
  await page.locator('a[data-sort="gpu"]').click();
  expect((await hostNames(page))[0]).toBe('127.0.0.2');

  // Filtering by a label keeps the sort.
  await page.getByLabel('Filter hosts').fill('rack=r3');
  await page.getByRole('button', { name: 'Filter' }).click();
  expect(await hostNames(page)).toEqual(['127.0.0.3']);
  await expect(page.getByTestId('fleet-count')).toHaveText('1 of 3 hosts');
  expect(new URL(page.url()).searchParams.get('sort')).toBe('gpu');

  // A host's name is the way into its own live dashboard.
  const link = page.locator('[data-host="127.0.0.3"] a.fleet-host');
  await expect(link).toHaveAttribute('href', 'http://127.0.0.3:3122/');
  await link.click();
  await page.waitForURL('http://127.0.0.3:3122/');
  await expect(page.locator('#chart-cpu')).toBeVisible();
});
