import { expect, Page, test } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectPageErrors, openLive, ROOT, startServer, stopServer } from './helpers';

// A server of its own on the fake NVML library, whose GPU lists a real process of this test (a
// copy of `sleep` under a name of its own), listing every process (--process-top 500) so a
// second one is there too.
const PORT = 3104;
const ORIGIN = `http://127.0.0.1:${PORT}`;

async function scans(): Promise<number> {
  const text = await (await fetch(`${ORIGIN}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('vitals_process_scans_total '));
  return Number(line!.split(' ')[1]);
}

/** The table's rows as [pid, name] pairs, top to bottom. */
async function rows(page: Page): Promise<[string, string][]> {
  return page.getByTestId('process-row').evaluateAll((trs) =>
    trs.map((tr) => [tr.getAttribute('data-pid')!, tr.children[1].textContent!] as [string, string]));
}

test('the process table sorts, filters, groups, keeps its sort across updates and shows a GPU process', async ({ page }, testInfo) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-e2e-processes-'));
  const sleeper = path.join(dir, 'e2e-sleeper');
  fs.copyFileSync(fs.realpathSync('/usr/bin/sleep'), sleeper);
  fs.chmodSync(sleeper, 0o755);
  const helpers: ChildProcess[] = [spawn(sleeper, ['300']), spawn(sleeper, ['300'])];
  const onGpu = helpers[0].pid!;
  const script = path.join(dir, 'gpus.nvml');
  fs.writeFileSync(script,
    `gpu name="Fake H100" uuid=GPU-e2e util=30 memutil=5 mem_used=1 mem_total=8 procs=${onGpu}:2147483648:compute putil=${onGpu}:55:3:0:0\n`);
  const server = await startServer(PORT, [
    '--interval', '1', '--no-persist', '--process-interval', '1', '--process-top', '500',
    '--nvml-library', path.join(ROOT, 'target/fake-nvml/release/libfake_nvml.so'),
  ], { FAKE_NVML_SCRIPT: script });
  try {
    const errors = collectPageErrors(page);
    await openLive(page, ORIGIN);
    const card = page.getByTestId('process-card');
    await expect(card.getByTestId('process-summary')).toContainText('scanned only while open');
    await expect(page.getByTestId('process-row')).toHaveCount(0);
    expect(await scans()).toBe(0);

    await card.getByTestId('process-toggle').click();
    await expect(card.getByTestId('process-toggle')).toHaveAttribute('aria-expanded', 'true');
    await expect(card.getByTestId('process-summary')).toContainText(/busiest of \d+ processes/, { timeout: 10_000 });
    await expect.poll(async () => (await rows(page)).length).toBeGreaterThan(2);

    // Sorting by PID: largest first, then smallest first; the order holds across updates.
    const pidHeading = card.locator('button[data-column="PID"]');
    await pidHeading.click();
    await expect(card.locator('th[aria-sort="descending"] button[data-column="PID"]')).toHaveCount(1);
    let pids = (await rows(page)).map(([pid]) => Number(pid));
    expect(pids).toEqual([...pids].sort((a, b) => b - a));
    await pidHeading.click();
    await expect(card.locator('th[aria-sort="ascending"] button[data-column="PID"]')).toHaveCount(1);
    const before = await scans();
    await expect.poll(scans, { timeout: 10_000 }).toBeGreaterThan(before + 1);
    pids = (await rows(page)).map(([pid]) => Number(pid));
    expect(pids.length).toBeGreaterThan(2);
    expect(pids).toEqual([...pids].sort((a, b) => a - b));

    // Scrolled down the table, the reader stays there across updates.
    const scroller = card.getByTestId('process-table');
    await scroller.evaluate((el) => { el.scrollTop = 120; });
    const scrolled = await scans();
    await expect.poll(scans, { timeout: 10_000 }).toBeGreaterThan(scrolled + 1);
    expect(await scroller.evaluate((el) => el.scrollTop)).toBe(120);

    // Filtering by name: only the two sleepers; the one on the GPU carries its GPU memory.
    await card.getByTestId('process-filter').fill('e2e-sleeper');
    await expect.poll(async () => (await rows(page)).map(([, name]) => name)).toEqual(['e2e-sleeper', 'e2e-sleeper']);
    const gpuRow = card.locator(`tr[data-pid="${onGpu}"]`);
    await expect(gpuRow.locator('td').nth(9)).toHaveText('2.0 GiB');
    await expect(gpuRow.locator('td').nth(10)).toHaveText('55');

    // A row opens to its CPU and memory over the last minutes, and stays open across updates.
    await gpuRow.click();
    const trail = card.getByTestId('process-trail');
    await expect(trail.locator('svg polyline')).toHaveCount(2);
    await expect(trail).toContainText('memory');
    const opened = await scans();
    await expect.poll(scans, { timeout: 10_000 }).toBeGreaterThan(opened + 1);
    await expect(trail).toHaveCount(1);

    // Grouped by name, the two sleepers are one line of two.
    await card.getByTestId('process-group').check();
    await expect(page.getByTestId('process-row')).toHaveCount(1);
    await expect(page.getByTestId('process-row').locator('td').first()).toHaveText('×2');
    await page.screenshot({ path: testInfo.outputPath('process-table.png'), fullPage: true });

    // At a phone's width the table keeps the columns that matter and does not widen the page.
    await card.getByTestId('process-group').uncheck();
    await card.getByTestId('process-filter').fill('');
    await page.setViewportSize({ width: 390, height: 800 });
    await expect(card.locator('button[data-column="Owner"]')).toBeHidden();
    await expect(card.locator('button[data-column="CPU %"]')).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: testInfo.outputPath('process-table-390.png'), fullPage: true });

    // Closed again: the server stops scanning.
    await card.getByTestId('process-toggle').click();
    await expect(page.getByTestId('process-row')).toHaveCount(0);
    await page.waitForTimeout(2_500);
    const closed = await scans();
    await page.waitForTimeout(3_000);
    expect(await scans()).toBe(closed);
    expect(errors).toEqual([]);
  } finally {
    helpers.forEach((child) => child.kill('SIGKILL'));
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
