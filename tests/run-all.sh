#!/usr/bin/env bash
# The test command of the README: builds the wasm components once (bundled plugins
# and test guests), then runs every test of the workspace against them.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2 >/dev/null
cargo build --release --target wasm32-wasip2 \
    -p hysope-echo -p hysope-swot-river-filter \
    -p hysope-guest-hostile -p hysope-guest-moving-median
cargo test --workspace "$@"
# The CWL conformance suite's required tests against the hysope binary the tests built.
bash tests/conformance.sh required
