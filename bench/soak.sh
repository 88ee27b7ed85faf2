#!/usr/bin/env bash
# Builds the soak benchmark (release) and runs it from the repository root, passing its arguments:
#   bench/soak.sh --clients 1000 --minutes 10
exec env VITALS_BENCH_BINARY=vitals-soak "$(dirname "$0")/load.sh" "$@"
