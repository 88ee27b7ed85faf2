// Benchmark: the fleet page over a simulated fleet of 500 hosts with 8 GPUs each. One fixture
// target (this script, on loopback) exposes every host's node_exporter and dcgm-exporter series
// under their own `instance` labels; the real Prometheus scrapes it with honor_labels every 5 s;
// the release server reads that Prometheus. Reported:
//   - one fleet refresh (all instant and range queries), as the server times it (min/median/max),
//   - the size of GET /api/fleet, raw and gzip, and of the /fleet page,
//   - the browser: navigation → page loaded and first paint for /fleet, and the CPU of all
//     Chromium processes while the page stays open (it reloads itself every refresh),
//   - the server's CPU and resident memory over the same time.
// Run from the repository root after a release build:
//   node bench/fleet.mjs [--hosts 500] [--gpus 8] [--seconds 60] [--screenshot fleet.png]
import { spawn } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';
import { gzipSync } from 'zlib';
import { chromiumCpuSeconds, launchChromium, processUsage } from './proc.mjs';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const hosts = arg('--hosts', 500);
const gpusPerHost = arg('--gpus', 8);
const seconds = arg('--seconds', 60);
const refreshSeconds = 10;
const [exporterPort, prometheusPort, vitalsPort] = [3961, 3962, 3963];
const origin = `http://127.0.0.1:${vitalsPort}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The fixture: counters grow with time so rates exist; gauges vary by host and GPU.
const started = Date.now();
function exposition() {
  const t = (Date.now() - started) / 1000;
  const lines = [];
  for (let h = 0; h < hosts; h++) {
    const name = `gpu-${String(h).padStart(3, '0')}`;
    const node = `instance="${name}:9100",rack="r${h % 20}"`;
    const busy = ((h * 7) % 100) / 100;
    for (let cpu = 0; cpu < 4; cpu++) {
      lines.push(`node_cpu_seconds_total{${node},cpu="${cpu}",mode="idle"} ${1e5 + (1 - busy) * t}`);
      lines.push(`node_cpu_seconds_total{${node},cpu="${cpu}",mode="user"} ${1e4 + busy * t}`);
    }
    lines.push(`node_memory_MemTotal_bytes{${node}} 549755813888`);
    lines.push(`node_memory_MemAvailable_bytes{${node}} ${549755813888 * (1 - busy / 2)}`);
    lines.push(`node_load1{${node}} ${(busy * 32).toFixed(2)}`);
    lines.push(`node_disk_read_bytes_total{${node},device="nvme0n1"} ${1e9 + 5e6 * busy * t}`);
    lines.push(`node_disk_written_bytes_total{${node},device="nvme0n1"} ${1e9 + 2e6 * t}`);
    lines.push(`node_network_receive_bytes_total{${node},device="eth0"} ${1e9 + 1e7 * busy * t}`);
    lines.push(`node_network_transmit_bytes_total{${node},device="eth0"} ${1e9 + 3e6 * t}`);
    for (let g = 0; g < gpusPerHost; g++) {
      const gpu = `instance="${name}:9400",gpu="${g}",UUID="GPU-${h}-${g}",modelName="NVIDIA H100 80GB HBM3",Hostname="${name}"`;
      const util = (h * 13 + g * 29 + Math.floor(t / 5)) % 101;
      lines.push(`DCGM_FI_DEV_GPU_UTIL{${gpu}} ${util}`);
      lines.push(`DCGM_FI_DEV_FB_USED{${gpu}} ${util * 800}`);
      lines.push(`DCGM_FI_DEV_FB_FREE{${gpu}} ${81559 - util * 800}`);
      lines.push(`DCGM_FI_DEV_GPU_TEMP{${gpu}} ${35 + Math.floor(util / 2)}`);
      lines.push(`DCGM_FI_DEV_POWER_USAGE{${gpu}} ${70 + util * 6.3}`);
      lines.push(`DCGM_FI_DEV_POWER_MGMT_LIMIT{${gpu}} 700`);
    }
  }
  return lines.join('\n') + '\n';
}
const exporter = createServer((_, response) => {
  response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  response.end(exposition());
}).listen(exporterPort, '127.0.0.1');

const dir = mkdtempSync(join(tmpdir(), 'vitals-fleet-bench-'));
writeFileSync(join(dir, 'prometheus.yml'), `global:
  scrape_interval: 5s
