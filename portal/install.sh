#!/usr/bin/env bash
# Installs the portal's libraries (MapLibre GL JS, uPlot, topojson-client,
# world-atlas) as portal/package-lock.json pins them, with `npm ci`, when they
# are missing or older than the lock file; `--with-tests` adds the browser test
# tools (playwright-core, axe-core). A release build embeds the libraries, a
# debug build reads them from portal/node_modules.
set -euo pipefail
cd "$(dirname "$0")"
marker=node_modules/.package-lock.json
want=runtime
[ "${1:-}" = "--with-tests" ] && want=tests
have="$(cat node_modules/.hysope-install 2>/dev/null || true)"
if [ ! -f "$marker" ] || [ package-lock.json -nt "$marker" ] || { [ "$want" = tests ] && [ "$have" != tests ]; }; then
    if [ "$want" = tests ]; then
        npm ci --no-audit --no-fund --loglevel=error
    else
        npm ci --omit=dev --no-audit --no-fund --loglevel=error
    fi
    echo "$want" > node_modules/.hysope-install
fi
