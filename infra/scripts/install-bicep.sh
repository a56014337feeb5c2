#!/usr/bin/env bash
# Installs the Bicep CLI from the NuGet package Azure.Bicep.CommandLine.linux-x64 into
# infra/.bicep/<version>/bicep (git-ignored). Idempotent: does nothing when that version is present.
# Usage: bash infra/scripts/install-bicep.sh        -> prints the path of the installed binary
# Env:   BICEP_VERSION (default pinned below), BICEP_SHA256 (checked when the default version is used),
#        NUGET_FLATCONTAINER (default https://api.nuget.org/v3-flatcontainer)
set -euo pipefail

DEFAULT_VERSION=0.49.2
DEFAULT_SHA256=4200806a921d2ba1ea7de78ec2e064cefe313f26f612be442e5161452af70d9d
VERSION="${BICEP_VERSION:-$DEFAULT_VERSION}"
if [[ "$VERSION" == "$DEFAULT_VERSION" ]]; then SHA256="${BICEP_SHA256:-$DEFAULT_SHA256}"; else SHA256="${BICEP_SHA256:-}"; fi
FEED="${NUGET_FLATCONTAINER:-https://api.nuget.org/v3-flatcontainer}"
PKG=azure.bicep.commandline.linux-x64

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-bicep: this script installs the linux-x64 build only; on $(uname -s)-$(uname -m) install Bicep with 'az bicep install' or see https://aka.ms/bicep-install" >&2; exit 1 ;;
esac

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$INFRA_DIR/.bicep/$VERSION"
BIN="$DEST/bicep"

if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
URL="$FEED/$PKG/$VERSION/$PKG.$VERSION.nupkg"
echo "install-bicep: downloading $URL" >&2
if ! curl -fsSL --retry 3 --retry-delay 2 -m 600 -o "$TMP/bicep.nupkg" "$URL"; then
  echo "install-bicep: download failed; check that NuGet (api.nuget.org) is reachable, or set NUGET_FLATCONTAINER to a mirror" >&2
  exit 1
fi
if [[ -n "$SHA256" ]]; then
  echo "$SHA256  $TMP/bicep.nupkg" | sha256sum -c --quiet - >&2 || {
    echo "install-bicep: SHA-256 mismatch for $PKG $VERSION" >&2
    exit 1
  }
fi

if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$TMP/bicep.nupkg" tools/bicep -d "$TMP/x"
elif command -v python3 >/dev/null 2>&1; then
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("tools/bicep", sys.argv[2])' "$TMP/bicep.nupkg" "$TMP/x"
else
  echo "install-bicep: need 'unzip' (apt-get install -y unzip) or python3 to extract the package" >&2
  exit 1
fi

mkdir -p "$DEST"
install -m 0755 "$TMP/x/tools/bicep" "$BIN.tmp"
mv -f "$BIN.tmp" "$BIN"
ln -sfn "$VERSION/bicep" "$INFRA_DIR/.bicep/bicep"
"$BIN" --version >&2
echo "$BIN"
