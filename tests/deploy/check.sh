#!/usr/bin/env bash
# Checks the deployment files without a container engine: the Dockerfile linted
# (hadolint, every finding fails), the Apptainer definition parsed (spython) and
# its invariants asserted, and the images' layout of the plugins served by the
# hysope the tests built (every bundled process found from the copied CWL files
# and components alone).
set -euo pipefail
cd "$(dirname "$0")/../.."

hadolint --failure-threshold info deploy/docker/Dockerfile
python3 tests/deploy/check.py "$PWD"
echo "deploy: Dockerfile linted, Apptainer definition parsed, every plugin example ran from the images' layout"
