// Benchmark: what the open dashboard costs a browser. Starts the release server with a full hour of
// (synthetic) history at a 1 s interval, opens the page in headless Debian Chromium and reports
//   - navigation → first drawn chart (ms),
//   - main-thread task time over 60 s from the DevTools Protocol (Performance.getMetrics),
//   - CPU time of all Chromium processes over the same 60 s (from /proc),
//   - the .wasm size, raw and gzip.
// Run from the repository root after a release build: node bench/browser.mjs [--seconds 60] [--gpus]
// --gpus serves two GPUs from the fake NVML library (build it as scripts/test does) instead of none.
import { spawn, execSync } from 'child_process';
import { readFileSync, readdirSync } from 'fs';
import { gzipSync } from 'zlib';
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
const { chromium } = require('../node_modules/@playwright/test');

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 60) || 60;
const port = 3950;
const origin = `http://127.0.0.1:${port}`;
const ticksPerSecond = Number(execSync('getconf CLK_TCK').toString().trim());

function chromiumCpuSeconds() {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium')) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / ticksPerSecond;
}

const withGpus = process.argv.includes('--gpus');
const nvml = withGpus ? 'target/fake-nvml/release/libfake_nvml.so' : '/nonexistent/libnvidia-ml.so.1';
const server = spawn('target/release/vitals', [
  '--bind', `127.0.0.1:${port}`, '--interval', '1', '--prefill-history', '--no-persist',
  '--nvml-library', nvml, '--emit-token', 'bench-emit-token-0123456789',
], {
  stdio: 'ignore',
  env: { ...process.env, FAKE_NVML_SCRIPT: 'end2end/fixtures/two-gpus.nvml' },
});
try {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(origin + '/api/system/metrics')).ok) break; } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'],
  });
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
  await page.waitForTimeout(5_000);

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const before = await metric();
  const cpuBefore = chromiumCpuSeconds();
  await page.waitForTimeout(seconds * 1000);
  const after = await metric();
  const cpuAfter = chromiumCpuSeconds();
  await browser.close();

  const wasm = readFileSync('target/site/pkg/vitals.wasm');
  const result = {
    seconds,
    gpus: withGpus ? 2 : 0,
    history_points_cpu_chart: points,
    first_chart_ms: firstChartMs,
    main_thread_task_seconds: +(after.TaskDuration - before.TaskDuration).toFixed(3),
    script_seconds: +(after.ScriptDuration - before.ScriptDuration).toFixed(3),
    main_thread_percent_of_core: +((after.TaskDuration - before.TaskDuration) / seconds * 100).toFixed(2),
    chromium_all_processes_percent_of_core: +((cpuAfter - cpuBefore) / seconds * 100).toFixed(2),
    js_heap_mb: +(after.JSHeapUsedSize / 1e6).toFixed(1),
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gzipSync(wasm, { level: 9 }).length,
  };
  console.log(JSON.stringify(result));
} finally {
  server.kill('SIGKILL');
}
