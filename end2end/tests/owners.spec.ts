import { expect, test } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectPageErrors, openLive, startServer, stopServer } from './helpers';

// Who holds each GPU, in the browser: a real process in a real cgroup shaped like a systemd
// service (made here, as root) holds two fake GPUs, one of them idle; the server runs on a data
// directory of its own, so its GPU usage can be read back on the Usage page after a restart.
const PORT = 3107;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const ROOT = path.resolve(__dirname, '../..');
const FAKE_NVML = path.join(ROOT, 'target/fake-nvml/release/libfake_nvml.so');

/** Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). */
function cgroup2(): string | undefined {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] === 'cgroup2') return before.split(' ')[4];
  }
  return undefined;
}

let sleeper: ChildProcess;
let made: string[] = [];
let dataDir: string;
let script: string;
let server: ChildProcess;

function start() {
  return startServer(PORT, [
    '--interval', '1', '--data-dir', dataDir, '--nvml-library', FAKE_NVML, '--idle-held-after', '1',
  ], { FAKE_NVML_SCRIPT: script });
}

test.beforeAll(async () => {
  test.skip(process.getuid!() !== 0, 'making cgroups needs root');
  const mount = cgroup2();
  if (!mount) throw new Error('running as root, but no cgroup v2 mount to test in');
  const top = path.join(mount, `vitals-e2e-${process.pid}`);
  made = [top, path.join(top, 'system.slice'), path.join(top, 'system.slice/train.service')];
  for (const dir of made) fs.mkdirSync(dir);
  sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  fs.writeFileSync(path.join(made[2], 'cgroup.procs'), String(sleeper.pid));
  script = path.join(os.tmpdir(), `vitals-e2e-owners-${process.pid}.nvml`);
  const gib = 2 ** 30;
  fs.writeFileSync(script, [
    `gpu name="Fake H100 80GB" uuid=GPU-own-0 util=0 memutil=0 mem_used=${4 * gib} mem_total=${80 * gib} power_mw=60000 limit_mw=700000 procs=${sleeper.pid}:${4 * gib}:compute`,
    `gpu name="Fake L4" uuid=GPU-own-1 util=70 memutil=10 mem_used=${gib} mem_total=${24 * gib} power_mw=50000 limit_mw=72000 procs=${sleeper.pid}:${gib}:compute putil=${sleeper.pid}:70:10:0:0`,
    '',
  ].join('\n'));
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-e2e-owners-'));
  server = await start();
});

test.afterAll(async () => {
  if (server) await stopServer(server);
  sleeper?.kill('SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 200));
  // A cgroup is removed with rmdir once its last process has gone.
  for (const dir of [...made].reverse()) {
    try { fs.rmdirSync(dir); } catch { /* already gone */ }
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  if (script) fs.rmSync(script, { force: true });
});

for (const width of [390, 1280]) {
  test(`GPU cards name who holds them and say when one is held but idle (${width} px)`, async ({ page }, testInfo) => {
    const errors = collectPageErrors(page);
    await page.setViewportSize({ width, height: 900 });
    await openLive(page, ORIGIN);
    const cards = page.getByTestId('gpu-card');
    await expect(cards).toHaveCount(2);
    // The idle GPU says by whom and for how long instead of "busy"; the working one is busy.
    const idle = cards.nth(0).getByTestId('gpu-occupancy');
    await expect(idle).toHaveText(/^idle · held by root \(sleep\) for \d+ (s|min)$/, { timeout: 15_000 });
    await expect(idle).toHaveAttribute('data-occupancy', 'idle · held');
    await expect(cards.nth(1).getByTestId('gpu-occupancy')).toHaveText('busy');
    // Each process row names its owner: the person and the service it runs in.
    for (const card of [cards.nth(0), cards.nth(1)]) {
      const row = card.getByTestId('gpu-processes').locator('tbody tr').first();
      await expect(row.locator('[data-col="owner"]')).toHaveText('root · train.service');
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    await page.screenshot({ path: testInfo.outputPath(`owners-${width}.png`), fullPage: true });
    expect(errors).toEqual([]);
  });
}

test('the Usage page shows who used the GPUs, by range, at phone and desktop widths', async ({ page }, testInfo) => {
  // A few seconds of use, then a stop (which saves the open minute) and a start again.
  await page.waitForTimeout(3_000);
  await stopServer(server);
  server = await start();
  // Two GPUs held for the seconds it ran, one of them idle: booked, and kept over the restart.
  const report = await (await fetch(`${ORIGIN}/api/system/usage?range=24h`)).json();
  const root = report.rows.find((r: any) => r.name === 'root');
  expect(root.gpu_hours_held).toBeGreaterThan(0);
  expect(root.gpu_hours_held).toBeLessThan(0.5);
  expect(root.idle_held_hours).toBeGreaterThan(0);
  expect(root.top_owners).toEqual(['train.service']);
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${ORIGIN}/usage`);
    await expect(page.getByTestId('usage-range-7d')).toHaveAttribute('aria-current', 'page');
    const row = page.locator('[data-testid="usage-row"][data-name="root"]');
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId('usage-held')).toHaveText(/^\d+\.\d\d$/);
    await expect(row).toContainText('train.service');
    await expect(row.getByTestId('usage-when')).toHaveAttribute('href', /^\/\?from=\d+&to=\d+$/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    await page.screenshot({ path: testInfo.outputPath(`usage-${width}.png`), fullPage: true });
  }
  // A row's span opens the dashboard with every chart zoomed on it.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${ORIGIN}/usage`);
  await page.locator('[data-testid="usage-row"][data-name="root"]').getByTestId('usage-when').click();
  await expect(page).toHaveURL(/\/\?from=\d+&to=\d+$/);
  await expect(page.getByTestId('zoom-reset')).toBeVisible({ timeout: 20_000 });
  await page.goto(`${ORIGIN}/usage`);
  // The range selector: a link per range, the chosen one marked.
  await page.getByTestId('usage-range-24h').click();
  await expect(page).toHaveURL(/range=24h/);
  await expect(page.getByTestId('usage-range-24h')).toHaveAttribute('aria-current', 'page');
  await expect(page.locator('[data-testid="usage-row"][data-name="root"]')).toHaveCount(1);
});
