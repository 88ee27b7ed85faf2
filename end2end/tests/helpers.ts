import { expect, Page } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

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

/** The repository root, where the release server runs from (it reads Leptos.toml there). */
export const ROOT = path.resolve(__dirname, '../..');

/**
 * Starts a release server of the test's own on `port` with `args` (and `env` added; by default the
 * repository's binary, run from the repository root), and waits
 * until it answers; fails with what it printed if it stops or does not answer within a minute.
 */
export async function startServer(
  port: number | string, args: string[], env: Record<string, string> = {},
  where = { binary: path.join(ROOT, 'target/release/vitals'), cwd: ROOT },
): Promise<ChildProcess> {
  // A port on 127.0.0.1, or a whole loopback address ('127.0.0.2:3121').
  const address = typeof port === 'number' ? `127.0.0.1:${port}` : port;
  const child = spawn(where.binary, [
    '--bind', address, '--emit-token', 'e2e-emit-token-0123456789', ...args,
  ], { cwd: where.cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    if (child.exitCode !== null) throw new Error(`the server stopped at start: ${stderr}`);
    try {
      if ((await fetch(`http://${address}/api/system/metrics`)).ok) return child;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`the server did not answer within a minute: ${stderr}`);
}

/** SIGTERM, as systemd stops it: the writer saves what is queued before the process exits. */
export async function stopServer(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
