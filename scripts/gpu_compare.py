#!/usr/bin/env python3
"""Compare every GPU field Vitals reports with nvidia-smi, on a machine with an NVIDIA GPU.

    python3 scripts/gpu_compare.py [--vitals target/release/vitals] [--load SECONDS]

Starts the Vitals binary on a loopback port (no history on disk), reads its GPUs through
`/api/system/metrics` just before and just after asking `nvidia-smi --query-gpu=…` and
`nvidia-smi -q -x`, and prints one line per field: `ok`, `MISMATCH` (the values disagree beyond
what a second of change allows), or `absent` (one side does not report it). With `--load`, a
PyTorch matrix loop keeps the GPU busy, so processes, clocks and throttle reasons have something
to show. Then the profiling counters (GPM) against `nvidia-smi dmon --gpm-metrics`. Ends with
the cost of Vitals' GPU reads per tick, from its own `/metrics`. Exits 1 when anything
mismatched.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET

# How old Vitals lets a slow driver's answer for a slowly changing counter grow.
SLOWLY_SECONDS = 31

LOAD = """
import sys, time, torch
a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    (a @ a).sum().item()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def vitals_gpus(base):
    metrics = json.loads(get(base + "/api/system/metrics"))
    return {
        int(e["channel"].rsplit("/", 1)[1]): e["data"]
        for e in metrics["channels"]
        if e["channel"].startswith("system/gpu/") and e["event"] == "metrics"
    }


