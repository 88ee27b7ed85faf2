#!/usr/bin/env bash
# Builds the load benchmark (release) and runs it from the repository root, passing its arguments:
#   bench/load.sh --clients 100 --seconds 60
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="$root/target/bench-load"
# Offline when the crates are already downloaded (they are, once the main package has built).
cargo build --release --offline --manifest-path "$root/bench/load/Cargo.toml" -q \
  || cargo build --release --manifest-path "$root/bench/load/Cargo.toml" -q
# One socket per client on each side, plus the server's own files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$root"
# bench/soak.sh runs the crate's other binary through this script.
exec "$CARGO_TARGET_DIR/release/${VITALS_BENCH_BINARY:-vitals-load}" "$@"
