#!/usr/bin/env bash
# A screenshot of the real desktop window under Xvfb, on a scratch demo database.
# Needs: apt-get install xvfb x11-apps imagemagick libgl1-mesa-dri xdotool poppler-utils zbar-tools
# Usage: scripts/screenshot.sh [OUT.png] [census|scan|volume|entry|worklist]
#   census  the demo hospital's census, as the clerk sees it (default)
#   scan    a nurse at the scan station: a wristband, then a lab slip printed by `kit` and read
#           back from the PDF by zbarimg, typed in by xdotool as a keyboard-wedge scanner would
#   volume  the volume monitor over the demo's synthetic downtime history
#   entry   billing keys a charge slip beside its scan: the slip printed by `kit`, rendered by
#           pdftoppm, ticked by hand-like pen marks and skewed (tests/peers/tick_slip.py),
#           imported by `scan import`; the ticks arrive read from the scan, marked ●
#   worklist the back-entry worklist of ward 5E: half its chart pages scanned, one keyed
#   reference the reference viewer (F10) on the demo hospital built from a synthetic SS-MIX2
#           storage: a patient found by typing hiragana, with allergies, medications and results
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
  reference) "$bin" --db "$db" demo --ssmix2 "$tmp/ssmix2" --outpatients 2000 >/dev/null ;;
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
# xdotool drops characters of a Japanese string typed at once: one character at a time.
type_ja() { local s=$1 i; for ((i = 0; i < ${#s}; i++)); do type "${s:i:1}"; sleep 0.2; done; }
key() { DISPLAY=$display xdotool key "$@"; }
log_in() {
  # No window manager under Xvfb: give the window the keyboard by hand.
  DISPLAY=$display xdotool search --sync --name kamikarte windowfocus
  type "$1"; key Tab; type "kamikarte-demo-$1"; key Return; sleep 2
}
# One slip of FORM for ward 5E's first patient, printed by `kit`, rendered at 200 dpi into
# $tmp/slip.png and its page code read back by zbarimg into $slip ($patient is the patient).
print_slip() {
  patient=$(KAMIKARTE_USER=clerk KAMIKARTE_PASSWORD=kamikarte-demo-clerk "$bin" --db "$db" census list --ward 5E --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  KAMIKARTE_USER=clerk KAMIKARTE_PASSWORD=kamikarte-demo-clerk "$bin" --db "$db" kit --out "$tmp/kit" \
    --patient "$patient" --forms "$1" --blanks 0 >/dev/null
  pdftoppm -r 200 -gray -png -singlefile "$tmp/kit/5E-slips.pdf" "$tmp/slip"
  slip=$(zbarimg -q --raw -Sdisable -Scode128.enable "$tmp/slip.png")
}
case $scene in
  census)
    log_in clerk
    ;;
  scan)
    print_slip lab_order
    log_in nurse
    type "$patient"; key Return; sleep 1
    type "$slip"; key Return; sleep 1
    ;;
  reference)
    log_in clerk
    key F10; sleep 1
    type_ja "すずき"; sleep 1
    key Down; key Down; key Down; sleep 1
    ;;
  volume)
    log_in clerk
    key F5; sleep 1
    ;;
  entry)
    print_slip charge_slip
    # Box centres of A001, D400 and G004 (charge_slip.toml: three columns of eight, 10 mm rows).
    mkdir -p "$tmp/scans"
    python3 tests/peers/tick_slip.py "$tmp/slip.png" "$tmp/scans/slip.png" --seed 5 --rotate 1.2 \
      --marks '[[13, 90], [76.3, 100], [139.7, 100]]' >/dev/null
    KAMIKARTE_USER=clerk KAMIKARTE_PASSWORD=kamikarte-demo-clerk "$bin" --db "$db" scan import "$tmp/scans" >/dev/null
    log_in billing
    key F8; sleep 1
    type "$slip"; key Return; sleep 2
    type "1105"; key Return; type_ja "内科"; key Return; sleep 0.5; type_ja "佐藤"; key Return; sleep 1
    ;;
  worklist)
    KAMIKARTE_USER=clerk KAMIKARTE_PASSWORD=kamikarte-demo-clerk "$bin" --db "$db" kit --out "$tmp/kit" \
      --ward 5E --forms progress_note,vital_signs,charge_slip --blanks 0 >/dev/null
    mkdir -p "$tmp/scans"
    pdftoppm -r 200 -gray -png -f 1 -l 12 "$tmp/kit/5E-charts.pdf" "$tmp/scans/c"
    KAMIKARTE_USER=clerk KAMIKARTE_PASSWORD=kamikarte-demo-clerk "$bin" --db "$db" scan import "$tmp/scans" >/dev/null
    note=$(zbarimg -q --raw -Sdisable -Scode128.enable "$tmp/scans/c-01.png")
    log_in billing
    key F8; sleep 1
    type "$note"; key Return; sleep 2
    # A pause after each Enter: the focus moves on the next frame, as a person types.
    type "1105 0930"; key Return; sleep 0.5; type_ja "佐藤"; key Return; sleep 0.5; type_ja "医師"; key Return; sleep 0.5
    type "S) headache since morning"; key ctrl+Return; sleep 2
    key F8; sleep 1
    ;;
esac
sleep 1
DISPLAY=$display import -window root "$out"
echo "$out"