def smi_query(field, index):
    """One --query-gpu field (one call each: an unknown field fails the whole call)."""
    out = subprocess.run(
        ["nvidia-smi", f"--id={index}", f"--query-gpu={field}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
    )
    value = out.stdout.strip()
    if out.returncode != 0 or value in ("", "[N/A]", "N/A", "[Not Supported]", "Not Supported"):
        return None
    return value


def number(text):
    if text is None:
        return None
    match = re.search(r"-?\d+(\.\d+)?", text)
    return float(match.group()) if match else None


def xml_text(node, *paths):
    for path in paths:
        found = node.find(path)
        if found is not None and found.text and found.text.strip() not in ("N/A", "Not Supported"):
            return found.text.strip()
    return None


def dig(data, *keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


class Report:
    def __init__(self):
        self.mismatches = 0

    def check(self, gpu, field, ours, theirs, tolerance=0.0):
        if ours is None and theirs is None:
            print(f"GPU {gpu}  {field:<34} absent on both")
        elif ours is None or theirs is None:
            who = "Vitals" if ours is None else "nvidia-smi"
            print(f"GPU {gpu}  {field:<34} absent in {who} (vitals={ours} nvidia-smi={theirs})")
        else:
            if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
                same = abs(ours - theirs) <= tolerance
            else:
                same = str(ours) == str(theirs)
            if not same:
                self.mismatches += 1
            verdict = "ok      " if same else "MISMATCH"
            print(f"GPU {gpu}  {field:<34} {verdict} vitals={ours} nvidia-smi={theirs}")


def between(before, after, tolerance):
    """A tolerance that covers how far a value moved while nvidia-smi was read."""
    if before is None or after is None:
        return tolerance
    return tolerance + abs(after - before)


def compare(index, before, after, root, report, seconds):
    v = after
    x = root.findall("gpu")[index]
    mib = 1024 * 1024

    def q(field, *alternatives):
        for name in (field,) + alternatives:
            value = smi_query(name, index)
            if value is not None:
                return value
        return None

    def moving(field, key_path, smi_value, tolerance):
        ours_before, ours = dig(before, *key_path), dig(v, *key_path)
        report.check(index, field, ours, smi_value, between(ours_before, ours, tolerance))

    report.check(index, "uuid", v.get("uuid"), q("uuid"))
    report.check(index, "name", v.get("name"), q("name"))
    moving("utilization %", ["utilization_percent"], number(q("utilization.gpu")), 25)
    moving("memory bus utilization %", ["memory_utilization_percent"], number(q("utilization.memory")), 25)
    used = v.get("memory_used_bytes")
    report.check(index, "memory used MiB", used and round(used / mib), number(q("memory.used")), 64)
    total = v.get("memory_total_bytes")
    report.check(index, "memory total MiB", total and round(total / mib), number(q("memory.total")), 1)
    moving("temperature °C", ["temperature_celsius"], number(q("temperature.gpu")), 3)
    moving("power W", ["power_watts"], number(q("power.draw.instant", "power.draw")), 40)
    report.check(index, "power limit W", v.get("power_limit_watts"), number(q("enforced.power.limit")), 1)
    report.check(index, "fan %", v.get("fan_percent"), number(q("fan.speed")), 5)
    moving("SM clock MHz", ["sm_clock_mhz"], number(q("clocks.sm")), 200)
    moving("memory clock MHz", ["memory_clock_mhz"], number(q("clocks.mem")), 50)
    reasons = q("clocks_event_reasons.active", "clocks_throttle_reasons.active")
    report.check(
        index,
        "clock event reasons (bits)",
        v.get("clocks_throttle_reasons"),
        int(reasons, 16) if reasons else None,
    )
    pstate = q("pstate")
    report.check(index, "performance state", v.get("performance_state"), number(pstate))

    ecc = v.get("ecc") or {}
    mode = q("ecc.mode.current")
    report.check(index, "ECC on", ecc.get("enabled") if v.get("ecc") else None,
                 None if mode is None else mode == "Enabled")
    for key, field in [
        ("corrected_volatile", "ecc.errors.corrected.volatile.total"),
        ("uncorrected_volatile", "ecc.errors.uncorrected.volatile.total"),
        ("corrected_aggregate", "ecc.errors.corrected.aggregate.total"),
        ("uncorrected_aggregate", "ecc.errors.uncorrected.aggregate.total"),
    ]:
        report.check(index, f"ECC {key}", ecc.get(key), number(q(field)))

    repair = v.get("memory_repair") or {}
    rows = x.find("remapped_rows")
    if rows is not None or "remapped_rows_correctable" in repair:
        report.check(index, "remapped rows correctable", repair.get("remapped_rows_correctable"),
                     number(xml_text(x, "remapped_rows/remapped_row_corr")))
        report.check(index, "remapped rows uncorrectable", repair.get("remapped_rows_uncorrectable"),
                     number(xml_text(x, "remapped_rows/remapped_row_unc")))
        pending = xml_text(x, "remapped_rows/remapped_row_pending")
        report.check(index, "remap pending", repair.get("remap_pending"),
                     None if pending is None else pending == "Yes")
        failure = xml_text(x, "remapped_rows/remapped_row_failure")
        report.check(index, "remap failed", repair.get("remap_failed"),
                     None if failure is None else failure == "Yes")
    else:
        report.check(index, "retired pages single-bit", repair.get("retired_pages_single_bit"),
                     number(q("retired_pages.single_bit_ecc.count", "retired_pages.sbe")))
        report.check(index, "retired pages double-bit", repair.get("retired_pages_double_bit"),
                     number(q("retired_pages.double_bit.count", "retired_pages.dbe")))

    pcie = v.get("pcie") or {}
    report.check(index, "PCIe generation", pcie.get("generation"), number(q("pcie.link.gen.current", "pcie.link.gen.gpucurrent")))
    report.check(index, "PCIe max generation", pcie.get("max_generation"), number(q("pcie.link.gen.max")))
    report.check(index, "PCIe width", pcie.get("width"), number(q("pcie.link.width.current")))
    report.check(index, "PCIe max width", pcie.get("max_width"), number(q("pcie.link.width.max")))
    report.check(index, "PCIe replays", pcie.get("replays"), number(xml_text(x, "pci/replay_counter")))
    # nvidia-smi samples its own 20 ms window: only the order of magnitude can agree.
    for key, tag in [("rx_bytes_per_second", "pci/rx_util"), ("tx_bytes_per_second", "pci/tx_util")]:
        theirs = number(xml_text(x, tag))
        ours = pcie.get(key)
        report.check(index, f"PCIe {key} (KB/s)", ours and round(ours / 1024),
                     theirs, max(5000, (theirs or 0) * 0.5 + (ours or 0) / 1024 * 0.5))

    report.check(index, "encoder %", v.get("encoder_percent"), number(q("utilization.encoder")), 5)
    report.check(index, "decoder %", v.get("decoder_percent"), number(q("utilization.decoder")), 5)
    mig = q("mig.mode.current")
    report.check(index, "MIG on", v.get("mig_enabled"), None if mig is None else mig == "Enabled")

    energy_before, energy = before.get("energy_joules"), v.get("energy_joules")
    theirs = number(xml_text(x, "power_readings/total_energy_consumption",
                             "gpu_power_readings/total_energy_consumption"))
    if theirs is not None and energy is not None:
        # nvidia-smi may print it in J or mJ; read its unit.
        text = xml_text(x, "power_readings/total_energy_consumption",
                        "gpu_power_readings/total_energy_consumption")
        theirs = theirs / 1000 if "mJ" in text else theirs
    power = v.get("power_watts") or 0
    report.check(index, "energy J", energy, theirs,
                 between(energy_before, energy, power * (seconds + SLOWLY_SECONDS) + 5))

    # nvidia-smi's clock event counters are in µs and keep growing while it is read.
    for key, tag in [("power_violation_ns", "clocks_event_reasons_counters_sw_power_cap"),
                     ("thermal_violation_ns", "clocks_event_reasons_counters_sw_therm_slowdown")]:
        ours, ours_before = v.get(key), before.get(key)
        theirs = number(xml_text(x, f"clocks_event_reasons_counters/{tag}"))
        # Vitals reads these counters again every 30 s when the driver is slow to answer them.
        report.check(index, f"{key} (µs)", ours and round(ours / 1000), theirs,
                     between(ours_before and ours_before / 1000, ours and ours / 1000,
                             (seconds + SLOWLY_SECONDS) * 1e6))
    print(f"GPU {index}  NVLink                             vitals={v.get('nvlink')}")
    print(f"GPU {index}  XID errors watched                 vitals count={v.get('xid_count')} "
          f"(None: the event thread could not register)")

    smi_procs = {}
    out = subprocess.run(
        ["nvidia-smi", f"--id={index}", "--query-compute-apps=pid,used_memory",
         "--format=csv,noheader,nounits"], capture_output=True, text=True)
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit():
            smi_procs[int(parts[0])] = number(parts[1])
    ours = {p["pid"]: p for p in v.get("processes", [])}
    report.check(index, "compute process pids", sorted(p for p in ours if ours[p]["kind"] == "compute"),
                 sorted(smi_procs))
    for pid, used in smi_procs.items():
        mine = ours.get(pid, {})
        used_bytes = mine.get("used_memory_bytes")
        report.check(index, f"process {pid} GPU memory MiB", used_bytes and round(used_bytes / mib), used, 2)
        print(f"GPU {index}  process {pid} utilization            vitals={mine.get('utilization')} "
              f"cpu={mine.get('cpu_percent')} rss={mine.get('resident_bytes')}")


# GPM metric ids (nvidia-smi dmon --gpm-metrics) and the profiling field Vitals reports each in.
GPM_METRICS = [
    (1, "graphics_active_percent"),
    (2, "sm_active_percent"),
    (3, "sm_occupancy_percent"),
    (5, "tensor_active_percent"),
    (10, "dram_active_percent"),
    (11, "fp64_active_percent"),
    (12, "fp32_active_percent"),
    (13, "fp16_active_percent"),
]


def smi_gpm(index, samples=3):
    """The GPM metrics nvidia-smi's dmon reports over `samples` seconds, averaged; None without
    GPM. The metrics are dmon's last columns, in the order asked."""
    ids = ",".join(str(i) for i, _ in GPM_METRICS)
    out = subprocess.run(
        ["nvidia-smi", "dmon", "-i", str(index), "-c", str(samples), "-d", "1", "--gpm-metrics", ids],
        capture_output=True, text=True)
    if out.returncode != 0:
        return None
    rows = []
    for line in out.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cells = line.split()[-len(GPM_METRICS):]
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            continue
    if not rows:
        return None
    return {field: sum(r[i] for r in rows) / len(rows) for i, (_, field) in enumerate(GPM_METRICS)}


def compare_gpm(base, index, report):
    """Vitals' profiling counters against nvidia-smi's GPM over the same seconds; both average a
    moving load over their own windows, so only agreement within 15 points is asked."""
    ours_before = dig(vitals_gpus(base).get(index, {}), "profiling") or {}
    theirs = smi_gpm(index)
    ours = dig(vitals_gpus(base).get(index, {}), "profiling") or {}
    print(f"GPU {index}  profiling line                     vitals={ours.get('line')!r}")
    if theirs is None:
        report.check(index, "GPM supported", ours.get("tensor_active_percent") is not None, None)
        return
    for _, field in GPM_METRICS:
        mine = [v for v in (ours_before.get(field), ours.get(field)) if v is not None]
        mean = sum(mine) / len(mine) if mine else None
        report.check(index, f"GPM {field}", mean and round(mean, 1), round(theirs[field], 1), 15)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vitals", default="target/release/vitals")
    parser.add_argument("--load", type=float, default=0, help="seconds of GPU load (PyTorch)")
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    load = None
    if args.load:
        load = subprocess.Popen([sys.executable, "-c", LOAD, str(args.load + 30)])
        time.sleep(8)
    data_dir = tempfile.mkdtemp(prefix="vitals-compare-")
    server = subprocess.Popen(
        [args.vitals, "--bind", f"127.0.0.1:{port}", "--interval", "1", "--no-persist"],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(data_dir, "server.log"), "w"),
    )
    try:
        deadline = time.time() + 30
        gpus = {}
        while time.time() < deadline:
            try:
                gpus = vitals_gpus(base)
                if gpus and all(g.get("available") for g in gpus.values()):
                    # Two ticks, so rates and per-process CPU have a previous reading.
                    time.sleep(2.5)
                    break
            except OSError:
                pass
            time.sleep(0.5)
        if not gpus:
            print("Vitals reports no GPU:", get(base + "/api/system/gpus"))
            print(open(os.path.join(data_dir, "server.log")).read()[-2000:])
            return 1
        started = time.time()
        before = vitals_gpus(base)
        root = ET.fromstring(subprocess.run(["nvidia-smi", "-q", "-x"], capture_output=True, text=True).stdout)
        report = Report()
        smi_started = time.time()
        after = vitals_gpus(base)
        seconds = time.time() - started
        for index in sorted(after):
            compare(index, before.get(index, {}), after[index], root, report, seconds + time.time() - smi_started)
        for index in sorted(after):
            compare_gpm(base, index, report)
        metrics = get(base + "/metrics")
        reads = number(re.search(r"^vitals_gpu_reads_total (\S+)", metrics, re.M).group(1))
        spent = number(re.search(r"^vitals_gpu_read_seconds_total (\S+)", metrics, re.M).group(1))
        print(f"GPU reads: {reads:.0f} ticks, {spent / reads * 1000:.2f} ms per tick "
              f"({spent / reads * 1000 / len(after):.2f} ms per GPU)")
        queries = sorted(
            ((float(m.group(2)), m.group(1)) for m in
             re.finditer(r'^vitals_gpu_query_seconds_total\{query="([^"]+)"\} (\S+)', metrics, re.M)),
            reverse=True)
        print("Slowest NVML queries, ms per tick: " +
              ", ".join(f"{name} {spent / reads * 1000:.2f}" for spent, name in queries[:10]))
        dcgm = sorted({m.group(1) for m in re.finditer(r"^(DCGM_\w+)", metrics, re.M)})
        print(f"/metrics exports {len(dcgm)} dcgm-exporter names: {' '.join(dcgm)}")
        print(f"{report.mismatches} mismatch(es)")
        return 1 if report.mismatches else 0
    finally:
        server.terminate()
        server.wait()
        log = open(os.path.join(data_dir, "server.log")).read().strip()
        if log:
            print("Vitals said:\n" + log[-3000:])
        if load:
            load.terminate()


if __name__ == "__main__":
    sys.exit(main())
