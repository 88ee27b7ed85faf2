import { expect, test } from '@playwright/test';
import { collectPageErrors, GPUS, openLive, PLAIN } from './helpers';

test('a person opens the dashboard and sees live values and drawn charts', async ({ page }) => {
  const errors = collectPageErrors(page);
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));

  await openLive(page, PLAIN);
  const lastUpdate = page.getByTestId('last-update');
  await expect(lastUpdate).toHaveText(/last update/);
  const first = await lastUpdate.textContent();
  // One sample a second: the value must move on by itself.
  await expect(lastUpdate).not.toHaveText(first!, { timeout: 10_000 });
  await expect(page.getByTestId('cpu-usage')).toHaveText(/\d+\.\d %/);
  await expect(page.getByTestId('uptime')).toHaveText(/^up \d+(m|h \d+m|d \d+h)$/);
  await expect(page.getByTestId('hostname')).not.toBeEmpty();
  // Beside the time of the last update, its age, kept current by the page's own clock.
  await expect(page.getByTestId('update-age')).toHaveText(/^· \d+ s ago$/);

  // A pinned tab says which machine and how busy, by itself.
  await expect(page).toHaveTitle(/^\S+ · \d+ % CPU · Vitals$/);
  expect(await page.locator("link[rel='icon']").getAttribute('href')).toMatch(/^data:image\/svg\+xml,/);

  // No empty axis: every value axis of the CPU chart has a series drawn against it.
  const axes = await page.evaluate(() => {
    const option = (window as any).echarts.getInstanceByDom(document.getElementById('chart-cpu')).getOption();
    const used = new Set(option.series.map((s: any) => s.yAxisIndex ?? 0));
    return { axes: option.yAxis.length, used: used.size };
  });
  expect(axes.axes).toBe(axes.used);

  // A series hidden from the legend stays hidden as new data arrives (5 min: a redraw a tick).
  await page.getByTestId('range-5').click();
  await page.evaluate(() =>
    (window as any).echarts.getInstanceByDom(document.getElementById('chart-disk')).dispatchAction({ type: 'legendUnSelect', name: 'Write' }));
  await page.waitForTimeout(2_500);
  const writeShown = await page.evaluate(() =>
    (window as any).echarts.getInstanceByDom(document.getElementById('chart-disk')).getOption().legend[0].selected.Write);
  expect(writeShown).toBe(false);

  // Every chart is drawn by ECharts into a canvas.
  for (const id of ['chart-cpu', 'chart-cores', 'chart-memory', 'chart-disk', 'chart-net']) {
    await expect(page.locator(`#${id} canvas`)).toHaveCount(1);
  }

  // Air-gapped by design: nothing is requested from any origin but our own.
  const foreign = requested.filter((url) => !url.startsWith(PLAIN) && !url.startsWith('ws://127.0.0.1:3100') && !url.startsWith('data:'));
  expect(foreign).toEqual([]);
  expect(requested.some((url) => url.endsWith('/vendor/echarts.min.js'))).toBe(true);
  expect(errors).toEqual([]);
});

test('a machine without an NVIDIA driver says so instead of showing empty GPU charts', async ({ page }) => {
  await openLive(page, PLAIN);
  const panel = page.getByTestId('no-gpu');
  await expect(panel).toBeVisible();
  // One short sentence first; the library's exact error one click away.
  await expect(panel.getByTestId('no-gpu-lead')).toHaveText('No NVIDIA driver found on this machine.');
  const details = panel.getByTestId('no-gpu-details');
  await expect(details).toBeHidden();
  await panel.locator('summary').click();
  await expect(details).toBeVisible();
  await expect(details).toContainText(/NVIDIA driver not found/i);
  await expect(page.getByTestId('gpu-card')).toHaveCount(0);
});

test('GPU cards and the process table show on the fake NVML library', async ({ page }) => {
  await openLive(page, GPUS);
  const cards = page.getByTestId('gpu-card');
  await expect(cards).toHaveCount(2);
  await expect(cards.nth(0)).toContainText('Fake H100 80GB');
  await expect(cards.nth(0).getByTestId('gpu-util')).toHaveText('63 %');
  // Idle, busy or unavailable at a glance: a process holds GPU 0.
  await expect(cards.nth(0).getByTestId('gpu-occupancy')).toHaveText('busy');
  await expect(cards.nth(1).getByTestId('gpu-occupancy')).toHaveText('idle');
  await expect(cards.nth(0)).toContainText('312 / 700 W');
  const table = cards.nth(0).getByTestId('gpu-processes');
  await expect(table).toContainText('compute');
  await expect(table.locator('tbody tr')).toHaveCount(1);
  await expect(table.locator('tbody tr td').first()).toHaveText('1');
  // Its share of the GPU's compute, from NVML's process utilization samples.
  await expect(table.locator('td[data-col="sm"]')).toHaveText('48');
  await expect(table.locator('td[data-col="mem"]')).toHaveText('12');
  await expect(table.locator('td[data-col="encdec"]')).toHaveText('3 / 0');
  // Command lines are off unless the server is started with --show-command-lines.
  await expect(table.locator('th', { hasText: 'Command' })).toHaveCount(0);
  // An unsupported field reads "n/a", never a made-up zero.
  await expect(cards.nth(1)).toContainText(/Fan\s*n\/a/);
  await expect(page.getByTestId('no-gpu')).toHaveCount(0);
  await expect(page.locator('#chart-gpu-0 canvas')).toHaveCount(1);
  // Power draw is drawn against the power limit, with watts in the tooltip.
  const seriesNames = await page.evaluate(() =>
    (window as any).echarts.getInstanceByDom(document.getElementById('chart-gpu-0')).getOption().series.map((s: any) => s.name));
  expect(seriesNames).toEqual(['GPU', 'Memory bus', 'Temperature', 'Power']);
  // Tooltips read each value with its unit, at a sensible precision.
  const tooltips = await page.evaluate(() =>
    (window as any).echarts.getInstanceByDom(document.getElementById('chart-gpu-0')).getOption().series
      .map((s: any) => s.tooltip.valueFormatter(61.26)));
  expect(tooltips).toEqual(['61.3 %', '61.3 %', '61.3 °C', '61.3 W / 700 W']);
  // Facts and processes are updated in place, not rebuilt every sample (a selection would be lost).
  const util = await cards.nth(0).getByTestId('gpu-util').elementHandle();
  const row = await table.locator('tbody tr').first().elementHandle();
  const lastUpdate = page.getByTestId('last-update');
  const before = await lastUpdate.textContent();
  await expect(lastUpdate).not.toHaveText(before!, { timeout: 5_000 });
  await page.waitForTimeout(1_200);
  expect(await util!.evaluate((el) => el.isConnected)).toBe(true);
  expect(await row!.evaluate((el) => el.isConnected)).toBe(true);
});

test('the first paint already shows values, before any script runs', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(PLAIN + '/');
  await expect(page.getByTestId('cpu-usage')).toHaveText(/^\d+\.\d %$/);
  await expect(page.getByTestId('memory-summary')).toHaveText(/^\d+\.\d GiB of \d+\.\d GiB used$/);
  await expect(page.getByTestId('hostname')).not.toBeEmpty();
  await expect(page.getByTestId('uptime')).toHaveText(/^up /);
  await expect(page.getByTestId('no-gpu')).toContainText(/NVIDIA driver not found/i);
  await context.close();
});
