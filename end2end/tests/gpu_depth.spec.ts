import { expect, Page, test } from '@playwright/test';
import * as fs from 'fs';
import { collectPageErrors, openLive } from './helpers';

// The server on 3105 reads a copy of fixtures/gpu-depth.nvml that this spec rewrites as it goes.
const DEPTH = 'http://127.0.0.1:3105';
const script = () => process.env.VITALS_E2E_DEPTH_SCRIPT!;

/** The names of the series of a chart, and each one's marked areas and lines. */
async function chartMarks(page: Page, id: string) {
  return page.evaluate((id) => {
    const option = (window as any).echarts.getInstanceByDom(document.getElementById(id)).getOption();
    return option.series.map((s: any) => ({
      name: s.name,
      areas: s.markArea?.data?.length ?? 0,
      lines: (s.markLine?.data ?? []).map((d: any) => d.name),
    }));
  }, id);
}

test('a GPU card says why its clocks are held down, what its links and memory report, and which process uses it', async ({ page }) => {
  const errors = collectPageErrors(page);
  await openLive(page, DEPTH);
  const cards = page.getByTestId('gpu-card');
  await expect(cards).toHaveCount(2);
  const h200 = cards.nth(0);

  // Throttling as badges: the power cap holds, and reads as worth a look.
  const badges = h200.getByTestId('gpu-clock-events').locator('.clock-event');
  await expect(badges).toHaveText(['Power cap']);
  await expect(badges.first()).toHaveAttribute('data-reason', 'power_cap');
  await expect(badges.first()).toHaveClass(/warn/);

  // The detail: state, errors, link (an x8 link in an x16 slot is a fault), video, energy.
  const fact = (card: typeof h200, name: string) => card.locator(`[data-fact="${name}"]`);
  await expect(fact(h200, 'Performance state')).toHaveText('P0');
  await expect(fact(h200, 'ECC')).toHaveText('on · 3 corrected, 0 uncorrected (lifetime 9 / 0)');
  await expect(fact(h200, 'Memory repair')).toHaveText('2 rows remapped (correctable), 0 (uncorrectable)');
  await expect(fact(h200, 'PCIe')).toContainText('Gen 5 · x8 of x16 · ↓');
  await expect(fact(h200, 'PCIe')).toHaveClass(/bad/);
  await expect(fact(h200, 'PCIe')).toContainText(/↓2\.0 GB\/s ↑500(\.0)? MB\/s|↓[12]\.\d+ GB\/s/);
  await expect(fact(h200, 'Video')).toHaveText('encoder 0 % · decoder 12 %');
  await expect(fact(h200, 'Held down')).toContainText('power ');
  // Energy over the shown range grows from the driver's counter (699 W here).
  await expect(fact(h200, 'Energy')).toContainText(/Wh over the shown range · .* since the driver loaded/, { timeout: 10_000 });
  await expect(fact(h200, 'XID errors')).toHaveText('none');
  // Profiling counters (GPM, without DCGM) in a researcher's words; the A100 says once it has none.
  await expect(fact(h200, 'Profiling')).toHaveText(
    'tensor cores 63 % active · FP16 22 % active · memory bandwidth 41 % — compute-bound', { timeout: 10_000 });

  // The MIG GPU lists its instances under it, and its uncorrected ECC error reads as a fault.
  const mig = cards.nth(1);
  await expect(fact(mig, 'MIG')).toHaveText('0 1g.10gb (1.0 GiB / 10.0 GiB) · 1 3g.40gb (0.0 GiB / 40.0 GiB)');
  await expect(fact(mig, 'ECC')).toHaveClass(/bad/);
  await expect(mig.getByTestId('gpu-clock-events').locator('.clock-event')).toHaveText(['Idle']);
  await expect(fact(mig, 'Profiling')).toHaveText('not available: this GPU has no GPM counters (Hopper and newer have them)');

  // Per-process use of the GPU beside its memory, and its host CPU and memory.
  const row = h200.getByTestId('gpu-processes').locator('tbody tr').first();
  await expect(row.locator('[data-col="sm"]')).toHaveText('55');
  await expect(row.locator('[data-col="mem"]')).toHaveText('20');
  await expect(row.locator('[data-col="encdec"]')).toHaveText('4 / 2');
  await expect(row.locator('[data-col="cpu"]')).toHaveText(/^\d+$/, { timeout: 10_000 });
  await expect(row.locator('[data-col="rss"]')).toHaveText(/^\d+ MiB$|^\d+\.\d GiB$/);

  // The timeline (the last 5 minutes, redrawn about every second): a lane for the power cap.
  // (a chart out of view is not redrawn: the reader scrolls to it)
  await page.getByTestId('range-5').click();
  await page.locator('#chart-gpu-0').scrollIntoViewIfNeeded();
  await expect.poll(async () => (await chartMarks(page, 'chart-gpu-0')).find((s: any) => s.name === 'Power cap')?.areas ?? 0).toBeGreaterThan(0);
  // A tensor-core lane on the GPU with GPM, none on the one without.
  await expect.poll(async () => (await chartMarks(page, 'chart-gpu-0')).map((s: any) => s.name)).toContain('Tensor cores');
  await page.locator('#chart-gpu-1').scrollIntoViewIfNeeded();
  expect((await chartMarks(page, 'chart-gpu-1')).map((s: any) => s.name)).not.toContain('Tensor cores');
  await page.locator('#chart-gpu-0').scrollIntoViewIfNeeded();

  // The card runs hot: now heat holds the clocks, and the badges and the timeline say so.
  const original = fs.readFileSync(script(), 'utf8');
  fs.writeFileSync(script(), original.replace('throttle=4 ', 'throttle=32 '));
  await expect(badges).toHaveText(['SW thermal'], { timeout: 10_000 });
  await expect(badges.first()).toHaveClass(/bad/);
  await expect.poll(async () => (await chartMarks(page, 'chart-gpu-0')).map((s: any) => s.name)).toEqual(
    expect.arrayContaining(['Power cap', 'SW thermal']));

  // An XID error from the driver: on the card, on the chart, and in /metrics.
  fs.appendFileSync(script(), 'xid 0 79\n');
  await expect(fact(h200, 'XID errors')).toContainText('1 · last XID 79 at ', { timeout: 10_000 });
  await expect(fact(h200, 'XID errors')).toContainText('GPU has fallen off the bus');
  await expect(fact(h200, 'XID errors')).toHaveClass(/bad/);
  await expect.poll(async () => (await chartMarks(page, 'chart-gpu-0')).find((s: any) => s.name === 'XID errors')?.lines ?? []).toEqual(['XID 79']);
  const metrics = await (await page.request.get(DEPTH + '/metrics')).text();
  expect(metrics).toMatch(/^DCGM_FI_DEV_XID_ERRORS\{gpu="0",UUID="GPU-depth-0"[^}]*\} 79(\.0)?$/m);
  expect(metrics).toMatch(/^vitals_gpu_clock_event\{gpu="0",[^}]*reason="sw_thermal"\} 1(\.0)?$/m);
  expect(errors).toEqual([]);
});
