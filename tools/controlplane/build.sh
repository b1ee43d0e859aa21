#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager of one pinned Kubernetes release from
# the Go module proxy into a cache outside the repository, and prints the directory that holds
# them (its file `version` names the release). A second run with the same pins (also from a
# fresh clone) builds nothing.
#
#   build.sh [VERSION]        VERSION: 1.35, v1.35 or v1.35.4; else $NSYNC_KUBE_VERSION;
#                             else the newest pinned minor (what CI and npm test use)
#   build.sh --list           the pinned releases, newest first
#
# Each minor has its wrapper module under kubernetes/<minor>/, written by pin.sh, and runs with
# the etcd minor it is built against (its go.etcd.io/etcd/client/v3), from etcd/<minor>/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Pinned releases, newest first: "<minor-dir> <version>" per line.
pinned() {
  local mod
  for mod in "$here"/kubernetes/1.*/go.mod; do
    [[ -f $mod ]] || continue
    awk -v dir="$(basename "$(dirname "$mod")")" '
      { for (i = 1; i < NF; i++) if ($i == "k8s.io/kubernetes" && $(i + 1) ~ /^v1\./) { print dir, $(i + 1); exit } }' "$mod"
  done | sort -t. -k2,2nr
}

if [[ ${1:-} == --list ]]; then
  pinned | awk '{ print $2 }'
  exit 0
fi

requested=${1:-${NSYNC_KUBE_VERSION:-}}
if [[ -z $requested ]]; then
  read -r minor_dir k8s_version < <(pinned) || true
else
  if [[ ! $requested =~ ^v?(1\.[0-9]+)(\.[0-9]+)?$ ]]; then
    echo "build.sh: '$requested' is not a Kubernetes version (want e.g. 1.35, v1.35 or v1.35.4)" >&2
    exit 2
  fi
  minor_dir=${BASH_REMATCH[1]}
  k8s_version=$(pinned | awk -v dir="$minor_dir" '$1 == dir { print $2 }')
  if [[ -z $k8s_version ]]; then
    echo "build.sh: Kubernetes $minor_dir is not pinned; pinned: $(pinned | awk '{ print $2 }' | tr '\n' ' ')" >&2
    echo "build.sh: pin a release of it with: bash tools/controlplane/pin.sh v$minor_dir.<patch>" >&2
    exit 2
  fi
  if [[ -n ${BASH_REMATCH[2]} && v${requested#v} != "$k8s_version" ]]; then
    echo "build.sh: $requested is not pinned; $minor_dir is pinned at $k8s_version" >&2
    echo "build.sh: pin it with: bash tools/controlplane/pin.sh v${requested#v}" >&2
    exit 2
  fi
fi
if [[ -z ${k8s_version:-} ]]; then
  echo "build.sh: no Kubernetes release is pinned under $here/kubernetes; run pin.sh first" >&2
  exit 2
fi

mod_dir="$here/kubernetes/$minor_dir"
etcd_client=$(awk '$1 == "go.etcd.io/etcd/client/v3" { print $2; exit }' "$mod_dir/go.mod")
etcd_dir="$here/etcd/$(sed -E 's/^v([0-9]+\.[0-9]+)\..*/\1/' <<<"$etcd_client")"
if [[ ! -f $etcd_dir/go.mod ]]; then
  echo "build.sh: Kubernetes $k8s_version is built against etcd $etcd_client, and ${etcd_dir#"$here/"}/ is not pinned;" >&2
  echo "build.sh: pin it with: bash tools/controlplane/pin.sh $k8s_version" >&2
  exit 2
fi
etcd_version=$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" { print $3; exit }' "$etcd_dir/go.mod")
key=$(cat "$here/build.sh" "$mod_dir/go.mod" "$mod_dir/go.sum" "$etcd_dir/go.mod" "$etcd_dir/go.sum" |
  sha256sum | cut -c1-16)
cache_root=${NSYNC_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nsync/controlplane}
out="$cache_root/$k8s_version-$key"

if [[ -x "$out/etcd" && -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -f "$out/version" ]]; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is required to build the control plane" >&2; exit 1; }
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# -mod=readonly: the build uses exactly the committed go.sum, or fails saying what is missing.
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
minor=${minor_dir#1.}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

start=$SECONDS
echo "build.sh: building Kubernetes $k8s_version and etcd $etcd_version into $out (a cold build takes several minutes)" >&2
(cd "$etcd_dir" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
(cd "$mod_dir" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
echo "build.sh: built in $((SECONDS - start)) s" >&2

# The binaries must say which release they are (/version, and the harness's version flags).
for binary in kube-apiserver kube-controller-manager; do
  reported=$("$tmp/$binary" --version)
  if [[ $reported != "Kubernetes $k8s_version" ]]; then
    echo "build.sh: $binary reports '$reported', expected 'Kubernetes $k8s_version'" >&2
    exit 1
  fi
done
etcd_reported=$("$tmp/etcd" --version)
if [[ ${etcd_reported%%$'\n'*} != "etcd Version: ${etcd_version#v}" ]]; then
  echo "build.sh: etcd reports '${etcd_reported%%$'\n'*}', expected etcd $etcd_version" >&2
  exit 1
fi
echo "$k8s_version" >"$tmp/version"
echo "$etcd_version" >"$tmp/etcd-version"

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
