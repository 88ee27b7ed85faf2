// Benchmark: what the open dashboard costs a browser. Starts the release server with a full hour of
// (synthetic) history at a 1 s interval, opens the page in headless Debian Chromium and reports
//   - navigation → first drawn chart (ms),
//   - main-thread task time over 60 s from the DevTools Protocol (Performance.getMetrics),
//   - CPU time of all Chromium processes over the same 60 s (from /proc),
//   - the .wasm size, raw and gzip.
// Run from the repository root after a release build: node bench/browser.mjs [--seconds 60] [--gpus] [--job]
// --gpus serves two GPUs from the fake NVML library (build it as scripts/test does) instead of none.
// --job has a training job report step and loss every second, chosen on the page (its fields drawn
// on the shared time axis, its start marked on GPU 0): the jobs card's cost on both sides.
// The server's CPU (% of one core) and resident memory over the same window are reported too.
import { spawn } from 'child_process';
import { readFileSync } from 'fs';
import { gzipSync } from 'zlib';
import { chromiumCpuSeconds, launchChromium, processUsage } from './proc.mjs';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 60) || 60;
const port = 3950;
const origin = `http://127.0.0.1:${port}`;

const withGpus = process.argv.includes('--gpus');
const withJob = process.argv.includes('--job');
const token = 'bench-emit-token-0123456789';
const emit = (event, data) => fetch(origin + '/api/internal/ws/emit', {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  body: JSON.stringify({ channel: 'jobs/bench', event, data }),
});
const nvml = withGpus ? 'target/fake-nvml/release/libfake_nvml.so' : '/nonexistent/libnvidia-ml.so.1';
const server = spawn('target/release/vitals', [
  '--bind', `127.0.0.1:${port}`, '--interval', '1', '--prefill-history', '--no-persist',
  '--nvml-library', nvml, '--emit-token', token,
], {
  stdio: 'ignore',
  env: { ...process.env, FAKE_NVML_SCRIPT: 'end2end/fixtures/two-gpus.nvml' },
});
try {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(origin + '/api/system/metrics')).ok) break; } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const started = Date.now();
  await page.goto(origin + '/');
  await page.waitForFunction(() => {
    const chart = window.echarts?.getInstanceByDom(document.getElementById('chart-cpu'));
    return (chart?.getOption()?.series?.[0]?.data?.length ?? 0) > 1;
  }, null, { polling: 10, timeout: 30_000 });
  const firstChartMs = Date.now() - started;
  const points = await page.evaluate(() =>
    window.echarts.getInstanceByDom(document.getElementById('chart-cpu')).getOption().series[0].data.length);
  let step = 0;
  let reporting;
  if (withJob) {
    await emit('start', { name: 'bench', gpus: withGpus ? ['GPU-e2e-0'] : [] });
    reporting = setInterval(() => { step += 1; emit('metrics', { step, loss: 1 / step }); }, 1000);
    await page.locator('li[data-channel="jobs/bench"]').click({ timeout: 15_000 });
  }
  await page.waitForTimeout(5_000);

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const before = await metric();
  const cpuBefore = chromiumCpuSeconds();
  const serverBefore = processUsage(server.pid);
  let serverRssMaxMib = 0;
  for (let waited = 0; waited < seconds; waited++) {
    await page.waitForTimeout(1000);
    serverRssMaxMib = Math.max(serverRssMaxMib, processUsage(server.pid).rssMib);
  }
  const after = await metric();
  const cpuAfter = chromiumCpuSeconds();
  const serverAfter = processUsage(server.pid);
  const jobPoints = withJob ? await page.evaluate(() =>
    window.echarts.getInstanceByDom(document.getElementById('chart-job')).getOption().series[0].data.length) : 0;
  clearInterval(reporting);
  await browser.close();

  const wasm = readFileSync('target/site/pkg/vitals.wasm');
  const result = {
    seconds,
    gpus: withGpus ? 2 : 0,
    job: withJob,
    job_points_drawn: jobPoints,
    history_points_cpu_chart: points,
    first_chart_ms: firstChartMs,
    main_thread_task_seconds: +(after.TaskDuration - before.TaskDuration).toFixed(3),
    script_seconds: +(after.ScriptDuration - before.ScriptDuration).toFixed(3),
    main_thread_percent_of_core: +((after.TaskDuration - before.TaskDuration) / seconds * 100).toFixed(2),
    chromium_all_processes_percent_of_core: +((cpuAfter - cpuBefore) / seconds * 100).toFixed(2),
    js_heap_mb: +(after.JSHeapUsedSize / 1e6).toFixed(1),
    server_percent_of_core: +((serverAfter.cpu - serverBefore.cpu) / seconds * 100).toFixed(2),
    server_rss_max_mib: +serverRssMaxMib.toFixed(1),
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
  };
  console.log(JSON.stringify(result));
} finally {
  server.kill('SIGKILL');
}
