import { expect, Page, test } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chartSpanMs, collectPageErrors, openLive, PLAIN, startServer, stopServer } from './helpers';

// These tests start their own release server on a data directory of their own, so they can stop
// and start it again: the history must come back from the SQLite file on disk.
const PORT = 3102;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const HOUR = 3_600_000;

function startOn(dataDir: string, extra: string[] = []) {
  return startServer(PORT, [
    '--interval', '1', '--data-dir', dataDir, '--nvml-library', '/nonexistent/libnvidia-ml.so.1', ...extra,
  ]);
}

type Point = [number, number | string];

/** The CPU line as ECharts holds it: [time, value], ECharts' empty value '-' where it breaks. */
async function cpuLine(page: Page): Promise<Point[]> {
  return page.evaluate(() =>
    (window as any).echarts.getInstanceByDom(document.getElementById('chart-cpu')).getOption().series[0].data);
}

const drawnTimes = (line: Point[]) => line.filter((p) => typeof p[1] === 'number').map((p) => p[0]);

function medianSpacing(line: Point[]): number {
  const times = drawnTimes(line);
  const spacings = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  return spacings[Math.floor(spacings.length / 2)];
}

test('a day written before a restart shows at 24 h with its gap, and a drag zooms into finer data', async ({ page }) => {
  test.setTimeout(120_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-e2e-history-'));
  // A day of samples at 1 s, with a stretch left out as if Vitals had been stopped (60 %..55 %
  // of the day before the prefill's start), then a clean stop and a fresh start on the same file.
  let server = await startOn(dataDir, ['--prefill-database-hours', '24']);
  const prefilledUntil = Date.now();
  await stopServer(server);
  server = await startOn(dataDir);
  try {
    const errors = collectPageErrors(page);
    await openLive(page, ORIGIN);
    await expect(page.getByTestId('persistence-problem')).toHaveCount(0);
    await page.getByTestId('range-1440').click();
    await expect(page.getByTestId('range-1440')).toHaveClass(/active/);
    expect(await chartSpanMs(page, 'chart-cpu')).toBe(24 * HOUR);

    // The span comes from the database: points from a day back, before the restart.
    await expect.poll(async () => drawnTimes(await cpuLine(page)).length, { timeout: 20_000 }).toBeGreaterThan(150);
    const day = await cpuLine(page);
    const times = drawnTimes(day);
    expect(Math.min(...times)).toBeLessThan(prefilledUntil - 23 * HOUR);

    // The outage is a gap: a break in the line inside it, and no point drawn across it.
    const outageFrom = prefilledUntil - 0.6 * 24 * HOUR;
    const outageTo = prefilledUntil - 0.55 * 24 * HOUR;
    const margin = 15 * 60_000;
    const breaks = day.filter((p) => p[1] === '-').map((p) => p[0]);
    expect(breaks.some((t) => t > outageFrom - margin && t < outageTo + margin)).toBe(true);
    expect(times.filter((t) => t > outageFrom + margin && t < outageTo - margin)).toEqual([]);

    // The newest edge keeps moving while the day is shown.
    const newest = Math.max(...times);
    await expect.poll(async () => Math.max(...drawnTimes(await cpuLine(page))), { timeout: 10_000 }).toBeGreaterThan(newest);

    // A drag across a tenth of the plot zooms every time chart into that span, read again finer.
    const box = (await page.locator('#chart-cpu').boundingBox())!;
    const plotLeft = box.x + 48;
    const plotWidth = box.width - 96;
    const y = box.y + box.height / 2;
    const spanRead = page.waitForRequest((r) => r.url().includes('/api/system/history?from='));
    await page.mouse.move(plotLeft + plotWidth * 0.2, y);
    await page.mouse.down();
    await page.mouse.move(plotLeft + plotWidth * 0.3, y, { steps: 10 });
    await page.mouse.up();
    const asked = new URL((await spanRead).url());
    const zoomedMs = Number(asked.searchParams.get('to')) - Number(asked.searchParams.get('from'));
    expect(zoomedMs).toBeGreaterThan(1.5 * HOUR);
    expect(zoomedMs).toBeLessThan(3.5 * HOUR);
    await expect(page.getByTestId('zoom-reset')).toBeVisible();
    await expect.poll(() => chartSpanMs(page, 'chart-cpu')).toBe(zoomedMs);
    expect(await chartSpanMs(page, 'chart-net')).toBe(zoomedMs);
    await expect.poll(async () => medianSpacing(await cpuLine(page)), { timeout: 10_000 })
      .toBeLessThan(medianSpacing(day) / 4);

    // Reset goes back to the whole day.
    await page.getByTestId('zoom-reset').click();
    await expect(page.getByTestId('zoom-reset')).toHaveCount(0);
    await expect.poll(() => chartSpanMs(page, 'chart-cpu')).toBe(24 * HOUR);
    await expect(page.getByTestId('range-1440')).toHaveClass(/active/);
    expect(errors).toEqual([]);
  } finally {
    await stopServer(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a server that cannot keep history says why, and still serves the live view', async ({ page }) => {
  // A data directory that cannot be created: a path under a regular file.
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-e2e-nodir-')), 'a-file');
  fs.writeFileSync(file, '');
  const server = await startOn(path.join(file, 'vitals'));
  try {
    await openLive(page, ORIGIN);
    const problem = page.getByTestId('persistence-problem');
    await expect(problem).toBeVisible();
    await expect(problem).toContainText('history not saved');
    await expect(problem).toHaveAttribute('title', new RegExp(file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    await expect(page.getByTestId('cpu-usage')).toHaveText(/\d+\.\d %/);
    // A long range asks the database, which the server does not have: the reason is shown.
    await page.getByTestId('range-1440').click();
    await expect(page.getByTestId('span-problem')).toContainText('no saved history');
  } finally {
    await stopServer(server);
  }
});

test('without a database the long ranges are off, and a zoom cuts the last hour in the page', async ({ page }) => {
  await openLive(page, PLAIN);
  for (const minutes of [360, 1440, 10080, 43200]) {
    await expect(page.getByTestId(`range-${minutes}`)).toBeDisabled();
  }
  await expect(page.getByTestId('range-60')).toBeEnabled();
  await page.getByTestId('range-5').click();
  const box = (await page.locator('#chart-cpu').boundingBox())!;
  const y = box.y + box.height / 2;
  const spanRead = page.waitForRequest((r) => r.url().includes('/api/system/history?from='), { timeout: 3_000 })
    .then(() => true, () => false);
  await page.mouse.move(box.x + 48 + (box.width - 96) * 0.8, y);
  await page.mouse.down();
  await page.mouse.move(box.x + 48 + (box.width - 96) * 0.99, y, { steps: 10 });
  await page.mouse.up();
  await expect(page.getByTestId('zoom-reset')).toBeVisible();
  await expect.poll(() => chartSpanMs(page, 'chart-cpu')).toBeLessThan(70_000);
  // The samples of that minute, from the page's own store: there is no database to ask.
  const { min, max } = await page.evaluate(() => {
    const axis = (window as any).echarts.getInstanceByDom(document.getElementById('chart-cpu')).getOption().xAxis[0];
    return { min: axis.min, max: axis.max };
  });
  const zoomed = drawnTimes(await cpuLine(page));
  expect(zoomed.length).toBeGreaterThan(2);
  expect(zoomed.every((t) => t >= min && t <= max)).toBe(true);
  expect(await spanRead).toBe(false);
  await page.getByTestId('zoom-reset').click();
  await expect.poll(() => chartSpanMs(page, 'chart-cpu')).toBe(5 * 60_000);
});

test('on a touch screen a drag across a chart is left to scrolling the page', async ({ browser }) => {
  const context = await browser.newContext({ isMobile: true, hasTouch: true, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  try {
    await openLive(page, PLAIN);
    expect(await page.evaluate(() => matchMedia('(pointer: fine)').matches)).toBe(false);
    const box = (await page.locator('#chart-cpu').boundingBox())!;
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + box.width * 0.3, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.8, y, { steps: 10 });
    await page.mouse.up();
    await page.waitForTimeout(500);
    await expect(page.getByTestId('zoom-reset')).toHaveCount(0);
  } finally {
    await context.close();
  }
});
