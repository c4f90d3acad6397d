#!/usr/bin/env bash
# Sandbox against native: the same plugin code (river-discharge, virtual-station-wse)
# built for wasm32-wasip2 and run in the wasmtime sandbox by `hysope run`, and built
# natively and run as a process, on the same inputs, in the same run. Then the wall
# time of the river-discharge workflow on the simulated multi-cycle passes.
#
#   bash tests/bench/plugins-bench.sh [RUNS]
#
# Workloads (made here, deterministic): a 400,000-row reach series for river-discharge
# (Manning, MetroMan, HiVDI, MOMMA and the consensus with uncertainties, dA integrated
# from the heights), and the PIXC tile of ../shared/data with 400 station squares
# covering it for virtual-station-wse. The median of RUNS runs (default 5) is
# reported; the sandbox runs with a warm compile cache (compilation is measured apart).
#
# Needs target/release/hysope and the native plugins (cargo build --release -p
# hysope-cli -p hysope-river-discharge -p hysope-virtual-station-wse) and the wasm
# plugins (cargo build --release --target wasm32-wasip2 ...).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${1:-5}"
data="$(cd "$root/../shared/data" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HYSOPE_CACHE_DIR="$work/cache"
hysope="$root/target/release/hysope"
wasm="$root/target/wasm32-wasip2/release"
native="$root/target/release"
mkdir -p "$work/in"

python3 - "$work/in" "$data" <<'PY'
import glob, json, math, random, sys
import h5py
out, data = sys.argv[1], sys.argv[2]
random.seed(7)
with open(f"{out}/series.csv", "w") as f:
    f.write("reach_id,time,wse,width,slope,wse_u,width_u\n")
    for i in range(400_000):
        day, sec = divmod(i * 600, 86400)
        h = 216.0 + 1.5 * math.sin(i / 500) + random.gauss(0, 0.05)
        w = 250.0 + 20.0 * (h - 216.0) + random.gauss(0, 3)
        f.write(f"74269900011,{2000 + day // 365:04d}-{1 + day % 365 // 31 % 12:02d}-{1 + day % 28:02d}T{sec // 3600:02d}:{sec % 3600 // 60:02d}:00Z,"
                f"{h:.4f},{w:.3f},{3.7e-5 + random.gauss(0, 2e-6):.3e},0.1,10\n")
