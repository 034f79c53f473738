#!/usr/bin/env bash
# A screenshot of the real desktop window under Xvfb, showing the demo hospital's census.
# Needs: apt-get install xvfb x11-apps imagemagick libgl1-mesa-dri
# Usage: scripts/screenshot.sh [OUT.png]
set -euo pipefail
out=$(realpath -m "${1:-/tmp/kamikarte.png}")
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/kamikarte
tmp=$(mktemp -d)
trap 'kill "${app:-}" "${xvfb:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$bin" --db "$tmp/demo.sqlite" demo >/dev/null
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp &
xvfb=$!
sleep 1
DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1 "$bin" --db "$tmp/demo.sqlite" &
app=$!
sleep "${WAIT:-6}"
DISPLAY=$display import -window root "$out"
echo "$out"
