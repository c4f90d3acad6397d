#!/usr/bin/env bash
# Runner overhead: wall and CPU time of a 20-step chain of a trivial local tool, a
# 100-way scatter of it, and a 20-step chain of the echo wasm plugin, for
# `hysope cwl-runner` and `cwltool --no-container` in the same run.
#
#   bash tests/bench/cwl-overhead.sh [RUNS] [CWLTOOL_RUNS]
#
# cwltool cannot run the wasm chain (it does not know hysope:WasmRequirement), so that
# row has no peer; the median of RUNS runs is reported (CWLTOOL_RUNS for cwltool, which
# takes seconds per step).
#
# Needs target/release/hysope (cargo build --release -p hysope-cli), the wasm
# plugins (target/wasm32-wasip2/release) and cwltool (pip install cwltool).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
hysope_runs="${1:-5}"
cwltool_runs="${2:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$root/tests/bench/make-workflows.py" "$work/cwl"
export HYSOPE_PLUGIN_PATH="$root/target/wasm32-wasip2/release"
export HYSOPE_CACHE_DIR="$work/cache"
hysope="$root/target/release/hysope"

measure() { # runner document job -> "wall_s cpu_s" (median of runs)
    local runner="$1" doc="$2" job="$3" i runs="$hysope_runs"
    if [ "$runner" = cwltool ]; then runs="$cwltool_runs"; fi
    for i in $(seq "$runs"); do
        rm -rf "$work/out"
        if [ "$runner" = hysope ]; then
            set -- "$hysope" cwl-runner --quiet --outdir "$work/out" "$doc" "$job"
        else
            set -- cwltool --quiet --no-container --outdir "$work/out" "$doc" "$job"
        fi
        # Wall time and the child's CPU time (user + system), to the microsecond.
        python3 -c 'import resource, subprocess, sys, time
cpu = lambda r: r.ru_utime + r.ru_stime
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
w = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.4f %.4f" % (w, cpu(after) - cpu(before)))' "$@"
    done | sort -n | awk -v n="$runs" 'NR == int((n + 1) / 2)'
}

printf '| workload | steps | runner | wall (s) | CPU (s) | wall per step (ms) | CPU per step (ms) |\n|---|---|---|---|---|---|---|\n'
for spec in "chain1.cwl empty.yml 1" "chain20.cwl empty.yml 20" "scatter100.cwl scatter100.yml 100" "wasm-chain1.cwl empty.yml 1" "wasm-chain20.cwl empty.yml 20"; do
    set -- $spec
    runners="hysope cwltool"
    case "$1" in wasm-*) runners=hysope ;; esac
    for runner in $runners; do
        read -r wall cpu < <(measure "$runner" "$work/cwl/$1" "$work/cwl/$2")
        awk -v w="$wall" -v c="$cpu" -v s="$3" -v name="${1%.cwl}" -v r="$runner" \
            'BEGIN { printf "| %s | %d | %s | %.3f | %.3f | %.2f | %.2f |\n", name, s, r, w, c, 1000 * w / s, 1000 * c / s }'
    done
done
