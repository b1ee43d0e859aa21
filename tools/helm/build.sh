#!/usr/bin/env bash
# Builds the helm CLI from the Go module proxy into a cache outside the repository, keyed by the
# pinned go.mod/go.sum, and prints the directory that holds it. A second run with the same pins
# (also from a fresh clone) builds nothing. Never commit the binary.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
helm_version=v4.3.1

key=$(cat "$here/build.sh" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
cache_root=${NSYNC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nsync/tools}
out="$cache_root/$key"

if [[ -x "$out/helm" ]]; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is required to build helm" >&2; exit 1; }
grep -q "helm.sh/helm/v4 $helm_version\$" "$here/go.mod" ||
  { echo "build.sh: helm_version ($helm_version) does not match go.mod" >&2; exit 1; }
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

export CGO_ENABLED=0 GOFLAGS=-mod=mod
pkg=helm.sh/helm/v4/internal/version
ldflags="-s -w -X $pkg.version=$helm_version -X $pkg.metadata= -X $pkg.gitTreeState=clean"

start=$SECONDS
echo "build.sh: building helm $helm_version into $out" >&2
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/helm" helm.sh/helm/v4/cmd/helm)
echo "build.sh: built in $((SECONDS - start)) s" >&2

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
