#!/usr/bin/env bash
# Batch processing without the portal: builds the bundled plugins and the hysope
# command, then runs swot-river-filter on every RiverSP reach file found under the
# given folders (default ../shared/data), writing results to ./out.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${HYSOPE_OUT_DIR:-$PWD/out}"
if [ "$#" -eq 0 ]; then set -- "$root/../shared/data"; fi

rustup target add wasm32-wasip2 >/dev/null
# The bundled plugins, one package a line (word splitting of $bundled is meant).
bundled=$(sed -e '/^#/d' -e 's/^/-p /' "$root/plugins/bundled.txt")
# shellcheck disable=SC2086
cargo build --manifest-path "$root/Cargo.toml" --release --target wasm32-wasip2 $bundled
cargo build --manifest-path "$root/Cargo.toml" -p hysope-cli
hysope="$root/target/debug/hysope"
export HYSOPE_PLUGIN_PATH="$root/target/wasm32-wasip2/release"

found=0
while IFS= read -r -d '' file; do
    found=$((found + 1))
    name="$(basename "$file" .zip)"
    echo "== $name"
    mkdir -p "$out/$name"
    if "$hysope" run "$root/plugins/swot-river-filter/swot-river-filter.cwl" "product=$file" \
        --out "$out/$name" --quiet >"$out/$name/outputs.json"; then
        cat "$out/$name/summary.json"
        echo
    else
        echo "failed: $file" >&2
    fi
done < <(find "$@" -name 'SWOT_L2_HR_RiverSP_Reach_*.zip' -print0 | sort -z)
echo "processed $found RiverSP reach files into $out"
