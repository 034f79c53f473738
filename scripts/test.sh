#!/usr/bin/env bash
# README's test command. Finds, or installs, the independent checkers the tests call — poppler
# (pdftoppm, pdffonts), qpdf, zbar, zxing-cpp and Pillow (barcodes), hl7apy, python-hl7 and
# fhir.resources (the hand-off), OpenSSL's headers for SQLCipher, and a PostgreSQL server for the
# hub — then runs every test, and the library's tests once more on PostgreSQL.
# On a fresh Debian or Ubuntu machine it needs nothing else: as root it installs what is missing;
# otherwise it uses sudo when it can, and says what to install when it cannot.
# Arguments go to `cargo test` (e.g. `scripts/test.sh trust::` runs one area).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
command -v qpdf >/dev/null || missing+=(qpdf)
command -v zbarimg >/dev/null || missing+=(zbar-tools)
command -v pkg-config >/dev/null || missing+=(pkg-config)
if ! dpkg -s libssl-dev >/dev/null 2>&1 && ! pkg-config --exists openssl 2>/dev/null; then
  missing+=(libssl-dev)
fi
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "the tests need: apt-get install ${missing[*]} (run as root, or install them first)" >&2
    exit 1
  fi
  echo "installing ${missing[*]}…" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c "import zxingcpp, PIL" 2>/dev/null ||
  python3 -m pip install --quiet zxing-cpp pillow
python3 -c "import hl7apy, hl7, fhir.resources" 2>/dev/null ||
  python3 -m pip install --quiet "hl7apy==1.3.5" "hl7==0.4.5" "fhir.resources==8.3.0"

# A private PostgreSQL server (scripts/pg.sh installs Debian's `postgresql` when missing) for the
# hub's tests: the integration tests run the binary against it, and the library's unit tests run a
# second time with every store on it (KAMIKARTE_TEST_ENGINE=postgres), so the store's suite passes
# on both engines. It stops when this script ends.
if [ -z "${KAMIKARTE_TEST_POSTGRES:-}" ]; then
  eval "$(scripts/pg.sh start)"
  trap 'scripts/pg.sh stop' EXIT
fi
export KAMIKARTE_TEST_POSTGRES KAMIKARTE_TEST_POSTGRES_TLS KAMIKARTE_TEST_PG_CA

cargo test --locked "$@"
if [ $# -eq 0 ]; then
  echo "== the library's tests again, every store on PostgreSQL" >&2
  KAMIKARTE_TEST_ENGINE=postgres cargo test --locked --lib
fi
