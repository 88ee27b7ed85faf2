#!/usr/bin/env bash
# What keeping history on disk costs a running server: two release servers side by side at a 1 s
# interval, one with --no-persist and one writing to a fresh data directory, no client on either.
# After a warm-up, their CPU time (utime+stime from /proc, 10 ms ticks) over the measured stretch
# and their RSS at its end. Run from anywhere; the binary is target/release/vitals.
#   bench/persist_cost.sh [SECONDS]     (default 300: at 0.05 % of a core, 15 ticks of 10 ms)
# Without GPUs unless NVML names a library: NVML=libnvidia-ml.so.1 reads the machine's own.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
binary=target/release/vitals
[ -x "$binary" ] || cargo build --release --features ssr --bin vitals
data_dir="$(mktemp -d)"
trap 'kill $plain $persisting 2>/dev/null || true; rm -rf "$data_dir"' EXIT

common=(--interval 1 --emit-token bench-emit-token-0123456789 --nvml-library "${NVML:-/nonexistent/libnvidia-ml.so.1}")
"$binary" --bind 127.0.0.1:3291 --no-persist "${common[@]}" >/dev/null 2>&1 &
plain=$!
"$binary" --bind 127.0.0.1:3292 --data-dir "$data_dir/vitals" "${common[@]}" >/dev/null 2>&1 &
persisting=$!

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

sleep 15 # warm-up: first batches, page caches
plain_before=$(ticks $plain)
persisting_before=$(ticks $persisting)
sleep "$seconds"
plain_ticks=$(( $(ticks $plain) - plain_before ))
persisting_ticks=$(( $(ticks $persisting) - persisting_before ))

percent() { awk -v t="$1" -v hz="$hz" -v s="$seconds" 'BEGIN { printf "%.3f", 100 * t / hz / s }'; }
echo "over ${seconds} s at a 1 s interval, no client:"
echo "  --no-persist:   $(percent $plain_ticks) % of a core, RSS $(( $(rss_kib $plain) / 1024 )) MiB"
echo "  history saved:  $(percent $persisting_ticks) % of a core, RSS $(( $(rss_kib $persisting) / 1024 )) MiB"
echo "  writing costs:  $(percent $(( persisting_ticks - plain_ticks ))) % of a core"
echo "  database:       $(du -sk "$data_dir/vitals" | cut -f1) KiB after $(( seconds + 15 )) s"
