#!/usr/bin/env bash
# Make sure the system libraries for appeal packets are installed: Pango (WeasyPrint lays
# out the letters with it) and poppler-utils (`pdftotext`, which the packet tests read
# the PDFs with). As root with apt (CI) the missing ones are installed; anyone else is
# told what to install, and the packet tests then fail saying pdftotext is missing.
set -euo pipefail
missing=()
if ! command -v pdftotext >/dev/null; then
  missing+=(poppler-utils)
fi
have_lib() {
  # ldconfig knows every shared library the loader will find.
  /sbin/ldconfig -p 2>/dev/null | grep -q "$1" || ldconfig -p 2>/dev/null | grep -q "$1"
}
have_lib 'libpango-1\.0\.so\.0' || missing+=(libpango-1.0-0)
have_lib 'libpangoft2-1\.0\.so\.0' || missing+=(libpangoft2-1.0-0)
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "pdf_tools.sh: installing ${missing[*]} for appeal packets (WeasyPrint) and their tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "pdf_tools.sh: missing ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]})." >&2
echo "pdf_tools.sh: without them appeal packets cannot be made and their tests fail." >&2
