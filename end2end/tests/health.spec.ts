import { expect, test } from '@playwright/test';
import { ChildProcess, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, collectPageErrors, openLive, startServer, stopServer } from './helpers';

// Whole-box health in the browser: a warm desktop's sysfs (a fixture copy) with a fan at 0 RPM,
// a failing SATA disk and a healthy NVMe answered by recorded smartctl outputs through the
// replay script, and an XID from the fake NVML library. The dashboard's Health card lists the
// three with what to do, at phone and desktop widths, and the /health page shows the readings.
const PORT = 3108;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const FIXTURES = path.join(ROOT, 'tests/fixtures');

let server: ChildProcess;
let dir: string;

test.beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-e2e-health-'));
  const sysfs = path.join(dir, 'sysfs');
  execFileSync('cp', ['-a', path.join(FIXTURES, 'sysfs/desktop'), sysfs]);
  fs.writeFileSync(path.join(sysfs, 'class/hwmon/hwmon0/temp1_input'), '71000\n');
  const recordings = path.join(dir, 'smart');
  fs.mkdirSync(recordings);
  fs.copyFileSync(path.join(FIXTURES, 'smart/sata-failing.json'), path.join(recordings, 'sda.json'));
  fs.copyFileSync(path.join(FIXTURES, 'smart/nvme-healthy.json'), path.join(recordings, 'nvme0.json'));
  const script = path.join(dir, 'gpus.nvml');
  fs.writeFileSync(script, 'gpu name="Fake H100" uuid=GPU-health util=50 mem_used=1 mem_total=8\nxid 0 79\n');
  server = await startServer(PORT, [
    '--interval', '1', '--no-persist', '--sysfs-root', sysfs,
    '--smartctl', path.join(FIXTURES, 'smart/replay-smartctl'),
    '--nvml-library', path.join(ROOT, 'target/fake-nvml/release/libfake_nvml.so'),
  ], { FAKE_NVML_SCRIPT: script, SMART_REPLAY_DIR: recordings });
});

test.afterAll(async () => {
  if (server) await stopServer(server);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

for (const [width, height] of [[390, 844], [1280, 900]]) {
  test(`the Health card lists a failing disk, a stopped fan and an XID with what to do (${width} px)`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    const errors = collectPageErrors(page);
    await openLive(page, ORIGIN);
    const card = page.getByTestId('health-card');
    await expect(card.locator('[data-check="disk_smart"]')).toBeVisible({ timeout: 20_000 });
    const items = card.getByTestId('health-item');
    await expect(items).toHaveCount(3);
    await expect(card).toHaveAttribute('data-state', 'critical');
    await expect(card.getByTestId('health-summary')).toHaveText(/^3 of \d+ checks need attention$/);
    // Worst first: the disk and the XID are critical, the fan a warning.
    await expect(card.locator('[data-check="disk_smart"]')).toContainText('sda (Hitachi HDS721050DLE630) · SMART says FAILED');
    await expect(card.locator('[data-check="disk_smart"] .health-action')).toHaveText(/^Copy what matters off sda now/);
    await expect(card.locator('[data-check="gpu_xid"]')).toContainText('XID 79: GPU has fallen off the bus');
    await expect(card.locator('[data-check="gpu_xid"] .health-action')).toHaveText(/^The GPU fell off the bus\. Stop its jobs and reboot/);
    await expect(card.locator('[data-check="fan_stopped"]')).toContainText('0 RPM while the machine is at 71 °C');
    await expect(items.last()).toHaveAttribute('data-check', 'fan_stopped');
    // Each item links to its chart or readings.
    await expect(card.locator('[data-check="gpu_xid"] a')).toHaveAttribute('href', '/#chart-gpu-0');
    // Nothing of the card runs past the page's width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(errors).toEqual([]);
  });
}

test('the /health page shows the readings behind the card', async ({ page }) => {
  await page.goto(ORIGIN + '/health');
  await expect(page.locator('#disks')).toContainText('Hitachi HDS721050DLE630');
  await expect(page.locator('#disks')).toContainText('FAILED');
  await expect(page.locator('#sensors')).toContainText('nct6798');
  await expect(page.getByTestId('health-card').locator('[data-check="fan_stopped"]')).toBeVisible();
});
