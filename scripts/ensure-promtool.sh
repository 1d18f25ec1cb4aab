#!/usr/bin/env bash
# promtool, for the test that checks deploy/'s Prometheus alert rules as Prometheus reads them:
# taken out of Debian's prometheus package (the server itself is neither installed nor started).
set -u
command -v promtool >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "promtool is missing and cannot be installed here (needs root and apt-get)" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 0
if { apt-get download -q prometheus >/dev/null 2>&1 \
     || { apt-get update -q >/dev/null && apt-get download -q prometheus >/dev/null; }; } \
   && dpkg-deb -x prometheus_*.deb extracted \
   && install -m 0755 extracted/usr/bin/promtool /usr/local/bin/promtool; then
  echo "installed promtool from Debian's prometheus package"
else
  echo "could not install promtool: the alert rules' promtool check will be skipped" >&2
fi
