import { defineConfig } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// The real release server, started twice: once with no NVIDIA library (the no-GPU story) and once on
// the fake NVML library from tests/fake_nvml (the GPU story). Both run from the repository root so
// the binary reads Leptos.toml, as it does when a person runs it on its own.
const root = path.resolve(__dirname, '..');
const binary = path.join(root, 'target/release/vitals');
export const PLAIN = 'http://127.0.0.1:3100';
export const GPUS = 'http://127.0.0.1:3101';

// The GPU depth spec rewrites its script while its server runs: a copy, made once per run (the
// workers, which load this file again, inherit its path and leave it as the test left it).
process.env.VITALS_E2E_DEPTH_SCRIPT ??= (() => {
  const copy = path.join(os.tmpdir(), `vitals-e2e-gpu-depth-${process.pid}.nvml`);
  fs.copyFileSync(path.join(__dirname, 'fixtures/gpu-depth.nvml'), copy);
  return copy;
})();

// Chromium must not reach anything but this machine (no DNS look-ups of Google hosts, no updates).
const chromiumArgs = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // The fleet spec's hosts live on 127.0.0.2–4: loopback too.
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2, EXCLUDE 127.0.0.3, EXCLUDE 127.0.0.4, EXCLUDE localhost',
];

function server(port: number, extra: string, env: Record<string, string> = {}) {
  return {
    command: `${binary} --bind 127.0.0.1:${port} --interval 1 --emit-token e2e-emit-token-0123456789 --no-persist ${extra}`,
    cwd: root,
    url: `http://127.0.0.1:${port}/api/system/metrics`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe' as const,
    env,
  };
}

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    headless: true,
    launchOptions: { executablePath: '/usr/bin/chromium', args: chromiumArgs },
    trace: 'retain-on-failure',
  },
  webServer: [
    server(3100, '--nvml-library /nonexistent/libnvidia-ml.so.1'),
    server(3101, `--nvml-library ${root}/target/fake-nvml/release/libfake_nvml.so`, {
      FAKE_NVML_SCRIPT: path.join(__dirname, 'fixtures/two-gpus.nvml'),
    }),
    server(3105, `--nvml-library ${root}/target/fake-nvml/release/libfake_nvml.so`, {
      FAKE_NVML_SCRIPT: process.env.VITALS_E2E_DEPTH_SCRIPT!,
    }),
  ],
});
