#!/usr/bin/env bash
# The scale-out benchmarks of issue 21 in one run, as BENCHMARKS.md reports them:
# jobs per second with 1, 2, 4 and 8 workers and synchronous execute latency,
# distributed against embedded (scale-out-bench.sh), then STAC search on pgstac
# against the embedded store at ITEMS items (pgstac-bench.sh). Run it on an idle
# machine: both compare processes that share the 2 cores.
#
#   bash tests/bench/scale-out-all.sh [ROUNDS] [SECONDS] [ITEMS]
#
# Defaults: 3 rounds, 5 s per search measurement, 100,000 items.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cargo build --release -p hysope-cli -p hysope-tests --manifest-path "$root/Cargo.toml" >/dev/null
echo "# scale-out benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD)"
echo "## jobs per second and synchronous execute"
bash "$root/tests/bench/scale-out-bench.sh" "${1:-3}"
echo "## STAC search, pgstac against embedded"
bash "$root/tests/bench/pgstac-bench.sh" "${2:-5}" "${3:-100000}"
