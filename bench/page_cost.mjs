// What one page load costs the server with a full history: the release server with
// --prefill-history (the whole window of synthetic samples at 1 s), then N sequential requests of the
// dashboard page and of the seed, each measured as wall time and as the server's CPU time (utime +
// stime of the whole process from /proc, less what it spent idle over the same time).
//
//   node bench/page_cost.mjs [--server target/release/vitals] [--requests 40] [--port 3917]
//
// Requests ask for gzip, as a browser does, so compression is part of the cost.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const serverPath = option('server', 'target/release/vitals');
const requests = Number(option('requests', '40'));
const port = Number(option('port', '3917'));
const TICKS_PER_SECOND = 100; // USER_HZ

const server = spawn(
  serverPath,
  [
    '--bind', `127.0.0.1:${port}`,
    '--interval', '1',
    '--prefill-history',
    '--no-persist',
    '--nvml-library', '/nonexistent/libnvidia-ml.so.1',
    '--emit-token', 'page-cost-benchmark-token',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const stop = () => server.kill('SIGKILL');
process.on('exit', stop);

await new Promise((resolve, reject) => {
  server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  server.stdout.on('data', (chunk) => {
    if (String(chunk).includes('Vitals is serving on')) resolve();
  });
});
await sleep(2000);

const cpuSeconds = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
};

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function measure(path) {
  const url = `http://127.0.0.1:${port}${path}`;
  for (let i = 0; i < 3; i++) await (await fetch(url)).arrayBuffer();
  // The server's own idle cost over as long as the requests will take, to subtract.
  const idleStart = cpuSeconds();
  const idleWall = performance.now();
  await sleep(2000);
  const idlePerSecond = (cpuSeconds() - idleStart) / ((performance.now() - idleWall) / 1000);

  const walls = [];
  let bytes = 0;
  const cpuStart = cpuSeconds();
  const wallStart = performance.now();
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const response = await fetch(url);
    const body = await response.arrayBuffer();
    walls.push(performance.now() - started);
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    bytes = body.byteLength;
  }
  const elapsed = (performance.now() - wallStart) / 1000;
  const cpu = cpuSeconds() - cpuStart - idlePerSecond * elapsed;
  walls.sort((a, b) => a - b);
  return {
    path,
    requests,
    body_bytes: bytes,
    wall_ms: { p50: +percentile(walls, 50).toFixed(2), p99: +percentile(walls, 99).toFixed(2) },
    server_cpu_ms_per_request: +((cpu * 1000) / requests).toFixed(2),
  };
}

const results = [];
for (const path of ['/', '/api/system/seed']) results.push(await measure(path));
for (const r of results) {
  console.log(
    `${r.path.padEnd(18)} ${String(r.body_bytes).padStart(8)} B  wall p50 ${r.wall_ms.p50} ms  p99 ${r.wall_ms.p99} ms  server CPU ${r.server_cpu_ms_per_request} ms/request`,
  );
}
console.log(JSON.stringify({ results }));
stop();
process.exit(0);
