import { expect, Page } from '@playwright/test';

export const PLAIN = 'http://127.0.0.1:3100';
export const GPUS = 'http://127.0.0.1:3101';

/** Opens the dashboard and waits until it is hydrated and the socket is live. */
export async function openLive(page: Page, origin: string) {
  await page.goto(origin + '/');
  await expect(page.getByTestId('connection')).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
}

/** Fails the test on any console error or uncaught exception of the page. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  return errors;
}

/** Points in the series of a chart, read from the ECharts instance the page drew. */
export async function chartPoints(page: Page, id: string, series = 0): Promise<number> {
  return page.evaluate(
    ([id, series]) => {
      const chart = (window as any).echarts?.getInstanceByDom(document.getElementById(id as string));
      const option = chart?.getOption();
      return option?.series?.[series as number]?.data?.length ?? -1;
    },
    [id, series] as const,
  );
}

/** The chart's x-axis span in milliseconds. */
export async function chartSpanMs(page: Page, id: string): Promise<number> {
  return page.evaluate((id) => {
    const option = (window as any).echarts.getInstanceByDom(document.getElementById(id)).getOption();
    return option.xAxis[0].max - option.xAxis[0].min;
  }, id);
}
