#!/usr/bin/env bash
# The test command of the README: installs the test tools if missing, runs every
# test of the workspace (the build script of tests/components builds the wasm
# components first, once: the bundled plugins and the test guests), the CWL
# conformance suite's required tests, and real OGC API clients and linters against
# a running gateway, and STAC clients and validators against its catalogue.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-tools.sh
rustup target add wasm32-wasip2 >/dev/null
cargo test --workspace "$@"
# OpenTelemetry traces (the cargo feature otel) to a receiver in the test.
cargo test -p hysope-cli --features otel --test otel "$@"
# The portal: its pure modules, then its pages in a headless Chromium against
# `hysope serve` (screenshots in target/portal-screenshots).
(cd portal && npm test)
(cd portal && HYSOPE_BIN="$PWD/../target/debug/hysope" npm run --silent test:browser)
# The CWL conformance suite's required tests against the hysope binary the tests built.
bash tests/conformance.sh required
# The same through the HPC backend: every tool a Slurm job on the one-node cluster.
bash tests/conformance.sh hpc
# OWSLib, the EOEPCA processes client, schemathesis and promtool against `hysope serve`.
SCHEMATHESIS_EXAMPLES=100 bash tests/gateway/run.sh
# The plugin registry with a real OCI client (oras) and ssh-keygen signatures.
bash tests/registry/run.sh
# Ingestion, stac-api-validator, pystac-client and an independent read of the files.
bash tests/catalog/run.sh
# The same on the catalogue in PostgreSQL with pgstac.
bash tests/catalog/run.sh pgstac
# STYX: the Python client (pytest) and the notebooks (pytest --nbmake) against a
# running server, and the JupyterHub values.
bash tests/styx/run.sh
# Hypervision: Prometheus rules and their unit tests, Alertmanager, the Grafana
# dashboard's expressions against a real Prometheus scraping a server, and
# readiness through a full disk and back (a tmpfs: needs root).
bash tests/hypervision/run.sh
# The Dockerfile and the Apptainer definition (linted, parsed; the images' plugin layout runs every example).
bash tests/deploy/check.sh
# Plugins against independent computations (numpy, pyshp) on the real files.
for check in tests/plugins/*.py; do
    python3 "$check" "$PWD/target/debug/hysope" "$(cd ../shared/data && pwd)"
done
