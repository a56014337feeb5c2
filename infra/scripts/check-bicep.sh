#!/usr/bin/env bash
# CI gate for the infra: installs the pinned Bicep CLI if needed, then `bicep build` and `bicep lint`
# on infra/main.bicep (which covers every module). Fails on any error AND on any warning.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

BICEP="${BICEP_BIN:-$(bash infra/scripts/install-bicep.sh)}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

status=0
echo "bicep: $("$BICEP" --version)"
if ! "$BICEP" build infra/main.bicep --outfile "$OUT/main.json" >"$OUT/build.log" 2>&1; then status=1; fi
if ! "$BICEP" lint infra/main.bicep >"$OUT/lint.log" 2>&1; then status=1; fi
cat "$OUT/build.log" "$OUT/lint.log"
if [[ -s "$OUT/build.log" || -s "$OUT/lint.log" ]]; then status=1; fi

if [[ $status -ne 0 ]]; then
  echo "bicep: build/lint reported errors or warnings (see above)" >&2
  exit 1
fi
echo "bicep: infra/main.bicep builds and lints with 0 errors and 0 warnings"