g = h5py.File(glob.glob(f"{data}/swot/SWOT_L2_HR_PIXC_*.nc")[0], "r")["pixel_cloud"]
lat, lon = g["latitude"][:], g["longitude"][:]
x0, x1, y0, y1 = lon.min(), lon.max(), lat.min(), lat.max()
features, n = [], 20
for i in range(n):
    for j in range(n):
        a, b = x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * j / n
        c, d = a + (x1 - x0) / n, b + (y1 - y0) / n
        features.append({"type": "Feature", "properties": {"id": f"s{i}-{j}"},
                         "geometry": {"type": "Polygon", "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]]}})
json.dump({"type": "FeatureCollection", "features": features}, open(f"{out}/stations.geojson", "w"))
PY
pixc="$(basename "$(ls "$data"/swot/SWOT_L2_HR_PIXC_*.nc)")"
cp "$data/swot/$pixc" "$work/in/$pixc"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
seconds() { # command... -> wall seconds
    python3 -c 'import subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(f"{time.perf_counter() - t:.4f}")' "$@"
}

discharge_args=(--a0 800 --n 0.03 --n-inf 0.03 --p 0.1 --alpha 30 --beta 0.2 --momma-b 213.5 --momma-h 217 --momma-save 3.7e-5)
station_args=(--classes 3,4)
bench() { # name wasm-args-with-/in-paths native-args-with-real-paths
    local name="$1" i
    shift
    local -a sandbox_args native_args
    case "$name" in
        river-discharge)
            sandbox_args=(--series /in/series.csv "${discharge_args[@]}")
            native_args=(--series "$work/in/series.csv" "${discharge_args[@]}") ;;
        virtual-station-wse)
            sandbox_args=(--pixc "/in/$pixc" --stations /in/stations.geojson "${station_args[@]}")
            native_args=(--pixc "$work/in/$pixc" --stations "$work/in/stations.geojson" "${station_args[@]}") ;;
    esac
    rm -rf "$work/cache" "$work/out"
    mkdir -p "$work/out"
    local cold
    cold="$(seconds "$hysope" run "$wasm/$name.wasm" --quiet --in "$work/in" --out "$work/out" -- "${sandbox_args[@]}")"
    # Sandbox and native runs alternate, so that both see the same machine (a shared VM
    # drifts by 10 % from one minute to the next).
    local s n
    : > "$work/s.txt"
    : > "$work/n.txt"
    for i in $(seq "$runs"); do
        rm -rf "$work/out" "$work/native"
        mkdir -p "$work/out" "$work/native"
        seconds "$hysope" run "$wasm/$name.wasm" --quiet --in "$work/in" --out "$work/out" -- "${sandbox_args[@]}" >> "$work/s.txt"
        (cd "$work/native" && seconds "$native/$name" "${native_args[@]}") >> "$work/n.txt"
    done
    s="$(median < "$work/s.txt")"
    n="$(median < "$work/n.txt")"
    cp -r "$work/out" "$work/out-sandbox"
    # The same code gives the same results in both: equal text, numbers equal to 1e-12
    # (the wasm and glibc maths libraries round log10 and pow differently in the last bit).
    python3 - "$work/out-sandbox" "$work/native" <<'PY'
import csv, json, math, os, sys
a, b = sys.argv[1], sys.argv[2]
def same(u, v, where):
    if isinstance(u, dict):  # key order may differ (serde_json features differ by build)
        assert isinstance(v, dict) and u.keys() == v.keys(), where
        for k in u:
            same(u[k], v[k], f"{where}/{k}")
    elif isinstance(u, list):
        assert isinstance(v, list) and len(u) == len(v), where
        for i, (x, y) in enumerate(zip(u, v)):
            same(x, y, f"{where}/{i}")
    elif u != v:
        assert math.isclose(float(u), float(v), rel_tol=1e-12), (where, u, v)
for name in sorted(os.listdir(a)):
    read = (lambda p: json.load(open(p))) if name.endswith(".json") else (lambda p: list(csv.reader(open(p))))
    same(read(os.path.join(a, name)), read(os.path.join(b, name)), name)
PY
    rm -rf "$work/out-sandbox"
    python3 -c "import sys; name, s, n, cold = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f'{name}: sandbox {s:.3f} s, native {n:.3f} s, ratio {s / n:.2f}x; first sandbox run with compilation {cold:.3f} s')" "$name" "$s" "$n" "$cold"
}

echo "workloads: $(($(wc -l < "$work/in/series.csv") - 1)) series rows ($(du -k "$work/in/series.csv" | cut -f1) KiB); PIXC $(du -k "$work/in/$pixc" | cut -f1) KiB, 400 stations"
bench river-discharge
bench virtual-station-wse

# The river-discharge workflow on the simulated passes: cold (empty compile cache) and warm.
rm -rf "$work/cache"
cold="$(seconds "$hysope" run "$root/plugins/workflows/river-discharge.cwl" "$root/plugins/workflows/river-discharge.example.yml" --quiet --out "$work/wf-cold")"
warm="$(for i in $(seq "$runs"); do rm -rf "$work/wf"
    seconds "$hysope" run "$root/plugins/workflows/river-discharge.cwl" "$root/plugins/workflows/river-discharge.example.yml" --quiet --out "$work/wf"; done | median)"
echo "river-discharge workflow (5 passes, 10 reaches, 35 plugin runs): ${warm} s warm (median of $runs), ${cold} s with an empty compile cache"
