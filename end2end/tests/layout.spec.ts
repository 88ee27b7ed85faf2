import { expect, Page, test } from '@playwright/test';
import { chartPoints, chartSpanMs, GPUS, openLive, PLAIN } from './helpers';

const sizes = [
  { name: 'phone', width: 390, height: 844, columns: 1 },
  { name: 'tablet-portrait', width: 768, height: 1024, columns: 1 },
  { name: 'tablet', width: 1024, height: 768, columns: 2 },
  { name: 'wide', width: 1920, height: 1080, columns: 3 },
];

/** Every drawn axis label of every chart, as [chart, text, rect], and the legends that page. */
async function chartText(page: Page) {
  return page.evaluate(() => {
    const labels: { chart: string; text: string; x: number; y: number; w: number; h: number }[] = [];
    const paged: string[] = [];
    for (const el of document.querySelectorAll('.chart')) {
      const chart = (window as any).echarts.getInstanceByDom(el);
      if (!chart) continue;
      for (const item of chart.getZr().storage.getDisplayList()) {
        const text = item.style?.text;
        if (typeof text !== 'string' || item.ignore || item.invisible) continue;
        // A legend that pages shows its page counter ("1/2").
        const pages = /^\d+\/(\d+)$/.exec(text);
        if (pages && Number(pages[1]) > 1) paged.push(`${el.id}: ${text}`);
        // An axis label is drawn as a text span whose parent is the label ("label_<value>").
        const label = item.parent;
        if (!label || !String(label.anid ?? '').startsWith('label_') || label.ignore) continue;
        const rect = label.getBoundingRect().clone();
        const transform = label.getComputedTransform();
        if (transform) rect.applyTransform(transform);
        labels.push({ chart: el.id, text, x: rect.x, y: rect.y, w: rect.width, h: rect.height });
      }
    }
    return { labels, paged };
  });
}

