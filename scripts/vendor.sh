#!/usr/bin/env bash
# Re-vendor the browser files denialflow serves from denialflow/web/static (no CDN, no
# build step): htmx, Chart.js for the report pages' charts, and Swagger UI for the API
# docs at /docs. Each comes from the npm registry at the pinned version below (`npm pack`
# checks the tarball against the registry's integrity hash) and is copied unchanged,
# beside a LICENSE file naming the package, version and path it came from.
#
#   scripts/vendor.sh          fetch the pinned versions and write the files
#   scripts/vendor.sh --check  fetch them and fail if the committed files differ
#
# To upgrade, change a version here, run the script, check /docs and the browser tests
# (tests/browser), and commit the files with the new version.
set -euo pipefail

HTMX_VERSION=2.0.11
SWAGGER_UI_VERSION=5.35.0
CHARTJS_VERSION=4.6.2

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATIC="$ROOT/denialflow/web/static"
CHECK=0
[[ ${1:-} == --check ]] && CHECK=1

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/out"
mkdir -p "$OUT"

unpack() {  # unpack PACKAGE VERSION -> $WORK/PACKAGE/package/...
  local name=$1 version=$2
  mkdir -p "$WORK/$name"
  (cd "$WORK/$name" && npm pack --silent "$name@$version" >/dev/null && tar xzf ./*.tgz)
}

unpack htmx.org "$HTMX_VERSION"
cp "$WORK/htmx.org/package/dist/htmx.min.js" "$OUT/htmx.min.js"
{
  echo "htmx.min.js is htmx $HTMX_VERSION (npm htmx.org@$HTMX_VERSION, dist/htmx.min.js), vendored unchanged."
  echo "Licence (Zero-Clause BSD) follows."
  echo
  cat "$WORK/htmx.org/package/LICENSE"
} >"$OUT/htmx.LICENSE.txt"

unpack chart.js "$CHARTJS_VERSION"
cp "$WORK/chart.js/package/dist/chart.umd.min.js" "$OUT/chart.umd.min.js"
{
  echo "chart.umd.min.js is Chart.js $CHARTJS_VERSION (npm chart.js@$CHARTJS_VERSION, dist/chart.umd.min.js),"
  echo "vendored unchanged. Licence (MIT) follows."
  echo
  cat "$WORK/chart.js/package/LICENSE.md"
} >"$OUT/chart.LICENSE.txt"

unpack swagger-ui-dist "$SWAGGER_UI_VERSION"
SW="$WORK/swagger-ui-dist/package"
cp "$SW/swagger-ui-bundle.js" "$SW/swagger-ui.css" "$OUT/"
{
  echo "swagger-ui-bundle.js and swagger-ui.css are Swagger UI $SWAGGER_UI_VERSION"
  echo "(npm swagger-ui-dist@$SWAGGER_UI_VERSION), vendored unchanged. Swagger UI's licence"
  echo "(Apache 2.0) and NOTICE follow, then the notices of the libraries the bundle contains"
  echo "(the package's swagger-ui-bundle.js.LICENSE.txt, which the bundle's last line names)."
  echo
  cat "$SW/LICENSE"
  echo
  echo "----- NOTICE -----"
  cat "$SW/NOTICE"
  echo
  echo "----- swagger-ui-bundle.js.LICENSE.txt -----"
  cat "$SW/swagger-ui-bundle.js.LICENSE.txt"
} >"$OUT/swagger-ui.LICENSE.txt"

status=0
for file in "$OUT"/*; do
  name=$(basename "$file")
  if ((CHECK)); then
    if ! cmp -s "$file" "$STATIC/$name"; then
      echo "vendor.sh: $name differs from the pinned npm package (run scripts/vendor.sh)" >&2
      status=1
    fi
  else
    cp "$file" "$STATIC/$name"
    echo "vendor.sh: wrote denialflow/web/static/$name"
  fi
done
exit $status
