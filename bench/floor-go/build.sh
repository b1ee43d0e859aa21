#!/usr/bin/env bash
# Builds the benchmark's client-go floor (main.go) from the Go module proxy into a cache outside
# the repository, keyed by its pinned sources, and prints the binary's path. A second run with the
# same pins (also from a fresh clone) builds nothing. Go 1.26 is needed, as for the control plane.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
key=$(cat "$here/build.sh" "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)
cache_root=${NSYNC_FLOOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nsync/floor-go}
out="$cache_root/$key"

if [[ -x "$out/floor-go" ]]; then
  echo "$out/floor-go"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is required to build the client-go floor" >&2; exit 1; }
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
echo "build.sh: building the client-go floor into $out" >&2
(cd "$here" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/floor-go" .)
echo "build.sh: built in $((SECONDS - start)) s" >&2
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out/floor-go"
