#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (Playwright drives it;
# Playwright's own browser download is not used and cannot reach its servers here).
set -euo pipefail
CHROMIUM=${DENIALFLOW_CHROMIUM:-/usr/bin/chromium}
if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "chromium.sh: installing Debian's chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "chromium.sh: $CHROMIUM is missing; install it (Debian: sudo apt-get install chromium)" >&2
echo "chromium.sh: or set DENIALFLOW_CHROMIUM to a Chromium binary. Browser tests will be skipped." >&2
