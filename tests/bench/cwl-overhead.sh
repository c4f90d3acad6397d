#!/usr/bin/env bash
# Runner overhead: wall and CPU time of a 20-step chain of a trivial local tool, a
# 100-way scatter of it, and a 20-step chain of the echo wasm plugin, for
# `hysope cwl-runner` and `cwltool --no-container` in the same run.
#
#   bash tests/bench/cwl-overhead.sh [RUNS]
#
# Needs target/release/hysope (cargo build --release -p hysope-gateway), the wasm
# plugins (target/wasm32-wasip2/release) and cwltool (pip install cwltool).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${1:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$root/tests/bench/make-workflows.py" "$work/cwl"
export HYSOPE_PLUGIN_PATH="$root/target/wasm32-wasip2/release"
export HYSOPE_CACHE_DIR="$work/cache"
hysope="$root/target/release/hysope"

measure() { # name runner document job -> "wall_s cpu_s" (median of runs)
    local runner="$1" doc="$2" job="$3" i
    for i in $(seq "$runs"); do
        rm -rf "$work/out"
        if [ "$runner" = hysope ]; then
            /usr/bin/time -f "%e %U %S" -o "$work/t" "$hysope" cwl-runner --quiet --outdir "$work/out" "$doc" "$job" >/dev/null
        else
            /usr/bin/time -f "%e %U %S" -o "$work/t" cwltool --quiet --no-container --outdir "$work/out" "$doc" "$job" >/dev/null 2>&1
        fi
        awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$work/t"
    done | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)'
}

printf '| workload | steps | runner | wall (s) | CPU (s) | wall per step (ms) | CPU per step (ms) |\n|---|---|---|---|---|---|---|\n'
for spec in "chain20.cwl empty.yml 20" "scatter100.cwl scatter100.yml 100" "wasm-chain20.cwl empty.yml 20"; do
    set -- $spec
    for runner in hysope cwltool; do
        read -r wall cpu < <(measure "$runner" "$work/cwl/$1" "$work/cwl/$2")
        awk -v w="$wall" -v c="$cpu" -v s="$3" -v name="${1%.cwl}" -v r="$runner" \
            'BEGIN { printf "| %s | %d | %s | %.2f | %.2f | %.1f | %.1f |\n", name, s, r, w, c, 1000 * w / s, 1000 * c / s }'
    done
done
