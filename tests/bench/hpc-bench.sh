#!/usr/bin/env bash
# The HPC backend against Toil on the same one-node Slurm cluster
# (deploy/slurm/one-node.sh), in the same run: a 100-way scatter and a 20-step
# chain of small native tools, with `hysope cwl-runner --backend hpc` and
# `toil-cwl-runner --batchSystem slurm`. Reports the wall time and the Slurm
# calls of each (sbatch, squeue, scancel, scontrol, sacct, sinfo, counted by wrappers
# put first on the PATH of both runners).
#
#   bash tests/bench/hpc-bench.sh [ROUNDS]     (default 3; needs `pip install 'toil[cwl]'`)
#
# Needs target/release/hysope (cargo build --release -p hysope-cli) or HYSOPE_BIN.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-3}"
hysope="${HYSOPE_BIN:-$root/target/release/hysope}"
command -v toil-cwl-runner >/dev/null || { echo "toil-cwl-runner missing: pip install 'toil[cwl]'" >&2; exit 1; }
[ -x "$hysope" ] || { echo "$hysope missing: cargo build --release -p hysope-cli" >&2; exit 1; }

work="$(mktemp -d /tmp/hpc-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# Wrappers that count each Slurm command, then run the real one.
mkdir -p "$work/bin"
for cmd in sbatch squeue scancel scontrol sacct sinfo; do
    real="$(command -v "$cmd" || echo /usr/bin/$cmd)"
    cat > "$work/bin/$cmd" <<WRAP
#!/bin/sh
echo $cmd >> "\${SLURM_CALL_LOG:-/dev/null}"
exec $real "\$@"
WRAP
    chmod +x "$work/bin/$cmd"
done

# The tools and the two workflows.
cat > "$work/step.cwl" <<'CWL'
cwlVersion: v1.2
class: CommandLineTool
baseCommand: [sh, -c, 'if [ $# -gt 0 ]; then cat "$@" > out.txt; fi; echo $0 >> out.txt']
requirements:
  ResourceRequirement: {coresMin: 1, ramMin: 100}
inputs:
  n: {type: int, inputBinding: {position: 1}}
  previous: {type: "File?", inputBinding: {position: 2}}
outputs:
  out: {type: File, outputBinding: {glob: out.txt}}
CWL
cat > "$work/scatter.cwl" <<'CWL'
cwlVersion: v1.2
class: Workflow
requirements: {ScatterFeatureRequirement: {}}
inputs:
  ns: int[]
outputs:
  outs: {type: "File[]", outputSource: s/out}
steps:
  s:
    run: step.cwl
    scatter: n
    in: {n: ns}
    out: [out]
CWL
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
steps = {}
for i in range(20):
    step = {"run": "step.cwl", "in": {"n": {"default": i}}, "out": ["out"]}
    if i:
        step["in"]["previous"] = f"s{i-1}/out"
    steps[f"s{i}"] = step
wf = {"cwlVersion": "v1.2", "class": "Workflow", "inputs": {},
      "outputs": {"last": {"type": "File", "outputSource": "s19/out"}}, "steps": steps}
json.dump(wf, open(f"{work}/chain.cwl", "w"), indent=1)
json.dump({"ns": list(range(100))}, open(f"{work}/scatter.json", "w"))
json.dump({}, open(f"{work}/chain.json", "w"))
PY

run() { # runner workflow round: prints "round workflow runner seconds calls sbatch squeue"
    local runner=$1 wf=$2 n=$3
    local dir="$work/$runner-$wf-$n"
    mkdir -p "$dir"
    export SLURM_CALL_LOG="$dir/calls"
    : > "$SLURM_CALL_LOG"
    local start end
    start=$(date +%s.%N)
    case "$runner" in
        hysope)
            PATH="$work/bin:$PATH" "$hysope" cwl-runner --backend hpc --quiet --outdir "$dir/out" \
                "$work/$wf.cwl" "$work/$wf.json" > "$dir/stdout" 2> "$dir/stderr" ;;
        toil)
            (cd "$dir" && PATH="$work/bin:$PATH" toil-cwl-runner --batchSystem slurm \
                --jobStore "file:$dir/jobstore" --workDir "$dir" --outdir "$dir/out" \
                --logLevel ERROR "$work/$wf.cwl" "$work/$wf.json" > "$dir/stdout" 2> "$dir/stderr") ;;
    esac || { echo "$runner $wf failed:" >&2; tail -20 "$dir/stderr" >&2; exit 1; }
    end=$(date +%s.%N)
    # The outputs are all there.
    case "$wf" in
        scatter) [ "$(ls "$dir/out" | wc -l)" -ge 100 ] || { echo "$runner: missing outputs" >&2; exit 1; } ;;
        chain) [ "$(wc -l < "$dir/out/out.txt")" -eq 20 ] || { echo "$runner: chain output wrong" >&2; exit 1; } ;;
    esac
    printf '%s %s %s %s %s %s %s\n' "$n" "$wf" "$runner" "$(python3 -c "print(round($end - $start, 2))")" "$(wc -l < "$SLURM_CALL_LOG")" \
        "$(grep -c '^sbatch' "$SLURM_CALL_LOG" || true)" "$(grep -c '^squeue' "$SLURM_CALL_LOG" || true)"
}

echo "round workflow runner seconds slurm_calls sbatch squeue"
for n in $(seq 1 "$rounds"); do
    for wf in scatter chain; do
        for runner in hysope toil; do
            run "$runner" "$wf" "$n" | tee -a "$work/results.txt"
        done
    done
done
python3 - "$work/results.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
for wf in ("scatter", "chain"):
    med = {}
    for runner in ("hysope", "toil"):
        r = [x for x in rows if x[1] == wf and x[2] == runner]
        med[runner] = (statistics.median(float(x[3]) for x in r), statistics.median(int(x[4]) for x in r))
    print(f"{wf}: hysope {med['hysope'][0]:.1f} s, {med['hysope'][1]} Slurm calls; "
          f"toil {med['toil'][0]:.1f} s, {med['toil'][1]} Slurm calls; "
          f"wall time {med['toil'][0] / med['hysope'][0]:.1f}x less, Slurm calls {med['toil'][1] / max(med['hysope'][1], 1):.1f}x fewer")
PY
