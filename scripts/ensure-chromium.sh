#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the browser tests (tests/web, Playwright drives
# it with executable_path: Playwright's own browser download is not used). Needs root and
# apt-get to install; without them the browser tests skip, saying why.
set -u
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
    || echo "could not install chromium: the browser tests will skip" >&2
else
  echo "chromium is missing and cannot be installed here (needs root and apt-get)" >&2
fi
exit 0