for (const size of sizes) for (const theme of ['light', 'dark'] as const) {
  test(`at ${size.width}×${size.height} in the ${theme} theme nothing overflows or overlaps`, async ({ page }, testInfo) => {
    await page.emulateMedia({ colorScheme: theme });
    await page.setViewportSize({ width: size.width, height: size.height });
    await openLive(page, GPUS);
    await expect(page.getByTestId('gpu-card')).toHaveCount(2);
    await page.waitForTimeout(1_500);
    const shot = testInfo.outputPath(`dashboard-${size.name}-${theme}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    await testInfo.attach(`dashboard-${size.name}-${theme}`, { path: shot });

    // No two axis labels of a chart overlap (those that would are hidden), and no legend pages.
    const { labels, paged } = await chartText(page);
    expect(labels.length).toBeGreaterThan(20);
    const overlapping: string[] = [];
    labels.forEach((a, i) =>
      labels.slice(i + 1).forEach((b) => {
        if (a.chart !== b.chart) return;
        const apart = a.x + a.w <= b.x + 0.5 || b.x + b.w <= a.x + 0.5 || a.y + a.h <= b.y + 0.5 || b.y + b.h <= a.y + 0.5;
        if (!apart) overlapping.push(`${a.chart}: '${a.text}' and '${b.text}'`);
      }),
    );
    expect(overlapping).toEqual([]);
    expect(paged).toEqual([]);

    const layout = await page.evaluate(() => {
      const viewport = document.documentElement.clientWidth;
      const overflowing = [...document.querySelectorAll('body *')]
        .filter((el) => {
          const r = el.getBoundingClientRect();
          return r.width > 0 && (r.right > viewport + 0.5 || r.left < -0.5);
        })
        .map((el) => `${el.tagName}.${el.className}`);
      // The cards on screen (the jobs card is hidden while there are no jobs).
      const cards = [...document.querySelectorAll('.card')].map((el) => el.getBoundingClientRect())
        .filter((r) => r.width > 0);
      const overlaps: string[] = [];
      cards.forEach((a, i) =>
        cards.slice(i + 1).forEach((b, j) => {
          const apart = a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
          if (!apart) overlaps.push(`${i}/${i + 1 + j}`);
        }),
      );
      const columns = new Set(cards.map((r) => Math.round(r.left))).size;
      return { overflowing, overlaps, columns, scrollWidth: document.documentElement.scrollWidth, viewport };
    });
    expect(layout.overflowing).toEqual([]);
    expect(layout.overlaps).toEqual([]);
    expect(layout.scrollWidth).toBeLessThanOrEqual(layout.viewport);
    if (size.columns === 3) expect(layout.columns).toBeGreaterThanOrEqual(3);
    else expect(layout.columns).toBe(size.columns);
  });
}

test('charts keep drawing new data over time', async ({ page }) => {
  await openLive(page, GPUS);
  for (const id of ['chart-cpu', 'chart-disk', 'chart-net', 'chart-gpu-0']) {
    // Charts out of view are not redrawn (see the test below), so look at each one.
    await page.locator(`#${id}`).scrollIntoViewIfNeeded();
    const before = await chartPoints(page, id);
    // A time chart redraws once per display bucket (3.75 s at the default 15 min).
    await expect.poll(() => chartPoints(page, id), { timeout: 10_000 }).toBeGreaterThan(before);
  }
  await expect(page.locator('#chart-memory canvas')).toHaveCount(1);
  await expect(page.locator('#chart-cores canvas')).toHaveCount(1);
});

test('a chart out of view waits, and catches up when scrolled to', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openLive(page, GPUS);
  const end = (id: string) =>
    page.evaluate((id) => (window as any).echarts.getInstanceByDom(document.getElementById(id)).getOption().xAxis[0].max, id);
  // At 5 min a time chart redraws on every sample (one a second here).
  await page.getByTestId('range-5').click();
  await expect.poll(() => chartSpanMs(page, 'chart-cpu')).toBe(5 * 60_000);
  const hidden = await end('chart-gpu-1');
  const shown = await end('chart-cpu');
  await page.waitForTimeout(3_500);
  expect(await end('chart-cpu')).toBeGreaterThan(shown);
  expect(await end('chart-gpu-1')).toBe(hidden);
  await page.locator('#chart-gpu-1').scrollIntoViewIfNeeded();
  await expect.poll(() => chartSpanMs(page, 'chart-gpu-1'), { timeout: 5_000 }).toBe(5 * 60_000);
  await expect.poll(() => end('chart-gpu-1'), { timeout: 5_000 }).toBeGreaterThan(hidden);
});

test('a background tab does not redraw, and catches up when shown again', async ({ page }) => {
  await openLive(page, PLAIN);
  const end = () =>
    page.evaluate(() => (window as any).echarts.getInstanceByDom(document.getElementById('chart-cpu')).getOption().xAxis[0].max);
  await page.getByTestId('range-5').click();
  await expect.poll(() => chartSpanMs(page, 'chart-cpu')).toBe(5 * 60_000);
  const setHidden = (hidden: boolean) =>
    page.evaluate((hidden) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
  await setHidden(true);
  const hidden = await end();
  const lastUpdate = page.getByTestId('last-update');
  const before = await lastUpdate.textContent();
  await expect(lastUpdate).not.toHaveText(before!, { timeout: 5_000 });
  await page.waitForTimeout(2_000);
  expect(await end()).toBe(hidden);
  await setHidden(false);
  await expect.poll(end, { timeout: 5_000 }).toBeGreaterThan(hidden);
});

test('the time range changes how much history is drawn', async ({ page }) => {
  await openLive(page, GPUS);
  await page.getByTestId('range-5').click();
  await expect.poll(() => chartSpanMs(page, 'chart-cpu')).toBe(5 * 60_000);
  await page.getByTestId('range-60').click();
  await expect.poll(() => chartSpanMs(page, 'chart-cpu')).toBe(60 * 60_000);
  await page.locator('#chart-gpu-0').scrollIntoViewIfNeeded();
  await expect.poll(() => chartSpanMs(page, 'chart-gpu-0')).toBe(60 * 60_000);
  await expect(page.getByTestId('range-60')).toHaveClass(/active/);
});

test('the theme toggle switches between light and dark, starting from the system preference', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await openLive(page, GPUS);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const dark = await background();
  await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  expect(await background()).not.toBe(dark);
  await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(await background()).toBe(dark);
});
