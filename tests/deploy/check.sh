#!/usr/bin/env bash
# Checks the deployment files without a container engine or a cluster: the
# Dockerfile linted (hadolint, every finding fails), the Apptainer definition
# parsed (spython) and its invariants asserted, the Helm chart linted, rendered
# and validated against the Kubernetes schemas with its invariants
# (tests/deploy/helm_check.py), and the images' layout of the plugins served by the
# hysope the tests built (every bundled process found from the copied CWL files
# and components alone).
set -euo pipefail
cd "$(dirname "$0")/../.."

hadolint --failure-threshold info deploy/docker/Dockerfile
python3 tests/deploy/check.py "$PWD"
python3 tests/deploy/helm_check.py deploy/helm/hysope
echo "deploy: Dockerfile linted, Apptainer definition parsed, Helm chart checked, every plugin example ran from the images' layout"
