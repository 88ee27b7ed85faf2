#!/usr/bin/env bash
# Builds the soak benchmark (release) and runs it from the repository root, passing its arguments:
#   bench/soak.sh --clients 1000 --minutes 10
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="$root/target/bench-load"
cargo build --release --offline --manifest-path "$root/bench/load/Cargo.toml" -q \
  || cargo build --release --manifest-path "$root/bench/load/Cargo.toml" -q
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$root"
exec "$CARGO_TARGET_DIR/release/vitals-soak" "$@"
