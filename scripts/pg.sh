#!/usr/bin/env bash
# Starts a private PostgreSQL server for the tests (Debian's `postgresql` package, installed when
# missing): a new cluster in a temporary folder, C locale, listening on a local socket only, no
# TCP. Prints the address to export as KAMIKARTE_TEST_POSTGRES; the server stops with `pg.sh stop`.
#   eval "$(scripts/pg.sh start)"    # sets KAMIKARTE_TEST_POSTGRES and KAMIKARTE_PG_DIR
set -euo pipefail

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  return 1
}

case "${1:-start}" in
  start)
    if ! bin=$(find_bin); then
      if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
      echo "installing postgresql…" >&2
      "${sudo[@]}" apt-get update -qq
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq postgresql >/dev/null
      bin=$(find_bin)
    fi
    dir=$(mktemp -d /tmp/kamikarte-pg.XXXXXX)
    chmod 755 "$dir"
    # PostgreSQL will not run as root: as root, the cluster belongs to the package's `postgres`.
    if [ "$(id -u)" = 0 ]; then
      chown postgres "$dir"
      as=(runuser -u postgres --)
      user=postgres
    else
      as=()
      user=$(id -un)
    fi
    "${as[@]}" "$bin/initdb" -D "$dir/data" --locale=C -E UTF8 --auth=trust -U "$user" >/dev/null
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-k $dir -c listen_addresses='' -c max_connections=200 -c fsync=off" start >/dev/null
    echo "export KAMIKARTE_PG_DIR=$dir"
    echo "export KAMIKARTE_TEST_POSTGRES='postgres:///postgres?host=$dir&user=$user'"
    ;;
  stop)
    bin=$(find_bin)
    dir=${KAMIKARTE_PG_DIR:?"KAMIKARTE_PG_DIR names the cluster to stop"}
    if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); else as=(); fi
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    rm -rf "$dir"
    ;;
esac
