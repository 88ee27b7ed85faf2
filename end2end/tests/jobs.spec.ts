import { expect, Page, test } from '@playwright/test';
import { ChildProcess } from 'child_process';
import * as path from 'path';
import { ROOT, collectPageErrors, openLive, startServer, stopServer } from './helpers';

// A server of this spec's own (the jobs it is told of would show on the other specs' pages), on
// the fake NVML library with two GPUs.
const PORT = 3106;
const ORIGIN = `http://127.0.0.1:${PORT}`;
const TOKEN = 'e2e-emit-token-0123456789';

let server: ChildProcess;

// Tall enough that every chart is in view: a chart out of view is not drawn.
test.use({ viewport: { width: 1280, height: 2400 } });

test.beforeAll(async () => {
  server = await startServer(PORT, ['--interval', '1', '--no-persist',
    '--nvml-library', path.join(ROOT, 'target/fake-nvml/release/libfake_nvml.so')],
  { FAKE_NVML_SCRIPT: path.join(ROOT, 'end2end/fixtures/two-gpus.nvml') });
});

test.afterAll(async () => {
  if (server) await stopServer(server);
});

async function emit(event: string, data: object) {
  const answer = await fetch(`${ORIGIN}/api/internal/ws/emit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ channel: 'jobs/train-1', event, data }),
  });
  expect(answer.status).toBe(202);
}

/** A chart's x-axis span, its series' names, and each one's points and marked lines. */
async function chart(page: Page, id: string) {
  return page.evaluate((id) => {
    const option = (window as any).echarts.getInstanceByDom(document.getElementById(id)).getOption();
    return {
      min: option.xAxis[0].min as number,
      max: option.xAxis[0].max as number,
      series: option.series.map((s: any) => ({
        name: s.name as string,
        times: (s.data ?? []).map((p: any) => p[0] as number),
        marks: (s.markLine?.data ?? []).map((d: any) => d.name as string),
      })),
    };
  }, id);
}

test('the jobs card lists a job, draws its loss on the shared time axis, and marks its start on its GPU', async ({ page }) => {
  const errors = collectPageErrors(page);
  await emit('start', { name: 'resnet', command: 'python train.py', gpus: ['GPU-e2e-0'] });
  for (let step = 1; step <= 6; step++) {
    await emit('metrics', { step: step * 100, loss: 1 / step });
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await openLive(page, ORIGIN);

  // Listed running, with its last values and the GPU it declared.
  const card = page.getByTestId('jobs-card');
  await expect(card).toBeVisible({ timeout: 10_000 });
  const row = card.locator('li[data-channel="jobs/train-1"]');
  await expect(row).toHaveAttribute('data-status', 'running');
  await expect(row.locator('.name')).toHaveText('resnet');
  await expect(row.locator('.values')).toHaveText('loss 0.17 · step 600');
  await expect(row.locator('.gpus')).toHaveText('GPU 0');
  await expect(row.locator('.duration')).toHaveText(/^\d+ s$/);

  // Chosen, its fields draw on a chart whose time axis is the utilization charts'.
  await row.click();
  await expect(page.getByTestId('job-chart-title')).toHaveText('resnet');
  await expect.poll(async () => (await chart(page, 'chart-job')).series.map((s: any) => s.name)).toEqual(['loss', 'step']);
  await expect.poll(async () => {
    const [job, cpu] = [await chart(page, 'chart-job'), await chart(page, 'chart-cpu')];
    return JSON.stringify([job.series[0].times.length, job.min - cpu.min, job.max - cpu.max]);
  }, { timeout: 10_000 }).toBe('[6,0,0]');

  // The GPU it used marks its start; the other GPU does not.
  await expect.poll(async () => (await chart(page, 'chart-gpu-0')).series.find((s: any) => s.name === 'Jobs')?.marks)
    .toEqual(['▶ resnet']);
  expect((await chart(page, 'chart-gpu-1')).series.some((s: any) => s.name === 'Jobs')).toBe(false);

  // A drag across the job's chart zooms every time chart, its own included, into that span.
  await page.getByTestId('range-5').click();
  const first = (await chart(page, 'chart-job')).series[0].times[0];
  const box = (await page.locator('#chart-job').boundingBox())!;
  const plot = { left: box.x + 48, width: box.width - 96 };
  const x = (t: number, min: number, max: number) => plot.left + plot.width * (t - min) / (max - min);
  const shown = await chart(page, 'chart-job');
  const y = box.y + box.height / 2;
  await page.mouse.move(x(first - 20_000, shown.min, shown.max), y);
  await page.mouse.down();
  await page.mouse.move(Math.min(x(Date.now() + 5_000, shown.min, shown.max), plot.left + plot.width - 1), y, { steps: 10 });
  await page.mouse.up();
  await expect(page.getByTestId('zoom-reset')).toBeVisible();
  await expect.poll(async () => {
    const [job, gpu] = [await chart(page, 'chart-job'), await chart(page, 'chart-gpu-0')];
    return job.max - job.min < 5 * 60_000 && job.min === gpu.min && job.max === gpu.max
      && job.series[0].times.every((t: number) => t >= job.min && t <= job.max);
  }).toBe(true);
  await page.getByTestId('zoom-reset').click();

  // Its end is marked too, and the row says how it ended.
  await emit('end', { status: 'failed', message: 'CUDA out of memory' });
  await expect(row).toHaveAttribute('data-status', 'failed', { timeout: 10_000 });
  await expect(row).toHaveAttribute('title', 'python train.py\nCUDA out of memory');
  await expect.poll(async () => (await chart(page, 'chart-gpu-0')).series.find((s: any) => s.name === 'Jobs')?.marks)
    .toEqual(['▶ resnet', '■ resnet']);

  // Chosen again, the chart goes away.
  await row.click();
  await expect(page.getByTestId('job-chart-title')).toBeHidden();
  expect(errors).toEqual([]);
});
