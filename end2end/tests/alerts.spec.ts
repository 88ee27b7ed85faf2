import { expect, test } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectPageErrors, openLive, ROOT, startServer, stopServer } from './helpers';

// A server of its own on the fake NVML library, whose script this test rewrites to heat a GPU up
// and cool it down again; the temperature rule waits one second instead of a minute.
const PORT = 3103;
const ORIGIN = `http://127.0.0.1:${PORT}`;

const gpu = (temperature: number) =>
  `gpu name="Fake H100" uuid=GPU-alert util=40 memutil=10 mem_used=1000 mem_total=8000 temp=${temperature} power_mw=200000 limit_mw=700000\n`;

function startOn(dir: string) {
  const config = path.join(dir, 'vitals.toml');
  // Only the GPU rules: the host's own load (a build running beside the test) is not this test's.
  fs.writeFileSync(config, [
    '[alerts]', 'disable = ["cpu", "memory", "swap_growing", "filesystem"]', '',
    '[[alerts.rules]]', 'name = "gpu_temperature"', 'series = "gpu/*/temperature"',
    'warning = 85', 'critical = 90', 'for_seconds = 1', 'hysteresis = 3', '',
  ].join('\n'));
  return startServer(PORT, [
    '--interval', '0.5', '--no-persist', '--config', config,
    '--nvml-library', path.join(ROOT, 'target/fake-nvml/release/libfake_nvml.so'),
  ], { FAKE_NVML_SCRIPT: path.join(dir, 'gpus.nvml') });
}

test('a GPU that overheats shows in the alert strip and on its chart, and the strip clears when it cools', async ({ page }, testInfo) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vitals-e2e-alerts-'));
  const script = path.join(dir, 'gpus.nvml');
  fs.writeFileSync(script, gpu(60));
  const server = await startOn(dir);
  try {
    const errors = collectPageErrors(page);
    await openLive(page, ORIGIN);
    await page.getByTestId('range-5').click();
    const strip = page.getByTestId('alert-strip');
    await expect(strip).toHaveCount(0);

    fs.writeFileSync(script, gpu(93));
    const alert = strip.getByTestId('alert');
    await expect(alert).toHaveAttribute('data-severity', 'critical', { timeout: 10_000 });
    await expect(alert).toContainText('GPU 0 · Fake H100: GPU temperature');
    await expect(alert).toContainText('93 °C');
    await expect(alert.getByRole('link', { name: 'chart' })).toHaveAttribute('href', '#chart-gpu-0');

    // The GPU's chart shades the alert's span (once in view: charts out of view wait).
    await page.locator('#chart-gpu-0').scrollIntoViewIfNeeded();
    const shaded = () => page.evaluate(() => {
      const option = (window as any).echarts.getInstanceByDom(document.getElementById('chart-gpu-0')).getOption();
      const alerts = option.series.find((s: any) => s.name === 'Alerts');
      return alerts?.markArea?.data?.length ?? 0;
    });
    await expect.poll(shaded, { timeout: 5_000 }).toBe(1);
    await page.screenshot({ path: testInfo.outputPath('alert-firing.png') });

    fs.writeFileSync(script, gpu(60));
    await expect(strip).toHaveCount(0, { timeout: 10_000 });
    // The span stays on the chart, now with an end.
    expect(await shaded()).toBe(1);
    expect(errors).toEqual([]);
  } finally {
    await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