scrape_configs:
  - job_name: fleet
    honor_labels: true
    scrape_timeout: 5s
    static_configs:
      - targets: ['127.0.0.1:${exporterPort}']
`);
const prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`,
  `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${prometheusPort}`], { stdio: 'ignore' });
const server = spawn('target/release/vitals', ['--bind', `127.0.0.1:${vitalsPort}`, '--no-persist',
  '--nvml-library', '/nonexistent/libnvidia-ml.so.1', '--fleet-prometheus', `http://127.0.0.1:${prometheusPort}`,
  '--fleet-refresh', String(refreshSeconds), '--fleet-rate-window', '30'], { stdio: 'ignore' });

async function fleet() {
  const response = await fetch(origin + '/api/fleet', { headers: { 'accept-encoding': 'identity' } });
  const text = await response.text();
  return { text, view: JSON.parse(text) };
}

try {
  // Wait for Prometheus to hold two scrapes (rates need them) of every host.
  let view;
  for (let i = 0; ; i++) {
    try {
      ({ view } = await fleet());
      const full = view.hosts.filter((h) => h.gpus.length === gpusPerHost && h.cpu_percent !== undefined);
      if (full.length >= hosts) break;
    } catch {}
    if (i > 120) throw new Error(`the fleet never filled: ${JSON.stringify(view ?? {}).slice(0, 300)}`);
    await sleep(1000);
  }
  // Refresh times: as many refreshes as fit in the measuring window, while a browser watches.
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const navigated = Date.now();
  await page.goto(origin + '/fleet', { waitUntil: 'load' });
  const loadedMs = Date.now() - navigated;
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return { load: nav.loadEventEnd, fcp: paint?.startTime, rows: document.querySelectorAll('.fleet-row[data-host]').length };
  });
  const shot = process.argv.indexOf('--screenshot');
  if (shot > 0) await page.screenshot({ path: process.argv[shot + 1] });
  const pageBytes = (await (await fetch(origin + '/fleet', { headers: { 'accept-encoding': 'identity' } })).text()).length;
  const chromiumBefore = chromiumCpuSeconds();
  const serverBefore = processUsage(server.pid);
  const refreshes = new Set();
  let maxRss = 0;
  const until = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < until) {
    last = await fleet();
    if (last.view.refresh_ms !== undefined) refreshes.add(`${last.view.updated}|${last.view.refresh_ms}`);
    maxRss = Math.max(maxRss, processUsage(server.pid).rssMib);
    await sleep(2000);
  }
  const chromiumCpu = chromiumCpuSeconds() - chromiumBefore;
  const serverAfter = processUsage(server.pid);
  await browser.close();
  const times = [...refreshes].map((r) => Number(r.split('|')[1]));
  const apiBytes = Buffer.byteLength(last.text);
  const report = {
    fleet: `${hosts} hosts × ${gpusPerHost} GPUs (${last.view.hosts.length} hosts listed)`,
    refresh_ms: { runs: times.length, min: Math.min(...times), median: median(times), max: Math.max(...times) },
    api_fleet_bytes: { raw: apiBytes, gzip: gzipSync(last.text).length },
    fleet_page_bytes: { raw: pageBytes, gzip: gzipSync(await (await fetch(origin + '/fleet')).text()).length },
    browser: {
      rows: timing.rows,
      navigation_to_load_ms: Math.round(timing.load),
      first_contentful_paint_ms: Math.round(timing.fcp ?? -1),
      goto_to_load_ms_outside: loadedMs,
      cpu_percent_of_a_core_while_open: +(100 * chromiumCpu / seconds).toFixed(2),
    },
    server: {
      cpu_percent_of_a_core: +(100 * (serverAfter.cpu - serverBefore.cpu) / seconds).toFixed(2),
      max_rss_mib: +maxRss.toFixed(1),
    },
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  server.kill();
  prometheus.kill();
  exporter.close();
  await sleep(500);
  rmSync(dir, { recursive: true, force: true });
}
