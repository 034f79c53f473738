#!/usr/bin/env bash
# A screenshot of the real desktop window under Xvfb, on a scratch demo database.
# Needs: apt-get install xvfb x11-apps imagemagick libgl1-mesa-dri xdotool poppler-utils zbar-tools
# Usage: scripts/screenshot.sh [OUT.png] [census|scan|volume]
#   census  the demo hospital's census, as the clerk sees it (default)
#   scan    a nurse at the scan station: a wristband, then a lab slip printed by `kit` and read
#           back from the PDF by zbarimg, typed in by xdotool as a keyboard-wedge scanner would
#   volume  the volume monitor over the demo's synthetic downtime history
set -euo pipefail
out=$(realpath -m "${1:-/tmp/kamikarte.png}")
scene=${2:-census}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/kamikarte
tmp=$(mktemp -d)
trap 'kill "${app:-}" "${xvfb:-}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
db=$tmp/demo.sqlite

case $scene in
  census) "$bin" --db "$db" demo >/dev/null ;;
  *) "$bin" --db "$db" demo --downtime >/dev/null ;;
esac
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp &
xvfb=$!
sleep 1
DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1 "$bin" --db "$db" &
app=$!
sleep "${WAIT:-6}"

type() { DISPLAY=$display xdotool type --delay 40 "$1"; }
key() { DISPLAY=$display xdotool key "$@"; }
log_in() {
  # No window manager under Xvfb: give the window the keyboard by hand.
  DISPLAY=$display xdotool search --sync --name kamikarte windowfocus
  type "$1"; key Tab; type "kamikarte-demo-$1"; key Return; sleep 2
}
case $scene in
  census)
    log_in clerk
    ;;
  scan)
    patient=$(KAMIKARTE_USER=clerk KAMIKARTE_PASSWORD=kamikarte-demo-clerk "$bin" --db "$db" census list --ward 5E --json \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
    KAMIKARTE_USER=clerk KAMIKARTE_PASSWORD=kamikarte-demo-clerk "$bin" --db "$db" kit --out "$tmp/kit" \
      --patient "$patient" --forms lab_order --blanks 0 >/dev/null
    pdftoppm -r 200 -gray -png -singlefile "$tmp/kit/5E-slips.pdf" "$tmp/slip"
    slip=$(zbarimg -q --raw -Sdisable -Scode128.enable "$tmp/slip.png")
    log_in nurse
    type "$patient"; key Return; sleep 1
    type "$slip"; key Return; sleep 1
    ;;
  volume)
    log_in clerk
    key F5; sleep 1
    ;;
esac
sleep 1
DISPLAY=$display import -window root "$out"
echo "$out"
