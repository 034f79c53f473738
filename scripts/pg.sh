#!/usr/bin/env bash
# Starts a private PostgreSQL server for the tests (Debian's `postgresql` package, installed when
# missing): a new cluster in a temporary folder, C locale, listening on a local socket only, no
# TCP but TLS on the loopback. Prints the addresses to export (KAMIKARTE_TEST_POSTGRES, the socket;
# KAMIKARTE_TEST_POSTGRES_TLS and KAMIKARTE_TEST_PG_CA, TLS); the server stops with `pg.sh stop`.
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
    # TCP on the loopback only, and only with TLS (a self-signed certificate for localhost): the
    # hub's TLS test connects there; everything else uses the socket.
    "${as[@]}" openssl req -new -x509 -days 2 -nodes -subj "/CN=localhost" \
      -addext "subjectAltName=DNS:localhost" \
      -keyout "$dir/data/server.key" -out "$dir/data/server.crt" 2>/dev/null
    chmod 600 "$dir/data/server.key"
    cat > "$dir/data/pg_hba.conf" <<HBA
local     all all                trust
hostssl   all all 127.0.0.1/32   trust
hostnossl all all 127.0.0.1/32   reject
HBA
    port=$((20000 + RANDOM % 20000))
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c ssl=on -c max_connections=200 -c fsync=off" start >/dev/null
    echo "export KAMIKARTE_PG_DIR=$dir"
    echo "export KAMIKARTE_TEST_POSTGRES='postgres:///postgres?host=$dir&port=$port&user=$user'"
    echo "export KAMIKARTE_TEST_POSTGRES_TLS='postgres://$user@localhost:$port/postgres'"
    echo "export KAMIKARTE_TEST_PG_CA=$dir/data/server.crt"
    ;;
  stop)
    bin=$(find_bin)
    dir=${KAMIKARTE_PG_DIR:?"KAMIKARTE_PG_DIR names the cluster to stop"}
    if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); else as=(); fi
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    rm -rf "$dir"
    ;;
esac
