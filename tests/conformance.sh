#!/usr/bin/env bash
# Runs the CWL v1.2 conformance suite (../shared/cwl-v1.2) against `hysope cwl-runner`
# with cwltest (PyPI).
#
#   tests/conformance.sh required   the `required` tests; fails if any fails (CI)
#   tests/conformance.sh all        every test; writes the per-tag table of CONFORMANCE.md
#   tests/conformance.sh hpc        the `required` tests through the HPC backend
#                                   (`--backend hpc`: every tool a Slurm job on the
#                                   one-node cluster of deploy/slurm/one-node.sh)
#
# Needs target/debug/hysope (cargo build -p hysope-cli) and cwltest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
suite="$root/../shared/cwl-v1.2"
mode="${1:-required}"
jobs="${CONFORMANCE_JOBS:-2}"

command -v cwltest >/dev/null || pip install --quiet cwltest
cd "$suite"
case "$mode" in
    required)
        cwltest --test conformance_tests.yaml --tool "$root/tests/cwl-runner" \
            --tags required -j "$jobs" --timeout 120
        ;;
    all)
        xml="$(mktemp)"
        log="$(mktemp)"
        cwltest --test conformance_tests.yaml --tool "$root/tests/cwl-runner" \
            -j "$jobs" --timeout 120 --junit-xml "$xml" >"$log" 2>&1 || true
        tail -n 1 "$log"
        python3 "$root/tests/conformance_table.py" "$xml" "$log"
        ;;
    hpc)
        HYSOPE_CWL_RUNNER_ARGS="--backend hpc" \
            cwltest --test conformance_tests.yaml --tool "$root/tests/cwl-runner" \
            --tags required -j "$jobs" --timeout 300
        ;;
    *)
        echo "usage: $0 required|all|hpc" >&2
        exit 2
        ;;
esac
