#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis that the scale-out tests talk to are running: installed
# from Debian's packages if they are missing (as root, with apt-get), started if they are down.
# The embedded default needs neither. The tests expect PostgreSQL on 127.0.0.1:5432 with trust
# auth for the user postgres and a database `test`, and Redis on 127.0.0.1:6379.
set -u
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if can_install; then
    echo "installing ${missing[*]} from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; } \
      || echo "could not install ${missing[*]}: the tests marked postgres will fail" >&2
    if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null; then
      # A new cluster asks for passwords on TCP; the tests log in as postgres without one.
      hba="$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)"
      sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main restart || true
      su postgres -c "psql -q -c 'CREATE DATABASE test'" 2>/dev/null || true
    fi
  else
    echo "missing ${missing[*]} and cannot install them here (needs root and apt-get)" >&2
  fi
fi

if command -v pg_ctlcluster >/dev/null && ! pg_up; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if command -v redis-server >/dev/null && ! redis_up; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
exit 0
