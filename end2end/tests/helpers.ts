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
