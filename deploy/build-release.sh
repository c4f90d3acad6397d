#!/usr/bin/env bash
# Builds what the run scripts start (deploy/run-local.sh, run-cluster.sh): the
# bundled plugins (plugins/bundled.txt) for wasm32-wasip2 and the release `hysope`.
# Sourced: sets HYSOPE_PLUGIN_PATH (where the plugins are found) and `hysope`
# (the command's path).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rustup target add wasm32-wasip2 >/dev/null
# The portal's libraries, which the release build embeds (portal/package-lock.json).
bash "$root/portal/install.sh"
# The bundled plugins, one package a line (word splitting of $bundled is meant).
bundled=$(sed -e '/^#/d' -e 's/^/-p /' "$root/plugins/bundled.txt")
# shellcheck disable=SC2086
cargo build --manifest-path "$root/Cargo.toml" --release --target wasm32-wasip2 $bundled
cargo build --manifest-path "$root/Cargo.toml" --release -p hysope-cli
export HYSOPE_PLUGIN_PATH="$root/target/wasm32-wasip2/release"
hysope="$root/target/release/hysope"
