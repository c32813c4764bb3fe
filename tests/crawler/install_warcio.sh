#!/usr/bin/env bash
# Installs warcio.js (the independent WARC reader the crawler tests use) from
# the npm registry into DIR/node_modules, once; later calls cost nothing.
# Usage: install_warcio.sh DIR   (DIR is under the build folder)
# Exit 0 when DIR/node_modules/warcio is usable, 1 otherwise (no network, no npm).
set -u
dir="$1"
mkdir -p "$dir"
if [ -f "$dir/node_modules/warcio/package.json" ]; then exit 0; fi
command -v npm >/dev/null 2>&1 || { echo "install_warcio: npm not found" >&2; exit 1; }
cd "$dir" || exit 1
[ -f package.json ] || echo '{"name":"kagami-warc-check","private":true}' > package.json
timeout 300 npm install --no-audit --no-fund --silent warcio@2 >/dev/null 2>"$dir/npm.log" || {
  echo "install_warcio: npm install failed (see $dir/npm.log)" >&2; exit 1; }
[ -f "$dir/node_modules/warcio/package.json" ]
